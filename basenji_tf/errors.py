"""The one exception type for bad user input.

Library code raises :class:`InputError` when a file, record or option supplied by the
user is wrong; the message names the file (and record) and says how to fix it. Command
line entry points turn it into one line on stderr and a non-zero exit status, while
programming errors still raise with a full traceback.
"""


class InputError(ValueError):
    """A user-supplied file, record or option is invalid."""

"""What every command shares: parser defaults, logging, errors, the output directory held."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence

from basenji_tf.errors import InputError
from basenji_tf.execute import Executor, make_executor
from basenji_tf.files import claim_output_dir

DEBUG_ENV = "BASENJI_DEBUG"


# BASENJI_DEBUG as it was before a --debug option set it; run_main puts it back at the end
# of the run (a command called in-process, as tests do, must not leave it set).
_debug_env_before: list[str | None] = []


class _DebugAction(argparse.Action):
    """``--debug``: the same as ``BASENJI_DEBUG=1``, which worker processes inherit."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        _debug_env_before.append(os.environ.get(DEBUG_ENV))
        os.environ[DEBUG_ENV] = "1"
        setattr(namespace, self.dest, True)


def _restore_debug_env() -> None:
    """Undo what --debug options did to the environment."""
    while _debug_env_before:
        before = _debug_env_before.pop()
        if before is None:
            os.environ.pop(DEBUG_ENV, None)
        else:
            os.environ[DEBUG_ENV] = before


# A help text that already names its option's default: "(default: all)", "; default: the
# FASTA's", "(default with -b: ...)" or argparse's own %(default)s.
_NAMES_DEFAULT = re.compile(r"\(default\b|\bdefault\s*:|%\(default\)", re.IGNORECASE)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default once, after its help, unless the help names it already.

    argparse's formatter appends ``(default: <value>)`` to every option's help. Where the
    help says what the default is (``(default: data_dir/targets.txt)`` for a default of
    None, resolved later), that text is the right one and nothing is appended; a required
    option has no default to show.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if _NAMES_DEFAULT.search(text) or action.required:
            return action.help
        return super()._get_help_string(action)


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argparse parser that shows every option's default in ``--help`` and has ``--debug``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "--debug",
        action=_DebugAction,
        help=f"print the traceback of an error (as {DEBUG_ENV}=1 does)",
    )
    return parser


def add_scheduler_options(parser: argparse.ArgumentParser) -> None:
    """``--scheduler`` / ``--scheduler_file``: run the command's tasks on a Dask cluster."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--scheduler",
        help="address of a Dask distributed scheduler "
        "(tcp://host:8786) to run the tasks on instead of local processes; "
        "needs pip install 'basenji-tf[distributed]'",
    )
    group.add_argument(
        "--scheduler_file",
        help="the scheduler file that "
        "'dask scheduler --scheduler-file' wrote (instead of --scheduler)",
    )


def executor_from_args(args: argparse.Namespace, processes: int | None = None) -> Executor:
    """The executor of ``-p`` (or ``processes``; None: 1) and the scheduler options."""
    processes = args.processes if processes is None else processes
    return make_executor(processes or 1, args.scheduler, args.scheduler_file)


def comma_ints(text: str) -> list[int]:
    """Parse '0,1,-1' into [0, 1, -1] (for --shifts and target index options)."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


# errno -> what the user can do about it; the message itself comes from the OS.
_OS_FIXES = {
    errno.ENOSPC: "free space on that file system or write the output elsewhere (-o)",
    errno.EDQUOT: "free space within your quota or write the output elsewhere (-o)",
    errno.EACCES: "check the permissions of the file and its directory",
    errno.EPERM: "check the permissions of the file and its directory",
    errno.EROFS: "the file system is read-only; write the output elsewhere (-o)",
    errno.ENOTDIR: "a component of the path is a file, not a directory; fix the path",
    errno.EISDIR: "the path is a directory; give a file",
    errno.ENOENT: "check the path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) or use fewer processes",
    errno.ENFILE: "too many open files on the system; use fewer processes",
    errno.ENAMETOOLONG: "use a shorter path",
}


def os_error_line(err: OSError) -> str:
    """``<file>: <reason>; <fix>`` for an OSError (the file when the OS names one)."""
    reason = err.strerror or str(err)
    where = err.filename if err.filename is not None else None
    fix = _OS_FIXES.get(err.errno)
    line = f"{where}: {reason}" if where is not None else reason
    return f"{line}; {fix}" if fix else line


def run_main(
    prog: str, body: Callable[[], int | None], out_dir: str | os.PathLike | None = None
) -> int:
    """Run a command body; report every expected failure as one line and a non-zero exit.

    Bad input (``InputError``) and operating-system failures (missing file, no space left,
    permission denied, ...) are the user's to fix: one line on stderr, exit status 1. An
    unexpected exception is reported the same way, as an internal error. Ctrl-C exits 130
    and a closed output pipe (``| head``) exits quietly. With ``--debug`` or the
    environment variable ``BASENJI_DEBUG=1`` the traceback is printed as well.

    Args:
        prog: the command's name, first on every line.
        body: the command's work; returns the exit status (None: 0).
        out_dir: the output directory the run holds from start to end
            (:func:`basenji_tf.files.claim_output_dir`): a second run on it stops at once,
            and temporary files of a killed earlier run are removed. None: no directory.
    """
    logging.basicConfig(
        level=os.environ.get("BASENJI_LOG_LEVEL", "INFO"),
        format=f"{prog}: %(message)s",
        stream=sys.stderr,
    )
    try:
        holding = contextlib.nullcontext() if out_dir is None else claim_output_dir(out_dir)
        with holding:
            return body() or 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except Exception as err:  # noqa: BLE001 - the one place that turns errors into lines
        _report(prog, err)
        return 1
    finally:
        _restore_debug_env()


def _report(prog: str, err: Exception) -> None:
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        traceback.print_exc()
    if isinstance(err, InputError):
        message = str(err)
    elif isinstance(err, OSError):
        message = os_error_line(err)
    else:
        message = (
            f"internal error: {type(err).__name__}: {err}; please report it "
            f"(--debug for the traceback)"
        )
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so interpreter shutdown stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` (None: sys.argv[1:])."""
    return parser.parse_args(None if argv is None else list(argv))

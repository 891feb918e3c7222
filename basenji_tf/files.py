"""Atomic output: write to a temporary name beside the target, rename when complete.

A crash (or Ctrl-C, or SIGKILL) then never leaves a half-written file or directory under
the final name, because ``os.replace`` within one directory is atomic on POSIX.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, is_dir: bool = False) -> Iterator[str]:
    """Yield a temporary path; on success move it to ``path``, on error delete it.

    Args:
        path: final file (or directory, with ``is_dir``) name. An existing one is
            replaced only after the new one is complete.
        is_dir: create a temporary directory instead of reserving a file name.

    Yields:
        the temporary path to write to, in the same directory as ``path``.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{final.name}."
    if is_dir:
        tmp = tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=final.parent)
    else:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp" + final.suffix, dir=final.parent)
        os.close(fd)
    # mkstemp/mkdtemp create private (0600/0700) entries; give the output the permissions
    # a plain open()/mkdir() would have.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, (0o777 if is_dir else 0o666) & ~umask)
    try:
        yield tmp
        if is_dir and final.is_dir():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        handle.write(text)

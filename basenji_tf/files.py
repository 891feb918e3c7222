"""Output files and directories that a failure or a second run cannot damage.

* Atomic output: :func:`atomic_path` writes under a temporary name beside the target and
  renames when complete, so a crash (or Ctrl-C, or SIGKILL) never leaves a half-written
  file or directory under the final name (``os.replace`` within one directory is atomic
  on POSIX).
* HDF5: :func:`atomic_h5` writes and :func:`read_h5` reads. A failed HDF5 write (a full
  disk) leaves the file open inside the HDF5 library, whose own clean-up at interpreter
  exit then retries the write and crashes (a segmentation fault); the writer therefore
  closes a failed file into a memory sink (:func:`discard_h5`) and deletes it.
* Output directories: :func:`claim_output_dir` holds an ``fcntl`` lock in the directory
  for a whole run, so a second run on the same directory stops at once, and removes the
  temporary files of a killed earlier run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import h5py

from basenji_tf.errors import InputError

log = logging.getLogger(__name__)

LOCK_FILE = ".basenji.lock"

# What atomic_path names its temporary entries: .<name>.<8 random>.tmp[<suffix>]
_TEMPORARY = re.compile(r"^\.(.+)\.[a-z0-9_]{8}\.tmp(\.[^.]+)?$")
_HDF5_ERRNO = re.compile(r"\berrno = (\d+)")
_STALE_DEPTH = 2  # subdirectory levels searched for stale temporaries (tracks/, logs/...)


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


# ---------------------------------------------------------------------------------------
# HDF5


@contextlib.contextmanager
def atomic_h5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """An HDF5 file open for writing under a temporary name, renamed to ``path`` when closed.

    On any failure, a full disk included, no file is left under either name.
    """
    with atomic_path(path) as tmp, writing_h5(tmp, path) as h5:
        yield h5


@contextlib.contextmanager
def writing_h5(tmp: str, path: str | os.PathLike | None = None) -> Iterator[h5py.File]:
    """A new HDF5 file at ``tmp`` (a name from :func:`atomic_path`), closed on exit.

    On any failure the file is discarded (:func:`discard_h5`), and an HDF5 ``OSError``
    with an errno is re-raised as ``OSError(errno, strerror, path)``.

    Args:
        tmp: where to write.
        path: the name the user knows the file by, for errors (default ``tmp``).
    """
    h5 = h5py.File(tmp, "w")
    try:
        yield h5
    except BaseException as err:
        discard_h5(h5)
        clean = h5_os_error(err, path or tmp)
        if clean is err:
            raise
        raise clean from err
    close_h5(h5, path or tmp)


def close_h5(h5: h5py.File, path: str | os.PathLike) -> None:
    """Close an HDF5 file being written; if its last flush fails, discard it and raise.

    Args:
        h5: the open file.
        path: the name the user knows it by, for the error.
    """
    # Flush first: a write failing inside close() leaves objects half-closed, and
    # HDF5 crashes when their handles are released later.
    try:
        h5.flush()
        h5.close()
    except (OSError, RuntimeError) as err:
        discard_h5(h5)
        raise h5_os_error(err, path) from err


def discard_h5(h5: h5py.File) -> None:
    """Close an HDF5 file whose contents are thrown away, even after a failed write.

    HDF5 cannot close a file whose data it failed to write: every close retries the
    flush. Pointing the file's descriptor at an anonymous memory file lets the flush
    succeed and the file close; the caller deletes the file on disk.
    """
    if not h5.id.valid:
        return
    try:
        fd = h5.id.get_vfd_handle()
        sink = os.memfd_create("discard") if hasattr(os, "memfd_create") else None
        sink = os.open(os.devnull, os.O_WRONLY) if sink is None else sink
        os.dup2(sink, fd)
        os.close(sink)
        h5.close()
    except (OSError, RuntimeError, ValueError) as err:
        log.debug("discarding an HDF5 file: %s", err)


def h5_os_error(err: BaseException, path: str | os.PathLike) -> BaseException:
    """An HDF5 error with an errno as a plain ``OSError`` naming ``path``; others unchanged.

    HDF5's messages span several lines of driver detail (time, buffer address, offsets);
    a failed write while closing an object comes as a ``RuntimeError`` with the errno
    in its text.
    """
    code = err.errno if isinstance(err, OSError) and err.filename is None else None
    if code is None and isinstance(err, RuntimeError):
        found = _HDF5_ERRNO.search(str(err))
        code = int(found.group(1)) if found else None
    return OSError(code, os.strerror(code), final_name(path)) if code else err


def final_name(path: str | os.PathLike) -> str:
    """The output an :func:`atomic_path` temporary name stands for (others unchanged)."""
    path = Path(path)
    found = _TEMPORARY.match(path.name)
    return str(path.with_name(found.group(1)) if found else path)


@contextlib.contextmanager
def read_h5(path: str | os.PathLike, what: str = "HDF5 file") -> Iterator[h5py.File]:
    """Open an HDF5 file for reading; a corrupt or truncated one is an ``InputError``.

    Reads inside the ``with`` block are covered too (a truncated dataset fails there).

    Args:
        path: the file.
        what: what the file is, for the message ("model file", "resume file", ...).
    """
    try:
        with h5py.File(path, "r") as h5:
            yield h5
    except OSError as err:
        if err.errno is not None:
            raise h5_os_error(err, path) from err
        reason = str(err).split("(")[-1].rstrip(")").strip() or str(err)
        raise InputError(
            f"{path}: not a readable {what} ({reason}); the file is corrupt or truncated, "
            "write it again"
        ) from err


# ---------------------------------------------------------------------------------------
# Output directories


@contextlib.contextmanager
def claim_output_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Hold the output directory ``path`` for one run; create it if needed.

    A lock file (``.basenji.lock``, holding this process id) is locked with ``fcntl``
    while the run lasts; the kernel releases it when the process dies, however it dies.
    Once held, temporary files of earlier killed runs (:func:`atomic_path` names) are
    removed. On exit the lock file is deleted, and a directory this call created is
    deleted again if the run left it empty, so a refused run leaves no trace.

    Raises:
        InputError: another run holds the directory.
    """
    out = Path(path)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = out / LOCK_FILE
    handle = _lock(lock)
    try:
        remove_stale_temporaries(out)
        yield out
    finally:
        if handle is not None:
            with contextlib.suppress(OSError):
                lock.unlink()
            handle.close()
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # only succeeds if empty


def _lock(lock: Path) -> TextIO | None:
    """Open and lock ``lock`` (None: the file system has no locks).

    Retries when a finishing run deleted the file between our open and our lock.
    """
    while True:
        handle = open(lock, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            raise InputError(
                f"{lock.parent}: in use by pid {pid}; wait for it or use another -o"
            ) from None
        except OSError as err:
            handle.close()
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP):  # no locks on this file system
                log.warning("%s: cannot lock (%s); not guarding it", lock.parent, err.strerror)
                return None
            raise
        if _same_file(handle, lock):
            handle.truncate(0)
            handle.write(str(os.getpid()))
            handle.flush()
            return handle
        handle.close()  # locked a file another run had just unlinked: lock the new one


def _same_file(handle, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def remove_stale_temporaries(out_dir: str | os.PathLike) -> list[Path]:
    """Delete what killed runs left of :func:`atomic_path` in ``out_dir`` (2 levels deep).

    Call only while holding the directory (:func:`claim_output_dir`): a live run's
    temporaries look the same.

    Returns:
        the paths removed.
    """
    removed = []
    top = Path(out_dir)
    for root, dirs, names in os.walk(top):
        depth = len(Path(root).relative_to(top).parts)
        stale = [n for n in names + dirs if _TEMPORARY.match(n)]
        dirs[:] = [d for d in dirs if d not in stale and depth < _STALE_DEPTH]
        for name in stale:
            path = Path(root) / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.info("removed %d temporary files of an earlier run in %s", len(removed), top)
    return removed

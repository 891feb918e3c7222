"""Reading user input files: a path or ``-`` (standard input), plain, gzip or bgzip alike.

Compression is recognised by the file's first bytes, not its name, so ``regions.bed.gz``,
a gzipped file without the ``.gz`` suffix and ``zcat``-free pipelines all read the same.
bgzip output is a series of gzip members, which :mod:`gzip` reads as one stream.

A file that cannot be read as text (not UTF-8, truncated or corrupt compressed data)
raises :class:`~basenji_tf.errors.InputError` naming the file and the line, instead of a
``UnicodeDecodeError`` or ``EOFError`` traceback.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from basenji_tf.errors import InputError

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"

# What reading a damaged gzip/bgzip stream raises: BadGzipFile (an OSError), EOFError for
# a truncated one, zlib.error for corrupt blocks.
_CORRUPT = (gzip.BadGzipFile, EOFError, zlib.error)


def display_name(path: str | os.PathLike) -> str:
    """How messages name an input: its path, or ``<stdin>`` for ``-``."""
    return "<stdin>" if os.fspath(path) == STDIN else os.fspath(path)


@contextlib.contextmanager
def open_binary(path: str | os.PathLike, what: str = "file") -> Iterator[BinaryIO]:
    """The decompressed bytes of a file, or of standard input for ``-``.

    Args:
        path: a file path, or ``-`` for standard input (left open on exit).
        what: what the file should hold, for messages (``"BED file"``).

    Yields:
        a binary stream that supports ``peek`` (to sniff a format without consuming it).

    Raises:
        InputError: truncated or corrupt gzip/bgzip data, while reading in the block.
        FileNotFoundError, IsADirectoryError, PermissionError: as :func:`open` does.
    """
    path = os.fspath(path)
    raw = sys.stdin.buffer if path == STDIN else open(path, "rb")
    try:
        if raw.peek(2)[:2] == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield stream
        else:
            yield raw
    except _CORRUPT as err:
        raise InputError(
            f"{display_name(path)}: truncated or corrupt compressed data ({err}); "
            f"check the {what}, or compress it again with bgzip"
        ) from None
    finally:
        if raw is not sys.stdin.buffer:
            raw.close()


def read_lines(path: str | os.PathLike, what: str = "text file") -> Iterator[tuple[int, str]]:
    """(line number, line) of a text file, without its line ending.

    Args:
        path: plain, gzip or bgzip text; ``-`` reads standard input (once).
        what: what the file should hold, for messages (``"BED file"``).

    Yields:
        1-based line numbers and decoded lines, streamed (memory independent of size).

    Raises:
        InputError: bytes that are not UTF-8 text, or truncated/corrupt compressed data.
    """
    with open_binary(path, what) as stream:
        yield from iter_lines(stream, display_name(path), what)


def iter_lines(stream: BinaryIO, name: str, what: str) -> Iterator[tuple[int, str]]:
    """(line number, decoded line) of an open binary stream; see :func:`read_lines`."""
    for line_no, raw in enumerate(stream, 1):
        try:
            yield line_no, raw.decode().rstrip("\r\n")
        except UnicodeDecodeError:
            raise InputError(
                f"{name}: line {line_no}: not UTF-8 text; is this a {what}? "
                "(binary or corrupt data, or a compression format other than gzip/bgzip)"
            ) from None

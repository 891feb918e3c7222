"""What every command shares: argument parser defaults, logging and error reporting."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from basenji_tf.errors import InputError


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argparse parser that shows every option's default in ``--help``."""
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def comma_ints(text: str) -> list[int]:
    """Parse '0,1,-1' into [0, 1, -1] (for --shifts and target index options)."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def run_main(prog: str, body: Callable[[], int | None]) -> int:
    """Run a command body; report bad input as one line on stderr and exit status 1.

    ``InputError`` and missing files are the user's to fix, so they get a single line
    naming the problem instead of a traceback.
    """
    logging.basicConfig(
        level=os.environ.get("BASENJI_LOG_LEVEL", "INFO"),
        format=f"{prog}: %(message)s",
        stream=sys.stderr,
    )
    try:
        return body() or 0
    except (InputError, FileNotFoundError, IsADirectoryError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` (None: sys.argv[1:])."""
    return parser.parse_args(None if argv is None else list(argv))

"""basenji_sad_ref.py: SAD scores with one reference prediction per cluster of nearby SNVs.

The original's reference-sharing ``basenji_sad.py``: SNVs lying less than ``int(L * c)``
bp after the first SNV of their group share one REF window, centred on the midpoint of
their positions, so each lies within the central fraction ``-c`` of it
(:class:`basenji_tf.scoring.sad.SadOptions` ``cluster_pct``). Every other option is
basenji_sad.py's, and ``sad.h5`` is the same layout.

Differences from the original (``bin/basenji_sad_ref.py``): groups are formed within each
batch of ``--batch_variants`` records (so ``-p`` shards equal a single run bit for bit;
raise ``--batch_variants`` for larger groups), from the batch's SNVs in position order
(an unsorted VCF is scored, not refused); indels are scored alone in their own centred
window (the original shifts them into the shared one); REF mismatches are skipped with a
warning (``--strict``: an error), where the original stops.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from basenji_tf.cli._common import parse_args
from basenji_tf.cli._types import probability
from basenji_tf.cli.basenji_sad import build_parser as build_sad_parser
from basenji_tf.cli.basenji_sad import run_sad_command, sad_options
from basenji_tf.errors import InputError

if TYPE_CHECKING:
    from basenji_tf.scoring.sad import SadOptions

PROG = "basenji_sad_ref.py"


def add_sad_ref_options(parser: argparse.ArgumentParser) -> None:
    """``-c`` and ``--flip``: what basenji_sad_ref.py and its _multi add to basenji_sad."""
    parser.add_argument(
        "-c",
        dest="center_pct",
        type=probability,
        default=0.25,
        help="SNVs less than int(L * c) bp apart (L: the model's window) share one "
        "reference window centred on their midpoint, so each lies in its central fraction "
        "c (0: every variant in its own centred window, as basenji_sad.py)",
    )
    parser.add_argument(
        "--flip",
        dest="flip_ref",
        action="store_true",
        help="the original's REF/ALT flip; refused, as the original refuses it",
    )


def sad_ref_options(args: argparse.Namespace) -> SadOptions:
    """basenji_sad.py's options (:func:`~basenji_tf.cli.basenji_sad.sad_options`) with ``-c``."""
    if args.flip_ref:
        raise InputError(
            "--flip: the original refuses it ('Do not use --flip yet'); leave it out: a "
            "record whose ALT matches the genome is scored with the VCF's REF put into the "
            "window, as basenji_sad.py does"
        )
    return dataclasses.replace(sad_options(args), cluster_pct=args.center_pct)


def build_parser() -> argparse.ArgumentParser:
    parser = build_sad_parser()
    parser.prog = PROG
    parser.description = (
        "Score the variants of a VCF as basenji_sad.py does, with one reference prediction "
        "per cluster of nearby SNVs (-c); writes <out_dir>/sad.h5."
    )
    add_sad_ref_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_sad_command(PROG, parse_args(build_parser(), argv), sad_ref_options)


if __name__ == "__main__":
    raise SystemExit(main())

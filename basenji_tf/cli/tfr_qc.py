"""tfr_qc.py: per-target summary statistics and histograms of a data directory's split."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import positive_int

PROG = "tfr_qc.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Summarise every target of a split: <out_dir>/table.txt (mean, std, min, max, zero "
        "fraction, NaN count per target) and histograms <out_dir>/distr/t<i>.pdf/.png.",
    )
    parser.add_argument("tfr_data_dir", help="data directory (or its tfrecords/)")
    parser.add_argument("-o", dest="out_dir", default="tfr_qc", help="output directory")
    parser.add_argument(
        "-p", dest="processes", type=positive_int, default=16, help="processes drawing histograms"
    )
    parser.add_argument("-s", dest="split", default="test", help="split label")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf.tfr_tools import tfr_quality

        tfr_quality(args.tfr_data_dir, args.out_dir, split=args.split, processes=args.processes)

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

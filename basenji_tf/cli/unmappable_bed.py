"""unmappable_bed.py: a mappability BigWig -> BED of its unmappable regions, on stdout."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import nonnegative_int
from basenji_tf.mappability import unmappable_regions

PROG = "unmappable_bed.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Write the runs of bases whose mappability is at most -t, or missing, and at least "
        "-l bp long, as BED (chrom, start, end) on standard output: the unmappable regions "
        "that basenji_data.py -u takes.",
    )
    parser.add_argument("map_bw", help="mappability BigWig (e.g. Umap k-mer uniqueness)")
    parser.add_argument(
        "-l",
        dest="unmap_len",
        type=nonnegative_int,
        default=500,
        help="shortest unmappable run written (bp)",
    )
    parser.add_argument(
        "-t",
        dest="unmap_t",
        type=float,
        default=0.2,
        help="a base is unmappable when its mappability is at most this (or missing)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        out = sys.stdout
        for chrom, start, end in unmappable_regions(args.map_bw, args.unmap_len, args.unmap_t):
            out.write(f"{chrom}\t{start}\t{end}\n")
        out.flush()

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

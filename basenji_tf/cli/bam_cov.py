"""bam_cov.py: BAM/CRAM alignments -> per-bp coverage BigWig (or w5 HDF5)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.bam import bam_coverage
from basenji_tf.cli._common import make_parser, parse_args, run_main

PROG = "bam_cov.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Per-bp coverage of a coordinate-sorted, indexed BAM/CRAM as a BigWig (.bw) or w5 "
        "HDF5 (.h5/.w5) track. Multi-mapped reads (NH tag > 1) are weighted 1/NH at every "
        "location; the original's EM re-assignment of multi-mapped reads is NOT done.",
    )
    parser.add_argument("bam_file", help="sorted, indexed BAM or CRAM")
    parser.add_argument("output_file", help="output .bw or .h5/.w5")
    add = parser.add_argument
    add(
        "-c",
        "--shift_center",
        action="store_true",
        help="count each fragment once at its centre (pairs: from read 1's template; "
        "single reads: --fragment_length/2 downstream of the 5' end)",
    )
    add("--fragment_length", type=int, default=200, help="single-end fragment length (bp)")
    add(
        "-u",
        dest="multi",
        action="store_const",
        const="unique",
        default="weight",
        help="count every alignment of a multi-mapped read as 1 (default: 1/NH)",
    )
    add(
        "--skip_multi",
        dest="multi",
        action="store_const",
        const="skip",
        help="ignore multi-mapped reads",
    )
    add("-q", "--min_mapq", type=int, default=0, help="skip alignments below this MAPQ")
    add(
        "--strand",
        action="store_true",
        help="write one track per strand: <stem>+<ext> and <stem>-<ext>",
    )
    add(
        "-s",
        "--smooth",
        dest="smooth_sigma",
        type=float,
        default=0.0,
        help="Gaussian smoothing sigma in bp (0: none)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        outputs = bam_coverage(
            args.bam_file,
            args.output_file,
            strand=args.strand,
            smooth_sigma=args.smooth_sigma,
            shift_center=args.shift_center,
            fragment_length=args.fragment_length,
            multi=args.multi,
            min_mapq=args.min_mapq,
        )
        print(f"{PROG}: wrote {', '.join(outputs)}")

    return run_main(PROG, body)

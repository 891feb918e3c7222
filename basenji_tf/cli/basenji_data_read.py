"""basenji_data_read.py: one coverage track over sequences.bed -> binned targets in HDF5."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import (
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    quantile,
)
from basenji_tf.targets import SUM_STATS, read_coverage_h5

PROG = "basenji_data_read.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Read a coverage track (BigWig, w5/HDF5 or BED/narrowPeak) over the windows of a BED "
        "file and write binned, clipped targets: HDF5 dataset 'targets', float16 "
        "[num_windows, target_length].",
    )
    parser.add_argument("genome_cov_file", help="coverage track: .bw, .h5/.w5 or .bed/.narrowPeak")
    parser.add_argument("seqs_bed_file", help="windows (chrom start end ...), e.g. sequences.bed")
    parser.add_argument("seqs_cov_file", help="output HDF5")
    add = parser.add_argument
    add("-b", dest="blacklist_bed", help="blacklist BED: values clipped to the window baseline")
    add("--black_pct", type=quantile, default=0.5, help="baseline quantile of each window")
    add("-c", dest="clip", type=nonnegative_float, help="hard clip binned values to [-clip, clip]")
    add("--clip_soft", type=nonnegative_float, help="soft clip above this: c - 1 + sqrt(x - c + 1)")
    add(
        "--clip_pct",
        type=quantile,
        default=0.9999999,
        help="finally clip to this quantile of all values of the track",
    )
    add(
        "--crop",
        dest="crop_bp",
        type=nonnegative_int,
        default=0,
        help="bp to leave out at each window end",
    )
    add("-i", dest="interp", action="store_true", help="interpolate NaN linearly")
    add(
        "-s",
        dest="scale",
        type=positive_float,
        default=1.0,
        help="multiply per-bp coverage (before pooling)",
    )
    add(
        "-u",
        dest="sum_stat",
        default="sum",
        choices=SUM_STATS,
        help="how bp values become a bin value",
    )
    add("-w", dest="pool_width", type=positive_int, default=1, help="bin width (bp)")
    add(
        "--allow_missing_chroms",
        action="store_true",
        help="read chromosomes missing from the track as zeros instead of failing",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        settings = vars(args).copy()
        settings.pop("debug", None)
        read_coverage_h5(
            settings.pop("genome_cov_file"),
            settings.pop("seqs_bed_file"),
            settings.pop("seqs_cov_file"),
            progress=True,
            **settings,
        )

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

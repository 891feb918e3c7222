"""basenji_data.py: genome FASTA + targets table -> a data directory of TFRecords."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import add_scheduler_options, make_parser, parse_args, run_main
from basenji_tf.cli._types import (
    fraction,
    nonnegative_int,
    positive_float,
    positive_int,
)
from basenji_tf.data import DataOptions, make_data_dir

PROG = "basenji_data.py"


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by basenji_data.py and basenji_data_align.py (DataOptions fields)."""
    add = parser.add_argument
    add("-b", dest="blacklist_bed", help="blacklist BED: coverage there clipped to the baseline")
    add(
        "--break",
        dest="break_bp",
        type=positive_int,
        default=786432,
        help="halve contigs longer than this (bp) before splitting; at least -l",
    )
    add(
        "-c",
        "--crop",
        dest="crop_bp",
        type=nonnegative_int,
        default=0,
        help="bp at each end of a sequence without targets",
    )
    add("-d", dest="decimals", type=nonnegative_int, help="round targets to this many decimals")
    add(
        "-f",
        dest="folds",
        type=positive_int,
        help="K cross-validation folds instead of train/valid/test",
    )
    add("-i", dest="interp_nan", action="store_true", help="interpolate missing coverage (NaN)")
    add("-l", dest="seq_length", type=positive_int, default=131072, help="sequence length (bp)")
    add(
        "-p",
        dest="processes",
        type=positive_int,
        help="parallel worker processes (default: 1; the original's default ran every job at once)",
    )
    add_scheduler_options(parser)
    add(
        "-r",
        dest="seqs_per_tfr",
        type=positive_int,
        default=256,
        help="sequences per TFRecord file",
    )
    add(
        "--restart",
        action="store_true",
        help="complete an unfinished output directory, reusing sequences.bed and finished files",
    )
    add("-s", dest="sample_pct", type=fraction, default=1.0, help="fraction of sequences to keep")
    add("--seed", type=nonnegative_int, default=44, help="random seed of splits and shuffles")
    add(
        "--snap",
        type=positive_int,
        default=1,
        help="snap sequence starts to multiples of this (bp)",
    )
    add(
        "--stride",
        "--stride_train",
        dest="stride_train",
        type=positive_float,
        default=1.0,
        help="train stride: <= 1 a fraction of -l, else bp",
    )
    add("--stride_test", type=positive_float, default=1.0, help="valid/test stride, as --stride")
    add(
        "-t",
        dest="test",
        default="0.05",
        help="test set: fraction of nucleotides, or comma-separated chromosomes",
    )
    add("-w", dest="pool_width", type=positive_int, default=128, help="bin width (bp)")
    add(
        "-v",
        dest="valid",
        default="0.05",
        help="validation set: fraction of nucleotides, or comma-separated chromosomes",
    )
    add(
        "--encoding",
        choices=["index", "onehot"],
        default="index",
        help="sequence bytes: base indexes (current) or one-hot (pre-2022 readers)",
    )
    add(
        "--zlib_level",
        dest="compression_level",
        type=nonnegative_int,
        default=1,
        help="ZLIB level of the TFRecords (1 writes ~5x faster than 6, files ~10%% larger)",
    )
    add(
        "--allow_missing_chroms",
        action="store_true",
        help="read chromosomes missing from a coverage file as zeros instead of failing",
    )


def wrote_line(prog: str, out_dir: str, stats: dict) -> str:
    """``<prog>: wrote <out_dir> (train 9, valid 3, test 3 sequences)``."""
    counts = ", ".join(f"{k[:-5]} {v}" for k, v in stats.items() if k.endswith("_seqs"))
    return f"{prog}: wrote {out_dir} ({counts} sequences)"


def data_settings(args: argparse.Namespace) -> dict:
    """The parsed options as DataOptions keywords (plus the positionals, for the caller)."""
    settings = vars(args).copy()
    for key in ("debug", "local", "out_dir"):
        settings.pop(key, None)
    settings["processes"] = settings["processes"] or 1
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Cut a genome into train/valid/test sequences and write their DNA and binned "
        "coverage as TFRecords (data directory layout: docs/data.md).",
    )
    parser.add_argument("fasta_file", help="indexed genome FASTA (plain or bgzipped)")
    parser.add_argument("targets_file", help="targets table (needs file and sum_stat columns)")
    add_data_options(parser)
    add = parser.add_argument
    add("-g", dest="gaps_file", help="assembly gaps BED; contigs are chromosomes minus gaps")
    add("--limit", dest="limit_bed", help="keep only the parts of contigs inside this BED")
    add("--local", action="store_true", help="accepted for compatibility: jobs always run locally")
    add("-o", dest="out_dir", default="data_out", help="output directory (must not exist)")
    add(
        "--st",
        "--split_test",
        dest="split_test",
        action="store_true",
        help="stop after writing contigs.bed",
    )
    add("-u", dest="umap_bed", help="unmappable regions BED")
    add(
        "--peaks",
        dest="peaks_only",
        action="store_true",
        help="only contigs inside the merged peaks of the targets' BED files",
    )
    add(
        "--umap_t",
        type=fraction,
        default=0.5,
        help="drop sequences with at least this fraction of unmappable bins",
    )
    add(
        "--umap_clip",
        type=fraction,
        default=1.0,
        help="clip unmappable bins to this quantile of the sequence's values (1: off)",
    )
    add("--umap_tfr", action="store_true", help="store the unmappable-bin mask in the records")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        settings = data_settings(args)
        fasta, targets = settings.pop("fasta_file"), settings.pop("targets_file")
        stats = make_data_dir(fasta, targets, args.out_dir, DataOptions(**settings))
        if stats:
            print(wrote_line(PROG, args.out_dir, stats))

    return run_main(PROG, body, out_dir=args.out_dir if args.restart else None)


if __name__ == "__main__":
    raise SystemExit(main())

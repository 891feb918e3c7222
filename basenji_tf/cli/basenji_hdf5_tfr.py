"""basenji_hdf5_tfr.py: a 2018 Basenji training HDF5 -> a TFRecord data directory."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import nonnegative_int, positive_int
from basenji_tf.legacy_data import hdf5_to_data_dir

PROG = "basenji_hdf5_tfr.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Convert the HDF5 of the 2018 data scripts (train_in/train_out, valid_*, test_*) "
        "into a data directory for basenji_train.py and basenji_test.py: TFRecords, "
        "targets.txt, statistics.json and, with --bed, sequences.bed (docs/legacy2018.md).",
    )
    parser.add_argument("h5_file", help="2018 training HDF5")
    parser.add_argument("out_dir", help="data directory to create")
    parser.add_argument(
        "-c",
        "--crop",
        dest="crop_bp",
        type=nonnegative_int,
        default=0,
        help="bp cut from each end of the targets: the params' batch_buffer",
    )
    parser.add_argument(
        "--bed",
        dest="bed_file",
        help="the BED of record coordinates the HDF5 writer printed (its -o)",
    )
    parser.add_argument(
        "-s",
        dest="seqs_per_tfr",
        type=positive_int,
        default=256,
        help="sequences per TFRecord file",
    )
    parser.add_argument(
        "--encoding",
        choices=["index", "onehot"],
        default="index",
        help="sequence bytes: base indexes (current) or one-hot",
    )
    parser.add_argument(
        "--zlib_level",
        dest="compression_level",
        type=int,
        choices=range(10),
        default=1,
        help="ZLIB level of the TFRecords",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        stats = hdf5_to_data_dir(
            args.h5_file,
            args.out_dir,
            crop_bp=args.crop_bp,
            seqs_per_tfr=args.seqs_per_tfr,
            bed_file=args.bed_file,
            encoding=args.encoding,
            compression_level=args.compression_level,
        )
        counts = ", ".join(f"{stats[k]} {k[:-5]}" for k in stats if k.endswith("_seqs"))
        print(f"wrote {args.out_dir}: {counts} sequences")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

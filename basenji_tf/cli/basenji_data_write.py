"""basenji_data_write.py: DNA + binned targets of a range of sequences -> one TFRecord file."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.data_write import write_tfrecord_range

PROG = "basenji_data_write.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Write sequences start..end of a sequences.bed, with their targets from "
        "seqs_cov_dir/0.h5, 1.h5, ... (the targets-table order), to one ZLIB TFRecord file.",
    )
    parser.add_argument("fasta_file", help="genome FASTA")
    parser.add_argument("seqs_bed_file", help="sequences.bed (target regions)")
    parser.add_argument("seqs_cov_dir", help="folder of per-target HDF5 files 0.h5, 1.h5, ...")
    parser.add_argument("tfr_file", help="output .tfr")
    add = parser.add_argument
    add("-d", dest="decimals", type=int, help="round targets to this many decimals")
    add("-s", dest="start_i", type=int, default=0, help="first sequence (0-based)")
    add("-e", dest="end_i", type=int, help="one past the last sequence (default: all)")
    add("--te", dest="target_extend", type=int, help="accepted and ignored, as in the original")
    add("-u", dest="umap_npy", help="unmappable-bin mask .npy (bool [num_seqs, target_length])")
    add(
        "--umap_clip",
        type=float,
        default=1.0,
        help="clip unmappable bins to this quantile of the sequence's values (1: off)",
    )
    add("--umap_tfr", action="store_true", help="store the unmappable-bin mask in the records")
    add(
        "-x",
        dest="extend_bp",
        type=int,
        default=0,
        help="DNA added on each side of a target region (the crop)",
    )
    add(
        "--encoding",
        choices=["index", "onehot"],
        default="index",
        help="sequence bytes: base indexes (current) or one-hot (pre-2022 readers)",
    )
    add("--zlib_level", dest="compression_level", type=int, default=1, help="ZLIB level 0-9")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        settings = vars(args).copy()
        for key in ("debug", "target_extend"):
            settings.pop(key, None)
        count = write_tfrecord_range(**settings)
        print(f"{PROG}: wrote {count} records to {args.tfr_file}")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

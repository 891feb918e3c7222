"""basenji_data_write.py: DNA + binned targets of a range of sequences -> one TFRecord file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from basenji_tf.cli._common import make_parser, parse_args, run_main

PROG = "basenji_data_write.py"


def build_parser():
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
    add("-u", dest="umap_npy", help="unmappable-bin mask .npy (bool [num_seqs, target_length])")
    add("--umap_clip", type=float, default=1.0,
        help="clip unmappable bins to this quantile of the sequence's values (1: off)")
    add("--umap_tfr", action="store_true", help="store the unmappable-bin mask in the records")
    add("-x", dest="extend_bp", type=int, default=0,
        help="DNA added on each side of a target region (the crop)")
    add("--encoding", choices=["index", "onehot"], default="index",
        help="sequence bytes: base indexes (current) or one-hot (pre-2022 readers)")
    add("--zlib_level", dest="compression_level", type=int, default=1, help="ZLIB level 0-9")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        import numpy as np

        from basenji_tf.data import write_chunk
        from basenji_tf.errors import InputError
        from basenji_tf.genome import read_bed_rows

        windows = read_bed_rows(args.seqs_bed_file)
        cov_files = []
        while (Path(args.seqs_cov_dir) / f"{len(cov_files)}.h5").is_file():
            cov_files.append(str(Path(args.seqs_cov_dir) / f"{len(cov_files)}.h5"))
        if not cov_files:
            raise InputError(f"{args.seqs_cov_dir}: no 0.h5; run basenji_data_read.py first")
        end_i = len(windows) if args.end_i is None else min(args.end_i, len(windows))
        if not 0 <= args.start_i < end_i:
            raise InputError(f"-s {args.start_i} -e {args.end_i}: empty range of {len(windows)}")
        count = write_chunk(
            args.fasta_file,
            windows,
            cov_files,
            args.start_i,
            end_i,
            args.tfr_file,
            args.extend_bp,
            encoding=args.encoding,
            compression_level=args.compression_level,
            decimals=args.decimals,
            unmap=None if args.umap_npy is None else np.load(args.umap_npy),
            umap_clip=args.umap_clip,
            umap_tfr=args.umap_tfr,
        )
        print(f"{PROG}: wrote {count} records to {args.tfr_file}")

    return run_main(PROG, body)

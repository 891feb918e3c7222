"""tfr_bw.py: one target of a data directory's TFRecords as a BigWig (for a genome browser)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main

PROG = "tfr_bw.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Write one target of a split's TFRecords as a BigWig at the genomic bins of sequences.bed.",
    )
    parser.add_argument("tfr_dir", help="data directory (or its tfrecords/)")
    parser.add_argument("out_bw")
    parser.add_argument(
        "-f",
        dest="fasta_file",
        help="genome FASTA: report records whose DNA differs from it; its index gives "
        "chromosome sizes without -g",
    )
    parser.add_argument(
        "-g",
        dest="genome_file",
        help="chromosome sizes (chrom<TAB>length; default: the FASTA's, else the largest "
        "end in sequences.bed)",
    )
    parser.add_argument(
        "-l",
        dest="target_length",
        type=int,
        help="bins per record (default and only accepted value: statistics.json's)",
    )
    parser.add_argument("-s", dest="data_split", default="train", help="split label")
    parser.add_argument("-t", dest="target_i", type=int, default=0, help="target index")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf.tfr_tools import tfr_to_bigwig

        tfr_to_bigwig(
            args.tfr_dir,
            args.out_bw,
            split=args.data_split,
            target_i=args.target_i,
            fasta=args.fasta_file,
            genome_file=args.genome_file,
            target_length=args.target_length,
        )

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

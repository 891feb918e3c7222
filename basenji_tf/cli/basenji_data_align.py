"""basenji_data_align.py: two genomes + alignment net -> two data dirs with consistent splits."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli.basenji_data import add_data_options, wrote_line
from basenji_tf.data import DataOptions
from basenji_tf.data_align import make_aligned_data_dirs
from basenji_tf.errors import InputError

PROG = "basenji_data_align.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Basenji2's cross-species split: contigs of two genomes linked by a pairwise "
        "alignment (UCSC .net of genome 0 against genome 1) go to the same split, then one "
        "data directory per genome is written (<out_dir>/<label>) as basenji_data.py does.",
    )
    parser.add_argument("net_file", help="UCSC .net alignment (genome 0 = target)")
    parser.add_argument("fasta_files", help="comma-separated FASTA of genome 0 and genome 1")
    parser.add_argument("targets_files", help="comma-separated targets tables, one per genome")
    parser.add_argument(
        "-a",
        dest="labels",
        default="genome0,genome1",
        help="comma-separated genome names (output subdirectories)",
    )
    parser.add_argument("-o", dest="out_dir", default="data_out", help="output directory")
    add_data_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        fastas, tables, labels = (
            x.split(",") for x in (args.fasta_files, args.targets_files, args.labels)
        )
        if not len(fastas) == len(tables) == len(labels) == 2:
            raise InputError("give exactly two FASTA files, two targets tables and two -a labels")
        settings = vars(args).copy()
        for key in ("net_file", "fasta_files", "targets_files", "labels", "out_dir"):
            settings.pop(key)
        opts = DataOptions(**settings)
        out_dirs = [f"{args.out_dir}/{label}" for label in labels]
        stats = make_aligned_data_dirs(args.net_file, fastas, tables, out_dirs, opts)
        for out_dir, st in zip(out_dirs, stats):
            print(wrote_line(PROG, out_dir, st))

    return run_main(PROG, body)

"""basenji_data_align.py: two genomes + alignment net -> splits that respect homology.

Takes the original's command line, ``<align_net> <fasta0,fasta1>``, which writes each
genome's contigs.bed and sequences.bed (<out_dir>/<label>); with the targets tables
(``--targets t0,t1``, or as a third positional) it writes complete data directories.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import comma_strs, nonnegative_int, probability
from basenji_tf.cli.basenji_data import add_data_options, data_settings, wrote_line
from basenji_tf.data import DataOptions
from basenji_tf.data_align import make_aligned_data_dirs
from basenji_tf.errors import InputError

PROG = "basenji_data_align.py"
# --break's default in the original: no contig is broken before the split.
NO_BREAK = 2**62


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Basenji2's cross-species split: contigs of two genomes linked by a pairwise "
        "alignment (UCSC .net of genome 0 against genome 1) go to the same split. Writes "
        "<out_dir>/<label>/contigs.bed and sequences.bed per genome (as the original); "
        "with --targets, complete data directories as basenji_data.py does.",
    )
    parser.add_argument("net_file", help="UCSC .net alignment (genome 0 = target)")
    parser.add_argument("fasta_files", type=comma_strs, help="FASTA of genome 0,genome 1")
    parser.add_argument(
        "targets_positional",
        nargs="?",
        type=comma_strs,
        metavar="targets_files",
        help="same as --targets (this port's earlier three-argument form)",
    )
    add = parser.add_argument
    add("--targets", dest="targets_files", type=comma_strs, help="targets table of each genome")
    add("-a", dest="genome_labels", type=comma_strs, help="genome names (default genome1,genome2)")
    add("-g", dest="gap_files", type=comma_strs, help="assembly gaps BED of each genome")
    add("-u", dest="umap_beds", type=comma_strs, help="unmappable regions BED of each genome")
    add("--umap_t", type=probability, default=0.5, help="drop windows this unmappable")
    add("--nf", dest="net_fill_min", type=nonnegative_int, default=100000,
        help="only alignment blocks this long (bp, both genomes) link contigs")  # fmt: skip
    add("--no", dest="net_olap_min", type=nonnegative_int, default=1024,
        help="a block links a contig it overlaps by more than this (bp)")  # fmt: skip
    add("-o", dest="out_dir", default="align_out", help="output directory")
    add_data_options(parser)
    parser.set_defaults(test="0.1", valid="0.1", break_bp=None)
    return parser


def _per_genome(values: list[str] | None, what: str) -> list[str | None]:
    if values is None:
        return [None, None]
    if len(values) != 2:
        raise InputError(f"{what} {','.join(values)}: give two comma-separated values")
    return values


def genome_options(args: argparse.Namespace) -> list[DataOptions]:
    """The DataOptions of genome 0 and genome 1 (their own gaps and unmappable regions)."""
    settings = data_settings(args)
    for key in ("net_file", "fasta_files", "targets_positional", "targets_files"):
        settings.pop(key)
    for key in ("genome_labels", "gap_files", "umap_beds", "net_fill_min", "net_olap_min"):
        settings.pop(key)
    settings["break_bp"] = NO_BREAK if args.break_bp is None else args.break_bp
    base = DataOptions(**settings)
    gaps, umaps = _per_genome(args.gap_files, "-g"), _per_genome(args.umap_beds, "-u")
    return [dataclasses.replace(base, gaps_file=g, umap_bed=u) for g, u in zip(gaps, umaps)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        fastas = _per_genome(args.fasta_files, "<fasta0_file,fasta1_file>")
        labels = _per_genome(args.genome_labels or ["genome1", "genome2"], "-a")
        tables = args.targets_files or args.targets_positional
        tables = _per_genome(tables, "--targets") if tables else None
        out_dirs = [f"{args.out_dir}/{label}" for label in labels]
        stats = make_aligned_data_dirs(
            args.net_file, fastas, tables, out_dirs, genome_options(args),
            args.net_fill_min, args.net_olap_min,
        )  # fmt: skip
        for out_dir, st in zip(out_dirs, stats):
            print(wrote_line(PROG, out_dir, st))

    return run_main(PROG, body, out_dir=args.out_dir if args.restart else None)


if __name__ == "__main__":
    raise SystemExit(main())

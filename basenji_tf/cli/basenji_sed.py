"""basenji_sed.py: gene-level variant effects at the TSSs in each variant's window."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from basenji_tf.cli._common import (
    comma_ints,
    make_parser,
    parse_args,
    run_main,
)
from basenji_tf.cli._scoring import add_model_options, add_shard_options, model_spec, run_sharded
from basenji_tf.cli._types import comma_strs, positive_int
from basenji_tf.errors import InputError

if TYPE_CHECKING:
    from basenji_tf.scoring.sed import SedOptions

PROG = "basenji_sed.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "For each variant (every ALT allele) and each gene whose TSS lies in the variant's "
        "predicted window, the change ALT - REF of the prediction summed over the TSS bins, "
        "per target. Genes come from a TSS BED (the original's fourth argument) or a GTF "
        "(-g). Writes <out_dir>/sed.h5 with one row per (variant, gene) pair.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("vcf_file", help="VCF, plain or bgzipped")
    parser.add_argument(
        "tss_bed_file",
        nargs="?",
        help="TSSs as BED (chrom, start, end, name, score, strand; the TSS is the "
        "record's midpoint), as in the original; or give -g",
    )
    parser.add_argument(
        "-f",
        dest="genome_fasta",
        required=True,
        help="genome FASTA (required: the original's default under $BASENJIDIR is not assumed)",
    )
    parser.add_argument("-g", dest="gtf_file", help="gene annotation GTF (instead of a TSS BED)")
    parser.add_argument(
        "--feature",
        default="gene",
        help="GTF feature whose start (by strand) is the TSS: gene or transcript",
    )
    parser.add_argument(
        "--tss_bins",
        type=positive_int,
        default=1,
        help="bins summed at each TSS: the TSS bin and (n-1)//2 either side",
    )
    parser.add_argument("-o", dest="out_dir", default="sed", help="output directory")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument(
        "--stats",
        type=comma_strs,
        default=["SED"],
        help="comma-separated statistics: SED, SEDR (log2 ratio of the sums), SER (summed "
        "log2 ratios of the bins); REF and ALT (the sums) are always written",
    )
    parser.add_argument(
        "--pseudo",
        dest="log_pseudo",
        type=float,
        default=1.0,
        help="log2 pseudocount of SEDR and SER",
    )
    parser.add_argument(
        "-n",
        dest="norm_file",
        help="divide each reported target's predictions by a number: one per line, "
        "one line per target",
    )
    parser.add_argument(
        "-t",
        dest="targets_file",
        help="targets table: channels to keep, "
        "un-transformation and strand-pair collapse (as basenji_sad.py)",
    )
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="model head")
    parser.add_argument(
        "--batch_size", type=positive_int, default=8, help="sequences per model call"
    )
    parser.add_argument(
        "--batch_variants", type=positive_int, default=16, help="VCF records scored together"
    )
    parser.add_argument("--strict", action="store_true", help="fail on a REF mismatch")
    parser.add_argument(
        "--threads",
        action="store_true",
        help="accepted for the original's command lines and ignored: statistics are "
        "computed as the predictions arrive",
    )
    add_model_options(parser)
    add_shard_options(parser, "the VCF's records")
    return parser


def genes_source(args: argparse.Namespace) -> tuple[str, bool]:
    """(genes file, whether it is a TSS BED) from the positional or ``-g``."""
    if (args.tss_bed_file is None) == (args.gtf_file is None):
        raise InputError(
            "give the genes either as a TSS BED (fourth argument, as in the original) or "
            "with -g genes.gtf, not both or neither"
        )
    if args.tss_bed_file is not None:
        return args.tss_bed_file, True
    return args.gtf_file, False


def sed_options(args: argparse.Namespace) -> SedOptions:
    """The :class:`SedOptions` of parsed arguments (loads the scoring library)."""
    from basenji_tf.scoring.sed import SedOptions

    return SedOptions(
        feature=args.feature, tss_bins=args.tss_bins, strict=args.strict,
        stats=tuple(args.stats), pseudo=args.log_pseudo, norm_file=args.norm_file,
        batch_variants=args.batch_variants,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.sed import run_sed

        genes_file, tss_bed = genes_source(args)
        options = sed_options(args)
        rows = run_sharded(
            args, run_sed, model_spec(args), args.genome_fasta, args.vcf_file, genes_file,
            args.out_dir, options, tss_bed,
        )  # fmt: skip
        print(f"{PROG}: {rows} variant-gene pairs written to {args.out_dir}/sed.h5")

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

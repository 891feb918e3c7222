"""basenji_sed.py: gene-level variant effects at the TSSs in each variant's window."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import model_spec
from basenji_tf.scoring.sed import run_sed

PROG = "basenji_sed.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "For each variant (every ALT allele) and each gene whose TSS lies in the variant's "
        "predicted window, the change ALT - REF of the prediction summed over the TSS bins, "
        "per target. Writes <out_dir>/sed.h5 with one row per (variant, gene) pair.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("vcf_file", help="VCF, plain or bgzipped")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    parser.add_argument("-g", dest="gtf_file", required=True, help="gene annotation GTF")
    parser.add_argument(
        "--feature",
        default="gene",
        help="GTF feature whose start (by strand) is the TSS: gene or transcript",
    )
    parser.add_argument(
        "--tss_bins",
        type=int,
        default=1,
        help="bins summed at each TSS: the TSS bin and (n-1)//2 either side",
    )
    parser.add_argument("-o", dest="out_dir", default="sed", help="output directory")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument(
        "-t",
        dest="targets_file",
        help="targets table: channels to keep, "
        "un-transformation and strand-pair collapse (as basenji_sad.py)",
    )
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="model head")
    parser.add_argument("--batch_size", type=int, default=8, help="sequences per model call")
    parser.add_argument("--strict", action="store_true", help="fail on a REF mismatch")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        model = model_spec(args)
        rows = run_sed(
            model,
            args.genome_fasta,
            args.vcf_file,
            args.gtf_file,
            args.out_dir,
            args.feature,
            args.tss_bins,
            args.strict,
        )
        print(f"{PROG}: {rows} variant-gene pairs written to {args.out_dir}/sed.h5")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

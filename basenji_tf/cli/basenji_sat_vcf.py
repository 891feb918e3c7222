"""basenji_sat_vcf.py: saturation mutagenesis around VCF variants, REF and each ALT."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import positive_float
from basenji_tf.cli.basenji_sat_bed import add_sat_options, sat_args
from basenji_tf.errors import InputError

PROG = "basenji_sat_vcf.py"
FIGURE_WIDTH = 20.0  # the original's -f default, which it never used


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Saturation mutagenesis of the centre of each variant's REF window and of each ALT "
        "window (variant at index L/2-1, as basenji_sad.py); writes <out_dir>/scores.h5 with "
        "labels {id}_{allele}.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("vcf_file", help="VCF, plain or bgzipped")
    parser.add_argument(
        "--f1",
        dest="genome_fasta",
        required=True,
        help="genome FASTA (required: the original's default was $BASENJIDIR/data/hg38.fa)",
    )
    parser.add_argument(
        "--f2",
        dest="genome2_fasta",
        help="the original's second genome for the ALT windows: not supported (docs/cli.md)",
    )
    parser.add_argument(
        "-f",
        dest="figure_width",
        type=positive_float,
        default=FIGURE_WIDTH,
        help="the original's figure width, which it never used: accepted and ignored "
        "(the genome is --f1, as in the original)",
    )
    add_sat_options(parser, default_len=200, default_out="sat_vcf")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.sat import run_sat_vcf

        if args.genome2_fasta:
            raise InputError(
                f"--f2 {args.genome2_fasta}: ALT windows from a second genome are not "
                "supported; leave out --f2 to score each ALT allele put into the --f1 window"
            )
        if args.figure_width != FIGURE_WIDTH:
            logging.warning("-f %g is ignored (unused in the original too)", args.figure_width)
        model, options = sat_args(args)
        run_sat_vcf(model, args.genome_fasta, args.vcf_file, args.out_dir, options)

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

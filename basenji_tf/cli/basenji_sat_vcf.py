"""basenji_sat_vcf.py: saturation mutagenesis around VCF variants, REF and each ALT."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli.basenji_sat_bed import add_sat_options, sat_args
from basenji_tf.scoring.sat import run_sat_vcf

PROG = "basenji_sat_vcf.py"


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
    parser.add_argument("--f1", "-f", dest="genome_fasta", required=True, help="genome FASTA")
    add_sat_options(parser, default_len=200, default_out="sat_vcf")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        model, options = sat_args(args)
        run_sat_vcf(model, args.genome_fasta, args.vcf_file, args.out_dir, options)

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

"""basenji_sed_multi.py: basenji_sed.py over -p shards, merged into one sed.h5."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import parse_args, run_main
from basenji_tf.cli._scoring import (
    add_slurm_options,
    model_spec,
    multi_parser,
    run_multi,
    warn_slurm_ignored,
)
from basenji_tf.cli.basenji_sed import build_parser as build_sed_parser
from basenji_tf.cli.basenji_sed import genes_source, sed_options

PROG = "basenji_sed_multi.py"


def build_parser() -> argparse.ArgumentParser:
    parser = build_sed_parser()
    multi_parser(parser, PROG, "basenji_sed.py")
    add_slurm_options(parser, "sed", conda_env="tf28", cpu=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.sed import run_sed

        warn_slurm_ignored(args, parser)
        genes_file, tss_bed = genes_source(args)
        options = sed_options(args)
        rows = run_multi(
            args, run_sed, model_spec(args), args.genome_fasta, args.vcf_file, genes_file,
            args.out_dir, options, tss_bed,
        )  # fmt: skip
        print(f"{PROG}: {rows} variant-gene pairs written to {args.out_dir}/sed.h5")

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

"""basenji_sat_bed_multi.py: basenji_sat_bed.py over -p shards, merged into one scores.h5."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import parse_args, run_main
from basenji_tf.cli._scoring import add_slurm_options, multi_parser, run_multi, warn_slurm_ignored
from basenji_tf.cli.basenji_sat_bed import build_parser as build_sat_bed_parser
from basenji_tf.cli.basenji_sat_bed import sat_args

PROG = "basenji_sat_bed_multi.py"


def build_parser() -> argparse.ArgumentParser:
    parser = build_sat_bed_parser()
    multi_parser(parser, PROG, "basenji_sat_bed.py")
    parser.set_defaults(mut_len=200)  # the original _multi's default (basenji_sat_bed.py: 0)
    add_slurm_options(parser, "sat", name_flags=("-n",), restart_flags=("-r", "--restart"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.sat import run_sat_bed

        warn_slurm_ignored(args, parser)
        model, options = sat_args(args)
        run_multi(args, run_sat_bed, model, args.genome_fasta, args.bed_file, args.out_dir, options)

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

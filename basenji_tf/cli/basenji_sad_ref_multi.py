"""basenji_sad_ref_multi.py: basenji_sad_ref.py over -p shards, merged into one sad.h5.

The original's Slurm front end of basenji_sad_ref.py; its options as
basenji_sad_multi.py's (Slurm options accepted and ignored, ``--max_proc`` local
processes at once, ``--scheduler`` for a Dask cluster), with ``-c``, ``--flip`` and
``--pseudo`` (which the original passes on and basenji_sad_ref.py never reads).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from basenji_tf.cli._common import parse_args, run_main
from basenji_tf.cli._scoring import model_spec, run_multi
from basenji_tf.cli.basenji_sad_multi import build_parser as build_sad_multi_parser
from basenji_tf.cli.basenji_sad_multi import warn_ignored
from basenji_tf.cli.basenji_sad_ref import add_sad_ref_options, sad_ref_options

PROG = "basenji_sad_ref_multi.py"


def build_parser() -> argparse.ArgumentParser:
    parser = build_sad_multi_parser()
    parser.prog = PROG
    parser.description = (
        "basenji_sad_ref.py (one reference prediction per cluster of nearby SNVs, -c) on "
        "-p shards of the VCF in local processes (job0, job1, ... in the output "
        "directory), merged into <out_dir>/sad.h5, equal to a single-process run. For a "
        "cluster, give --scheduler (Dask) instead of the original's Slurm options (-q, -e, "
        "--name: accepted and ignored). -r is accepted; every run scores all shards."
    )
    add_sad_ref_options(parser)
    parser.add_argument(
        "--pseudo",
        dest="log_pseudo",
        type=float,
        default=1.0,
        help="log2 pseudocount; ignored, as by the original (the log statistics add 1)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.sad import run_sad

        options = sad_ref_options(args)
        warn_ignored(args)
        if args.log_pseudo != 1.0:
            logging.warning("--pseudo is ignored, as by the original's basenji_sad_ref.py")
        run_multi(
            args, run_sad, model_spec(args), args.genome_fasta, args.vcf_file, args.out_dir,
            options,
        )  # fmt: skip

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

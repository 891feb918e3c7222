"""basenji_predict_bed_multi.py: basenji_predict_bed.py over -p shards, merged exactly.

The merge writes ``predict.h5`` and the ``-b`` BigWigs, byte for byte those of a
single-process run. The original's ``-q`` and ``-r`` are accepted and ignored (it has
no ``-e`` conda env: ``-e`` is basenji_predict_bed.py's embedding layer).
"""

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
from basenji_tf.cli.basenji_predict_bed import build_parser as build_predict_bed_parser
from basenji_tf.cli.basenji_predict_bed import predict_options

PROG = "basenji_predict_bed_multi.py"


def build_parser() -> argparse.ArgumentParser:
    parser = build_predict_bed_parser()
    multi_parser(parser, PROG, "basenji_predict_bed.py")
    add_slurm_options(parser, None, conda_env=None, name_flags=(), max_proc=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.predict import run_predict_bed

        warn_slurm_ignored(args, parser)
        options = predict_options(args)
        run_multi(
            args, run_predict_bed, model_spec(args), args.genome_fasta, args.bed_file,
            args.out_dir, options,
        )  # fmt: skip

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

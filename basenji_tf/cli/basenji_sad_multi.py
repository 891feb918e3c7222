"""basenji_sad_multi.py: basenji_sad.py split over local processes, merged into one sad.h5."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import (
    add_scheduler_options,
    executor_from_args,
    make_parser,
    parse_args,
    run_main,
)
from basenji_tf.cli._scoring import model_spec
from basenji_tf.cli.basenji_sad import add_sad_options, sad_options, shard_count
from basenji_tf.scoring.sad import run_sad

PROG = "basenji_sad_multi.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Score -p shards of the VCF in local processes (job0, job1, ... in the output "
        "directory) and merge them into <out_dir>/sad.h5, equal to a single-process run. "
        "For a cluster, give --scheduler (Dask) instead of the original's queue options "
        "(-q, -e).",
    )
    add_sad_options(parser)
    parser.add_argument("-p", dest="processes", type=int, default=2, help="number of shards")
    parser.add_argument("--max_proc", type=int, help="shards running at once (default: -p)")
    add_scheduler_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        with executor_from_args(args, args.max_proc or args.processes) as executor:
            shards = shard_count(args, executor.parallelism) or 1
            run_sad(
                model_spec(args),
                args.genome_fasta,
                args.vcf_file,
                args.out_dir,
                sad_options(args),
                shards=shards,
                executor=executor,
            )

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

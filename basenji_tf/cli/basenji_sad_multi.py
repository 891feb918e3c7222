"""basenji_sad_multi.py: basenji_sad.py split over local processes, merged into one sad.h5."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from basenji_tf.cli._common import (
    add_scheduler_options,
    executor_from_args,
    make_parser,
    parse_args,
    run_main,
)
from basenji_tf.cli._scoring import add_keep_shards_option, model_spec
from basenji_tf.cli._types import positive_int
from basenji_tf.cli.basenji_sad import add_sad_options, sad_options, shard_count

PROG = "basenji_sad_multi.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Score -p shards of the VCF in local processes (job0, job1, ... in the output "
        "directory) and merge them into <out_dir>/sad.h5, equal to a single-process run. "
        "For a cluster, give --scheduler (Dask) instead of the original's Slurm options "
        "(-q, -e, --cpu, --name are accepted and ignored). -r is accepted; every run scores "
        "all shards.",
    )
    add_sad_options(parser)
    add = parser.add_argument
    add("-p", dest="processes", type=positive_int, help="number of shards (default: 2)")
    add("--max_proc", type=positive_int, help="shards running at once (default: -p)")
    add("-q", dest="queue", default="geforce", help="Slurm queue; ignored: see -p, --scheduler")
    add("-e", dest="conda_env", default="tf2.6", help="conda env of Slurm jobs; ignored")
    add("--cpu", action="store_true", help="Slurm jobs on CPUs; ignored (runs where it runs)")
    add("--name", default="sad", help="Slurm job name; ignored")
    add(
        "-r",
        dest="restart",
        action="store_true",
        help="restart; ignored: every run scores all shards",
    )
    add("-n", dest="norm_file", help="the original's normalisation file; not supported")
    add("--ti", dest="track_indexes", help="the original's track indexes; use -t instead")
    add("--threads", action="store_true", help="the original's threaded predict; ignored")
    add("-u", dest="penultimate", action="store_true", help="penultimate layer; not supported")
    add_scheduler_options(parser)
    add_keep_shards_option(parser)
    return parser


IGNORED = {
    "queue": "geforce", "conda_env": "tf2.6", "cpu": False, "name": "sad", "norm_file": None,
    "track_indexes": None, "threads": False, "penultimate": False, "restart": False,
}  # fmt: skip


def warn_ignored(args: argparse.Namespace) -> None:
    """One warning naming the original's options given here that change nothing."""
    given = [key for key, default in IGNORED.items() if getattr(args, key) != default]
    if given:
        logging.warning("ignored (see docs/cli.md): %s", ", ".join(given))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.sad import run_sad

        warn_ignored(args)
        args.processes = args.processes or 2
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
                keep_shards=args.keep_shards,
            )

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

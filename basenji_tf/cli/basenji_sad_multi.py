"""basenji_sad_multi.py: basenji_sad.py split over local processes, merged into one sad.h5."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli.basenji_sad import add_sad_options, worker_argv

PROG = "basenji_sad_multi.py"


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(
        PROG,
        "Run basenji_sad.py on -p shards of the VCF in local processes (job0, job1, ... in "
        "the output directory) and merge them into <out_dir>/sad.h5, equal to a "
        "single-process run. Cluster queues (-q, -e of the original) are not supported.",
    )
    add_sad_options(parser)
    parser.add_argument("-p", dest="processes", type=int, default=2, help="number of shards")
    parser.add_argument("--max_proc", type=int, help="shards running at once (default: -p)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(parser, argv)

    def body() -> None:
        from basenji_tf.variants import run_shards

        forwarded = worker_argv(argv, ("-p", "-o", "--shard", "--max_proc"))
        run_shards(forwarded, args.out_dir, args.processes, args.max_proc)

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

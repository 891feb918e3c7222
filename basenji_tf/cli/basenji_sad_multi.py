"""basenji_sad_multi.py: basenji_sad.py split over local processes, merged into one sad.h5."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli.basenji_sad import add_sad_options, model_spec, sad_options
from basenji_tf.scoring.execute import LocalProcesses
from basenji_tf.scoring.sad import run_sad

PROG = "basenji_sad_multi.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Score -p shards of the VCF in local processes (job0, job1, ... in the output "
        "directory) and merge them into <out_dir>/sad.h5, equal to a single-process run. "
        "Cluster queues (-q, -e of the original) are not supported.",
    )
    add_sad_options(parser)
    parser.add_argument("-p", dest="processes", type=int, default=2, help="number of shards")
    parser.add_argument("--max_proc", type=int, help="shards running at once (default: -p)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        executor = LocalProcesses(args.max_proc or args.processes)
        run_sad(model_spec(args), args.genome_fasta, args.vcf_file, args.out_dir,
                sad_options(args), shards=args.processes, executor=executor)  # fmt: skip

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

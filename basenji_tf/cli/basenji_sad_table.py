"""basenji_sad_table.py: a sad.h5 as a tab-separated table, for R, pandas or awk."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.files import atomic_path
from basenji_tf.scoring.outputs import iter_sad_table

PROG = "basenji_sad_table.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Write a sad.h5 (ours or the original's) as a TSV: one row per variant and target "
        "(SNP, chr, pos, alleles, target, each statistic, SAD quantile), or one row per "
        "variant with --wide.",
    )
    parser.add_argument("sad_h5_file")
    parser.add_argument(
        "-q",
        dest="quant_h5_file",
        help="sad.h5 whose SAD percentile tables give the Quantile column "
        "(default: the file's own)",
    )
    parser.add_argument("-o", dest="out_file", default="-", help="output TSV; -: standard output")
    parser.add_argument(
        "--wide",
        action="store_true",
        help="one row per variant and a column per statistic and target",
    )
    return parser


@contextlib.contextmanager
def _output(path: str) -> Iterator[TextIO]:
    """Standard output for ``-``, else a file written atomically."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        yield handle


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        chunks = iter_sad_table(args.sad_h5_file, args.quant_h5_file, wide=args.wide)
        with _output(args.out_file) as out:
            for i, chunk in enumerate(chunks):
                chunk.to_csv(out, sep="\t", index=False, header=i == 0, float_format="%.6g")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

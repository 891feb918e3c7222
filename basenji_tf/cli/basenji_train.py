"""basenji_train.py: train a model, one head per data directory (species)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._train import add_train_arguments, train

PROG = "basenji_train.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Train the model of a params file. Data directory i trains head i (head keys in "
        "natural order); with several, every epoch interleaves their batches in a shuffled "
        "order. Rerunning the same command resumes after the last completed epoch. A "
        "'transfer' section in the params fine-tunes the --restore model (docs/train.md).",
    )
    add_train_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    return run_main(PROG, lambda: train(args))


if __name__ == "__main__":
    raise SystemExit(main())

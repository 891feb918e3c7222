"""save_model.py: re-save a model file (.h5 or .keras, by extension), or its trunk only."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import nonnegative_int

PROG = "save_model.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Restore a model and save it again: out_model_file ending in .h5 gets the Keras-2 "
        "HDF5 layout (the original's), .keras a Keras 3 archive; with -t the trunk only "
        "(the file restore(..., trunk=True) / --trunk reads).",
    )
    parser.add_argument("params_file", help="params JSON the model was trained with")
    parser.add_argument("in_model_file", help="a head model's weights (.h5 or .keras)")
    parser.add_argument("out_model_file", help="output: .h5 or .keras")
    parser.add_argument(
        "-t", "--trunk", dest="trunk", action="store_true", help="save the trunk only"
    )
    parser.add_argument(
        "--head", dest="head_i", type=nonnegative_int, default=0, help="head in_model_file holds"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf.model_files import resave_model

        resave_model(
            args.params_file,
            args.in_model_file,
            args.out_model_file,
            trunk=args.trunk,
            head=args.head_i,
        )
        print(f"wrote {args.out_model_file}")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

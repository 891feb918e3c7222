"""basenji_params_convert.py: a 2018 TF1 params.txt -> a params JSON."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import positive_int
from basenji_tf.legacy_params import convert_params_txt, write_params_json

PROG = "basenji_params_convert.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Convert the text hyper-parameters of the 2018 Basenji code (key value lines) into "
        "a params JSON for basenji_train.py and the other commands (mapping: "
        "docs/legacy2018.md).",
    )
    parser.add_argument("params_txt", help="TF1 params.txt")
    parser.add_argument("params_json", help="params JSON to write")
    parser.add_argument(
        "--num_targets",
        type=positive_int,
        help="outputs per bin, instead of the file's num_targets",
    )
    parser.add_argument(
        "--seq_length",
        type=positive_int,
        help="input length (bp), instead of the file's seq_length",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        params = convert_params_txt(
            args.params_txt, num_targets=args.num_targets, seq_length=args.seq_length
        )
        write_params_json(params, args.params_json)
        model = params["model"]
        print(
            f"wrote {args.params_json}: {model['seq_length']} bp -> "
            f"{model['target_length']} bins x {model['head']['units']} targets"
        )

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

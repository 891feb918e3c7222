"""upgrade_tf1.py: a Basenji 2018 TF1 checkpoint -> our model file (docs/legacy2018.md)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main

PROG = "upgrade_tf1.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Convert a TensorFlow 1 checkpoint of the 2018 Basenji code (model.tf.index / "
        ".data-*) into a model file (.h5 in the Keras-2 layout, or .keras) for the same "
        "params, every variable and shape checked.",
    )
    parser.add_argument(
        "params_tf1_file",
        help="the 2018 params.txt (or its params JSON, basenji_params_convert.py)",
    )
    parser.add_argument("model_tf1_file", help="checkpoint prefix, e.g. model.tf")
    parser.add_argument("model_tf2_h5", help="model file to write (.h5 or .keras)")
    parser.add_argument(
        "-f",
        dest="final_slice",
        default=None,
        help='keep these targets of the final layer, e.g. "0:1000"',
    )
    parser.add_argument(
        "--params_json",
        help="also write the params JSON of the written model (its head as wide as the "
        "targets kept)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf.legacy_params import write_params_json
        from basenji_tf.legacy_tf1 import FinalSlice, upgrade_tf1

        final_slice = FinalSlice.parse(args.final_slice) if args.final_slice else None
        params = upgrade_tf1(
            args.params_tf1_file, args.model_tf1_file, args.model_tf2_h5, final_slice
        )
        if args.params_json:
            write_params_json(params, args.params_json)
        model = params["model"]
        units = next(v for k, v in model.items() if k.startswith("head"))
        units = (units[-1] if isinstance(units, list) else units)["units"]
        print(f"wrote {args.model_tf2_h5}: {model['seq_length']} bp -> {units} targets")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

"""basenji_export.py: export a trained model as a TensorFlow SavedModel."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._types import nonnegative_int

PROG = "basenji_export.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Export a model (optionally ensembled) as a TF SavedModel "
        "with a serving signature over float32 [batch, seq_length, 4].",
    )
    parser.add_argument("params_file", help="params JSON the model was trained with")
    parser.add_argument("model_file", help="weights (.h5 of the original or ours, or .keras)")
    parser.add_argument("out_dir", help="SavedModel directory to write")
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="head index")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument("--trunk", action="store_true", help="model_file holds the trunk only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        from basenji_tf.export import export_model

        export_model(
            args.params_file,
            args.model_file,
            args.out_dir,
            head=args.head_i,
            rc=args.rc,
            shifts=args.shifts,
            trunk=args.trunk,
        )
        print(f"wrote {args.out_dir}")

    return run_main(PROG, body)


if __name__ == "__main__":
    raise SystemExit(main())

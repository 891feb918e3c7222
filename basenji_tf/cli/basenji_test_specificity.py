"""basenji_test_specificity.py: accuracy on targets and predictions normalised across targets."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import add_precision_option
from basenji_tf.cli._types import fraction, nonnegative_int, positive_int

PROG = "basenji_test_specificity.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Specificity accuracy (Basenji2): per class of targets (description prefix; CHIP "
        "by factor), predictions and targets of every position are quantile normalised and "
        "mean-centred across the class's targets, then correlated per target over "
        "positions. Writes <out_dir>/acc.txt (index pearsonr identifier description); "
        "classes smaller than -c get an empty cell.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("data_dir")
    parser.add_argument(
        "-c",
        dest="class_min",
        type=nonnegative_int,
        default=100,
        help="minimum number of targets of a class to evaluate it",
    )
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    parser.add_argument("-o", dest="out_dir", default="test_out", help="output directory")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument(
        "-s", "--step", type=positive_int, default=1, help="keep every step-th bin (positions)"
    )
    parser.add_argument(
        "--save", action="store_true", help="write preds.h5 and targets.h5 of the kept bins"
    )
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument(
        "-t", dest="targets_file", help="targets table (default: data_dir/targets.txt)"
    )
    parser.add_argument(
        "--split", dest="split_label", default="test", help="split label of the data directory"
    )
    parser.add_argument("--tfr", dest="tfr_pattern", help="TFRecord glob under tfrecords/")
    parser.add_argument(
        "-v",
        dest="high_var_pct",
        type=fraction,
        default=1.0,
        help="share of each class's most variable positions (target variance) kept",
    )
    add_precision_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.evaluate_specificity import evaluate_specificity

        result = evaluate_specificity(
            args.params_file,
            args.model_file,
            args.data_dir,
            out_dir=args.out_dir,
            head_i=args.head_i,
            rc=args.rc,
            shifts=args.shifts,
            split=args.split_label,
            step=args.step,
            class_min=args.class_min,
            high_var_pct=args.high_var_pct,
            save=args.save,
            targets_file=args.targets_file,
            tfr_pattern=args.tfr_pattern,
            precision=args.precision,
        )
        print("targets", result["shape"])
        for label, (count, mean) in result["classes"].items():
            line = f"{label:<15s}  {count:4d}"
            print(line if math.isnan(mean) else f"{line}  PearsonR {mean:.4f}")
        print(f"Specificity PearsonR: {result['pearsonr']:7.5f}")

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

"""basenji_predict_tfr.py: a data directory's split -> preds.h5, targets.h5, bedGraphs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import add_precision_option
from basenji_tf.cli._types import nonnegative_int

PROG = "basenji_predict_tfr.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Predict the records of a data directory's split into <out_dir>/preds.h5 (dataset "
        "preds, float16 [sequences, bins, outputs], sequences.bed order) and write their "
        "targets to <out_dir>/targets.h5; with --bi, preds_t{ti}.bedgraph and "
        "targets_t{ti}.bedgraph of those outputs.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("data_dir")
    parser.add_argument(
        "--bi",
        dest="bedgraph_indexes",
        type=comma_ints,
        default=[],
        help="comma-separated outputs to write as prediction and target bedGraphs",
    )
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    parser.add_argument("-o", dest="out_dir", default="preds_out", help="output directory")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument(
        "-t", dest="targets_file", help="targets table whose index column lists the outputs kept"
    )
    parser.add_argument(
        "--split", dest="split_label", default="test", help="split label of the data directory"
    )
    parser.add_argument("--tfr", dest="tfr_pattern", help="TFRecord glob under tfrecords/")
    add_precision_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.predict_tfr import predict_tfr

        result = predict_tfr(
            args.params_file,
            args.model_file,
            args.data_dir,
            out_dir=args.out_dir,
            head_i=args.head_i,
            rc=args.rc,
            shifts=args.shifts,
            split=args.split_label,
            tfr_pattern=args.tfr_pattern,
            targets_file=args.targets_file,
            bedgraph_indexes=args.bedgraph_indexes,
            precision=args.precision,
        )
        print(f"predictions: {result['preds']}")
        print(f"targets:     {result['targets']}")
        if result["bedgraphs"]:
            print(f"{len(result['bedgraphs'])} bedGraphs in {args.out_dir}")

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

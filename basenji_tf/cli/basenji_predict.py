"""basenji_predict.py: predict a data directory's split; optional BigWigs of the tracks."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import add_precision_option
from basenji_tf.cli._types import nonnegative_int
from basenji_tf.cli.basenji_test import add_mc_option, warn_mc

PROG = "basenji_predict.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Predict the records of a data directory's split into <out_dir>/preds.h5 (float16, "
        "sequences.bed order) and normalization.txt; with -b or --ti, also "
        "<out_dir>/tracks/t{ti}_preds.bw stitched along the split's sequences.bed rows.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("data_dir")
    parser.add_argument(
        "-b",
        dest="track_bed",
        help="sequences BED to place the BigWig bins (data_dir/sequences.bed)",
    )
    parser.add_argument(
        "-g",
        dest="genome_file",
        required=True,
        help="chromosome sizes for the BigWigs (.genome, .chrom.sizes or .fai); required, "
        "as in the original, whose default was $BASENJIDIR/data/human.hg38.genome",
    )
    parser.add_argument("-o", dest="out_dir", default="test_out", help="output directory")
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    add_mc_option(parser)
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument(
        "-t", dest="targets_file", help="targets table whose index column lists the outputs kept"
    )
    parser.add_argument(
        "--ti",
        dest="track_indexes",
        type=comma_ints,
        help="outputs to write as BigWig (default with -b: all kept)",
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
        from basenji_tf.scoring.split_tracks import predict_data_dir

        warn_mc(args.mc_n)
        result = predict_data_dir(
            args.params_file,
            args.model_file,
            args.data_dir,
            args.out_dir,
            args.head_i,
            args.rc,
            args.shifts,
            args.split_label,
            args.tfr_pattern,
            args.targets_file,
            args.track_bed,
            args.genome_file,
            args.track_indexes,
            args.precision,
        )
        print(f"predictions: {result['preds']}")
        if result["bigwigs"]:
            print(f"{len(result['bigwigs'])} BigWigs in {args.out_dir}/tracks")

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

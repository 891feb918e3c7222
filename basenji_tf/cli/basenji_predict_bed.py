"""basenji_predict_bed.py: predictions for BED regions to HDF5 and BigWig."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from basenji_tf.cli._common import (
    comma_ints,
    make_parser,
    parse_args,
    run_main,
)
from basenji_tf.cli._scoring import add_model_options, add_shard_options, model_spec, run_sharded
from basenji_tf.cli._types import positive_int

if TYPE_CHECKING:
    from basenji_tf.scoring.predict import PredictOptions

PROG = "basenji_predict_bed.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Predict a model window centred on each BED region; writes <out_dir>/predict.h5 "
        "(central site bins) and, with -b, one BigWig per chosen target in <out_dir>/bigwig "
        "at the genomic coordinates of the bins.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("bed_file")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    parser.add_argument(
        "-g",
        dest="genome_file",
        help="chromosome sizes for the BigWig header (default: the FASTA's)",
    )
    parser.add_argument(
        "-b",
        dest="bigwig_indexes",
        type=comma_ints,
        default=[],
        help="targets (reported indexes) to write as BigWig",
    )
    parser.add_argument(
        "-l",
        dest="site_length",
        type=int,
        help="bp of the central site kept (multiple of the bin width; "
        "default: the whole prediction)",
    )
    parser.add_argument(
        "-e",
        dest="embed_layer",
        type=int,
        help="write this layer's outputs instead of predictions: the i-th normalization "
        "layer (conv layer if the model has none), -1 for the trunk's output",
    )
    parser.add_argument("-o", dest="out_dir", default="pred_out", help="output directory")
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument("-s", dest="sum", action="store_true", help="sum the site's bins")
    parser.add_argument("-t", dest="targets_file", help="targets table (output channels to keep)")
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="model head")
    parser.add_argument(
        "--batch_size", type=positive_int, default=8, help="sequences per model call"
    )
    add_model_options(parser)
    add_shard_options(parser, "the BED regions (at multiples of --batch_size)")
    return parser


def predict_options(args: argparse.Namespace) -> PredictOptions:
    """The :class:`PredictOptions` of parsed arguments (loads the scoring library)."""
    from basenji_tf.scoring.predict import PredictOptions

    return PredictOptions(
        args.site_length, args.sum, tuple(args.bigwig_indexes), args.genome_file,
        args.embed_layer,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.predict import run_predict_bed

        model = model_spec(args)
        options = predict_options(args)
        run_sharded(
            args, run_predict_bed, model, args.genome_fasta, args.bed_file, args.out_dir, options
        )

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

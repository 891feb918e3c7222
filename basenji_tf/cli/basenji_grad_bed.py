"""basenji_grad_bed.py: input x gradient attribution of BED regions."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import add_precision_option
from basenji_tf.cli._types import nonnegative_int, positive_int

PROG = "basenji_grad_bed.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Input x gradient attribution of a model window centred on each BED region: the "
        "gradient of the predictions summed over all bins and the chosen targets, times the "
        "one-hot input. Writes <out_dir>/scores.h5 and <out_dir>/attr.bw (bp resolution).",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("bed_file")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    parser.add_argument("-o", dest="out_dir", default="grad_bed", help="output directory")
    parser.add_argument(
        "--targets",
        dest="target_indexes",
        type=comma_ints,
        help="model outputs whose predictions are summed (default: all)",
    )
    parser.add_argument(
        "--rc", action="store_true", help="average with the reverse complement's gradient"
    )
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    parser.add_argument(
        "--batch_size", type=positive_int, default=4, help="sequences per gradient call"
    )
    add_precision_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.grad import run_grad_bed

        run_grad_bed(
            args.params_file,
            args.model_file,
            args.genome_fasta,
            args.bed_file,
            args.out_dir,
            args.head_i,
            args.target_indexes,
            args.rc,
            args.batch_size,
            args.precision,
        )

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

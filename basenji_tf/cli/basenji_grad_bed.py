"""basenji_grad_bed.py: attribution of BED regions (gradients, integrated gradients, DeepSHAP)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import add_precision_option, add_shard_options, run_sharded
from basenji_tf.cli._types import nonnegative_int, positive_int
from basenji_tf.interpret import BASELINES, METHODS

PROG = "basenji_grad_bed.py"


def bin_choice(text: str) -> str | tuple[int, int]:
    """``center``, ``all``, or ``A:B`` (a half-open range of output bins) for ``--bins``."""
    if text in ("center", "all"):
        return text
    first, sep, last = text.partition(":")
    try:
        value = (int(first), int(last))
    except ValueError:
        value = None
    if not sep or value is None or not 0 <= value[0] < value[1]:
        raise argparse.ArgumentTypeError(
            f"expected center, all, or A:B with 0 <= A < B (output bins), got {text!r}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Attribute the predictions of a model window centred on each BED region to its "
        "bases: the predictions summed over the chosen targets and bins (by default the "
        "bins over the region), explained by --method. Writes <out_dir>/scores.h5 "
        "(sequences, contributions, hypothetical contributions, regions) and "
        "<out_dir>/attr.bw (contributions at bp resolution); docs/interpretation.md.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("bed_file")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    parser.add_argument("-o", dest="out_dir", default="grad_bed", help="output directory")
    add_attribution_options(parser, "region")
    add_precision_option(parser)
    add_shard_options(parser, "the BED regions (at multiples of --batch_size)")
    return parser


def add_attribution_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``--method`` ... ``--batch_size``: the attribution options (also basenji_grad_vcf's).

    Args:
        parser: the command's parser.
        what: what the windows are centred on, for the help ("region", "variant").
    """
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="input_x_gradient",
        help="attribution method (deepshap: DeepLIFT's rescale rule against shuffled "
        "references, summing exactly to the prediction's difference from theirs)",
    )
    parser.add_argument(
        "--targets",
        dest="target_indexes",
        type=comma_ints,
        help="model outputs whose predictions are summed (default: all)",
    )
    parser.add_argument(
        "--bins",
        type=bin_choice,
        default="center",
        help=f"output bins whose predictions are summed: center (those overlapping the {what}),"
        " all, or A:B (bins A to B-1 of every window)",
    )
    parser.add_argument(
        "--rc", action="store_true", help="average with the reverse complement's attribution"
    )
    parser.add_argument(
        "--references",
        type=positive_int,
        default=20,
        help=f"dinucleotide-shuffled references per {what} (deepshap, expected_gradients, "
        "integrated_gradients with --baseline shuffle)",
    )
    parser.add_argument(
        "--steps", type=positive_int, default=50, help="integrated gradients' path intervals"
    )
    parser.add_argument(
        "--baseline",
        choices=BASELINES,
        default="zeros",
        help="integrated gradients' baseline: all-zero rows, or --references shuffles",
    )
    parser.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed of the shuffled references"
    )
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    parser.add_argument(
        "--batch_size",
        type=positive_int,
        default=4,
        help=f"{what}s per model call (deepshap: with as many references)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.grad import GradOptions, run_grad_bed

        targets = tuple(args.target_indexes) if args.target_indexes else None
        options = GradOptions(
            args.method, targets, args.bins, args.rc, args.references, args.steps,
            args.seed, args.baseline,
        )  # fmt: skip
        run_sharded(
            args, run_grad_bed, args.params_file, args.model_file, args.genome_fasta,
            args.bed_file, args.out_dir, options, args.head_i, args.batch_size, args.precision,
        )  # fmt: skip

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

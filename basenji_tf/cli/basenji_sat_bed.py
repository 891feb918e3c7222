"""basenji_sat_bed.py: saturation mutagenesis of the centre of BED regions."""

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
from basenji_tf.files import read_h5

if TYPE_CHECKING:
    from basenji_tf.scoring.ensemble import ModelSpec
    from basenji_tf.scoring.sat import SatOptions

PROG = "basenji_sat_bed.py"


def add_sat_options(parser: argparse.ArgumentParser, default_len: int, default_out: str) -> None:
    """Options shared by basenji_sat_bed.py and basenji_sat_vcf.py."""
    parser.add_argument(
        "-d",
        dest="mut_down",
        type=int,
        default=0,
        help="bp mutated downstream of the centre (with -u, overrides -l)",
    )
    parser.add_argument(
        "-u",
        dest="mut_up",
        type=int,
        default=0,
        help="bp mutated upstream of the centre (with -d, overrides -l)",
    )
    parser.add_argument(
        "-l", dest="mut_len", type=int, default=default_len, help="bp mutated around the centre"
    )
    parser.add_argument("-o", dest="out_dir", default=default_out, help="output directory")
    parser.add_argument(
        "--plots",
        action="store_true",
        help="write a sequence logo and a heatmap per sequence and target",
    )
    parser.add_argument(
        "--plot_targets",
        type=comma_ints,
        default=[0],
        help="targets (reported indexes) to plot with --plots",
    )
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument("--stats", default="sum", help="comma-separated: sum, center, scd")
    parser.add_argument("-t", dest="targets_file", help="targets table (output channels to keep)")
    parser.add_argument("--head", dest="head_i", type=int, default=0, help="model head")
    parser.add_argument(
        "--batch_size", type=positive_int, default=8, help="sequences per model call"
    )
    add_model_options(parser)


def sat_args(args: argparse.Namespace) -> tuple[ModelSpec, SatOptions]:
    """The model and mutagenesis options of basenji_sat_bed.py and basenji_sat_vcf.py."""
    from basenji_tf.scoring.sat import SatOptions

    model = model_spec(args)
    options = SatOptions(
        args.mut_len,
        args.mut_up,
        args.mut_down,
        stats=tuple(s.lower() for s in args.stats.split(",") if s),
        plots=args.plots,
        plot_targets=tuple(args.plot_targets),
    )
    return model, options


def sat_summary(scores_file: str, stats: Sequence[str], what: str) -> str:
    """The closing line: sequences x targets scored, bp mutated, statistics, the file.

    Args:
        scores_file: the ``scores.h5`` written (``seqs`` [N, mut_len, 4], each statistic
            [N, mut_len, 4, T]).
        stats: its score datasets.
        what: what the N sequences are ("regions").
    """
    with read_h5(scores_file, "scores file") as h5:
        num_seqs, mut_len = h5["seqs"].shape[:2]
        num_targets = h5[stats[0]].shape[-1]
    return (
        f"{num_seqs} {what} x {num_targets} targets scored ({mut_len} bp mutated each; "
        f"{', '.join(stats)}): wrote {scores_file}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Predict every single-base substitution in the centre of each BED region's model "
        "window; writes <out_dir>/scores.h5 (and figures with --plots).",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("bed_file", help="regions; column 6 '-' reverse-complements a window")
    parser.add_argument("-f", dest="genome_fasta", required=True, help="genome FASTA")
    add_sat_options(parser, default_len=0, default_out="sat_mut")
    add_shard_options(parser, "the BED regions")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.sat import run_sat_bed

        model, options = sat_args(args)
        scores_file = run_sharded(
            args, run_sat_bed, model, args.genome_fasta, args.bed_file, args.out_dir, options
        )
        print(sat_summary(scores_file, options.stats, "regions"))

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

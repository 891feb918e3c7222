"""basenji_sat_plot.py: figures of the scores.h5 of basenji_sat_bed.py / basenji_sat_vcf.py."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.scoring.sat_plot import SatPlotOptions, plot_sat_scores
from basenji_tf.targets import read_targets

PROG = "basenji_sat_plot.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Plot a saturation mutagenesis scores.h5: per sequence and target, logos of the "
        "loss (and gain), loss/gain per position and a heatmap of every substitution.",
    )
    parser.add_argument("scores_file")
    parser.add_argument(
        "-a",
        dest="activity_enrich",
        type=float,
        default=1.0,
        help="plot only this top fraction of sequences by reference score (activity)",
    )
    parser.add_argument("-f", dest="figure_width", type=float, default=20, help="inches")
    parser.add_argument("-g", dest="gain", action="store_true", help="draw a gain logo too")
    parser.add_argument(
        "-l", dest="plot_len", type=int, default=300, help="bp plotted around the centre"
    )
    parser.add_argument(
        "-m", dest="min_limit", type=float, default=0.01, help="smallest heatmap colour limit"
    )
    parser.add_argument("-o", dest="out_dir", default="sat_plot", help="output directory")
    parser.add_argument(
        "-r", dest="rng_seed", type=float, default=1, help="seed of -s (an integer)"
    )
    parser.add_argument(
        "-s", dest="sample", type=int, help="plot this many sequences drawn at random"
    )
    parser.add_argument(
        "-t",
        dest="targets_file",
        help="targets table; its index column picks the targets plotted (default: all)",
    )
    parser.add_argument(
        "--stat", help="score dataset of scores.h5 (default: sum, center, scd or scores)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        targets = None
        if args.targets_file:
            targets = tuple(int(i) for i in read_targets(args.targets_file).index)
        options = SatPlotOptions(
            activity_enrich=args.activity_enrich, figure_width=args.figure_width,
            gain=args.gain, plot_len=args.plot_len, min_limit=args.min_limit,
            rng_seed=int(args.rng_seed), sample=args.sample, targets=targets, stat=args.stat,
        )  # fmt: skip
        plot_sat_scores(args.scores_file, args.out_dir, options)

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

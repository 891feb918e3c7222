"""basenji_sat_plot.py: figures of the scores.h5 of basenji_sat_bed.py / basenji_sat_vcf.py."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import fraction, nonnegative_float, positive_float, positive_int

PROG = "basenji_sat_plot.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Plot a saturation mutagenesis scores.h5: per sequence and target, logos of the "
        "loss (and gain), loss/gain per position and a heatmap of every substitution "
        "(out_dir/seq{i}_t{t}.pdf, or .png with --png).",
    )
    parser.add_argument("scores_file")
    parser.add_argument(
        "-a",
        dest="activity_enrich",
        type=fraction,
        default=1.0,
        help="plot only this top fraction of sequences by reference score (activity)",
    )
    parser.add_argument("-f", dest="figure_width", type=positive_float, default=20, help="inches")
    parser.add_argument("-g", dest="gain", action="store_true", help="draw a gain logo too")
    parser.add_argument(
        "-l", dest="plot_len", type=positive_int, default=300, help="bp plotted around the centre"
    )
    parser.add_argument(
        "-m",
        dest="min_limit",
        type=nonnegative_float,
        default=0.05,
        help="smallest heatmap colour limit",
    )
    parser.add_argument("-o", dest="out_dir", default="sat_plot", help="output directory")
    parser.add_argument(
        "--png", dest="save_png", action="store_true", help="write PNG figures instead of PDF"
    )
    parser.add_argument(
        "-r", dest="rng_seed", type=float, default=1, help="seed of -s (an integer)"
    )
    parser.add_argument(
        "-s", dest="sample", type=positive_int, help="plot this many sequences drawn at random"
    )
    parser.add_argument(
        "-t",
        dest="targets_file",
        help="targets table; its index column picks the targets plotted (default: all), "
        "its identifier and description title the figures",
    )
    parser.add_argument(
        "--stat",
        dest="sad_stat",
        default="sum",
        help="score dataset of scores.h5: sum, center, scd (or the original's scores)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # matplotlib loads with the library: not for --help or a usage error
        from basenji_tf.scoring.sat_plot import SatPlotOptions, plot_sat_scores, target_title
        from basenji_tf.targets import read_targets

        targets = names = None
        if args.targets_file:
            table = read_targets(args.targets_file)
            targets = tuple(int(i) for i in table.index)
            names = tuple(target_title(table, i) for i in table.index)
        options = SatPlotOptions(
            activity_enrich=args.activity_enrich, figure_width=args.figure_width,
            gain=args.gain, plot_len=args.plot_len, min_limit=args.min_limit,
            rng_seed=int(args.rng_seed), sample=args.sample, targets=targets,
            target_names=names, stat=args.sad_stat, save_png=args.save_png,
        )  # fmt: skip
        plot_sat_scores(args.scores_file, args.out_dir, options)

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

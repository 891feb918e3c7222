"""basenji_test.py: accuracy of a trained model on a data directory's test sequences."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._scoring import add_precision_option
from basenji_tf.cli._types import nonnegative_int, positive_int

PROG = "basenji_test.py"


def add_mc_option(parser: argparse.ArgumentParser) -> None:
    """The original's ``--mc`` (Monte Carlo iterations), which it parsed and never used."""
    parser.add_argument(
        "--mc",
        dest="mc_n",
        type=nonnegative_int,
        default=0,
        help="the original's Monte Carlo iterations, which it never used: accepted and "
        "ignored (docs/cli.md); use --rc and --shifts for an ensemble",
    )


def warn_mc(mc_n: int) -> None:
    """One warning when ``--mc`` was given a value that changes nothing."""
    if mc_n:
        logging.warning(
            "--mc %d is ignored (unused in the original too); use --rc and --shifts", mc_n
        )


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Per-target Pearson r and R2 of a model's predictions on a data split, pooled over "
        "all bins of all sequences; writes <out_dir>/acc.txt and prints per-assay means. "
        "With -o -, the acc.txt table goes to standard output and the means to standard "
        "error.",
    )
    parser.add_argument("params_file")
    parser.add_argument("model_file")
    parser.add_argument("data_dir")
    parser.add_argument(
        "-o",
        dest="out_dir",
        default="test_out",
        help="output directory ('-': the accuracy table on standard output, no files)",
    )
    parser.add_argument("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    add_mc_option(parser)
    parser.add_argument("--rc", action="store_true", help="average with reverse complements")
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    parser.add_argument("--split", default="test", help="split label of the data directory")
    parser.add_argument(
        "--step",
        type=positive_int,
        default=1,
        help="keep every step-th bin for --save, --peaks, --rank, plots",
    )
    parser.add_argument("--save", action="store_true", help="write preds.h5 and targets.h5")
    parser.add_argument(
        "--peak",
        "--peaks",
        dest="peaks",
        action="store_true",
        help="call target peaks and write their AUROC / AUPRC to peaks.txt",
    )
    parser.add_argument("--rank", action="store_true", help="add Spearman correlations")
    parser.add_argument(
        "--ai",
        dest="plot_targets",
        type=comma_ints,
        default=[],
        help="targets-table rows to plot (scatter, violin, ROC, PR)",
    )
    parser.add_argument(
        "--bi",
        dest="bedgraph_targets",
        type=comma_ints,
        default=[],
        help="targets-table rows to write as bedgraphs",
    )
    parser.add_argument(
        "-t", dest="targets_file", help="targets table (default: data_dir/targets.txt)"
    )
    parser.add_argument("--tfr", dest="tfr_pattern", help="TFRecord glob under tfrecords/")
    add_precision_option(parser)
    return parser


def print_summary(result: dict, stream: TextIO) -> None:
    """The original's closing lines (loss, mean PearsonR and R2), then per-assay means."""
    print(f"Test Loss:     {result['loss']:7.5f}", file=stream)
    print(f"Test PearsonR: {result['pearsonr']:7.5f}", file=stream)
    print(f"Test R2:       {result['r2']:7.5f}", file=stream)
    for assay, (count, mean) in result["assays"].items():
        print(f"  {assay:<6} {count:5d} tracks  {result['assay_metric']} {mean:7.5f}", file=stream)
    if result["peaks"] is not None:
        print(f"Test AUROC:    {result['peaks']['auroc'].mean():7.5f}", file=stream)
        print(f"Test AUPRC:    {result['peaks']['auprc'].mean():7.5f}", file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.evaluate import evaluate_model, table_text

        warn_mc(args.mc_n)
        to_stdout = args.out_dir == "-"
        result = evaluate_model(
            args.params_file,
            args.model_file,
            args.data_dir,
            out_dir=None if to_stdout else args.out_dir,
            head_i=args.head_i,
            rc=args.rc,
            shifts=args.shifts,
            split=args.split,
            step=args.step,
            save=args.save,
            peaks=args.peaks,
            rank=args.rank,
            plot_targets=args.plot_targets,
            bedgraph_targets=args.bedgraph_targets,
            targets_file=args.targets_file,
            tfr_pattern=args.tfr_pattern,
            precision=args.precision,
        )
        if to_stdout:
            sys.stdout.write(table_text(result["acc"]))
        print_summary(result, sys.stderr if to_stdout else sys.stdout)

    return run_main(PROG, body, out_dir=None if args.out_dir == "-" else args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

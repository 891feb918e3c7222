"""basenji_train_head.py: a ridge-regression head on a frozen trunk (basenji_tf.train_head)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import comma_ints, make_parser, parse_args, run_main
from basenji_tf.cli._types import nonnegative_float

PROG = "basenji_train_head.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Fit a ridge regression from the trained trunk's embeddings (its output before the "
        "head, per bin) of the data directory's train and valid sequences to their targets, "
        "test it on the test split, and save the model with that head. Writes "
        "<out_dir>/preds.h5 (embeddings) and targets.h5 (reused when they come from the same "
        "model, data and ensemble), acc_tissue.txt (per target) and acc_gene.txt (per "
        "row: gene or bin), each line index pearsonr spearmanr r2, and params.json + "
        "model_best.h5 (a linear final head) unless -m.",
    )
    parser.add_argument("params_file", help="params JSON of the model (head: one final block)")
    parser.add_argument("model_file", help="the trained trunk (save_model.py --trunk) or model")
    parser.add_argument("data_dir", help="data directory whose targets the head predicts")
    parser.add_argument("-a", dest="alpha", type=nonnegative_float, default=1.0, help="ridge alpha")
    parser.add_argument(
        "-g",
        dest="save_gene_expr",
        action="store_true",
        help="write gene_preds.tsv and gene_expr.tsv: predicted and actual values of every "
        "row (genes of data_dir/genes.bed, else bins chrom:start-end) by target identifier",
    )
    parser.add_argument("-o", dest="out_dir", default="head_out", help="output directory")
    parser.add_argument(
        "-q",
        dest="quantile_normalize",
        action="store_true",
        help="quantile normalise the test predictions and targets before the accuracy files",
    )
    parser.add_argument(
        "-m", dest="skip_model_save", action="store_true", help="skip the model save"
    )
    parser.add_argument(
        "--rc", action="store_true", help="average the embeddings with the reverse complements'"
    )
    parser.add_argument("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.train_head import train_head

        result = train_head(
            args.params_file,
            args.model_file,
            args.data_dir,
            args.out_dir,
            alpha=args.alpha,
            quantile_normalize_test=args.quantile_normalize,
            save_gene_expr=args.save_gene_expr,
            skip_model_save=args.skip_model_save,
            rc=args.rc,
            shifts=args.shifts,
        )
        for label, means in (("Tissue, across genes", "tissue"), ("Gene, across tissues", "gene")):
            print(f"{label}:")
            print(f"PearsonR: {result[means]['pearsonr']:.4f}")
            print(f"SpearmanR: {result[means]['spearmanr']:.4f}")
            print(f"R2: {result[means]['r2']:.4f}")
            print()

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

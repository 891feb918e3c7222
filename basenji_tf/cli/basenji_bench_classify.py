"""basenji_bench_classify.py: classify positive against negative variants from two sad.h5."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.cli._types import positive_int

PROG = "basenji_bench_classify.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Cross-validated random forests (stratified 8 folds) separating the variants of "
        "<sadp_file> (positives) from those of <sadn_file> (negatives) by one sad.h5 "
        "statistic over the targets; writes stats.txt (AUROC and AUPRC, mean (sem)), "
        "aurocs.npy, auprcs.npy, folds.tsv, the mean ROC curve, roc.pdf and pr.pdf to -o. "
        "With a single feature the feature itself is the score.",
    )
    add = parser.add_argument
    add("sadp_file", help="sad.h5 of the positive variants")
    add("sadn_file", help="sad.h5 of the negative variants")
    add("-a", dest="abs_value", action="store_true", help="absolute values of the features")
    add("-i", dest="iterations", type=positive_int, default=1, help="cross-validation iterations")
    add("--indel", action="store_true", help="add the indel size (bp) as a feature")
    add(
        "--iscale",
        dest="indel_scale",
        type=float,
        default=0.1,
        help="without --indel, multiply the features of indels by this (1: unchanged)",
    )
    add("-l", dest="log", action="store_true", help="arcsinh of the features")
    add(
        "-m",
        dest="model_pkl",
        help="a fitted dimension-reduction model (joblib pickle with .transform) applied "
        "to the features; load only files you trust (a pickle runs code)",
    )
    add(
        "--msl",
        dest="msl",
        type=positive_int,
        default=1,
        help="random forest min_samples_leaf",
    )
    add("-o", dest="out_dir", default="class_out", help="output directory")
    add(
        "-p",
        dest="parallel_threads",
        type=positive_int,
        default=1,
        help="threads of scikit-learn (n_jobs)",
    )
    add("-r", dest="random_seed", type=int, help="seed of folds and forests (default: unseeded)")
    add(
        "-s",
        dest="save_preds",
        action="store_true",
        help="save the out-of-fold predictions (preds.npy)",
    )
    add("--stat", dest="sad_stat", default="SAD", help="sad.h5 statistic used as features")
    add(
        "-t",
        dest="targets_file",
        help="targets table: the features' targets (identifier column matched to the "
        "sad.h5 target_ids, else index column = column positions)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # scikit-learn and h5py load here: --help and usage errors answer at once
        from basenji_tf.scoring.classify import ClassifyOptions, run_classify

        options = ClassifyOptions(
            stat=args.sad_stat, targets_file=args.targets_file, abs_value=args.abs_value,
            log=args.log, model_pkl=args.model_pkl, indel=args.indel,
            indel_scale=args.indel_scale, iterations=args.iterations,
            min_samples_leaf=args.msl, seed=args.random_seed, n_jobs=args.parallel_threads,
            save_preds=args.save_preds,
        )  # fmt: skip
        run_classify(args.sadp_file, args.sadn_file, args.out_dir, options)

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

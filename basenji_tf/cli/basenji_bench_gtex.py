"""basenji_bench_gtex.py: SAD of positive/negative VCF pairs, then a classifier per pair."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from basenji_tf.cli._common import (
    add_scheduler_options,
    comma_ints,
    executor_from_args,
    make_parser,
    parse_args,
    run_main,
)
from basenji_tf.cli._scoring import add_model_options, model_spec
from basenji_tf.cli._types import nonnegative_int, positive_int
from basenji_tf.errors import InputError
from basenji_tf.files import LOCK_FILE

PROG = "basenji_bench_gtex.py"


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser(
        PROG,
        "Benchmark variant effects as features of a classification: score every "
        "<name>_pos.vcf / <name>_neg.vcf pair of the folder -g with SAD "
        "(<out_dir>/<name>_pos/sad.h5, <name>_neg/sad.h5), classify each pair with "
        "cross-validated random forests as basenji_bench_classify.py -i 100 -p 2 -r 44 -s "
        "does (<out_dir>/<name>_class/) and write <out_dir>/summary.tsv (AUROC, AUPRC per "
        "set). For a cluster, give --scheduler (Dask) instead of the original's Slurm "
        "options (-q, -e, --name are accepted and ignored).",
    )
    add = parser.add_argument
    add("params_file")
    add("model_file")
    # sad
    add("-f", dest="genome_fasta", required=True, help="genome FASTA of the VCFs")
    add("-o", dest="out_dir", default="sad_gtex", help="output directory")
    add("--rc", action="store_true", help="average with reverse complements")
    add("--shifts", type=comma_ints, default=[0], help="ensemble shifts (bp)")
    add(
        "--stats",
        dest="sad_stats",
        default="SAD",
        help="comma-separated statistics saved in each sad.h5; the first is classified",
    )
    add(
        "-t",
        dest="targets_file",
        help="targets table: the output channels scored (and classified), "
        "un-transformation and strand-pair collapse, as basenji_sad.py -t",
    )
    add("--head", dest="head_i", type=nonnegative_int, default=0, help="model head")
    add(
        "--batch_size",
        type=positive_int,
        default=8,
        help="sequences per model call (ensemble members included)",
    )
    add("--batch_variants", type=positive_int, default=32, help="variants read and scored together")
    add_model_options(parser)
    add("-n", dest="norm_file", help="the original's SAD normalisation file; not supported")
    add(
        "--pseudo",
        dest="log_pseudo",
        type=float,
        default=1,
        help="log2 pseudocount of the log statistics; only 1 is supported (log2(x + 1))",
    )
    add("--ti", dest="track_indexes", help="the original's BigWig track indexes; ignored")
    add("--threads", action="store_true", help="the original's threaded predict; ignored")
    add("-u", dest="penultimate", action="store_true", help="penultimate layer; not supported")
    # classify
    add("--msl", type=positive_int, default=1, help="random forest min_samples_leaf")
    add(
        "-i",
        dest="iterations",
        type=positive_int,
        default=100,
        help="cross-validation iterations of each set (the original runs 100)",
    )
    add(
        "--class_seed",
        type=int,
        default=44,
        help="seed of the folds and forests (the original's 44)",
    )
    add(
        "--class_threads",
        type=positive_int,
        default=2,
        help="scikit-learn threads of the classifiers (the original's 2)",
    )
    # multi
    add(
        "-g",
        dest="gtex_vcf_dir",
        required=True,
        help="folder of <name>_pos.vcf and <name>_neg.vcf pairs (or .vcf.gz), one per set",
    )
    add("-p", dest="processes", type=positive_int, help="local processes scoring the VCFs")
    add("--max_proc", type=positive_int, help="at most this many processes at once")
    add("-e", dest="conda_env", default="tf2.6", help="conda env of Slurm jobs; ignored")
    add("--name", default="gtex", help="Slurm job name prefix; ignored")
    add("-q", dest="queue", default="geforce", help="Slurm queue; ignored: see -p, --scheduler")
    add(
        "-r",
        dest="restart",
        action="store_true",
        help="restart: keep the sets' finished sad.h5 files and classifications",
    )
    add_scheduler_options(parser)
    return parser


IGNORED = {
    "queue": "geforce", "conda_env": "tf2.6", "name": "gtex", "norm_file": None,
    "track_indexes": None, "threads": False, "penultimate": False,
}  # fmt: skip


def warn_ignored(args: argparse.Namespace) -> None:
    """One warning naming the original's options given here that change nothing."""
    given = [key for key, default in IGNORED.items() if getattr(args, key) != default]
    if given:
        logging.warning("ignored (see docs/variants.md): %s", ", ".join(given))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)

    def body() -> None:
        # TensorFlow loads here, not at module level: --help and usage errors answer at once
        from basenji_tf.scoring.bench import run_bench
        from basenji_tf.scoring.classify import ClassifyOptions
        from basenji_tf.scoring.sad import SadOptions, check_stats

        if args.log_pseudo != 1:
            raise InputError(
                f"--pseudo {args.log_pseudo}: the log statistics use log2(x + 1); only 1 "
                "is supported"
            )
        warn_ignored(args)
        leftovers = set(os.listdir(args.out_dir)) - {LOCK_FILE}
        if leftovers and not args.restart:
            raise InputError(
                f"{args.out_dir}: exists and holds files; remove it, choose another -o, or "
                "give -r to restart a partial run"
            )
        stats = tuple(check_stats([s for s in args.sad_stats.split(",") if s]))
        sad_options = SadOptions(stats=stats, batch_variants=args.batch_variants)
        class_options = ClassifyOptions(
            stat=stats[0], iterations=args.iterations, min_samples_leaf=args.msl,
            seed=args.class_seed, n_jobs=args.class_threads, save_preds=True,
        )  # fmt: skip
        given = [p for p in (args.processes, args.max_proc) if p]
        processes = min(given) if given else 1
        with executor_from_args(args, processes) as executor:
            run_bench(
                model_spec(args), args.genome_fasta, args.gtex_vcf_dir, args.out_dir,
                sad_options, class_options, executor, args.restart,
            )  # fmt: skip

    return run_main(PROG, body, out_dir=args.out_dir)


if __name__ == "__main__":
    raise SystemExit(main())

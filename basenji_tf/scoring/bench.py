"""Variant-effect benchmarks (``basenji_bench_gtex.py``): VCF pairs -> sad.h5 -> classifiers.

A benchmark folder holds one pair of VCFs per set (a tissue's fine-mapped eQTLs and their
matched negatives in the original): ``<name>_pos.vcf`` and ``<name>_neg.vcf``. Every VCF
is scored with SAD (:func:`basenji_tf.scoring.sad.score_task`, one task per VCF on an
:class:`~basenji_tf.execute.Executor`: this process, local processes or Dask), then each
pair is classified (:func:`basenji_tf.scoring.classify.run_classify`). The output folder
is laid out as the original's:

```
out_dir/
  <name>_pos/sad.h5      SAD of the positives
  <name>_neg/sad.h5      SAD of the negatives
  <name>_class/          basenji_bench_classify.py's outputs (stats.txt, aurocs.npy, ...)
  summary.tsv            one row per set: counts, AUROC and AUPRC (mean, sem)
```

Differences from the original (``bin/basenji_bench_gtex.py``): the VCF folder is the
user's (``-g``; the original's default is a GTEx folder on its authors' cluster); VCFs
may be bgzipped (``_pos.vcf.gz``); the scoring runs on our executor instead of Slurm jobs;
``summary.tsv`` is new (the original leaves the per-set ``stats.txt`` files).
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import h5py
import pandas as pd

from basenji_tf.errors import InputError
from basenji_tf.execute import Executor, InProcess
from basenji_tf.files import write_text_atomic
from basenji_tf.scoring.classify import ClassifyOptions, read_summary, run_classify
from basenji_tf.scoring.ensemble import ModelSpec
from basenji_tf.scoring.sad import SadOptions, SadTask, score_task
from basenji_tf.scoring.shards import absolute_model

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = (
    "set", "positives", "negatives", "auroc", "auroc_sem", "auprc", "auprc_sem",
)  # fmt: skip
"""Columns of ``summary.tsv``."""


@dataclass(frozen=True)
class VcfPair:
    """One benchmark set: its name and its positive and negative VCFs."""

    name: str
    pos_vcf: str
    neg_vcf: str


def find_vcf_pairs(vcf_dir: str) -> list[VcfPair]:
    """The ``<name>_pos.vcf[.gz]`` / ``<name>_neg.vcf[.gz]`` pairs of a folder, by name.

    Raises:
        InputError: the folder is missing, holds no positives, or a positive VCF has no
            negative beside it.
    """
    if not os.path.isdir(vcf_dir):
        raise InputError(f"{vcf_dir}: no such folder of <name>_pos.vcf/<name>_neg.vcf pairs (-g)")
    pairs = []
    for suffix in (".vcf", ".vcf.gz"):
        for pos_vcf in sorted(glob.glob(os.path.join(glob.escape(vcf_dir), f"*_pos{suffix}"))):
            base = os.path.basename(pos_vcf)
            name = base[: -len(f"_pos{suffix}")]
            neg_vcf = os.path.join(vcf_dir, f"{name}_neg{suffix}")
            if not os.path.isfile(neg_vcf):
                raise InputError(
                    f"{pos_vcf}: no negatives {os.path.basename(neg_vcf)} beside it; "
                    "every <name>_pos.vcf needs a <name>_neg.vcf"
                )
            pairs.append(VcfPair(name, pos_vcf, neg_vcf))
    names = [p.name for p in pairs]
    if not pairs:
        raise InputError(f"{vcf_dir}: no <name>_pos.vcf files; give a folder of VCF pairs (-g)")
    if len(set(names)) < len(names):
        raise InputError(f"{vcf_dir}: a set has both .vcf and .vcf.gz files; keep one of them")
    return sorted(pairs, key=lambda p: p.name)


def sad_file(out_dir: str, name: str, side: str) -> str:
    """``out_dir/<name>_<side>/sad.h5`` (side: ``pos`` or ``neg``)."""
    return os.path.join(out_dir, f"{name}_{side}", "sad.h5")


def score_pairs(
    model: ModelSpec,
    fasta: str,
    pairs: Sequence[VcfPair],
    out_dir: str,
    options: SadOptions,
    executor: Executor | None = None,
    restart: bool = False,
) -> list[str]:
    """SAD of every VCF of ``pairs`` into ``out_dir/<name>_{pos,neg}/sad.h5``.

    One task per VCF (:func:`~basenji_tf.scoring.sad.score_task`, equal to
    ``basenji_sad.py`` on that VCF); a process running several tasks loads the model once.

    Args:
        model: the model, targets and ensemble.
        fasta: genome FASTA of the VCFs.
        pairs: the sets (:func:`find_vcf_pairs`).
        out_dir: output folder.
        options: SAD statistics and batching.
        executor: where the tasks run (default: this process).
        restart: keep the sad.h5 files that exist (a finished earlier run's; each file is
            written atomically, so an existing one is complete).

    Returns:
        the sad.h5 paths scored now.
    """
    model = absolute_model(model)
    tasks = []
    for pair in pairs:
        for side, vcf in (("pos", pair.pos_vcf), ("neg", pair.neg_vcf)):
            out_file = sad_file(out_dir, pair.name, side)
            if restart and os.path.isfile(out_file):
                log.info("%s exists; kept (-r)", out_file)
                continue
            os.makedirs(os.path.dirname(out_file), exist_ok=True)
            tasks.append(
                SadTask(model, os.path.abspath(fasta), os.path.abspath(vcf),
                        os.path.abspath(out_file), options)
            )  # fmt: skip
    executor = executor or InProcess()
    return executor.map(score_task, tasks, progress="VCFs")


def classify_pairs(
    pairs: Sequence[VcfPair],
    out_dir: str,
    options: ClassifyOptions,
    restart: bool = False,
) -> pd.DataFrame:
    """Classify each set's sad.h5 pair into ``out_dir/<name>_class``; write ``summary.tsv``.

    Args:
        pairs: the sets, scored by :func:`score_pairs` into ``out_dir``.
        out_dir: output folder.
        options: the classification.
        restart: keep the class folders that have ``stats.txt`` (read into the summary).

    Returns:
        the summary table (:data:`SUMMARY_COLUMNS`), one row per set.
    """
    rows = []
    for pair in pairs:
        class_dir = os.path.join(out_dir, f"{pair.name}_class")
        sadp, sadn = sad_file(out_dir, pair.name, "pos"), sad_file(out_dir, pair.name, "neg")
        if restart and os.path.isfile(os.path.join(class_dir, "stats.txt")):
            log.info("%s: stats.txt exists; kept (-r)", class_dir)
            counts = _counts(sadp, sadn)
            rows.append({"set": pair.name, **counts, **read_summary(class_dir)})
            continue
        log.info("classifying %s", pair.name)
        summary = run_classify(sadp, sadn, class_dir, options)
        rows.append({"set": pair.name, **summary})
    table = pd.DataFrame(rows)[list(SUMMARY_COLUMNS)]
    write_text_atomic(
        os.path.join(out_dir, "summary.tsv"),
        table.to_csv(sep="\t", index=False, float_format="%.4f"),
    )
    return table


def _counts(sadp: str, sadn: str) -> dict[str, int]:
    with h5py.File(sadp, "r") as p, h5py.File(sadn, "r") as n:
        return {"positives": len(p["snp"]), "negatives": len(n["snp"])}


def run_bench(
    model: ModelSpec,
    fasta: str,
    vcf_dir: str,
    out_dir: str,
    sad_options: SadOptions,
    class_options: ClassifyOptions,
    executor: Executor | None = None,
    restart: bool = False,
) -> pd.DataFrame:
    """Score every VCF pair of ``vcf_dir`` and classify each (see the module docstring).

    Args:
        model: the model, targets and ensemble.
        fasta: genome FASTA of the VCFs.
        vcf_dir: folder of ``<name>_pos.vcf`` / ``<name>_neg.vcf`` pairs.
        out_dir: output folder.
        sad_options: SAD statistics and batching; the first statistic is classified.
        class_options: the classification (its ``stat`` is set to the first statistic).
        executor: where the scoring tasks run (default: this process).
        restart: keep the outputs of a finished earlier run's sets (``-r``).

    Returns:
        the summary table (also ``out_dir/summary.tsv``).
    """
    pairs = find_vcf_pairs(vcf_dir)
    log.info("%d sets: %s", len(pairs), ", ".join(p.name for p in pairs))
    score_pairs(model, fasta, pairs, out_dir, sad_options, executor, restart)
    if class_options.stat not in sad_options.stats:
        raise InputError(
            f"the classification statistic {class_options.stat} is not among --stats "
            f"{','.join(sad_options.stats)}"
        )
    table = classify_pairs(pairs, out_dir, class_options, restart)
    for row in table.itertuples():
        log.info(
            "%s: %d positives, %d negatives, AUROC %.4f, AUPRC %.4f",
            row.set, row.positives, row.negatives, row.auroc, row.auprc,
        )  # fmt: skip
    return table

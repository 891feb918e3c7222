"""Variant classification benchmarks (``basenji_bench_classify.py``): sad.h5 features -> AUROC.

Two ``sad.h5`` files, one of positive variants (fine-mapped eQTLs, say) and one of matched
negatives, become a feature matrix (one statistic over the reported targets, optionally
sign-dropped, arcsinh-compressed, reduced by a fitted model and with indel sizes), and
cross-validated random forests measure how well the features separate the two sets.
TensorFlow-free: numpy, h5py, scikit-learn; matplotlib is imported by the plot only.

Differences from the original (``bin/basenji_bench_classify.py``):

* folds are stratified (``StratifiedKFold``) so each test fold holds both classes; the
  original's ``KFold`` can draw a fold of one class, where AUROC is undefined and it
  stops with a traceback. Fewer than 8 (the folds) variants of a class is an error;
* AUPRC (average precision) is computed beside AUROC for every fold and written
  (``auprcs.npy``, ``stats.txt``, ``folds.tsv``, ``pr.pdf``); the original imports it only;
* ``--iscale`` scales the negatives' indel rows by the negatives' own indel mask (the
  original indexes them with the positives' mask);
* without ``-r`` the folds and forests are unseeded (the original fails there, adding an
  iteration number to None); with one feature the folds use ``-r`` too (the original: 44);
* ``-t``: a targets table whose ``identifier`` column names targets of the sad.h5
  ``target_ids`` selects those columns by name, so a sad.h5 scored with its own ``-t``
  subset still lines up; otherwise the index column gives column positions, as in the
  original.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import h5py
import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import StratifiedKFold

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path, write_text_atomic
from basenji_tf.progress import track

log = logging.getLogger(__name__)

FOLDS = 8
"""Cross-validation folds (the original's fixed 8)."""

MEAN_FPR = np.linspace(0, 1, 256)
"""False-positive rates at which the folds' ROC curves are averaged (``fpr_mean.npy``)."""


@dataclass(frozen=True)
class ClassifyOptions:
    """Options of ``basenji_bench_classify.py`` (see its ``--help``).

    Attributes:
        stat: the sad.h5 dataset of features (``--stat``), [N, T].
        targets_file: targets table selecting feature columns (``-t``; None: all).
        abs_value: absolute values of the features (``-a``).
        log: arcsinh of the features (``-l``).
        model_pkl: a pickled fitted transformer (``.transform``) applied after them (``-m``).
        indel: add the indel size ``|len(ref) - len(alt)|`` (bp) as a feature (``--indel``).
        indel_scale: without ``indel``, multiply the features of indel rows by this.
        iterations: repetitions of the 8-fold cross-validation with new folds (``-i``).
        min_samples_leaf: random forest ``min_samples_leaf`` (``--msl``).
        seed: seed of folds and forests (``-r``; None: unseeded).
        n_jobs: scikit-learn threads (``-p``).
        save_preds: write the cross-validated predictions ``preds.npy`` (``-s``).
        trees: trees per forest (the original's 100; no command option).
    """

    stat: str = "SAD"
    targets_file: str | None = None
    abs_value: bool = False
    log: bool = False
    model_pkl: str | None = None
    indel: bool = False
    indel_scale: float = 0.1
    iterations: int = 1
    min_samples_leaf: int = 1
    seed: int | None = None
    n_jobs: int = 1
    save_preds: bool = False
    trees: int = 100

    def __post_init__(self):
        if self.iterations < 1:
            raise InputError(f"-i {self.iterations}: give at least one iteration")
        if self.min_samples_leaf < 1:
            raise InputError(f"--msl {self.min_samples_leaf}: must be a positive number")


@dataclass
class CvResult:
    """Cross-validation of one feature matrix; one entry per (iteration, fold), in order.

    Attributes:
        aurocs, auprcs: float64 [iterations * folds].
        roc_curves: (fpr, tpr) of each fold's test set.
        pr_curves: (recall, precision) of each fold's test set.
        tpr_mean: float64 [256] the folds' TPR interpolated at :data:`MEAN_FPR`, averaged.
        preds: float64 [N, iterations] out-of-fold scores of every row (a forest's
            probability of the positive class; the feature itself with one feature).
    """

    aurocs: np.ndarray
    auprcs: np.ndarray
    roc_curves: list[tuple[np.ndarray, np.ndarray]] = field(repr=False)
    pr_curves: list[tuple[np.ndarray, np.ndarray]] = field(repr=False)
    tpr_mean: np.ndarray = field(repr=False)
    preds: np.ndarray = field(repr=False)


# ---------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------


def _strings(h5: h5py.File, *names: str) -> list[str] | None:
    for name in names:
        if name in h5:
            return [x.decode() if isinstance(x, bytes) else str(x) for x in h5[name][:]]
    return None


def read_sad_features(sad_file: str, stat: str) -> tuple[np.ndarray, list[str] | None]:
    """One statistic of a sad.h5 as features, NaN -> 0, and its target identifiers.

    Returns:
        (float32 [N, T], ``target_ids`` or None when the file has none).
    """
    with h5py.File(sad_file, "r") as h5:
        if stat not in h5:
            have = [k for k, v in h5.items() if isinstance(v, h5py.Dataset) and v.ndim == 2]
            raise InputError(
                f"{sad_file}: no dataset {stat!r}; --stat one of {', '.join(have) or 'none'}"
            )
        values = h5[stat][:]
        ids = _strings(h5, "target_ids")
    if values.ndim != 2:
        raise InputError(
            f"{sad_file}: {stat} has shape {values.shape}, not [variants, targets]; "
            "choose a per-target statistic with --stat (SAD, logSAD, D1, ...)"
        )
    return np.nan_to_num(values.astype(np.float32)), ids


def read_indel_sizes(sad_file: str) -> np.ndarray:
    """``|len(ref) - len(alt)|`` (bp) of every sad.h5 row, int64 [N]."""
    with h5py.File(sad_file, "r") as h5:
        ref = _strings(h5, "ref_allele", "ref")
        alt = _strings(h5, "alt_allele", "alt")
    if ref is None or alt is None:
        raise InputError(f"{sad_file}: no ref_allele/alt_allele datasets for --indel/--iscale")
    return np.array([abs(len(r) - len(a)) for r, a in zip(ref, alt)], dtype=np.int64)


def target_columns(targets_file: str, target_ids: Sequence[str] | None, num: int) -> np.ndarray:
    """The feature columns a ``-t`` targets table selects (see the module docstring)."""
    try:
        table = pd.read_csv(targets_file, sep="\t", index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{targets_file}: not a tab-separated targets table ({err})") from None
    if target_ids is not None and "identifier" in table.columns:
        names = [str(x) for x in table["identifier"]]
        if set(names) <= set(target_ids):
            return np.array([list(target_ids).index(n) for n in names], dtype=np.int64)
    try:
        columns = np.asarray(table.index, dtype=np.int64)
    except (TypeError, ValueError):
        raise InputError(
            f"{targets_file}: the index column must hold target indexes (integers), or the "
            "identifier column the sad.h5 target_ids"
        ) from None
    bad = columns[(columns < 0) | (columns >= num)]
    if len(bad):
        raise InputError(
            f"{targets_file}: target index {int(bad[0])} is outside the sad.h5's {num} "
            "targets; give a table of the scored targets"
        )
    return columns


def feature_matrix(
    sadp_file: str, sadn_file: str, options: ClassifyOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Positives then negatives as features and labels.

    Returns:
        (float32 [Np + Nn, F] features, bool [Np + Nn] labels, True for positives). F is
        the selected targets, or the model's components with ``model_pkl``, plus one
        with ``indel``.
    """
    xp, ids_p = read_sad_features(sadp_file, options.stat)
    xn, ids_n = read_sad_features(sadn_file, options.stat)
    if xp.shape[1] != xn.shape[1] or (ids_p and ids_n and ids_p != ids_n):
        raise InputError(
            f"{sadn_file}: its {xn.shape[1]} targets differ from the {xp.shape[1]} of "
            f"{sadp_file}; score both with the same model and targets"
        )
    for path, x in ((sadp_file, xp), (sadn_file, xn)):
        if len(x) < FOLDS:
            raise InputError(
                f"{path}: {len(x)} variants; {FOLDS}-fold cross-validation needs at "
                f"least {FOLDS} of each class"
            )
    if options.targets_file is not None:
        columns = target_columns(options.targets_file, ids_p, xp.shape[1])
        xp, xn = xp[:, columns], xn[:, columns]
    if options.log:
        xp, xn = np.arcsinh(xp), np.arcsinh(xn)
    if options.abs_value:
        xp, xn = np.abs(xp), np.abs(xn)
    if options.model_pkl:
        model = joblib.load(options.model_pkl)  # the user's own pickle, as the original's -m
        xp, xn = model.transform(xp), model.transform(xn)
    if options.indel:
        ip, in_ = read_indel_sizes(sadp_file), read_indel_sizes(sadn_file)
        xp = np.concatenate([xp, ip[:, None].astype(xp.dtype)], axis=1)
        xn = np.concatenate([xn, in_[:, None].astype(xn.dtype)], axis=1)
    elif options.indel_scale != 1:
        xp = np.array(xp, copy=True)
        xn = np.array(xn, copy=True)
        xp[read_indel_sizes(sadp_file) != 0] *= options.indel_scale
        xn[read_indel_sizes(sadn_file) != 0] *= options.indel_scale
    x = np.concatenate([xp, xn], axis=0).astype(np.float32)
    y = np.concatenate([np.ones(len(xp), bool), np.zeros(len(xn), bool)])
    return x, y


# ---------------------------------------------------------------------------------------
# Cross-validation
# ---------------------------------------------------------------------------------------


def random_forest(
    min_samples_leaf: int = 1, seed: int | None = None, n_jobs: int = 1, trees: int = 100
) -> RandomForestClassifier:
    """The original's forest: 100 trees, log2 features per split, depth up to 64."""
    return RandomForestClassifier(
        n_estimators=trees, max_features="log2", max_depth=64,
        min_samples_leaf=min_samples_leaf, min_samples_split=2,
        random_state=seed, n_jobs=n_jobs,
    )  # fmt: skip


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    iterations: int = 1,
    min_samples_leaf: int = 1,
    seed: int | None = None,
    n_jobs: int = 1,
    trees: int = 100,
) -> CvResult:
    """Stratified 8-fold cross-validation, ``iterations`` times with new folds.

    With one feature the feature itself is the score of each test fold (no model); with
    more, a :func:`random_forest` is fit on the other folds. Iteration i draws its folds
    with seed ``seed + i`` and fits the forest of the fold whose first test row is r with
    ``seed + i + r``, as the original does; None leaves both unseeded.

    Args:
        x: float [N, F] features.
        y: bool [N] labels.
        iterations: repetitions with new folds.
        min_samples_leaf: the forests' ``min_samples_leaf``.
        seed: see above (None: unseeded).
        n_jobs: scikit-learn threads of each forest.
        trees: trees per forest.

    Returns:
        see :class:`CvResult`.
    """
    aurocs, auprcs, rocs, prs, tprs = [], [], [], [], []
    preds = np.zeros((len(y), iterations))
    progress = track(total=iterations * FOLDS, desc="folds", unit="folds")
    for i in range(iterations):
        rs_iter = None if seed is None else seed + i
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=rs_iter)
        for train, test in folds.split(x, y):
            if x.shape[1] == 1:
                score = x[test, 0].astype(np.float64)
            else:
                rs_fold = None if rs_iter is None else rs_iter + int(test[0])
                model = random_forest(min_samples_leaf, rs_fold, n_jobs, trees)
                model.fit(x[train], y[train])
                score = model.predict_proba(x[test])[:, 1]
            preds[test, i] = score
            fpr, tpr, _ = roc_curve(y[test], score)
            precision, recall, _ = precision_recall_curve(y[test], score)
            rocs.append((fpr, tpr))
            prs.append((recall, precision))
            interp = np.interp(MEAN_FPR, fpr, tpr)
            interp[0] = 0.0
            tprs.append(interp)
            aurocs.append(roc_auc_score(y[test], score))
            auprcs.append(average_precision_score(y[test], score))
            progress.update()
    progress.close()
    return CvResult(
        np.array(aurocs), np.array(auprcs), rocs, prs, np.mean(tprs, axis=0), preds
    )  # fmt: skip


def mean_sem(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error (population std / sqrt(n), as the original's stats.txt)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std() / np.sqrt(len(values)))


# ---------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------


def _save_npy(path: str, values: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, values)


def plot_curves(result: CvResult, out_dir: str) -> list[str]:
    """``roc.pdf`` / ``roc.png`` and ``pr.pdf`` / ``pr.png``: one faint line per fold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    auroc, _ = mean_sem(result.aurocs)
    auprc, _ = mean_sem(result.auprcs)
    figures = (
        ("roc", result.roc_curves, "false positive rate", "true positive rate",
         f"AUROC {auroc:.3f}"),
        ("pr", result.pr_curves, "recall", "precision", f"AUPRC {auprc:.3f}"),
    )  # fmt: skip
    written = []
    for name, curves, xlabel, ylabel, title in figures:
        fig, ax = plt.subplots(figsize=(4, 4))
        for x, y in curves:
            ax.plot(x, y, alpha=0.25, linewidth=1)
        if name == "roc":
            ax.plot(MEAN_FPR, result.tpr_mean, color="black", linewidth=1.5)
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        for ext in ("pdf", "png"):
            path = os.path.join(out_dir, f"{name}.{ext}")
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext, dpi=150)
            written.append(path)
        plt.close(fig)
    return written


def stats_text(result: CvResult) -> str:
    """``stats.txt``: the original's ``AUROC: mean (sem)`` line, then the same for AUPRC."""
    lines = []
    for name, values in (("AUROC", result.aurocs), ("AUPRC", result.auprcs)):
        mean, sem = mean_sem(values)
        lines.append(f"{name}: {mean:.4f} ({sem:.4f})")
    return "\n".join(lines) + "\n"


def run_classify(
    sadp_file: str, sadn_file: str, out_dir: str, options: ClassifyOptions
) -> dict[str, float | int]:
    """Classify positives against negatives and write the outputs into ``out_dir``.

    Writes ``stats.txt`` (mean (sem) AUROC and AUPRC over folds), ``aurocs.npy`` and
    ``auprcs.npy`` (per fold, iteration-major), ``folds.tsv`` (the same as a table),
    ``fpr_mean.npy``/``tpr_mean.npy`` (the mean ROC curve), ``roc.pdf``/``pr.pdf`` (and
    PNGs), with more than one feature ``model.pkl`` (a forest fit on all rows, joblib),
    and with ``save_preds`` ``preds.npy`` ([N, iterations] out-of-fold scores; with one
    feature the [N, 1] features, as the original).

    Returns:
        summary: positives, negatives, features, auroc, auroc_sem, auprc, auprc_sem.
    """
    x, y = feature_matrix(sadp_file, sadn_file, options)
    os.makedirs(out_dir, exist_ok=True)
    log.info(
        "%d positives, %d negatives, %d features; %d x %d-fold cross-validation",
        int(y.sum()), int((~y).sum()), x.shape[1], options.iterations, FOLDS,
    )  # fmt: skip
    result = cross_validate(
        x, y, options.iterations, options.min_samples_leaf, options.seed, options.n_jobs,
        options.trees,
    )  # fmt: skip
    if options.save_preds:
        _save_npy(os.path.join(out_dir, "preds.npy"), x if x.shape[1] == 1 else result.preds)
    if x.shape[1] > 1:
        model = random_forest(
            options.min_samples_leaf, options.seed, options.n_jobs, options.trees
        ).fit(x, y)
        with atomic_path(os.path.join(out_dir, "model.pkl")) as tmp:
            joblib.dump(model, tmp)
    _save_npy(os.path.join(out_dir, "aurocs.npy"), result.aurocs)
    _save_npy(os.path.join(out_dir, "auprcs.npy"), result.auprcs)
    _save_npy(os.path.join(out_dir, "fpr_mean.npy"), MEAN_FPR)
    _save_npy(os.path.join(out_dir, "tpr_mean.npy"), result.tpr_mean)
    folds = pd.DataFrame({
        "iteration": np.repeat(np.arange(options.iterations), FOLDS),
        "fold": np.tile(np.arange(FOLDS), options.iterations),
        "auroc": result.aurocs, "auprc": result.auprcs,
    })  # fmt: skip
    write_text_atomic(
        os.path.join(out_dir, "folds.tsv"), folds.to_csv(sep="\t", index=False, float_format="%.6f")
    )
    plot_curves(result, out_dir)
    text = stats_text(result)
    write_text_atomic(os.path.join(out_dir, "stats.txt"), text)
    log.info("%s", text.strip().replace("\n", "; "))
    auroc, auroc_sem = mean_sem(result.aurocs)
    auprc, auprc_sem = mean_sem(result.auprcs)
    return {
        "positives": int(y.sum()), "negatives": int((~y).sum()), "features": int(x.shape[1]),
        "auroc": auroc, "auroc_sem": auroc_sem, "auprc": auprc, "auprc_sem": auprc_sem,
    }  # fmt: skip


def read_summary(out_dir: str) -> dict[str, float]:
    """auroc, auroc_sem, auprc, auprc_sem of a finished :func:`run_classify` folder."""
    aurocs = np.load(os.path.join(out_dir, "aurocs.npy"))
    auprcs = np.load(os.path.join(out_dir, "auprcs.npy"))
    auroc, auroc_sem = mean_sem(aurocs)
    auprc, auprc_sem = mean_sem(auprcs)
    return {"auroc": auroc, "auroc_sem": auroc_sem, "auprc": auprc, "auprc_sem": auprc_sem}

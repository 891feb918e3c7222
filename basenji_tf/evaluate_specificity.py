"""Specificity accuracy: ``basenji_test_specificity.py``.

The Basenji2 paper's "specificity" accuracy asks whether the model predicts which tracks of
an assay are high at a position, not only where the assay is high. As the original
computes it, per class of targets (the description's prefix before ':'; ``CHIP`` tracks by
prefix and factor, ``CHIP:CTCF``; descriptions without ':' form class ``*``):

1. predictions and targets of the class are matrices [positions, targets] with every
   (sequence, kept bin) a position (every ``step``-th bin);
2. with ``high_var_pct`` < 1, only positions whose target variance across the class is at
   or above the ``1 - high_var_pct`` quantile are kept (the same rows of both);
3. each matrix is quantile normalised across targets: every target's values are replaced
   by the mean over targets of the values of the same rank; tied values take the mean of
   their ranks' means (as the original's ``qnorm.quantile_normalize``);
4. every position is mean-centred across the class's targets;
5. per target, the Pearson r of predictions and targets over the kept positions.

Classes of fewer than ``class_min`` targets get NaN (an empty cell in acc.txt, as the
original's). A class whose every target has a ``strand_pair`` partner other than itself is
stranded: each pair is one column whose positions are the positions of both strands
(rows of the first member, then rows of the second), and its r is reported for both.

Outputs in ``out_dir``: ``acc.txt`` (tab-separated ``index pearsonr identifier
description``, ``%.5f``) and, with ``save``, ``preds.h5`` / ``targets.h5`` (datasets
``preds`` / ``targets``, float16 [num_seqs, ceil(target_length/step), T]).

Differences from the original:

* stranded classes pool each target with its ``strand_pair`` partner and report the pair's
  r for both (the original reshapes the class as if its second half held the other
  strands, then assigns the r values as if pairs were adjacent rows: both hold only for
  some table orders, and never together);
* ``--save`` writes preds.h5 and targets.h5 (the original parses it and writes nothing);
* a ``-t`` table may list a subset of the output channels, which are then the ones
  evaluated (the original required the full table); a table without a description column
  uses the identifiers;
* quantile normalisation and correlations are computed in float64 (the original's in
  float32); predictions are kept in float32 and targets in float16, as the original's.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from basenji_tf import seqnn
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.evaluate import (
    check_shapes,
    ensembled_predictor,
    full_targets_table,
    target_channels,
    target_descriptions,
    write_h5,
    write_table,
)
from basenji_tf.params import parse_train_params
from basenji_tf.progress import track
from basenji_tf.targets import read_targets

log = logging.getLogger(__name__)


def target_class(description: str) -> str:
    """The original's class of a target from its description.

    ``CAGE`` from ``CAGE:liver``, ``CHIP/CTCF`` from ``CHIP:CTCF:K562``, ``*`` for a
    description without ':' (case is kept; only ``CHIP`` exactly splits by factor).
    """
    fields = str(description).split(":")
    if len(fields) == 1:
        return "*"
    if fields[0] == "CHIP":
        return "/".join(fields[:2])
    return fields[0]


def quantile_normalize(matrix: np.ndarray) -> np.ndarray:
    """Quantile normalisation of the columns of ``matrix``, ties resolved by averaging.

    Args:
        matrix: [positions, targets].

    Returns:
        float64 [positions, targets]: each value replaced by the mean over columns of the
        sorted values at its rank; a run of tied values in a column gets the mean of those
        means over the run's ranks. Every column then has the same distribution.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"quantile_normalize needs [positions, targets], not {values.shape}")
    order = np.argsort(values, axis=0, kind="stable")
    ordered = np.take_along_axis(values, order, axis=0)
    cumulative = np.concatenate([[0.0], np.cumsum(ordered.mean(axis=1))])
    out = np.empty_like(values)
    for j in range(values.shape[1]):
        column = ordered[:, j]
        # runs of tied values in the sorted column: [starts, ends) in ranks
        starts = np.flatnonzero(np.concatenate([[True], column[1:] != column[:-1]]))
        ends = np.append(starts[1:], len(column))
        means = (cumulative[ends] - cumulative[starts]) / (ends - starts)
        out[order[:, j], j] = np.repeat(means, ends - starts)
    return out


def specificity_normalize(matrix: np.ndarray) -> np.ndarray:
    """:func:`quantile_normalize`, then every row centred on its mean across targets.

    [positions, targets] -> float64, the same shape.
    """
    normed = quantile_normalize(matrix)
    return normed - normed.mean(axis=1, keepdims=True)


def high_variance_rows(targets: np.ndarray, high_var_pct: float) -> np.ndarray:
    """Rows whose variance across columns is at least the ``1 - high_var_pct`` quantile.

    Args:
        targets: [positions, targets].
        high_var_pct: share of positions to keep, in (0, 1]; 1 keeps all.

    Returns:
        bool [positions].
    """
    if high_var_pct >= 1:
        return np.ones(len(targets), bool)
    var = np.asarray(targets, np.float64).var(axis=1)
    return var >= np.percentile(var, 100 * (1 - high_var_pct))


def column_pearsonr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each column pair of two [positions, targets] arrays (NaN if constant)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    denom = np.sqrt((xc * xc).sum(axis=0) * (yc * yc).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc * yc).sum(axis=0) / denom, np.nan)


def class_specificity(
    preds: np.ndarray, targets: np.ndarray, high_var_pct: float = 1.0
) -> np.ndarray:
    """Steps 2-5 of the module docstring on one class's [positions, targets] matrices.

    Returns:
        float64 [targets]: per column, the Pearson r of normalised predictions and targets.
    """
    keep = high_variance_rows(targets, high_var_pct)
    return column_pearsonr(specificity_normalize(preds[keep]), specificity_normalize(targets[keep]))


def _strand_columns(
    pairs: Sequence[int], indexes: Sequence[int], label: str
) -> tuple[list[int], list[int]]:
    """A stranded class's pairs as (first members, their partners).

    Both are positions in the class, in the order of first members (the lower position of
    each pair).
    """
    where = {int(index): p for p, index in enumerate(indexes)}
    firsts, seconds = [], []
    for p, (index, partner) in enumerate(zip(indexes, pairs)):
        if int(partner) not in where:
            raise InputError(
                f"targets table: strand_pair {partner} of index {index} (class {label}) is not "
                "a target of the same class; pair tracks of the same assay"
            )
        q = where[int(partner)]
        if p < q:
            firsts.append(p)
            seconds.append(q)
    if 2 * len(firsts) != len(indexes):
        raise InputError(
            f"targets table: the strand pairs of class {label} are not mutual; each pair's "
            "strand_pair values must name each other"
        )
    return firsts, seconds


def specificity_pearsonr(
    preds: np.ndarray,
    targets: np.ndarray,
    targets_df: pd.DataFrame,
    class_min: int = 100,
    high_var_pct: float = 1.0,
) -> tuple[np.ndarray, dict[str, tuple[int, float]]]:
    """Per-target specificity Pearson r over a split (module docstring).

    Args:
        preds: [num_seqs, bins, T], T the rows of ``targets_df`` in order.
        targets: the same shape.
        targets_df: the targets table (description, optional strand_pair; index = channel).
        class_min: classes of fewer targets get NaN.
        high_var_pct: share of the most variable positions kept per class, in (0, 1].

    Returns:
        (float64 [T] r, NaN for small classes; per class in sorted order, its number of
        targets and mean r, NaN when skipped).
    """
    if preds.shape != targets.shape or preds.ndim != 3 or preds.shape[-1] != len(targets_df):
        raise ValueError(
            f"predictions {preds.shape} and targets {targets.shape} must be [seqs, bins, "
            f"{len(targets_df)}]"
        )
    classes = np.array([target_class(d) for d in target_descriptions(targets_df)])
    indexes = targets_df.index.to_numpy()
    result = np.full(len(targets_df), np.nan)
    summary = {}
    for label in sorted(set(classes)):
        members = np.flatnonzero(classes == label)
        if len(members) < class_min:
            summary[label] = (len(members), float("nan"))
            continue
        class_preds = preds[..., members].reshape(-1, len(members)).astype(np.float32)
        class_targets = targets[..., members].reshape(-1, len(members)).astype(np.float32)
        pairs = (
            targets_df["strand_pair"].to_numpy()[members]
            if "strand_pair" in targets_df.columns
            else None
        )
        if pairs is not None and (pairs != indexes[members]).all():
            firsts, seconds = _strand_columns(pairs, indexes[members], label)
            both_p = np.concatenate([class_preds[:, firsts], class_preds[:, seconds]])
            both_t = np.concatenate([class_targets[:, firsts], class_targets[:, seconds]])
            r = class_specificity(both_p, both_t, high_var_pct)
            result[members[firsts]] = r
            result[members[seconds]] = r
        else:
            result[members] = class_specificity(class_preds, class_targets, high_var_pct)
        scored = result[members][~np.isnan(result[members])]
        summary[label] = (len(members), float(scored.mean()) if len(scored) else float("nan"))
    return result, summary


@dataclasses.dataclass
class SplitArrays:
    """A split's predictions (float32) and targets (float16), [num_seqs, kept bins, T]."""

    preds: np.ndarray
    targets: np.ndarray


def collect_split(
    predict_fn: Callable[..., np.ndarray],
    dataset: tf.data.Dataset,
    channels: Sequence[int],
    batch_size: int,
    step: int = 1,
    total: int | None = None,
) -> SplitArrays:
    """Every sequence's predictions and targets of ``channels``, every ``step``-th bin.

    Model calls have ``batch_size`` sequences (``seqnn.predict_model`` pads the last), so a
    sequence's prediction never depends on which others share its batch.

    Args:
        predict_fn: ``(x [B, seq_length, 4], batch_size=...) -> [B, bins, all channels]``
            (:func:`basenji_tf.evaluate.ensembled_predictor`).
        dataset: batches of (sequences, targets [B, bins, all channels]), B <= batch_size.
        channels: output channels kept, in order.
        batch_size: sequences per model call.
        step: keep bins 0, step, 2*step, ...
        total: batches, for the progress bar.
    """
    channels = list(channels)
    preds, targets = [], []
    for x, y in track(dataset, total=total, desc="predict", unit="batches"):
        pred = np.asarray(predict_fn(x.numpy(), batch_size=batch_size), np.float32)
        preds.append(pred[:, ::step][..., channels])
        targets.append(y.numpy()[:, ::step][..., channels].astype(np.float16))
    if not preds:
        raise InputError("the split has no sequences to evaluate")
    return SplitArrays(np.concatenate(preds), np.concatenate(targets))


def evaluate_specificity(
    params_file: str | os.PathLike,
    model_file: str | os.PathLike,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike = "test_out",
    head_i: int = 0,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    split: str = "test",
    step: int = 1,
    class_min: int = 100,
    high_var_pct: float = 1.0,
    save: bool = False,
    targets_file: str | os.PathLike | None = None,
    tfr_pattern: str | None = None,
    precision: str = "float32",
) -> dict:
    """Everything ``basenji_test_specificity.py`` does.

    Args:
        params_file: params JSON of the model.
        model_file: its weights (head ``head_i``).
        data_dir: data directory.
        out_dir: where acc.txt (and preds.h5 / targets.h5) go.
        head_i: the head the model file holds.
        rc: ensemble over reverse complements.
        shifts: ensemble over these shifts (bp).
        split: the data directory's split to evaluate.
        step: keep every ``step``-th bin (positions), for memory.
        class_min: minimum number of targets of a class to evaluate it.
        high_var_pct: share of the most variable positions kept, in (0, 1].
        save: write preds.h5 and targets.h5 (the kept bins).
        targets_file: labels (default ``data_dir/targets.txt``); its index column selects
            the output channels, its descriptions the classes.
        tfr_pattern: TFRecord glob under ``tfrecords/`` instead of ``{split}-*.tfr``.
        precision: compute precision of the model (:data:`basenji_tf.seqnn.PRECISIONS`).

    Returns:
        dict with ``acc`` (the acc.txt table), ``classes`` (per class: targets, mean r),
        ``pearsonr`` (mean over evaluated targets, NaN if none) and ``shape`` (of the
        kept arrays).
    """
    if step < 1:
        raise InputError(f"-s/--step must be a positive integer, not {step}")
    if not 0 < high_var_pct <= 1:
        raise InputError(f"-v {high_var_pct}: the share of positions kept must be in (0, 1]")
    targets_file = targets_file or Path(data_dir) / "targets.txt"
    targets_df = read_targets(targets_file)
    channels = target_channels(targets_df, str(targets_file))
    model = seqnn.load(params_file, model_file, head_i, precision=precision)
    if max(channels) >= model.head.num_targets:
        raise InputError(
            f"{targets_file}: index {max(channels)} is not an output of head {head_i} "
            f"({model.head.num_targets} outputs); use a table of this model's targets (-t)"
        )
    predict = ensembled_predictor(model.head, full_targets_table(data_dir, targets_df), rc, shifts)
    batch_size = parse_train_params(model.params_json.get("train", {}), str(params_file)).batch_size
    data = SeqDataset(data_dir, split, batch_size, mode="eval", tfr_pattern=tfr_pattern)
    check_shapes(model.head, data, data_dir)
    arrays = collect_split(
        predict, data.batches(), channels, batch_size, step, -(-data.num_seqs // batch_size)
    )
    log.info("predicted %s %s: %s (sequences, bins, targets)", data_dir, split, arrays.preds.shape)
    pearsonr, classes = specificity_pearsonr(
        arrays.preds, arrays.targets, targets_df, class_min, high_var_pct
    )
    acc = pd.DataFrame(
        {
            "index": targets_df.index.to_numpy(),
            "pearsonr": pearsonr,
            "identifier": targets_df["identifier"].to_numpy(),
            "description": target_descriptions(targets_df),
        }
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_table(acc, out / "acc.txt")
    if save:
        write_h5(out / "preds.h5", "preds", arrays.preds)
        write_h5(out / "targets.h5", "targets", arrays.targets)
    evaluated = pearsonr[~np.isnan(pearsonr)]
    return {
        "acc": acc,
        "classes": classes,
        "pearsonr": float(evaluated.mean()) if len(evaluated) else float("nan"),
        "shape": arrays.preds.shape,
    }

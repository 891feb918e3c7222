"""Model evaluation: the ``basenji_test.py`` accuracy tables.

Accuracy is defined exactly as in the original (REFERENCE.md 5.4, 6): per target, Pearson
r and R2 over all bins of all sequences of the split pooled together, then the unweighted
mean over targets. Predictions and targets are compared bin for bin, so the model's output
length must equal the data's ``target_length``.

Outputs of :func:`evaluate_model` in ``out_dir`` (None: none; the caller has the table):

* ``acc.txt``: tab-separated ``index pearsonr [spearmanr] r2 identifier description``
  (``%.5f``); for a ``bce`` model ``index auroc auprc identifier description``;
* ``--save``: ``preds.h5`` (dataset ``preds``) and ``targets.h5`` (``targets``), float16
  [num_seqs, target_length/step, num_targets];
* ``--peaks``: ``peaks.txt`` lines ``ti  npeaks  auroc  auprc``;
* ``--ai``: ``scatter/ violin/ roc/ pr/ t{ti}.pdf`` and ``.png``;
* ``--bi``: ``bedgraph/preds_t{ti}.bedgraph`` and ``targets_t{ti}.bedgraph``.

Gene-level accuracy (``basenji_test_genes.py``) is in :mod:`basenji_tf.evaluate_genes`.

Differences from the original:

* peaks use real Benjamini-Hochberg q-values (the original floors them; see
  :func:`basenji_tf.metrics.benjamini_hochberg`);
* ``Test Loss`` is the mean per-sequence loss without regularization terms;
* a ``-t`` table may list a subset of the output channels, which are then the ones
  evaluated (the original required the full table);
* every figure is written as PNG too.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from basenji_tf import metrics, plots, seqnn
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_h5, atomic_path
from basenji_tf.params import parse_train_params
from basenji_tf.progress import track
from basenji_tf.targets import read_targets, strand_pairs
from basenji_tf.tfrecords import read_sequences_bed

log = logging.getLogger(__name__)

ASSAYS = ("CAGE", "DNASE", "ATAC", "CHIP")  # listed first in summaries
PEAK_BIN_STEP = 8  # the original calls peaks on every 8th bin


@dataclasses.dataclass
class SplitPredictions:
    """What one pass over a split produced.

    Attributes:
        stats: pooled per-target sums (all bins, before ``step``).
        loss: mean per-sequence loss (None without a loss function).
        preds, targets: float16 [num_seqs, ceil(length_bins/step), T] if kept, else None.
        num_seqs: sequences seen.
    """

    stats: metrics.TargetStats
    loss: float | None
    preds: np.ndarray | None
    targets: np.ndarray | None
    num_seqs: int


def predict_split(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    dataset: tf.data.Dataset,
    channels: Sequence[int],
    loss_fn: Callable | None = None,
    keep: bool = False,
    step: int = 1,
    total: int | None = None,
) -> SplitPredictions:
    """Stream a split through the model, accumulating accuracy statistics.

    Args:
        predict_fn: float32 [B, seq_length, 4] -> [B, length_bins, all channels].
        dataset: batches of (sequences, targets [B, length_bins, all channels]).
        channels: output channels to evaluate (targets and predictions are both sliced).
        loss_fn: per-example loss ``(y, pred) -> [B]`` (on the selected channels).
        keep: also return the arrays (float16).
        step: keep every ``step``-th bin of the arrays.
        total: batches, for the progress bar.
    """
    channels = list(channels)
    stats = metrics.TargetStats(len(channels))
    loss_sum, count = 0.0, 0
    kept_preds, kept_targets = [], []
    for x, y in track(dataset, total=total, desc="predict", unit="batches"):
        pred = np.asarray(predict_fn(x.numpy()), dtype=np.float32)
        target = y.numpy()
        if pred.shape[1] != target.shape[1]:
            raise InputError(
                f"the model predicts {pred.shape[1]} bins but the data has {target.shape[1]} "
                "target bins; the model's output length must equal statistics.json target_length"
            )
        if pred.shape[-1] <= max(channels):
            raise InputError(
                f"the targets table lists index {max(channels)} but the model has "
                f"{pred.shape[-1]} outputs; use a table of this model's targets (-t)"
            )
        pred, target = pred[..., channels], target[..., channels]
        stats.update(target, pred)
        if loss_fn is not None:
            loss_sum += float(tf.reduce_sum(loss_fn(tf.constant(target), tf.constant(pred))))
        count += len(pred)
        if keep:
            kept_preds.append(pred[:, ::step].astype(np.float16))
            kept_targets.append(target[:, ::step].astype(np.float16))
    if count == 0:
        raise InputError("the split has no sequences to evaluate")
    return SplitPredictions(
        stats=stats,
        loss=loss_sum / count if loss_fn is not None else None,
        preds=np.concatenate(kept_preds) if keep else None,
        targets=np.concatenate(kept_targets) if keep else None,
        num_seqs=count,
    )


def assay_of(description: str) -> str:
    """The assay named by a description's prefix before ':', or OTHER without one.

    The prefix is upper-cased: CAGE, DNASE, ATAC, CHIP, RNA, ...
    """
    description = str(description)
    if ":" not in description:
        return "OTHER"
    return description.split(":", 1)[0].strip().upper() or "OTHER"


def target_descriptions(targets_df: pd.DataFrame) -> np.ndarray:
    """The description column, or the identifiers for tables without one."""
    column = "description" if "description" in targets_df else "identifier"
    return targets_df[column].to_numpy()


def accuracy_table(
    targets_df: pd.DataFrame,
    pearsonr: np.ndarray,
    r2: np.ndarray,
    spearmanr: np.ndarray | None = None,
) -> pd.DataFrame:
    """The acc.txt table: index, pearsonr, [spearmanr], r2, identifier, description."""
    table = pd.DataFrame({"index": targets_df.index.to_numpy(), "pearsonr": pearsonr})
    if spearmanr is not None:
        table["spearmanr"] = spearmanr
    table["r2"] = r2
    table["identifier"] = targets_df["identifier"].to_numpy()
    table["description"] = target_descriptions(targets_df)
    return table


def binary_accuracy_table(
    targets_df: pd.DataFrame, preds: np.ndarray, targets: np.ndarray
) -> pd.DataFrame:
    """acc.txt of a ``bce`` model: index, auroc, auprc, identifier, description.

    Per target over all kept bins of all sequences; targets > 0.5 are positives.
    """
    scores = [
        metrics.auroc_auprc(targets[..., ti] > 0.5, preds[..., ti])
        for ti in range(targets.shape[-1])
    ]
    table = pd.DataFrame(
        {
            "index": targets_df.index.to_numpy(),
            "auroc": [a for a, _ in scores],
            "auprc": [b for _, b in scores],
        }
    )
    table["identifier"] = targets_df["identifier"].to_numpy()
    table["description"] = target_descriptions(targets_df)
    return table


def table_text(table: pd.DataFrame) -> str:
    """An accuracy table as acc.txt holds it: tab-separated, no pandas index, floats %.5f."""
    return table.to_csv(sep="\t", index=False, float_format="%.5f")


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write :func:`table_text` of ``table`` to ``path`` (atomically)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(table_text(table), encoding="utf-8")


def assay_summary(table: pd.DataFrame, column: str = "pearsonr") -> dict[str, tuple[int, float]]:
    """Per assay (from the description prefix): (number of tracks, mean of ``column``)."""
    assays = table["description"].map(assay_of)
    order = [a for a in ASSAYS if (assays == a).any()]
    order += sorted(set(assays) - set(ASSAYS) - {"OTHER"})
    order += ["OTHER"] if (assays == "OTHER").any() else []
    return {
        a: (int((assays == a).sum()), float(np.nanmean(table.loc[assays == a, column])))
        for a in order
    }


def peaks_accuracy(
    preds: np.ndarray, targets: np.ndarray, q_threshold: float = 0.01
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Peak calls on every 8th bin of each target and how well predictions rank them.

    Args:
        preds: [num_seqs, length_bins, T].
        targets: the same shape.
        q_threshold: Benjamini-Hochberg q-value below which a bin is a peak.

    Returns:
        (DataFrame with columns ti, npeaks, auroc, auprc; per target the bool peak calls
        of the flattened subsampled bins).
    """
    rows, calls = [], []
    for ti in range(targets.shape[-1]):
        target = targets[:, ::PEAK_BIN_STEP, ti].astype(np.float64).ravel()
        pred = preds[:, ::PEAK_BIN_STEP, ti].astype(np.float64).ravel()
        peaks = metrics.call_peaks(target, q_threshold)
        auroc, auprc = metrics.auroc_auprc(peaks, pred)
        rows.append((ti, int(peaks.sum()), auroc, auprc))
        calls.append(peaks)
    return pd.DataFrame(rows, columns=["ti", "npeaks", "auroc", "auprc"]), calls


def write_peaks(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """peaks.txt in the original's fixed-width layout ``%4d  %6d  %.5f  %.5f``."""
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        for row in table.itertuples(index=False):
            handle.write(f"{row.ti:4d}  {row.npeaks:6d}  {row.auroc:.5f}  {row.auprc:.5f}\n")


def write_bedgraphs(
    out_dir: str | os.PathLike,
    seqs_bed: pd.DataFrame,
    preds: np.ndarray,
    targets: np.ndarray,
    target_indexes: Iterable[int],
    pool_width: int,
    step: int = 1,
) -> None:
    """``bedgraph/{preds,targets}_t{ti}.bedgraph``: one line per kept bin of each sequence.

    Bin j of sequence i covers [start_i + j*step*pool_width, + pool_width) (bp).
    """
    out = Path(out_dir) / "bedgraph"
    offsets = np.arange(preds.shape[1]) * step * pool_width
    for ti in target_indexes:
        for name, values in (("preds", preds), ("targets", targets)):
            with atomic_path(out / f"{name}_t{ti}.bedgraph") as tmp, open(tmp, "w") as handle:
                for i, row in enumerate(seqs_bed.itertuples(index=False)):
                    starts = row.start + offsets
                    for start, value in zip(starts, values[i, :, ti]):
                        handle.write(f"{row.chrom}\t{start}\t{start + pool_width}\t{value:.4f}\n")


def write_plots(
    out_dir: str | os.PathLike,
    preds: np.ndarray,
    targets: np.ndarray,
    target_indexes: Iterable[int],
    labels: Sequence[str],
) -> None:
    """scatter/violin/roc/pr figures of each target in ``target_indexes`` (positions in T)."""
    out = Path(out_dir)
    for ti in target_indexes:
        target = targets[:, ::PEAK_BIN_STEP, ti].astype(np.float64).ravel()
        pred = preds[:, ::PEAK_BIN_STEP, ti].astype(np.float64).ravel()
        peaks = metrics.call_peaks(target)
        auroc, auprc = metrics.auroc_auprc(peaks, pred)
        title = labels[ti]
        plots.scatter_log(target, pred, out / "scatter" / f"t{ti}", title)
        plots.violin_peaks(pred, peaks, out / "violin" / f"t{ti}", title)
        plots.roc_plot(peaks, pred, auroc, out / "roc" / f"t{ti}", title)
        plots.pr_plot(peaks, pred, auprc, out / "pr" / f"t{ti}", title)


def write_h5(path: str | os.PathLike, name: str, array: np.ndarray) -> None:
    """Write ``array`` as float16 dataset ``name`` of a new HDF5 file."""
    with atomic_h5(path) as h5:
        h5.create_dataset(name, data=array.astype(np.float16))


# ---------------------------------------------------------------------------------------
# basenji_test.py


def ensembled_predictor(
    head: seqnn.Head, full_table: pd.DataFrame, rc: bool, shifts: Sequence[int]
) -> Callable[[np.ndarray], np.ndarray]:
    """``head.predict`` ensembled over ``rc`` and ``shifts`` (bp).

    ``full_table`` is the full targets table of the data; its ``strand_pair`` column, if
    any, tells the RC ensemble which outputs to swap.
    """
    strand_pair = strand_pairs(full_table, head.num_targets)
    head.ensemble(rc, shifts, strand_pair)  # built (and its shifts checked) before any work
    return functools.partial(head.predict, rc=rc, shifts=shifts, strand_pair=strand_pair)


def full_targets_table(data_dir, targets_df: pd.DataFrame) -> pd.DataFrame:
    """The data directory's own targets table (all channels), else ``targets_df``."""
    path = Path(data_dir) / "targets.txt"
    return read_targets(path) if path.is_file() else targets_df


def check_shapes(head: seqnn.Head, data: SeqDataset, data_dir) -> None:
    """The model's output must be the data's targets, bin for bin and track for track."""
    shape_model = (head.target_length, head.num_targets)
    shape_data = (data.target_length, data.num_targets)
    if shape_model != shape_data:
        raise InputError(
            f"{Path(data_dir) / 'statistics.json'}: {shape_data[0]} bins x {shape_data[1]} "
            f"targets, but head {head.index} of the model outputs {shape_model[0]} x "
            f"{shape_model[1]}; use the data directory the model was trained on"
        )


def target_channels(targets_df: pd.DataFrame, path: str) -> list[int]:
    """The output channels a targets table selects: its index column (``path`` for errors)."""
    channels = [int(i) for i in targets_df.index]
    if min(channels) < 0:
        raise InputError(f"{path}: negative index {min(channels)}; indexes are output channels")
    return channels


def evaluate_model(
    params_file: str | os.PathLike,
    model_file: str | os.PathLike,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = "test_out",
    head_i: int = 0,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    split: str = "test",
    step: int = 1,
    save: bool = False,
    peaks: bool = False,
    rank: bool = False,
    plot_targets: Sequence[int] = (),
    bedgraph_targets: Sequence[int] = (),
    targets_file: str | os.PathLike | None = None,
    tfr_pattern: str | None = None,
    precision: str = "float32",
) -> dict:
    """Everything ``basenji_test.py`` does.

    Args:
        params_file: params JSON of the model.
        model_file: its weights (head ``head_i``).
        data_dir: data directory.
        out_dir: where acc.txt and the optional outputs go (None: no files; the
            optional outputs then cannot be asked for).
        head_i: the head the model file holds.
        rc: ensemble over reverse complements.
        shifts: ensemble over these shifts (bp).
        split: the data directory's split to evaluate.
        step: keep every ``step``-th bin in saved arrays, peaks, plots and bedgraphs
            (acc.txt always uses every bin).
        save: write preds.h5 and targets.h5.
        peaks: write peaks.txt.
        rank: add a Spearman column.
        plot_targets: target positions (rows of the targets table) to plot.
        bedgraph_targets: target positions to write as bedgraphs.
        targets_file: labels (default ``data_dir/targets.txt``); its index column selects
            the output channels.
        tfr_pattern: TFRecord glob under ``tfrecords/`` instead of ``{split}-*.tfr``.
        precision: compute precision of the model (:data:`basenji_tf.seqnn.PRECISIONS`).

    Returns:
        dict with ``acc`` (the acc.txt table), ``loss``, ``pearsonr``, ``r2`` (means),
        ``assays`` (per-assay track count and mean of ``assay_metric``, PearsonR or, for
        bce models, AUROC) and ``peaks`` (table or None).
    """
    if step < 1:
        raise InputError(f"--step must be a positive integer, not {step}")
    if out_dir is None and (save or peaks or plot_targets or bedgraph_targets):
        raise InputError(
            "-o -: the accuracy table goes to standard output, but --save, --peaks, --ai and "
            "--bi write files; give -o a directory"
        )
    targets_file = targets_file or Path(data_dir) / "targets.txt"
    targets_df = read_targets(targets_file)
    channels = target_channels(targets_df, str(targets_file))
    model = seqnn.load(params_file, model_file, head_i, precision=precision)
    predict = ensembled_predictor(model.head, full_targets_table(data_dir, targets_df), rc, shifts)
    settings = parse_train_params(model.params_json.get("train", {}), str(params_file))
    data = SeqDataset(data_dir, split, settings.batch_size, mode="eval", tfr_pattern=tfr_pattern)
    check_shapes(model.head, data, data_dir)
    for positions, option in ((plot_targets, "--ai"), (bedgraph_targets, "--bi")):
        bad = [p for p in positions if not 0 <= p < len(channels)]
        if bad:
            raise InputError(f"{option} {bad}: the targets table has rows 0..{len(channels) - 1}")

    binary = settings.loss == "bce"
    keep = save or peaks or rank or binary or bool(plot_targets) or bool(bedgraph_targets)
    result = predict_split(
        predict,
        data.batches(),
        channels,
        loss_fn=metrics.make_loss(settings),
        keep=keep,
        step=step,
        total=-(-data.num_seqs // settings.batch_size),
    )
    log.info("evaluated %d %s sequences of %s", result.num_seqs, split, data_dir)
    pearsonr, r2 = result.stats.pearsonr(), result.stats.r2()
    spearmanr = metrics.spearmanr(result.targets, result.preds) if rank else None
    if binary:
        acc = binary_accuracy_table(targets_df, result.preds, result.targets)
    else:
        acc = accuracy_table(targets_df, pearsonr, r2, spearmanr)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_table(acc, out / "acc.txt")

    peak_table = None
    if peaks:
        peak_table, _ = peaks_accuracy(result.preds, result.targets)
        write_peaks(peak_table, out / "peaks.txt")
    if save:
        write_h5(out / "preds.h5", "preds", result.preds)
        write_h5(out / "targets.h5", "targets", result.targets)
    if plot_targets:
        labels = [str(x) for x in acc["description"]]
        write_plots(out, result.preds, result.targets, plot_targets, labels)
    if bedgraph_targets:
        seqs_bed = read_sequences_bed(data_dir, split)
        if tfr_pattern is None and len(seqs_bed) != result.num_seqs:
            raise InputError(
                f"{Path(data_dir) / 'sequences.bed'}: {len(seqs_bed)} {split} rows but the "
                f"TFRecords hold {result.num_seqs} sequences"
            )
        write_bedgraphs(
            out, seqs_bed, result.preds, result.targets, bedgraph_targets, data.pool_width, step
        )
    return {
        "acc": acc,
        "loss": result.loss,
        "pearsonr": float(np.nanmean(pearsonr)),
        "r2": float(np.nanmean(r2)),
        "assays": assay_summary(acc, "auroc" if binary else "pearsonr"),
        "assay_metric": "AUROC" if binary else "PearsonR",
        "peaks": peak_table,
    }

"""``basenji_predict_tfr.py``: a data directory's split -> preds.h5, targets.h5, bedGraphs.

Outputs in ``out_dir``, as the original's:

* ``preds.h5``: dataset ``preds``, float16 [sequences, model bins, outputs], records in
  sequences.bed order (:func:`basenji_tf.scoring.split_tracks.predict_split`, which also
  writes ``normalization.txt``, as ``basenji_predict.py``);
* ``targets.h5``: dataset ``targets``, float16 [sequences, target_length, targets] (the
  data's own targets);
* with ``--bi``: ``preds_t{ti}.bedgraph`` and ``targets_t{ti}.bedgraph`` per output
  ``ti``: tab-separated ``chrom start end value`` lines, one per bin of every sequence
  in record order, the value printed as the original prints a float16 (``str``).

Bins: the data's target bin ``j`` of a sequences.bed row covers ``[start + j * pool_width,
+ pool_width)`` bp, as the original writes both files; a prediction bin is placed by the
model's own crop and stride (``start - crop_bp + crop * stride + j * stride``), which is the
same place whenever the model's output is the data's targets.

Differences from the original:

* ``-t`` selects the output channels (its index column) of both files, as in
  ``basenji_predict.py`` (the original reads the table and ignores it); without it
  preds.h5 holds every model output and targets.h5 every data target;
* ``--bi`` names output channels; ``normalization.txt`` is written as well.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from basenji_tf import seqnn
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_h5, atomic_path, read_h5
from basenji_tf.params import parse_train_params
from basenji_tf.progress import track
from basenji_tf.scoring.split_tracks import predict_split, split_rows
from basenji_tf.targets import read_targets, strand_pairs

log = logging.getLogger(__name__)


def write_split_targets(
    data: SeqDataset, path: str | os.PathLike, channels: Sequence[int] | None = None
) -> np.ndarray:
    """The split's targets as dataset ``targets`` of a new HDF5 file, and returned.

    Args:
        data: the split (eval mode).
        path: the HDF5 file.
        channels: target columns kept (None: all).

    Returns:
        float16 [sequences, target_length, kept targets].
    """
    kept = []
    for _, y in track(data.batches(), desc="targets", unit="batches"):
        y = y.numpy()
        kept.append((y if channels is None else y[..., list(channels)]).astype(np.float16))
    width = data.num_targets if channels is None else len(channels)
    targets = np.concatenate(kept) if kept else np.zeros((0, data.target_length, width), np.float16)
    with atomic_h5(path) as h5:
        h5.create_dataset("targets", data=targets)
    return targets


def write_bedgraph(
    path: str | os.PathLike,
    rows: pd.DataFrame,
    values: np.ndarray,
    first_offset: int,
    bin_bp: int,
) -> None:
    """One bedGraph of binned values along sequences.bed rows, as the original writes it.

    Args:
        path: output file.
        rows: chrom, start (bp) per sequence, in record order.
        values: float16 [sequences, bins]; each printed with ``str`` (the shortest text
            that reads back as the same float16).
        first_offset: bp from a row's start to its first bin.
        bin_bp: bin width.
    """
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        for (chrom, start), row_values in zip(
            rows[["chrom", "start"]].itertuples(index=False, name=None), values
        ):
            bin_start = int(start) + first_offset
            for value in row_values:
                handle.write(f"{chrom}\t{bin_start}\t{bin_start + bin_bp}\t{value!s}\n")
                bin_start += bin_bp


def predict_tfr(
    params_file: str | os.PathLike,
    model_file: str | os.PathLike,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike = "preds_out",
    head_i: int = 0,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    split: str = "test",
    tfr_pattern: str | None = None,
    targets_file: str | os.PathLike | None = None,
    bedgraph_indexes: Sequence[int] = (),
    precision: str = "float32",
) -> dict:
    """Everything ``basenji_predict_tfr.py`` does (see the module docstring).

    Args:
        params_file: params JSON of the model.
        model_file: its weights (head ``head_i``).
        data_dir: data directory.
        out_dir: output directory.
        head_i: the head the model file holds.
        rc: ensemble over reverse complements.
        shifts: ensemble over these shifts (bp).
        split: the data directory's split.
        tfr_pattern: TFRecord glob under ``tfrecords/`` instead of ``{split}-*.tfr``.
        targets_file: a table whose index column lists the channels kept (default all).
        bedgraph_indexes: output channels to write as bedGraphs.
        precision: compute precision of the model (:data:`basenji_tf.seqnn.PRECISIONS`).

    Returns:
        dict with ``preds`` and ``targets`` (paths) and ``bedgraphs`` (paths written).
    """
    model = seqnn.load(params_file, model_file, head_i, precision=precision)
    head = model.head
    batch_size = parse_train_params(model.params_json.get("train", {}), str(params_file)).batch_size
    data = SeqDataset(data_dir, split, batch_size, mode="eval", tfr_pattern=tfr_pattern)
    data_table = Path(data_dir) / "targets.txt"
    pairs = (
        strand_pairs(read_targets(data_table), head.num_targets) if data_table.is_file() else None
    )
    pred_channels = list(range(head.num_targets))
    target_channels = None
    if targets_file:
        pred_channels = target_channels = [int(i) for i in read_targets(targets_file).index]
        for limit, what in ((head.num_targets, f"head {head_i}"), (data.num_targets, "the data")):
            bad = [c for c in pred_channels if not 0 <= c < limit]
            if bad:
                raise InputError(
                    f"{targets_file}: index {bad[0]} is not a target of {what} ({limit} "
                    "targets); list channels both the model and the data have"
                )
    kept_targets = target_channels or list(range(data.num_targets))
    bad = [t for t in bedgraph_indexes if t not in pred_channels or t not in kept_targets]
    if bad:
        raise InputError(
            f"--bi {bad[0]}: not a kept output with data targets (outputs "
            f"{pred_channels[0]}..{pred_channels[-1]} of the model, "
            f"{len(kept_targets)} data targets, or the -t table's)"
        )
    rows = (
        split_rows(Path(data_dir) / "sequences.bed", split, data.num_seqs)
        if bedgraph_indexes
        else None
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    preds_path = predict_split(head, data, out, pred_channels, rc, shifts, pairs)
    targets = write_split_targets(data, out / "targets.h5", target_channels)
    bedgraphs = []
    pred_offset = head.crop * head.stride - data.crop_bp
    with read_h5(preds_path, "predictions file") as h5:
        preds = h5["preds"]
        for ti in bedgraph_indexes:
            name = out / f"preds_t{ti}.bedgraph"
            write_bedgraph(
                name, rows, preds[:, :, pred_channels.index(ti)], pred_offset, head.stride
            )
            bedgraphs.append(str(name))
            name = out / f"targets_t{ti}.bedgraph"
            write_bedgraph(name, rows, targets[:, :, kept_targets.index(ti)], 0, data.pool_width)
            bedgraphs.append(str(name))
    log.info("predicted %d %s sequences of %s into %s", data.num_seqs, split, data_dir, out)
    return {"preds": str(preds_path), "targets": str(out / "targets.h5"), "bedgraphs": bedgraphs}

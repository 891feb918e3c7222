"""``basenji_predict.py``: predictions of a data directory's split, and BigWigs of them.

:func:`predict_split` streams a split's TFRecords through a model head into ``preds.h5``
(dataset ``preds``, float16 [sequences, target_length, targets], in sequences.bed order)
and writes ``normalization.txt`` (per target: index, mean prediction, median of the means
over this mean), as the original. :func:`split_bigwigs` stitches the predictions along the
split's sequences.bed rows into ``tracks/t{ti}_preds.bw``.

Coordinates: a sequences.bed row is the target region of a record, whose DNA reaches
``crop_bp`` (statistics.json) further on each side; the head's output bin ``j`` of that
record covers ``[start - crop_bp + crop * stride + j * stride, + stride)`` bp.

Differences from the original (which fails before writing any BigWig):

* only the sequences.bed rows of the predicted split are used (the original walks every
  row against the split's predictions) and the bins are placed from the model's crop
  (the original reads an undefined ``model.hp.batch_buffer``);
* where split windows overlap, bins are written from the first window in genome order on
  (the original averages bins with identical coordinates and cannot write others);
* ``-t`` selects the output channels (its index column), as in ``basenji_test.py``; ``-g``
  has no default (the original's needs ``$BASENJIDIR``); ``--mc`` (unused) is not offered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from basenji_tf import seqnn
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_h5, read_h5, write_text_atomic
from basenji_tf.genome import read_chrom_sizes
from basenji_tf.params import parse_train_params
from basenji_tf.scoring.track_writer import Block, bigwig_group_size, write_track_group
from basenji_tf.targets import read_targets, strand_pairs

log = logging.getLogger(__name__)


def predict_split(
    head: seqnn.Head,
    data: SeqDataset,
    out_dir: str | os.PathLike,
    channels: Sequence[int] | None = None,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    strand_pair: Sequence[int] | None = None,
) -> Path:
    """Predict every record of a split into ``preds.h5``; write ``normalization.txt``.

    Args:
        head: the trained head; its input must be the data's sequences.
        data: the split (eval mode: records in sequences.bed order).
        out_dir: output directory.
        channels: output channels kept (None: all).
        rc: add reverse-complement ensemble members.
        shifts: ensemble members shifted by these bp.
        strand_pair: per output, the output of the other strand (None: the head's).

    Returns:
        the path of ``preds.h5``.
    """
    if data.seq_length != head.seq_length:
        raise InputError(
            f"{data.data_dir}: sequences of {data.seq_length} bp, but the model reads "
            f"{head.seq_length} bp; use the data directory the model was trained on"
        )
    channels = list(range(head.num_targets) if channels is None else channels)
    shape = (data.num_seqs, head.target_length, len(channels))
    sums = np.zeros(len(channels), np.float64)
    path = Path(out_dir) / "preds.h5"
    with atomic_h5(path) as h5:
        preds = h5.create_dataset(
            "preds",
            shape,
            np.float16,
            chunks=(1, shape[1], min(shape[2], bigwig_group_size())) if shape[0] else None,
        )
        row = 0
        for x, _ in data.batches():
            x = x.numpy()
            pred = head.predict(
                x, batch_size=data.batch_size, rc=rc, shifts=shifts, strand_pair=strand_pair
            )
            pred16 = pred[..., channels].astype(np.float16)
            preds[row : row + len(x)] = pred16
            sums += pred16.sum(axis=(0, 1), dtype=np.float64)
            row += len(x)
    if row != shape[0]:
        raise InputError(
            f"{data.data_dir}: statistics.json promises {shape[0]} {data.split_label}"
            f" sequences, the TFRecords hold {row}"
        )
    means = sums / max(1, row * shape[1])
    median = float(np.median(means))
    write_text_atomic(
        Path(out_dir) / "normalization.txt",
        "".join(
            f"{ti} {float(m)} {median / float(m) if m else float('inf')}\n"
            for ti, m in zip(channels, means)
        ),
    )
    log.info("predicted %d %s sequences into %s", row, data.split_label, path)
    return path


def split_bigwigs(
    preds_file: str | os.PathLike,
    rows: pd.DataFrame,
    first_offset: int,
    bin_bp: int,
    chrom_sizes: dict[str, int],
    channels: Sequence[int],
    positions: Sequence[int],
    out_dir: str | os.PathLike,
) -> list[str]:
    """``tracks/t{ti}_preds.bw`` of some targets of ``preds.h5``.

    Args:
        preds_file: from :func:`predict_split`.
        rows: the split's sequences.bed rows (chrom, start), one per record, in order.
        first_offset: bp from a row's start to its first output bin.
        bin_bp: bin width.
        chrom_sizes: the BigWig header.
        channels: the model output channel of each ``preds`` column (names the files).
        positions: the ``preds`` columns to write.
        out_dir: output directory.

    Returns:
        the paths written.
    """
    missing = sorted(set(rows["chrom"]) - set(chrom_sizes))
    if missing:
        raise InputError(
            f"chromosome {missing[0]} of sequences.bed has no size in -g; give the "
            "sizes of the genome the data was made from"
        )
    rank = {chrom: i for i, chrom in enumerate(chrom_sizes)}
    order = sorted(range(len(rows)), key=lambda i: (rank[rows["chrom"][i]], rows["start"][i]))
    header = tuple(chrom_sizes.items())
    paths = []
    group = bigwig_group_size()
    for g in range(0, len(positions), group):
        columns = list(positions[g : g + group])
        names = [str(Path(out_dir) / "tracks" / f"t{channels[p]}_preds.bw") for p in columns]
        blocks = _row_blocks(preds_file, rows, order, first_offset, columns)
        write_track_group(names, header, blocks, bin_bp)
        paths += names
    return paths


def _row_blocks(
    preds_file: str | os.PathLike,
    rows: pd.DataFrame,
    order: Sequence[int],
    first_offset: int,
    columns: Sequence[int],
) -> Iterator[Block]:
    """The records' predictions of ``columns``, in genome order, as track blocks."""
    first, last = min(columns), max(columns) + 1
    with read_h5(preds_file, "predictions file") as h5:
        preds = h5["preds"]
        for i in order:
            values = preds[i, :, first:last][:, [c - first for c in columns]]
            yield rows["chrom"][i], int(rows["start"][i]) + first_offset, values.astype(np.float32)


def split_rows(bed_file: str | os.PathLike, split: str, num_seqs: int) -> pd.DataFrame:
    """The rows of ``split`` in a sequences.bed (all rows if it has no split column).

    Raises:
        InputError: the number of rows is not the split's number of records.
    """
    bed = pd.read_csv(bed_file, sep="\t", header=None, comment="#", dtype={0: str})
    if bed.shape[1] >= 4:
        bed = bed[bed[3].astype(str) == split]
    rows = pd.DataFrame({"chrom": bed[0].to_numpy(), "start": bed[1].to_numpy(np.int64)})
    if len(rows) != num_seqs:
        raise InputError(
            f"{bed_file}: {len(rows)} rows of split {split!r} but {num_seqs} records; give the "
            "sequences.bed of the data directory (-b)"
        )
    return rows


def predict_data_dir(
    params_file: str,
    model_file: str,
    data_dir: str,
    out_dir: str,
    head_i: int = 0,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    split: str = "test",
    tfr_pattern: str | None = None,
    targets_file: str | None = None,
    track_bed: str | None = None,
    genome_file: str | None = None,
    track_indexes: Sequence[int] | None = None,
    precision: str = "float32",
) -> dict:
    """Everything ``basenji_predict.py`` does (see the module docstring).

    BigWigs are written when ``track_bed`` or ``track_indexes`` is given: for
    ``track_indexes`` (model output channels; default every kept one), along
    ``track_bed`` (default ``data_dir/sequences.bed``), with ``genome_file`` chromosome
    sizes. ``precision``: the model's compute precision (:data:`basenji_tf.seqnn.PRECISIONS`).

    Returns:
        dict with ``preds`` (path of preds.h5) and ``bigwigs`` (paths).
    """
    model = seqnn.load(params_file, model_file, head_i, precision=precision)
    head = model.head
    data_table = Path(data_dir) / "targets.txt"
    pairs = (
        strand_pairs(read_targets(data_table), head.num_targets) if data_table.is_file() else None
    )
    channels = list(range(head.num_targets))
    if targets_file:
        channels = [int(i) for i in read_targets(targets_file).index]
        bad = [c for c in channels if not 0 <= c < head.num_targets]
        if bad:
            raise InputError(
                f"{targets_file}: index {bad[0]} is not an output of head {head_i} "
                f"({head.num_targets} outputs)"
            )
    batch_size = parse_train_params(model.params_json.get("train", {}), params_file).batch_size
    data = SeqDataset(data_dir, split, batch_size, mode="eval", tfr_pattern=tfr_pattern)
    if track_bed is None and track_indexes is None:
        preds = predict_split(head, data, out_dir, channels, rc, shifts, pairs)
        return {"preds": str(preds), "bigwigs": []}
    if genome_file is None:
        raise InputError(
            "-g: BigWigs need the chromosome sizes of the genome (a .genome, "
            ".chrom.sizes or .fai file)"
        )
    sizes = read_chrom_sizes(genome_file)
    positions = list(range(len(channels)))
    if track_indexes is not None:
        where = {c: p for p, c in enumerate(channels)}
        bad = [t for t in track_indexes if t not in where]
        if bad:
            raise InputError(
                f"--ti {bad[0]}: not a predicted output (outputs {channels[0]}.."
                f"{channels[-1]}, or the -t table's)"
            )
        positions = [where[t] for t in track_indexes]
    rows = split_rows(track_bed or Path(data_dir) / "sequences.bed", split, data.num_seqs)
    preds = predict_split(head, data, out_dir, channels, rc, shifts, pairs)
    offset = head.crop * head.stride - data.crop_bp
    bigwigs = split_bigwigs(preds, rows, offset, head.stride, sizes, channels, positions, out_dir)
    return {"preds": str(preds), "bigwigs": bigwigs}

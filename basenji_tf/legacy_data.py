"""The 2018 Basenji HDF5 training-data layout -> a TFRecord data directory.

:func:`hdf5_to_data_dir`: the HDF5 of the 2018 data scripts (``{split}_in`` one-hot
[N, seq_length, 4], ``{split}_out`` float16 [N, bins, targets], ``{split}_na`` bool [N, bins],
``pool_width``, ``target_ids``/``target_labels``) -> a data directory
(:mod:`basenji_tf.tfrecords`). The 2018 params convert with :mod:`basenji_tf.legacy_params`.

Differences from the original: HDF5 records go to TFRecords in file order, ``seqs_per_tfr``
consecutive records per file (the original's ``h5_tfr.py`` dealt them round-robin), so the
HDF5 writer's BED lines up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import h5py
import numpy as np

from basenji_tf.dna import N_INDEX, hot1_index
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path, read_h5, write_text_atomic
from basenji_tf.tfrecords import DEFAULT_COMPRESSION_LEVEL, write_statistics, write_tfrecords

SPLITS = ("train", "valid", "test")
_READ_BLOCK = 16  # records read from HDF5 at a time (a 2018 record holds ~9 MB of targets)


def onehot_codes(seqs: np.ndarray, where: str, first: int = 0) -> np.ndarray:
    """Base codes of 2018 one-hot sequences.

    Args:
        seqs: bool, uint8 or float [n, L, 4], A C G T channels. A row of zeros is N, as is
            a row of four equal values (N as 0.25 each, or those cast to bool).
        where: file and dataset, for the error message.
        first: record number of ``seqs[0]`` in the dataset, for the error message.

    Returns:
        uint8 [n, L] codes 0-3, N 4.

    Raises:
        InputError: a row that is neither one-hot nor N.
    """
    codes = hot1_index(seqs)
    bad = (codes == N_INDEX) & ~np.all(seqs == seqs[..., :1], axis=-1)
    if bad.any():
        i, pos = np.argwhere(bad)[0]
        raise InputError(
            f"{where}: record {first + i} position {pos} is "
            f"{seqs[i, pos].tolist()}, "
            "neither one-hot nor N; the dataset is not one-hot DNA"
        )
    return codes


class _Records(Sequence):
    """Rows ``start:end`` of an HDF5 dataset, transformed a block at a time on demand."""

    def __init__(
        self,
        dataset: h5py.Dataset,
        start: int,
        end: int,
        transform: Callable[[np.ndarray, int], np.ndarray],
    ):
        self.dataset, self.start, self.end, self.transform = dataset, start, end, transform
        self._block_start, self._block = -1, None

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(i)
        first = self.start + i - i % _READ_BLOCK
        if first != self._block_start:
            rows = self.dataset[first : min(first + _READ_BLOCK, self.end)]
            self._block, self._block_start = self.transform(rows, first), first
        return self._block[self.start + i - self._block_start]


def read_hdf5_layout(h5: h5py.File, path: str) -> dict:
    """Check a 2018 training HDF5 and describe it.

    Returns:
        dict with seq_length (bp), target_length (bins), num_targets, pool_width (bp),
        splits (present split names, in train/valid/test order) and counts (records each).

    Raises:
        InputError: missing or inconsistent datasets, naming the file and dataset.
    """
    splits = [s for s in SPLITS if f"{s}_in" in h5 or f"{s}_out" in h5]
    if not splits:
        raise InputError(
            f"{path}: no train_in/train_out, valid_* or test_* datasets; "
            "is this a 2018 Basenji training HDF5?"
        )
    imag = [name for name in h5 if name.endswith("_out_imag")]
    if imag:
        raise InputError(f"{path}: {imag[0]}: Fourier-compressed targets are not supported")
    shapes = {}
    for split in splits:
        for part in ("in", "out"):
            if f"{split}_{part}" not in h5:
                raise InputError(
                    f"{path}: {split}_{part} is missing beside the other {split}_* datasets"
                )
        seqs, targets = h5[f"{split}_in"], h5[f"{split}_out"]
        if seqs.ndim != 3 or seqs.shape[2] != 4 or targets.ndim != 3:
            raise InputError(
                f"{path}: {split}_in {seqs.shape} / {split}_out {targets.shape} "
                "must be [N, seq_length, 4] / [N, bins, targets]"
            )
        if seqs.shape[0] != targets.shape[0]:
            raise InputError(
                f"{path}: {split}_in has {seqs.shape[0]} records but {split}_out {targets.shape[0]}"
            )
        na = h5.get(f"{split}_na")
        if na is not None and na.shape != targets.shape[:2]:
            raise InputError(f"{path}: {split}_na {na.shape} must be {targets.shape[:2]}")
        shapes[split] = (seqs.shape[1], *targets.shape[1:])
    if len(set(shapes.values())) > 1:
        raise InputError(f"{path}: splits disagree on (seq_length, bins, targets): {shapes}")
    seq_length, target_length, num_targets = shapes[splits[0]]
    if target_length < 1 or num_targets < 1:
        raise InputError(f"{path}: {splits[0]}_out has no bins or no targets")
    pool_width = int(h5["pool_width"][()]) if "pool_width" in h5 else seq_length // target_length
    if pool_width * target_length != seq_length:
        raise InputError(
            f"{path}: {target_length} bins of {pool_width} bp do not cover seq_length {seq_length}"
        )
    return {
        "seq_length": seq_length,
        "target_length": target_length,
        "num_targets": num_targets,
        "pool_width": pool_width,
        "splits": splits,
        "counts": {s: int(h5[f"{s}_in"].shape[0]) for s in splits},
    }


def _strings(h5: h5py.File, name: str, count: int, path: str) -> list[str] | None:
    if name not in h5:
        return None
    values = [v.decode() if isinstance(v, bytes) else str(v) for v in h5[name][()]]
    if len(values) != count:
        raise InputError(f"{path}: {name} has {len(values)} entries for {count} targets")
    return [" ".join(v.split()) for v in values]


def _targets_table(h5: h5py.File, path: str, num_targets: int) -> str:
    """targets.txt text: identifiers from target_ids (else target_labels).

    The 2018 HDF5 does not record each track's coverage file: ``file`` names the HDF5.
    """
    labels = _strings(h5, "target_labels", num_targets, path)
    ids = _strings(h5, "target_ids", num_targets, path) or labels
    ids = ids or [f"t{i}" for i in range(num_targets)]
    labels = labels or ids
    rows = [f"{i}\t{ids[i]}\t{Path(path).name}\t{labels[i]}" for i in range(num_targets)]
    return "\n".join(["index\tidentifier\tfile\tdescription", *rows]) + "\n"


def _sequences_bed(bed_file: str, layout: dict, crop_bp: int) -> str:
    """sequences.bed text from the BED the 2018 HDF5 writer printed (its ``-o``).

    That BED has one ``chrom start end split`` line per record, train then valid then test.
    """
    expected = [s for s in layout["splits"] for _ in range(layout["counts"][s])]
    lines = [line.split() for line in Path(bed_file).read_text().splitlines() if line.strip()]
    if len(lines) != len(expected):
        raise InputError(
            f"{bed_file}: {len(lines)} lines but the HDF5 has {len(expected)} "
            "records; give the BED written with this HDF5"
        )
    out = []
    for number, (fields, split) in enumerate(zip(lines, expected), start=1):
        try:
            chrom, start, end, label = fields[0], int(fields[1]), int(fields[2]), fields[3]
        except (IndexError, ValueError):
            raise InputError(
                f"{bed_file}: line {number}: expected 'chrom start end split'"
            ) from None
        if label != split or end - start != layout["seq_length"]:
            raise InputError(
                f"{bed_file}: line {number}: {label} {end - start} bp, but record "
                f"{number - 1} is {split} {layout['seq_length']} bp"
            )
        out.append(f"{chrom}\t{start + crop_bp}\t{end - crop_bp}\t{label}\n")
    return "".join(out)


def hdf5_to_data_dir(
    h5_file: str | os.PathLike,
    out_dir: str | os.PathLike,
    crop_bp: int = 0,
    seqs_per_tfr: int = 256,
    bed_file: str | os.PathLike | None = None,
    encoding: str = "index",
    compression_level: int = DEFAULT_COMPRESSION_LEVEL,
) -> dict:
    """Convert a 2018 training HDF5 into a data directory, atomically.

    Writes ``tfrecords/{split}-{k}.tfr`` (records in HDF5 order, ``umap`` from
    ``{split}_na`` where present), targets.txt, sequences.bed (only with ``bed_file``: the
    HDF5 holds no coordinates) and statistics.json.

    Args:
        h5_file: HDF5 with ``{split}_in`` / ``{split}_out`` for split in train, valid, test.
        out_dir: the data directory to create (must not exist).
        crop_bp: bp cut from each end of the targets (the params' ``batch_buffer``); a
            multiple of ``pool_width``. Sequences keep their full length.
        seqs_per_tfr: records per TFRecord file.
        bed_file: the record coordinates the HDF5 writer printed (its ``-o`` BED).
        encoding: "index" (current) or "onehot" sequence bytes.
        compression_level: zlib level of the TFRecords.

    Returns:
        the statistics.json contents.
    """
    path = str(h5_file)
    if Path(out_dir).exists():
        raise InputError(f"{out_dir}: already exists; remove it or choose another directory")
    if seqs_per_tfr < 1:
        raise InputError(f"seqs_per_tfr {seqs_per_tfr} must be positive")
    with read_h5(path, "2018 HDF5 training data file") as h5:
        layout = read_hdf5_layout(h5, path)
        crop_bins, remainder = divmod(crop_bp, layout["pool_width"])
        target_length = layout["target_length"] - 2 * crop_bins
        if remainder or crop_bp < 0 or target_length < 1:
            raise InputError(
                f"crop {crop_bp} bp must be a non-negative multiple of the "
                f"{layout['pool_width']} bp bins leaving bins"
            )
        bed_text = _sequences_bed(str(bed_file), layout, crop_bp) if bed_file else None
        with atomic_path(out_dir, is_dir=True) as tmp:
            tfr_dir = Path(tmp) / "tfrecords"
            tfr_dir.mkdir()
            for split in layout["splits"]:
                _write_split(
                    h5,
                    path,
                    split,
                    tfr_dir,
                    crop_bins,
                    seqs_per_tfr,
                    encoding=encoding,
                    compression_level=compression_level,
                )
            write_text_atomic(
                Path(tmp) / "targets.txt", _targets_table(h5, path, layout["num_targets"])
            )
            if bed_text is not None:
                write_text_atomic(Path(tmp) / "sequences.bed", bed_text)
            stats = _statistics(layout, crop_bp, target_length, encoding)
            write_statistics(tmp, stats)
    return stats


def _write_split(
    h5: h5py.File,
    path: str,
    split: str,
    tfr_dir: Path,
    crop_bins: int,
    seqs_per_tfr: int,
    **write_options,
) -> None:
    """Write one split's records, ``seqs_per_tfr`` consecutive records per file."""
    bins = slice(crop_bins, h5[f"{split}_out"].shape[1] - crop_bins)

    def targets(rows, first):
        rows = rows[:, bins]
        bad = ~np.isfinite(rows.astype(np.float16))
        if bad.any():
            raise InputError(
                f"{path}: {split}_out record {first + np.argwhere(bad)[0][0]} "
                "has NaN or inf targets (as float16); clip or fill them"
            )
        return rows

    transforms = {
        "sequences": lambda rows, first: onehot_codes(rows, f"{path}: {split}_in", first),
        "targets": targets,
        "umap": lambda rows, first: rows[:, bins].astype(bool),
    }
    count = h5[f"{split}_in"].shape[0]
    for k, start in enumerate(range(0, count, seqs_per_tfr)):
        end = min(start + seqs_per_tfr, count)
        records = {
            name: _Records(h5[f"{split}_{part}"], start, end, transforms[name])
            for name, part in (("sequences", "in"), ("targets", "out"), ("umap", "na"))
            if f"{split}_{part}" in h5
        }
        write_tfrecords(tfr_dir / f"{split}-{k}.tfr", **records, **write_options)


def _statistics(layout: dict, crop_bp: int, target_length: int, encoding: str) -> dict:
    stats = {"num_targets": layout["num_targets"], "seq_length": layout["seq_length"]}
    if encoding == "index":
        stats["seq_1hot"] = True
    stats.update(pool_width=layout["pool_width"], crop_bp=crop_bp, target_length=target_length)
    stats.update({f"{split}_seqs": n for split, n in layout["counts"].items()})
    return stats

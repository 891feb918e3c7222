"""basenji_data_write: the DNA and binned targets of a range of windows -> one TFRecord file.

The last step of the data pipeline (:mod:`basenji_tf.data`), run once per TFRecord file:
records ``start_i:end_i`` of sequences.bed, their DNA from the FASTA (extended by the
crop on each side) and their targets from ``seqs_cov/{ti}.h5`` (one file per target,
written by :func:`basenji_tf.targets.read_coverage_h5`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from basenji_tf.dna import dna_index
from basenji_tf.errors import InputError
from basenji_tf.files import read_h5
from basenji_tf.genome import Genome, read_bed_rows
from basenji_tf.tfrecords import DEFAULT_COMPRESSION_LEVEL, write_tfrecords


def write_chunk(
    fasta_file: str,
    windows: Sequence[tuple[str, int, int]],
    cov_files: Sequence[str],
    start_i: int,
    end_i: int,
    out_file: str,
    extend_bp: int,
    encoding: str = "index",
    compression_level: int = DEFAULT_COMPRESSION_LEVEL,
    decimals: int | None = None,
    unmap: np.ndarray | None = None,
    umap_clip: float = 1.0,
    umap_tfr: bool = False,
) -> int:
    """Write records ``start_i:end_i`` of a data set to one TFRecord file.

    Args:
        fasta_file: genome FASTA.
        windows: all target regions (sequences.bed rows, chrom/start/end in bp).
        cov_files: ``seqs_cov/{ti}.h5`` per target, dataset ``targets`` float16
            [num_windows, target_length].
        start_i: first window written (0-based).
        end_i: one past the last window written.
        out_file: the ``.tfr``, written atomically.
        extend_bp: DNA added on each side of a target region (crop_bp); N past the ends.
        encoding: "index" or "onehot" (see :mod:`basenji_tf.tfrecords`).
        compression_level: zlib level 0-9.
        decimals: round targets to this many decimals.
        unmap: bool [num_windows, target_length] unmappable bins (for umap_clip/umap_tfr).
        umap_clip: unmappable bins are clipped to this quantile of their target's values
            in the same record (1: no clipping).
        umap_tfr: store each record's unmappable-bin mask as its ``umap`` feature.

    Returns:
        records written.
    """
    targets = []
    for cov_file in cov_files:
        with read_h5(cov_file, "coverage file") as handle:
            targets.append(handle["targets"][start_i:end_i])
    # [n, target_length, num_targets], targets in table order
    targets = np.stack(targets, axis=-1)
    chunk_unmap = None if unmap is None else unmap[start_i:end_i]
    if chunk_unmap is not None and umap_clip < 1:
        values = targets.astype(np.float32)
        quant = np.percentile(values, 100 * umap_clip, axis=1, keepdims=True)
        clipped = np.minimum(values, quant)
        values = np.where(chunk_unmap[:, :, None], clipped, values)
        targets = values.astype(np.float16)
    if decimals is not None:
        targets = np.around(targets.astype(np.float32), decimals).astype(np.float16)
    with Genome(fasta_file) as genome:
        seqs = [
            dna_index(genome.fetch(chrom, start - extend_bp, end + extend_bp))
            for chrom, start, end in windows[start_i:end_i]
        ]
    return write_tfrecords(
        out_file,
        seqs,
        targets,
        encoding=encoding,
        compression_level=compression_level,
        umap=chunk_unmap if umap_tfr else None,
    )


def coverage_files(seqs_cov_dir: str | os.PathLike) -> list[str]:
    """``seqs_cov_dir/0.h5``, ``1.h5``, ... up to the first missing number."""
    files: list[str] = []
    while (Path(seqs_cov_dir) / f"{len(files)}.h5").is_file():
        files.append(str(Path(seqs_cov_dir) / f"{len(files)}.h5"))
    if not files:
        raise InputError(f"{seqs_cov_dir}: no 0.h5; run basenji_data_read.py first")
    return files


def write_tfrecord_range(
    fasta_file: str,
    seqs_bed_file: str | os.PathLike,
    seqs_cov_dir: str | os.PathLike,
    tfr_file: str,
    start_i: int = 0,
    end_i: int | None = None,
    umap_npy: str | os.PathLike | None = None,
    **options,
) -> int:
    """basenji_data_write.py: records ``start_i:end_i`` of a sequences.bed to one file.

    Args:
        fasta_file: genome FASTA.
        seqs_bed_file: sequences.bed (target regions).
        seqs_cov_dir: folder of the per-target HDF5 files ``0.h5``, ``1.h5``, ...
        tfr_file: output ``.tfr``.
        start_i: first window (0-based).
        end_i: one past the last window (None, or past the end: all).
        umap_npy: unmappable-bin mask, bool [num_windows, target_length] in ``.npy``.
        options: the other options of :func:`write_chunk` (``extend_bp``, ``encoding``,
            ``compression_level``, ``decimals``, ``umap_clip``, ``umap_tfr``).

    Returns:
        records written.
    """
    windows = read_bed_rows(seqs_bed_file)
    cov_files = coverage_files(seqs_cov_dir)
    end = len(windows) if end_i is None else min(end_i, len(windows))
    if not 0 <= start_i < end:
        raise InputError(f"-s {start_i} -e {end_i}: empty range of {len(windows)}")
    unmap = None if umap_npy is None else np.load(umap_npy)
    return write_chunk(
        fasta_file, windows, cov_files, start_i, end, tfr_file, unmap=unmap, **options
    )

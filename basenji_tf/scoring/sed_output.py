"""``sed.h5`` of ``basenji_sed.py``: its statistics, a streaming writer and the shard merge.

One row per (variant, gene) pair. Datasets, in the order they are created: ``snp``,
``chr``, ``ref_allele``, ``alt_allele``, ``gene_id``, ``gene_name`` (strings), ``pos``
(uint32, VCF 1-based), ``tss`` (int64, 0-based bp), ``tss_dist`` (int64, TSS minus the
variant's 0-based position), ``SED``, ``REF``, ``ALT`` (float16 [rows, T]: the ALT - REF
difference and the predictions summed over the TSS bins), then ``SEDR`` and ``SER`` when
asked for, and ``target_ids``, ``target_labels``.

Statistics (the original's ``--stats``; ``pseudo`` is its ``--pseudo``), over the TSS bins
of a row (:class:`~basenji_tf.scoring.sed.GeneWindow`):

* ``SED``: sum(ALT) - sum(REF);
* ``SEDR``: log2(sum(ALT) + pseudo) - log2(sum(REF) + pseudo);
* ``SER``: sum over bins of log2(ALT + pseudo) - log2(REF + pseudo);
* ``REF``, ``ALT``: the sums themselves (always written).

Rows are written in blocks of :data:`BLOCK_ROWS`; a merge of shard files appends the same
blocks in the same order, so the merged file equals a single run's byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import h5py
import numpy as np

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path
from basenji_tf.scoring.outputs import to_float16

SED_STATS = ("SED", "SEDR", "SER", "REF", "ALT")
"""Statistics ``--stats`` may name; SED, REF and ALT are always written."""

BLOCK_ROWS = 1024
"""Rows appended to ``sed.h5`` at once."""

_STRINGS = ("snp", "chr", "ref_allele", "alt_allele", "gene_id", "gene_name")
_INTS = {"pos": np.uint32, "tss": np.int64, "tss_dist": np.int64}


def check_sed_stats(stats: Sequence[str]) -> tuple[str, ...]:
    """The optional statistics among ``stats`` (SEDR, SER), in file order.

    Raises:
        InputError: a name that is not one of :data:`SED_STATS`.
    """
    unknown = [s for s in stats if s not in SED_STATS]
    if unknown:
        raise InputError(
            f"--stats: unknown statistic(s) {', '.join(unknown)}; choose from "
            f"{', '.join(SED_STATS)}"
        )
    return tuple(s for s in ("SEDR", "SER") if s in stats)


def sed_columns(rows: Sequence[tuple], extra_stats: Sequence[str], pseudo: float) -> dict:
    """The ``sed.h5`` columns of scored rows.

    Args:
        rows: (variant, gene record, REF bins [k, T], ALT bins [k, T]) tuples
            (:func:`~basenji_tf.scoring.sed.score_genes`), float32.
        extra_stats: SEDR and/or SER.
        pseudo: log2 pseudocount.

    Returns:
        column name -> values (lists for strings and integers, float64 [rows, T] arrays
        for the statistics).
    """
    # float64 sums, rounded once to float16 on output (docs/precision.md)
    ref = np.array([r.sum(axis=0, dtype=np.float64) for *_, r, _ in rows], dtype=np.float64)
    alt = np.array([a.sum(axis=0, dtype=np.float64) for *_, a in rows], dtype=np.float64)
    columns = {
        "snp": [v.id for v, *_ in rows],
        "chr": [v.chrom for v, *_ in rows],
        "ref_allele": [v.ref for v, *_ in rows],
        "alt_allele": [v.alt for v, *_ in rows],
        "gene_id": [g["gene_id"] for _, g, *_ in rows],
        "gene_name": [g["gene_name"] for _, g, *_ in rows],
        "pos": [v.pos for v, *_ in rows],
        "tss": [g["tss"] for _, g, *_ in rows],
        "tss_dist": [g["tss"] - (v.pos - 1) for v, g, *_ in rows],
        "SED": alt - ref,
        "REF": ref,
        "ALT": alt,
    }
    if "SEDR" in extra_stats:
        columns["SEDR"] = np.log2(alt + pseudo) - np.log2(ref + pseudo)
    if "SER" in extra_stats:
        columns["SER"] = np.array(
            [
                (np.log2(a + np.float64(pseudo)) - np.log2(r + np.float64(pseudo))).sum(axis=0)
                for *_, r, a in rows
            ],
            dtype=np.float64,
        )
    return columns


def write_sed_h5(
    path: str,
    blocks: Iterable[dict],
    target_ids: Sequence[str],
    target_labels: Sequence[str],
    extra_stats: Sequence[str] = (),
) -> int:
    """Write ``sed.h5`` (atomically) from blocks of columns (:func:`sed_columns`).

    Returns:
        the number of rows.
    """
    stats = ("SED", "REF", "ALT", *extra_stats)
    num_targets = len(target_ids)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        for k in _STRINGS:
            h5.create_dataset(k, (0,), dtype=h5py.string_dtype("ascii"), maxshape=(None,))
        for k, dtype in _INTS.items():
            h5.create_dataset(k, (0,), dtype=dtype, maxshape=(None,))
        for k in stats:
            h5.create_dataset(
                k,
                (0, num_targets),
                dtype=np.float16,
                maxshape=(None, num_targets),
                chunks=(64, num_targets),
            )
        h5.create_dataset("target_ids", data=np.array(target_ids, dtype="S"))
        h5.create_dataset("target_labels", data=np.array(target_labels, dtype="S"))
        rows = 0
        for columns in blocks:
            rows = _append(h5, rows, columns, stats)
        return rows


def _append(h5: h5py.File, rows: int, columns: dict, stats: Sequence[str]) -> int:
    """Append one block of columns at row ``rows``; returns the new row count."""
    end = rows + len(columns["snp"])
    if end == rows:
        return rows
    for k in (*_STRINGS, *_INTS):
        h5[k].resize((end,))
        h5[k][rows:] = columns[k]
    for k in stats:
        h5[k].resize((end, h5[k].shape[1]))
        h5[k][rows:] = to_float16(np.asarray(columns[k]))
    return end


def scored_blocks(
    results: Iterable[tuple], extra_stats: Sequence[str], pseudo: float
) -> Iterator[dict]:
    """Columns of every :data:`BLOCK_ROWS` scored rows (the last block may be shorter)."""
    pending: list = []
    for result in results:
        pending.append(result)
        if len(pending) >= BLOCK_ROWS:
            yield sed_columns(pending, extra_stats, pseudo)
            pending = []
    if pending:
        yield sed_columns(pending, extra_stats, pseudo)


def merge_sed(job_files: Sequence[str], out_file: str) -> int:
    """Concatenate shard ``sed.h5`` files (in order) into one; returns its rows."""
    with h5py.File(job_files[0], "r") as first:
        target_ids = [t.decode() for t in first["target_ids"][:]]
        target_labels = [t.decode() for t in first["target_labels"][:]]
        extra_stats = tuple(s for s in ("SEDR", "SER") if s in first)
    return write_sed_h5(
        out_file, _job_blocks(job_files, extra_stats), target_ids, target_labels, extra_stats
    )


def _job_blocks(job_files: Sequence[str], extra_stats: Sequence[str]) -> Iterator[dict]:
    """The shard files' rows in blocks of :data:`BLOCK_ROWS`, across file boundaries."""
    names = (*_STRINGS, *_INTS, "SED", "REF", "ALT", *extra_stats)
    pending: dict[str, list] = {k: [] for k in names}
    size = 0
    for job in job_files:
        with h5py.File(job, "r") as h5:
            n = h5["snp"].shape[0]
            r0 = 0
            while r0 < n:
                r1 = min(n, r0 + BLOCK_ROWS - size)
                for k in names:
                    pending[k].append(h5[k][r0:r1])
                size += r1 - r0
                r0 = r1
                if size == BLOCK_ROWS:
                    yield {k: np.concatenate(v) for k, v in pending.items()}
                    pending, size = {k: [] for k in names}, 0
    if size:
        yield {k: np.concatenate(v) for k, v in pending.items()}

"""Unmappable regions of a mappability BigWig (``unmappable_bed.py``), for ``basenji_data.py -u``.

A base is unmappable when its mappability is not above the threshold (``value <= t``)
or the BigWig has no value for it (a gap between its intervals): the original tests
``value > t`` on pyBigWig's per-base values, which are NaN in gaps. The test is on the
stored float32 value, as the original's (0.2 is stored as 0.2000000030, above ``-t
0.2``). Runs of unmappable bases of at least ``unmap_len`` bp are reported as BED
intervals (0-based, half-open), chromosome by chromosome in the BigWig's header order,
each in position order.

The BigWig is read one chunk of a chromosome at a time through its intervals (runs of
one value), never as one value per base, so memory does not depend on chromosome length.

Differences from the original (``bin/unmappable_bed.py``): a run reaching the end of its
chromosome is reported. The original's test at a chromosome's end is inverted: it drops
such a run, and crashes (``None`` minus an int) on a chromosome ending in mappable bases.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pyBigWig

from basenji_tf.errors import InputError

CHUNK_BP = 1 << 22  # bp of a chromosome read per intervals() call


def unmappable_regions(
    map_bw: str, unmap_len: int = 500, unmap_t: float = 0.2, chunk_bp: int = CHUNK_BP
) -> Iterator[tuple[str, int, int]]:
    """Stream the unmappable runs of a mappability BigWig.

    Args:
        map_bw: mappability BigWig (values in [0, 1], e.g. Umap k-mer uniqueness).
        unmap_len: shortest run reported, in bp (the original ``-l``).
        unmap_t: a base is unmappable when its value is at most this, or missing (``-t``).
        chunk_bp: bp read at a time (memory only; the runs do not depend on it).

    Yields:
        (chrom, start, end): 0-based half-open bp of each run of at least ``unmap_len``.

    Raises:
        InputError: ``map_bw`` is missing, not a BigWig, or ``unmap_len``/``chunk_bp`` is
            not a positive number of bp.
    """
    if unmap_len < 0:
        raise InputError(f"-l {unmap_len}: the shortest unmappable run must be at least 0 bp")
    if chunk_bp < 1:
        raise InputError(f"chunk_bp {chunk_bp}: must be a positive number of bp")
    if math.isnan(unmap_t):
        raise InputError("-t nan: the mappability threshold must be a number")
    bw = _open(map_bw)
    try:
        for chrom, size in bw.chroms().items():
            yield from _chrom_runs(bw, chrom, int(size), unmap_len, unmap_t, chunk_bp)
    finally:
        bw.close()


def _open(path: str):
    """The open BigWig ``path``; InputError naming it when it is not a readable BigWig."""
    try:
        bw = pyBigWig.open(path)
    except RuntimeError:
        bw = None
    if bw is None or not bw.isBigWig():
        if bw is not None:
            bw.close()
        raise InputError(
            f"{path}: cannot open as a BigWig file (missing, truncated or another format); "
            "give the mappability track as BigWig"
        )
    return bw


def _chrom_runs(
    bw, chrom: str, size: int, unmap_len: int, unmap_t: float, chunk_bp: int
) -> Iterator[tuple[str, int, int]]:
    """The unmappable runs of one chromosome, reading ``chunk_bp`` at a time."""
    run_start: int | None = None  # first bp of the open unmappable run

    def close(at: int) -> Iterator[tuple[str, int, int]]:
        nonlocal run_start
        if run_start is not None and at - run_start >= unmap_len:
            yield chrom, run_start, at
        run_start = None

    for chunk_start in range(0, size, chunk_bp):
        chunk_end = min(size, chunk_start + chunk_bp)
        covered = chunk_start  # bp before this are decided
        for iv_start, iv_end, value in bw.intervals(chrom, chunk_start, chunk_end) or ():
            iv_start, iv_end = max(iv_start, chunk_start), min(iv_end, chunk_end)
            if iv_start > covered and run_start is None:
                run_start = covered  # a gap without values: unmappable
            if value > unmap_t:  # False for NaN: unmappable, as the original
                yield from close(iv_start)
            elif run_start is None:
                run_start = iv_start
            covered = iv_end
        if covered < chunk_end and run_start is None:
            run_start = covered
    yield from close(size)

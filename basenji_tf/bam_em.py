"""bam_cov.py's EM re-assignment of multi-mapping reads (``-m``) and its coverage clip.

A read aligned to several loci starts with weight 1/n at each of its n alignments. Each
EM iteration estimates the coverage from the unique reads plus the current multi-read
weights (plus a pseudocount, the multi weight at a position capped at ``--clip_multi``,
the total capped at ``--clip_max``, then smoothed with a Gaussian of ``-s`` sd bp,
truncated at 3 sd) and gives each alignment of a read the share of the read that its
position's estimate holds among the read's alignments. A read's weights always sum to 1,
so the total weight is conserved; weight moves toward loci with unique-read support.

The estimate is needed only within 3 sd of a multi-read position, so it is computed on
those windows only: one compact array in which each window keeps its true neighbours and
windows are separated by pseudocount padding. All reads are re-weighted from one estimate
per iteration, as the original does below 20 M multi-reads.

Differences from the original: ``--clip_multi`` caps the summed multi-read weight at a
position (its help text's meaning), where the original capped each read's entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

log = logging.getLogger(__name__)

PSEUDOCOUNT = 0.01  # coverage pseudocount of the estimate (the original's)
CHANGE_MIN = 0.001  # a read whose weights change less keeps its old weights
CONVERGE_T = 0.05  # stop when the mean change per multi-read falls below this
TRUNCATE = 3.0  # Gaussian kernels reach 3 sd, as in the original


def clip_coverage(coverage: np.ndarray, clip_max: float | None) -> np.ndarray:
    """Cap per-bp coverage at ``clip_max`` (``--clip_max``; None: unchanged).

    The original derives "adaptive" thresholds t_c (the Poisson mean whose tail above c
    holds 1%) for c = 2..clip_max and clips a position whose own count lies in
    (t_c, t_c+1] to c, above t_clip_max to clip_max, and the rest to 1. Since
    t_c+1 < c and t_2 < 1, every branch leaves values up to clip_max unchanged: the rule
    is exactly this cap, which is what it computes.
    """
    return coverage if clip_max is None else np.minimum(coverage, clip_max)


@dataclass(frozen=True)
class MultiReads:
    """Multi-mapped reads as cells: one (track, position) per aligned bp or event.

    Attributes:
        cell_track: int64 [cells] track index of each cell.
        cell_pos: int64 [cells] position (bp) of each cell on its track.
        cell_aln: int64 [cells] alignment of each cell.
        aln_read: int64 [alignments] read of each alignment.
        n_reads: number of multi-mapped reads.
    """

    cell_track: np.ndarray
    cell_pos: np.ndarray
    cell_aln: np.ndarray
    aln_read: np.ndarray
    n_reads: int


@dataclass(frozen=True)
class EMSettings:
    """The options of the estimate: iterations, smoothing sd (bp) and caps."""

    iterations: int
    smooth_sd: float
    clip_max: float | None = None
    clip_multi: float | None = None


def _windows(positions: np.ndarray, length: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Merged [start, end) windows (bp) reaching ``radius`` around sorted positions."""
    starts = np.maximum(positions - radius, 0)
    ends = np.minimum(positions + radius + 1, length)
    new_block = np.ones(len(starts), dtype=bool)
    new_block[1:] = starts[1:] > np.maximum.accumulate(ends)[:-1]
    first = np.flatnonzero(new_block)
    block_ends = np.maximum.reduceat(ends, first)
    return starts[first], block_ends


class _CompactGenome:
    """Unique coverage on the windows around multi-read cells, and each cell's index."""

    def __init__(
        self,
        multi: MultiReads,
        lengths: list[int],
        unique_coverage: Callable[[int], np.ndarray],
        radius: int,
    ):
        pieces = []
        self.cell_index = np.zeros(len(multi.cell_pos), dtype=np.int64)
        offset = 0
        for track in np.unique(multi.cell_track):
            cells = np.flatnonzero(multi.cell_track == track)
            positions = multi.cell_pos[cells]
            starts, ends = _windows(np.unique(positions), lengths[track], radius)
            sizes = ends - starts
            gaps = radius + 1  # pseudocount padding before each window
            block_offsets = offset + gaps + np.concatenate([[0], np.cumsum(sizes + gaps)[:-1]])
            block = np.searchsorted(starts, positions, side="right") - 1
            self.cell_index[cells] = block_offsets[block] + positions - starts[block]
            unique = unique_coverage(int(track))
            for start, end in zip(starts, ends):
                pieces.append(np.zeros(gaps))
                pieces.append(unique[start:end])
            offset = int(block_offsets[-1] + sizes[-1])
        pieces.append(np.zeros(radius + 1))
        self.base = np.concatenate(pieces).astype(np.float64) + PSEUDOCOUNT


def _estimate(
    compact: _CompactGenome, multi: MultiReads, weights: np.ndarray, settings: EMSettings
) -> np.ndarray:
    """Smoothed coverage estimate at each cell: float64 [cells]."""
    multi_cov = np.bincount(
        compact.cell_index, weights[multi.cell_aln], minlength=len(compact.base)
    )
    if settings.clip_multi is not None:
        multi_cov = np.minimum(multi_cov, settings.clip_multi)
    coverage = clip_coverage(compact.base + multi_cov, settings.clip_max)
    if settings.smooth_sd > 0:
        coverage = gaussian_filter1d(coverage, settings.smooth_sd, truncate=TRUNCATE)
    return coverage[compact.cell_index]


def distribute_multi(
    multi: MultiReads,
    weights: np.ndarray,
    lengths: list[int],
    unique_coverage: Callable[[int], np.ndarray],
    settings: EMSettings,
) -> np.ndarray:
    """Re-assign multi-read weight by EM.

    Args:
        multi: the multi-mapped reads' cells.
        weights: float64 [alignments] starting weights; each read's sum to 1.
        lengths: length (bp) of every track.
        unique_coverage: track index -> float [length] unique coverage of that track.
        settings: iterations, smoothing and caps of the estimate.

    Returns:
        float64 [alignments] weights; each read's still sum to 1.
    """
    if len(multi.aln_read) == 0 or settings.iterations <= 0:
        return weights
    radius = int(TRUNCATE * settings.smooth_sd + 0.5)
    compact = _CompactGenome(multi, lengths, unique_coverage, radius)
    cells_per_aln = np.bincount(multi.cell_aln, minlength=len(weights))
    weights = weights.copy()
    for iteration in range(settings.iterations):
        at_cells = _estimate(compact, multi, weights, settings)
        at_aln = np.bincount(multi.cell_aln, at_cells, minlength=len(weights)) / cells_per_aln
        per_read = np.bincount(multi.aln_read, at_aln, minlength=multi.n_reads)
        proposed = at_aln / per_read[multi.aln_read]
        change = np.bincount(multi.aln_read, np.abs(proposed - weights), minlength=multi.n_reads)
        moved = change > CHANGE_MIN
        update = moved[multi.aln_read]
        weights[update] = proposed[update]
        mean_change = change[moved].sum() / multi.n_reads
        log.info(
            "EM iteration %d: %.4f weight change per multi-read (%d reads)",
            iteration + 1,
            mean_change,
            multi.n_reads,
        )
        if mean_change < CONVERGE_T:
            break
    return weights

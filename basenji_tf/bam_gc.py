"""bam_cov.py's GC correction (``-g -f genome.fa``): fit log2 coverage on local GC, divide it out.

The fit follows the original: windows of 6 fragment sd (384 bp) tile each chromosome;
windows are shuffled and those with the fewest multi-read positions come first; up to
20,000 windows without N and without multi-read positions are used (at least 10,000,
taking windows with multi-read positions if needed). Each window gives a Gaussian-
weighted (sd 64 bp) GC fraction x and log2 of the Gaussian-weighted unique coverage plus
a pseudocount y (per-bp coverage capped at 2 first when ``--clip_max`` is set). A cubic
polynomial of x, fitted by ridge regression (alpha 1, intercept unpenalised), predicts y.
Its mean prediction over 10,000 evenly spaced genomic positions is the baseline. The
correction multiplies coverage by 2^(baseline - prediction(GC)), with GC smoothed per bp by
the same Gaussian.

Differences from the original: the original measured a window's GC over [p, p + 384) but
its coverage over [p - 192, p + 192), and applied the log2 fit with exp(); here both use
the same window and 2^(...), so the correction removes the fitted bias exactly. Soft-masked
(lower-case) C/G count as GC. The window shuffle is seeded, so runs are reproducible.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from basenji_tf.files import write_text_atomic
from basenji_tf.genome import Genome

log = logging.getLogger(__name__)

FRAGMENT_SD = 64  # bp; Gaussian sd of the GC and coverage windows
PSEUDOCOUNT = 0.01
ZERO_STOP = 20_000  # windows to use when enough have no multi-read positions
NONZERO_STOP = 10_000  # ... and at least this many, taking windows with some
BASE_SAMPLES = 10_000  # genomic positions averaged for the baseline
RIDGE_ALPHA = 1.0
SEED = 44


@dataclass(frozen=True)
class GCModel:
    """log2 coverage ~ cubic polynomial of local GC fraction.

    Attributes:
        coef: float [4] polynomial coefficients, constant term first.
        base: mean prediction over the genome (log2 coverage).
    """

    coef: tuple[float, float, float, float]
    base: float

    def predict(self, gc: np.ndarray) -> np.ndarray:
        """log2 coverage expected at GC fractions ``gc`` (any shape)."""
        return np.polynomial.polynomial.polyval(gc, self.coef)

    def factor(self, gc: np.ndarray) -> np.ndarray:
        """Multiplier that removes the GC effect: 2^(base - predict(gc))."""
        return np.exp2(self.base - self.predict(gc))


def _kernel() -> np.ndarray:
    """Normalised Gaussian weights over a window of 6 sd (bp offsets -3 sd .. 3 sd - 1)."""
    radius = int(round(3 * FRAGMENT_SD))
    offsets = np.arange(-radius, radius)
    weights = np.exp(-0.5 * (offsets / FRAGMENT_SD) ** 2)
    return weights / weights.sum()


def is_gc(seq: str) -> np.ndarray:
    """float32 [len(seq)]: 1 at C or G (either case), else 0."""
    codes = np.frombuffer(seq.upper().encode(), dtype=np.uint8)
    return np.isin(codes, np.frombuffer(b"CG", dtype=np.uint8)).astype(np.float32)


def smoothed_gc(genome: Genome, chrom: str, length: int) -> np.ndarray:
    """float32 [length] per-bp GC fraction, Gaussian-smoothed (sd 64 bp, 3 sd)."""
    gc = is_gc(genome.fetch(genome.resolve(chrom), 0, length))
    return gaussian_filter1d(gc, FRAGMENT_SD, truncate=3.0)


def fit_ridge_cubic(x: np.ndarray, y: np.ndarray, alpha: float = RIDGE_ALPHA) -> np.ndarray:
    """Ridge regression of y on (x, x^2, x^3) with an unpenalised intercept.

    Returns:
        float [4] coefficients, constant term first.
    """
    features = np.stack([x, x**2, x**3], axis=1)
    mean_x, mean_y = features.mean(axis=0), y.mean()
    centred = features - mean_x
    beta = np.linalg.solve(centred.T @ centred + alpha * np.eye(3), centred.T @ (y - mean_y))
    return np.concatenate([[mean_y - mean_x @ beta], beta])


def _candidate_windows(
    sizes: Sequence[tuple[str, int]], multi_positions: Sequence[np.ndarray], width: int
) -> list[tuple[int, int, int]]:
    """(multi positions, chrom index, start bp) of each window, in the order to try."""
    rows = []
    for ci, (_, length) in enumerate(sizes):
        starts = np.arange(0, length - width + 1, width)
        counts = np.bincount(np.unique(multi_positions[ci]) // width, minlength=len(starts))
        rows.append(np.stack([counts[: len(starts)], np.full(len(starts), ci), starts], 1))
    table = np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)
    table = table[np.random.default_rng(SEED).permutation(len(table))]
    return [tuple(row) for row in table[np.argsort(table[:, 0], kind="stable")]]


def _training_windows(
    genome: Genome, sizes: Sequence[tuple[str, int]], multi_positions: Sequence[np.ndarray]
) -> list[tuple[int, int, float]]:
    """(chrom index, start bp, GC fraction) of the windows the model is fitted on."""
    kernel = _kernel()
    chosen = []
    for n_multi, ci, start in _candidate_windows(sizes, multi_positions, len(kernel)):
        if len(chosen) >= ZERO_STOP or (n_multi > 0 and len(chosen) >= NONZERO_STOP):
            break
        seq = genome.fetch(genome.resolve(sizes[ci][0]), start, start + len(kernel))
        if "N" not in seq:
            chosen.append((ci, start, float(is_gc(seq) @ kernel)))
    return chosen


def fit_gc_model(
    genome: Genome,
    sizes: Sequence[tuple[str, int]],
    unique_coverage: Callable[[int], np.ndarray],
    multi_positions: Sequence[np.ndarray],
    clip: bool,
) -> GCModel:
    """Fit the GC model on unique-read coverage.

    Args:
        genome: the FASTA (``-f``).
        sizes: (name, length bp) of each chromosome, in the BAM's order.
        unique_coverage: chrom index -> float [length] unique coverage (both strands).
        multi_positions: per chromosome, int [n] positions of multi-read events.
        clip: cap per-bp coverage at 2 before averaging (``--clip_max`` given).

    Raises:
        ValueError: fewer than 10 usable windows (genome too small or all N).
    """
    kernel = _kernel()
    windows = _training_windows(genome, sizes, multi_positions)
    if len(windows) < 10:
        raise ValueError(f"only {len(windows)} windows without N to fit the GC model")
    by_chrom: dict[int, list[int]] = {}
    for i, (ci, _, _) in enumerate(windows):
        by_chrom.setdefault(ci, []).append(i)
    log_cov = np.zeros(len(windows))
    for ci, rows in by_chrom.items():
        coverage = unique_coverage(ci)
        starts = np.array([windows[i][1] for i in rows])
        values = coverage[starts[:, None] + np.arange(len(kernel))] + PSEUDOCOUNT
        if clip:
            values = np.minimum(values, 2)
        log_cov[rows] = np.log2(values @ kernel)
    gc = np.array([w[2] for w in windows])
    coef = fit_ridge_cubic(gc, log_cov)
    base = _baseline(genome, sizes, coef, kernel, fallback=gc)
    model = GCModel(tuple(float(c) for c in coef), base)
    explained = 1 - np.var(log_cov - model.predict(gc)) / max(np.var(log_cov), 1e-12)
    log.info("GC model on %d windows explains %.4f of the variance", len(windows), explained)
    return model


def _baseline(
    genome: Genome,
    sizes: Sequence[tuple[str, int]],
    coef: np.ndarray,
    kernel: np.ndarray,
    fallback: np.ndarray,
) -> float:
    """Mean predicted log2 coverage over evenly spaced genomic positions without N.

    ``fallback`` (GC fractions of the training windows) is used if no position qualifies.
    """
    radius = len(kernel) // 2
    ends = np.cumsum([length for _, length in sizes])
    total = int(ends[-1])
    gcs = []
    for gi in np.arange(0, total, total / BASE_SAMPLES)[1:].astype(np.int64):
        ci = int(np.searchsorted(ends, gi, side="right"))
        pos = int(gi - (ends[ci - 1] if ci else 0))
        if pos < radius or pos + radius > sizes[ci][1]:
            continue
        seq = genome.fetch(genome.resolve(sizes[ci][0]), pos - radius, pos + radius)
        if "N" not in seq:
            gcs.append(float(is_gc(seq) @ kernel))
    gcs = np.array(gcs) if gcs else fallback
    return float(np.mean(np.polynomial.polynomial.polyval(gcs, coef)))


def write_gc_table(path: str | os.PathLike, model: GCModel) -> None:
    """The original's ``gc_table.txt``: GC fractions 0, 0.01, ..., 0.99 and their prediction."""
    gc = np.arange(0, 1, 0.01)
    lines = [f"{x:.2f} {y:.6f}" for x, y in zip(gc, model.predict(gc))]
    write_text_atomic(path, "\n".join(lines) + "\n")

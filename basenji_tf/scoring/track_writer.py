"""BigWig tracks from blocks of binned predictions, a group of targets at a time.

:func:`write_track_group` streams blocks (chromosome, first bp, values [bins, targets])
into one BigWig per target, so memory stays at one block whatever the genome size, and at
most :func:`bigwig_group_size` BigWigs are open at once. :class:`Untransform` undoes the
coverage transforms of a targets table.

Differences from the original:

* :class:`Untransform` is the exact inverse of this package's coverage processing
  (:func:`basenji_tf.targets.window_targets`): soft clipping, then ``*_sqrt`` as
  ``(x + 1) ** 2 - 1`` (the original's ``untransform_preds`` raises to 4/3, which undoes the
  ``x ** 0.75`` of another version of its data pipeline), then the scale, which the
  original keeps unless asked.
"""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path

MAX_OPEN_BIGWIGS = 128
Block = tuple[str, int, np.ndarray]  # chromosome, first bp, values [bins, targets]


def bigwig_group_size() -> int:
    """BigWigs written at once: up to 128, within half the process's open-file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_OPEN_BIGWIGS
    return max(1, min(MAX_OPEN_BIGWIGS, (soft - 64) // 2))


@dataclass(frozen=True)
class Untransform:
    """Per target: the inverse of the targets table's clip_soft, sum_stat and scale.

    Attributes:
        clip_soft: soft-clip threshold (NaN: none).
        sqrt: whether sum_stat ends in ``_sqrt``.
        scale: the coverage scale factor.
    """

    clip_soft: tuple[float, ...]
    sqrt: tuple[bool, ...]
    scale: tuple[float, ...]

    @classmethod
    def from_table(cls, table: pd.DataFrame, outputs: Sequence[int], path: str) -> Untransform:
        """The rows of ``outputs`` (table index = model output) of a targets table."""
        missing = [t for t in outputs if t not in table.index]
        if missing:
            raise InputError(
                f"{path}: target {missing[0]} has no row, so its transforms are unknown; "
                "use the targets table of the model's training data"
            )
        rows = table.loc[list(outputs)]

        def column(name: str, default: float) -> tuple[float, ...]:
            if name not in rows.columns:
                return (default,) * len(rows)
            return tuple(float(v) if pd.notna(v) else default for v in rows[name])

        sum_stat = rows["sum_stat"] if "sum_stat" in rows.columns else [""] * len(rows)
        return cls(
            column("clip_soft", np.nan),
            tuple("_sqrt" in str(s) for s in sum_stat),
            column("scale", 1.0),
        )

    def subset(self, positions: Sequence[int]) -> Untransform:
        """The transforms of some targets, by position."""
        return Untransform(
            *(tuple(v[i] for i in positions) for v in (self.clip_soft, self.sqrt, self.scale))
        )

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Predictions [..., targets] on the training scale -> coverage, float32."""
        x = np.asarray(values, dtype=np.float64)
        cs = np.array(self.clip_soft)
        over = ~np.isnan(cs) & (x > np.nan_to_num(cs, nan=np.inf))
        x = np.where(over, cs - 1 + (x - cs + 1) ** 2, x)
        sqrt = np.array(self.sqrt, dtype=bool)
        x = np.where(sqrt, (x + 1) ** 2 - 1, x)
        return (x / np.array(self.scale)).astype(np.float32)


def write_track_group(
    paths: Sequence[str],
    chrom_sizes: Sequence[tuple[str, int]],
    blocks: Iterable[Block],
    bin_bp: int,
    untransform: Untransform | None = None,
) -> None:
    """Write one BigWig per column of the blocks' values.

    Args:
        paths: the BigWigs, each written atomically; at most :func:`bigwig_group_size`.
        chrom_sizes: the header, (chromosome, bp); blocks come in this chromosome order.
        blocks: (chromosome, first bp, values float [bins, len(paths)]), by increasing
            first bp within a chromosome. Bin ``j`` covers ``[first + j*bin_bp, +bin_bp)``;
            bins starting before the end of what is already written (overlapping blocks)
            or at or past the chromosome end are skipped, a bin straddling the end is cut.
        bin_bp: bin width.
        untransform: applied to each block's values first.
    """
    import pyBigWig

    sizes = dict(chrom_sizes)
    with contextlib.ExitStack() as stack:
        bigwigs = []
        for path in paths:
            tmp = stack.enter_context(atomic_path(path))
            bigwig = pyBigWig.open(tmp, "w")
            # closed before atomic_path renames the file (the stack unwinds in reverse)
            stack.callback(bigwig.close)
            bigwig.addHeader([(c, int(n)) for c, n in chrom_sizes])
            bigwigs.append(bigwig)
        written: dict[str, int] = {}
        for chrom, first, values in blocks:
            if chrom not in sizes:
                raise InputError(f"chromosome {chrom} is not in the BigWig header")
            if untransform is not None:
                values = untransform(values)
            lo, n_full, edge = _bin_range(
                first, len(values), bin_bp, written.get(chrom, 0), sizes[chrom]
            )
            for ti, bigwig in enumerate(bigwigs):
                column = np.asarray(values[:, ti], dtype=np.float64)
                if n_full > lo:
                    bigwig.addEntries(
                        chrom,
                        first + lo * bin_bp,
                        values=column[lo:n_full],
                        span=bin_bp,
                        step=bin_bp,
                    )
                if edge:
                    bigwig.addEntries(
                        [chrom],
                        [first + n_full * bin_bp],
                        ends=[sizes[chrom]],
                        values=[float(column[n_full])],
                    )
            if n_full > lo or edge:
                written[chrom] = sizes[chrom] if edge else first + n_full * bin_bp


def _bin_range(
    first: int, bins: int, bin_bp: int, written_to: int, chrom_end: int
) -> tuple[int, int, bool]:
    """Which bins of a block to write.

    Returns:
        (first bin to write, end of the whole bins inside the chromosome, whether bin
        ``n_full`` straddles the chromosome end and is written cut).
    """
    lo = max(0, -(-(written_to - first) // bin_bp))
    n_full = max(lo, min(bins, (chrom_end - first) // bin_bp))
    edge = n_full < bins and first + n_full * bin_bp < chrom_end
    return lo, n_full, edge

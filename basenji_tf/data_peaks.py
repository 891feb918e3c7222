"""basenji_data.py --peaks: contigs limited to the merged peaks of the targets' BED files."""

from __future__ import annotations

from collections.abc import Sequence

from basenji_tf.genome import read_bed_records


def curate_peaks(
    peak_files: Sequence[str], pool_width: int, crop_bp: int
) -> dict[str, list[tuple[int, int]]]:
    """``--peaks``: the merged peaks of every target, each a whole number of bins.

    Args:
        peak_files: the targets' BED / narrowPeak files.
        pool_width: bin width (bp).
        crop_bp: bp added on each side of every peak (the crop of a sequence).

    Returns:
        intervals per chromosome, as the original computes them: each peak record
        widened to one bin (about its midpoint) and by ``crop_bp``; all merged (touching
        ones too, as ``bedtools merge``); each centred on its midpoint with the length
        rounded half to even to whole bins (at least one).

    Differences from the original: the rounded intervals are merged again, so peaks that
    rounding made overlap do not yield the same contig twice; a merged peak shorter than
    half a bin keeps one bin (the original stopped on an assertion); the
    peaks_{cat,merge,full}.bed files are not written.
    """
    widened: dict[str, list[tuple[int, int]]] = {}
    for path in peak_files:
        for record in read_bed_records(path, "peaks file", allow_empty=True):
            start, end = record.start, record.end
            if end - start < pool_width:
                start = (start + end) // 2 - pool_width // 2
                end = start + pool_width
            widened.setdefault(record.chrom, []).append((max(0, start - crop_bp), end + crop_bp))
    curated = {}
    for chrom, intervals in widened.items():
        rounded = []
        for start, end in _merge(sorted(intervals)):
            bins = max(1, round((end - start) / pool_width))
            first = max(0, (start + end) // 2 - bins * pool_width // 2)
            rounded.append((first, first + bins * pool_width))
        curated[chrom] = _merge(rounded)
    return curated


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted intervals with overlapping or touching ones joined."""
    out: list[tuple[int, int]] = []
    for start, end in intervals:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out

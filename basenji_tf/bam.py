"""bam_cov.py: alignments (BAM/CRAM) -> per-bp coverage tracks (BigWig or w5).

Reads are weighted 1/NH (multi-mapped reads share their weight), optionally counted
once at their fragment centre, split by strand and smoothed.

Differences from the original: multi-mapped reads are not re-assigned by EM; they are
weighted 1/NH.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np
import pyBigWig
import pysam
from scipy.ndimage import gaussian_filter1d
from tqdm import tqdm

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path
from basenji_tf.targets import F16_MAX


def alignment_weight(read, multi: str) -> float:
    """Weight of one alignment: 1, or 1/NH for a read aligned NH times (``multi="weight"``).

    ``multi="unique"`` counts every alignment as 1; ``"skip"`` drops multi-mapped reads.
    """
    nh = read.get_tag("NH") if read.has_tag("NH") else 1
    if nh <= 1 or multi == "unique":
        return 1.0
    return 0.0 if multi == "skip" else 1.0 / nh


def bam_chrom_coverage(
    bam,
    chrom: str,
    length: int,
    shift_center: bool = False,
    fragment_length: int = 200,
    multi: str = "weight",
    min_mapq: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-bp coverage of one chromosome, by strand.

    Args:
        bam: an open ``pysam.AlignmentFile`` with an index.
        chrom: the chromosome's name in the BAM header.
        length: the chromosome's length (bp).
        shift_center: count each fragment once at its centre (paired reads: the centre of
            the pair from read 1, proper pairs only; single reads: ``fragment_length // 2``
            downstream of the 5' end); otherwise count every aligned base of every read.
        fragment_length: single-end fragment length (bp) for ``shift_center``.
        multi: "weight" (1/NH), "unique" (weight 1) or "skip" multi-mapped reads.
        min_mapq: skip alignments with a lower mapping quality.

    Returns:
        float32 [length] coverage of fragments on the + strand, and on the - strand (the
        strand of read 1 for pairs).
    """
    plus = np.zeros(length, dtype=np.float32)
    minus = np.zeros(length, dtype=np.float32)
    for read in bam.fetch(chrom):
        if read.is_unmapped or read.is_secondary or read.is_supplementary or read.is_qcfail:
            continue
        if read.mapping_quality < min_mapq:
            continue
        weight = alignment_weight(read, multi)
        if weight == 0:
            continue
        reverse = read.is_reverse
        if read.is_paired and read.is_read2:
            reverse = not reverse
        out = minus if reverse else plus
        if shift_center:
            if read.is_paired:
                if not (read.is_read1 and read.is_proper_pair) or read.template_length == 0:
                    continue
                left = min(read.reference_start, read.next_reference_start)
                center = left + abs(read.template_length) // 2
            elif read.is_reverse:
                center = read.reference_end - 1 - fragment_length // 2
            else:
                center = read.reference_start + fragment_length // 2
            if 0 <= center < length:
                out[center] += weight
        else:
            for start, end in read.get_blocks():
                out[start:end] += weight
    return plus, minus


def write_coverage_track(
    path: str | os.PathLike, chrom_values: Iterable[tuple[str, np.ndarray]], sizes: dict
) -> None:
    """Write per-bp coverage atomically as BigWig (``.bw``) or w5 HDF5 (``.h5``/``.w5``).

    Args:
        path: output file; the extension picks the format.
        chrom_values: (chrom, float [size]) pairs in ``sizes`` order, produced one at a
            time so that only one chromosome is in memory.
        sizes: chromosome lengths (bp) for the BigWig header.

    The w5 layout is the original's: one float16 dataset per chromosome (gzip, shuffle),
    values below 0.003 set to 0. BigWig runs of equal values become one entry; zeros are
    left out.
    """
    path = str(path)
    with atomic_path(path) as tmp:
        if path.lower().endswith((".bw", ".bigwig")):
            bw = pyBigWig.open(tmp, "w")
            bw.addHeader(list(sizes.items()))
            for chrom, values in chrom_values:
                values = values.astype(np.float32)
                change = np.flatnonzero(np.diff(values)) + 1
                starts = np.concatenate([[0], change])
                ends = np.concatenate([change, [len(values)]])
                vals = values[starts]
                keep = vals != 0
                if keep.any():
                    bw.addEntries(
                        [chrom] * int(keep.sum()),
                        starts[keep].tolist(),
                        ends=ends[keep].tolist(),
                        values=vals[keep].tolist(),
                    )
            bw.close()
        elif path.lower().endswith((".h5", ".hdf5", ".w5", ".wdf5")):
            with h5py.File(tmp, "w") as handle:
                for chrom, values in chrom_values:
                    values = np.clip(values, -F16_MAX, F16_MAX).astype(np.float16)
                    values[np.abs(values) < 0.003] = 0
                    handle.create_dataset(
                        chrom, data=values, dtype="float16", compression="gzip", shuffle=True
                    )
        else:
            raise InputError(f"{path}: output must end in .bw/.bigwig or .h5/.w5")


def bam_coverage(
    bam_file: str | os.PathLike,
    out_file: str | os.PathLike,
    strand: bool = False,
    smooth_sigma: float = 0.0,
    **kwargs,
) -> list[str]:
    """BAM/CRAM -> per-bp coverage track(s), one chromosome at a time.

    Args:
        bam_file: coordinate-sorted, indexed BAM or CRAM.
        out_file: ``.bw`` or ``.h5``/``.w5``; with ``strand``, ``<stem>+<ext>`` and
            ``<stem>-<ext>`` are written instead.
        strand: separate tracks per strand.
        smooth_sigma: Gaussian smoothing sigma (bp) of the per-bp coverage (0: none);
            the total is preserved.
        kwargs: options of :func:`bam_chrom_coverage`.

    Returns:
        the files written.
    """
    if not Path(bam_file).is_file():
        raise FileNotFoundError(f"{bam_file}: alignment file not found")
    try:
        bam = pysam.AlignmentFile(str(bam_file))
        bam.check_index()
    except (ValueError, OSError) as err:
        raise InputError(
            f"{bam_file}: cannot read as an indexed BAM/CRAM ({err}); sort and index it "
            "with `samtools sort` and `samtools index`"
        ) from None
    sizes = dict(zip(bam.references, bam.lengths))
    out_file = str(out_file)
    stem, ext = os.path.splitext(out_file)
    outputs = [f"{stem}+{ext}", f"{stem}-{ext}"] if strand else [out_file]

    def smooth(values: np.ndarray) -> np.ndarray:
        return gaussian_filter1d(values, smooth_sigma, mode="constant") if smooth_sigma else values

    def chrom_values(which: int):
        for chrom, length in tqdm(sizes.items(), desc=Path(outputs[which]).name, leave=False):
            plus, minus = bam_chrom_coverage(bam, chrom, length, **kwargs)
            if strand:
                yield chrom, smooth(plus if which == 0 else minus)
            else:
                yield chrom, smooth(plus + minus)

    with bam:
        for which, path in enumerate(outputs):
            write_coverage_track(path, chrom_values(which), sizes)
    return outputs

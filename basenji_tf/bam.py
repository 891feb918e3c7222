"""bam_cov.py: alignments (BAM/CRAM) -> per-bp coverage tracks (BigWig or w5), as the original.

Each read counts once, at one event position: its 5' end moved ``-v`` bp downstream (+
strand) or ``-w`` bp upstream (- strand); with ``-c`` the fragment centre (a proper pair's
template centre from read 1; a single read's 5' end moved half the fragment length,
learned from the cross-strand correlation unless ``--fragment_length`` is given). With
``-a`` every aligned base counts instead. A read aligned to n loci (NH tag > 1, or BWA's
XA tag) gives each alignment 1/n; ``-m`` re-assigns that weight by EM
(:mod:`basenji_tf.bam_em`); reads with more than ``-t`` loci are dropped, ``-u`` counts every
alignment as a unique read. Then, per chromosome: the per-bp sum is capped at
``--clip_max``, smoothed (``--smooth_out`` sd, bp), GC-corrected (``-g``,
:mod:`basenji_tf.bam_gc`) and written.

Events are kept as segments (a few integers per read), so the genome-wide coverage never
is: one chromosome's dense coverage exists at a time.

Differences from the original: the + strand event is the 5' base itself (the original's
sat one bp before it); events past a chromosome end are dropped (the original's spilled
into the next chromosome); a paired read counts on its fragment's strand (read 1's) with
``--strand``; with ``-c`` only read 1 of a proper pair counts, once, so no halving is
needed and ``--clip_max`` caps fragments, not fragment ends; improper pairs are skipped with
``-c``; a multi-read whose alignments do not all appear (NH larger than the alignments
present) shares its weight among those present instead of being discarded; ``-o`` is
created only when something is written there (the GC table); ``-b`` (the original's
unfinished k-mer cut-bias model) is refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator

import h5py
import numpy as np
import pyBigWig
from scipy.ndimage import gaussian_filter1d

from basenji_tf.bam_em import TRUNCATE, EMSettings, clip_coverage, distribute_multi
from basenji_tf.bam_gc import GCModel, fit_gc_model, smoothed_gc, write_gc_table
from basenji_tf.bam_reads import (
    CoverageOptions,
    Segments,
    initial_weights,
    learn_shift_single,
    multi_reads,
    open_alignments,
    place_segments,
    read_alignments,
)
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path
from basenji_tf.genome import Genome
from basenji_tf.targets import F16_MAX

__all__ = ["CoverageOptions", "TrackCoverage", "bam_coverage", "output_paths", "write_tracks"]

log = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".bw", ".bigwig", ".h5", ".hdf5", ".w5", ".wdf5")


def _dense(start: np.ndarray, end: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """float32 [length] sum of weighted [start, end) segments."""
    if np.all(end - start == 1):  # events: no running sum needed
        return np.bincount(start, weights, minlength=length).astype(np.float32)
    values = np.bincount(
        np.concatenate([start, end]), np.concatenate([weights, -weights]), minlength=length + 1
    )[:length]
    np.cumsum(values, out=values)
    values[np.abs(values) < 1e-9] = 0  # what adding and removing fractions leaves behind
    return values.astype(np.float32)


class TrackCoverage:
    """Dense per-bp coverage of one track at a time, from segments and multi-read weights.

    Args:
        segments: placed segments (:func:`place_segments`).
        lengths: length (bp) of each track.
        weights: float [alignments] weight of each multi-read alignment.
    """

    def __init__(self, segments: Segments, lengths: list[int], weights: np.ndarray):
        order = np.argsort(segments.track, kind="stable")
        self.start, self.end = segments.start[order], segments.end[order]
        self.aln = segments.aln[order]
        self.bounds = np.searchsorted(segments.track[order], np.arange(len(lengths) + 1))
        self.lengths = lengths
        self.weights = weights

    def _part(self, track: int, multi: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        part = slice(self.bounds[track], self.bounds[track + 1])
        pick = (self.aln[part] >= 0) == multi
        aln = self.aln[part][pick]
        weights = self.weights[aln] if multi else np.ones(len(aln))
        return self.start[part][pick], self.end[part][pick], weights

    def unique(self, track: int) -> np.ndarray:
        """float32 [length] unique-read coverage of ``track``."""
        return _dense(*self._part(track, False), self.lengths[track])

    def multi(self, track: int) -> np.ndarray:
        """float32 [length] multi-read coverage of ``track`` at the current weights."""
        return _dense(*self._part(track, True), self.lengths[track])


class _TrackWriter:
    """One output track: BigWig (``.bw``/``.bigwig``) or the original's w5 HDF5 (``.h5``/``.w5``).

    BigWig runs of equal values become one entry and zeros are left out. The w5 layout is
    one float16 dataset per chromosome (gzip, shuffle), values below 0.003 set to 0.
    """

    def __init__(self, path: str, tmp: str, sizes: list[tuple[str, int]]):
        self.bigwig = path.lower().endswith((".bw", ".bigwig"))
        if self.bigwig:
            self.handle = pyBigWig.open(tmp, "w")
            self.handle.addHeader(sizes)
        else:
            self.handle = h5py.File(tmp, "w")

    def add(self, chrom: str, values: np.ndarray) -> None:
        if self.bigwig:
            values = values.astype(np.float32)
            change = np.flatnonzero(np.diff(values)) + 1
            starts = np.concatenate([[0], change])
            ends = np.concatenate([change, [len(values)]])
            keep = values[starts] != 0
            if keep.any():
                self.handle.addEntries(
                    [chrom] * int(keep.sum()),
                    starts[keep].tolist(),
                    ends=ends[keep].tolist(),
                    values=values[starts][keep].tolist(),
                )
        else:
            values = np.clip(values, -F16_MAX, F16_MAX).astype(np.float16)
            values[np.abs(values) < 0.003] = 0
            self.handle.create_dataset(
                chrom, data=values, dtype="float16", compression="gzip", shuffle=True
            )

    def close(self) -> None:
        self.handle.close()


def output_paths(out_file: str | os.PathLike, stranded: bool) -> list[str]:
    """``out_file``, or ``<stem>+<ext>`` and ``<stem>-<ext>`` with ``--strand``."""
    stem, ext = os.path.splitext(str(out_file))
    return [f"{stem}+{ext}", f"{stem}-{ext}"] if stranded else [str(out_file)]


def write_tracks(
    paths: list[str],
    sizes: list[tuple[str, int]],
    chrom_values: Iterable[tuple[str, list[np.ndarray]]],
) -> None:
    """Write one track per path atomically, one chromosome at a time.

    Args:
        paths: output files (``.bw`` or ``.h5``/``.w5``), one per strand.
        sizes: (chromosome, length bp) in output order.
        chrom_values: (chromosome, [float [length] per path]) in ``sizes`` order.
    """
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(path)) for path in paths]
        writers = [_TrackWriter(path, tmp, sizes) for path, tmp in zip(paths, tmps)]
        try:
            for chrom, values in chrom_values:
                for writer, track in zip(writers, values):
                    writer.add(chrom, track)
        finally:
            for writer in writers:
                writer.close()


def _gc_model(
    options: CoverageOptions,
    genome: Genome,
    sizes: list[tuple[str, int]],
    coverage: TrackCoverage,
    segments: Segments,
) -> GCModel:
    """Fit the GC model on unique coverage (strands summed) and write ``<out_dir>/gc_table.txt``."""
    strands = 2 if options.stranded else 1

    def chrom_unique(ci: int) -> np.ndarray:
        return sum(coverage.unique(ci * strands + s) for s in range(strands))

    multi = segments.aln >= 0
    chrom_of = segments.track[multi] // strands
    positions = [segments.start[multi][chrom_of == ci] for ci in range(len(sizes))]
    try:
        model = fit_gc_model(genome, sizes, chrom_unique, positions, options.clip_max is not None)
    except ValueError as err:
        raise InputError(f"{genome.path}: -g: {err}; drop -g for this genome") from None
    os.makedirs(options.out_dir, exist_ok=True)
    write_gc_table(os.path.join(options.out_dir, "gc_table.txt"), model)
    return model


def bam_coverage(
    bam_file: str | os.PathLike,
    out_file: str | os.PathLike,
    options: CoverageOptions | None = None,
) -> list[str]:
    """BAM/CRAM -> per-bp coverage track(s) (see the module docstring for the steps).

    Args:
        bam_file: coordinate-sorted, indexed BAM or CRAM (any order with ``unsorted``).
        out_file: ``.bw`` or ``.h5``/``.w5``; with ``options.stranded``, ``<stem>+<ext>``
            and ``<stem>-<ext>`` are written instead.
        options: see :class:`CoverageOptions` (None: the defaults).

    Returns:
        the files written.
    """
    options = options or CoverageOptions()
    options.check()
    paths = output_paths(out_file, options.stranded)
    for path in paths:
        if not path.lower().endswith(OUTPUT_SUFFIXES):
            raise InputError(f"{path}: output must end in .bw/.bigwig or .h5/.w5")
    genome = Genome(options.fasta_file) if options.gc else None
    reference = options.reference or options.fasta_file
    with open_alignments(bam_file, reference, options.unsorted) as bam:
        sizes = list(zip(bam.references, bam.lengths))
        segments = read_alignments(bam, options, [name for name, _ in sizes])
    strands = 2 if options.stranded else 1
    lengths = [length for _, length in sizes for _ in range(strands)]
    shift = 0
    if segments.direction.any():
        shift = learn_shift_single(segments, lengths, strands)
        log.info("single-end fragment shift learned: %d bp", shift)
    segments = place_segments(segments, shift, lengths)
    weights = initial_weights(segments)
    coverage = TrackCoverage(segments, lengths, weights)
    settings = EMSettings(
        options.multi_em, options.smooth_multi_sd, options.clip_max, options.clip_max_multi
    )
    coverage.weights = distribute_multi(
        multi_reads(segments), weights, lengths, coverage.unique, settings
    )
    gc_model = _gc_model(options, genome, sizes, coverage, segments) if options.gc else None

    def track_values(track: int, gc_factor: np.ndarray | None) -> np.ndarray:
        multi = coverage.multi(track)
        if options.clip_max_multi is not None:
            multi = np.minimum(multi, options.clip_max_multi)
        values = clip_coverage(coverage.unique(track) + multi, options.clip_max)
        if options.smooth_out_sd > 0:
            values = gaussian_filter1d(values, options.smooth_out_sd, truncate=TRUNCATE)
        return values if gc_factor is None else values * gc_factor

    def chrom_values() -> Iterator[tuple[str, list[np.ndarray]]]:
        for ci, (chrom, length) in enumerate(sizes):
            factor = None
            if gc_model is not None:
                factor = gc_model.factor(smoothed_gc(genome, chrom, length)).astype(np.float32)
            yield chrom, [track_values(ci * strands + s, factor) for s in range(strands)]

    write_tracks(paths, sizes, chrom_values())
    return paths

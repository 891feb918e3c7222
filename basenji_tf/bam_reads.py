"""bam_cov.py's reading step: BAM/CRAM records -> coverage events (segments) and weights.

:class:`CoverageOptions` holds the command's options. :func:`read_alignments` turns every
counted record into segments: one 1-bp event per alignment (its shifted 5' end, or with
``-c`` the fragment centre), or with ``-a`` its aligned blocks. Multi-mapped reads (NH tag
> 1, or BWA's XA alternative hits) keep a read index per alignment, so the EM
(:mod:`basenji_tf.bam_em`) can move their weight. A few integers per read are kept, never
the genome-wide coverage.
"""

from __future__ import annotations

import logging
import os
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam
from scipy.ndimage import gaussian_filter1d

from basenji_tf.bam_em import TRUNCATE, MultiReads
from basenji_tf.errors import InputError

log = logging.getLogger(__name__)

SHIFT_MIN, SHIFT_MAX = 50, 350  # bp; fragment lengths tried when learning the -c shift
_XA_CIGAR_REF = re.compile(r"(\d+)[MDN=X]")


@dataclass(frozen=True)
class CoverageOptions:
    """bam_cov.py's options (the original's names; lengths in bp).

    Attributes:
        all_overlap: count every aligned base (``-a``) instead of one event per read.
        shift_center: count each fragment once at its centre (``-c``).
        fragment_length: single-end fragment length for ``-c``; None learns it.
        shift_forward_end: bp the + strand event moves downstream (``-v``).
        shift_reverse_end: bp the - strand event moves upstream (``-w``).
        stranded: one track per strand (``--strand``).
        all_unique: count every alignment of a multi-mapped read as 1 (``-u``).
        skip_multi: drop multi-mapped reads.
        maps_t: drop reads aligned to more loci than this (``-t``).
        min_mapq: drop alignments of lower mapping quality.
        multi_em: EM iterations re-assigning multi-mapped reads (``-m``; 0: 1/n each).
        smooth_multi_sd: sd of the EM's coverage estimate (``-s``).
        smooth_out_sd: sd of the output smoothing (``--smooth_out``; 0: none).
        clip_max: cap of per-bp coverage (``--clip_max``).
        clip_max_multi: cap of per-bp multi-read coverage (``--clip_multi``).
        gc: correct for GC content (``-g``; needs ``fasta_file``).
        fasta_file: genome FASTA (``-f``); also a CRAM's reference.
        out_dir: where the GC table goes (``-o``).
        reference: a CRAM's reference FASTA (``--reference``).
        unsorted: read the file in its order, without an index (``--unsorted``).
        cut_bias_kmer: the original's unfinished ``-b``; refused.
    """

    all_overlap: bool = False
    shift_center: bool = False
    fragment_length: int | None = None
    shift_forward_end: int = 0
    shift_reverse_end: int = 0
    stranded: bool = False
    all_unique: bool = False
    skip_multi: bool = False
    maps_t: int = 20
    min_mapq: int = 0
    multi_em: int = 0
    smooth_multi_sd: float = 16.0
    smooth_out_sd: float = 0.0
    clip_max: int | None = None
    clip_max_multi: float | None = None
    gc: bool = False
    fasta_file: str | None = None
    out_dir: str = "bam_cov"
    reference: str | None = None
    unsorted: bool = False
    cut_bias_kmer: bool | None = None

    def check(self) -> None:
        """Raise InputError for an impossible combination of options."""
        if self.cut_bias_kmer:
            raise InputError(
                "-b: the original's k-mer cut-bias normalisation was never finished (it "
                "stops with an error there); drop -b"
            )
        if self.gc and not self.fasta_file:
            raise InputError("-g: GC correction needs the genome; add -f genome.fa")
        if self.all_overlap and (
            self.shift_center or self.shift_forward_end or self.shift_reverse_end
        ):
            raise InputError(
                "-a: counting every aligned base cannot be combined with the event shifts "
                "-c/-v/-w; drop one"
            )


@dataclass(frozen=True)
class Segments:
    """Coverage events: [start, end) bp on a track, unique (aln -1) or of a multi alignment.

    Attributes:
        track, start, end, direction, aln: int64 [segments]. ``direction`` is +1/-1 for a
            single-end ``-c`` event still to be moved by the learned shift, else 0.
        aln_read: int64 [alignments] the multi-mapped read of each alignment.
        n_reads: number of multi-mapped reads.
    """

    track: np.ndarray
    start: np.ndarray
    end: np.ndarray
    direction: np.ndarray
    aln: np.ndarray
    aln_read: np.ndarray
    n_reads: int


def open_alignments(
    path: str | os.PathLike, reference: str | None = None, unsorted: bool = False
) -> pysam.AlignmentFile:
    """Open a BAM or CRAM; unless ``unsorted``, it must be coordinate-sorted and indexed."""
    path = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: alignment file not found")
    if path.lower().endswith(".cram") and reference is None:
        raise InputError(f"{path}: a CRAM needs its reference; add --reference genome.fa")
    try:
        bam = pysam.AlignmentFile(path, reference_filename=reference)
    except (ValueError, OSError) as err:
        raise InputError(f"{path}: cannot read as BAM/CRAM ({err}); check the file") from None
    if unsorted:
        return bam
    order = bam.header.to_dict().get("HD", {}).get("SO", "coordinate")
    if order != "coordinate":
        bam.close()
        raise InputError(
            f"{path}: alignments are sorted by {order}, not by coordinate; run `samtools "
            "sort` and `samtools index`, or pass --unsorted"
        )
    try:
        bam.check_index()
    except (ValueError, AttributeError):
        bam.close()
        raise InputError(
            f"{path}: no index (.bai/.csi/.crai) found; run `samtools index {path}`, or "
            "pass --unsorted to read it without one"
        ) from None
    return bam


def _records(bam: pysam.AlignmentFile, names: list[str], unsorted: bool) -> Iterator:
    if unsorted:
        yield from bam.fetch(until_eof=True)
    else:
        for name in names:
            yield from bam.fetch(name)


def _xa_loci(tag: str, chrom_index: dict[str, int]) -> list[tuple[int, int, int, bool]]:
    """BWA's alternative hits ``chr,+pos,CIGAR,NM;...`` -> (chrom, start, end, reverse)."""
    loci = []
    for hit in filter(None, tag.split(";")):
        chrom, pos, cigar = hit.split(",")[:3]
        if chrom in chrom_index:
            start = abs(int(pos)) - 1
            span = sum(int(n) for n in _XA_CIGAR_REF.findall(cigar))
            loci.append((chrom_index[chrom], start, start + span, pos.startswith("-")))
    return loci


def _placements(
    start: int, end: int, reverse: bool, template: int, options: CoverageOptions
) -> tuple[int, int, int]:
    """(event bp, event bp + 1, direction) of one alignment; direction != 0: shift later."""
    if options.shift_center:
        if template:
            event = end - template + template // 2 if reverse else start + template // 2
        elif options.fragment_length is None:
            anchor = end - 1 if reverse else start
            return anchor, anchor + 1, -1 if reverse else 1
        else:
            half = options.fragment_length // 2
            event = end - 1 - half if reverse else start + half
    elif reverse:
        event = end - 1 - options.shift_reverse_end
    else:
        event = start + options.shift_forward_end
    return event, event + 1, 0


class _SegmentTable:
    """Growable columns of :class:`Segments` filled one alignment at a time."""

    def __init__(self):
        self.columns = {key: array("q") for key in ("track", "start", "end", "direction", "aln")}
        self.aln_read = array("q")
        self.read_rows: dict[tuple[str, bool], int] = {}

    def add(self, track: int, spans: Iterable[tuple[int, int, int]], aln: int) -> None:
        for start, end, direction in spans:
            for key, value in zip(
                ("track", "start", "end", "direction", "aln"),
                (track, start, end, direction, aln),
            ):
                self.columns[key].append(value)

    def new_alignment(self, read_key: tuple[str, bool]) -> int:
        row = self.read_rows.setdefault(read_key, len(self.read_rows))
        self.aln_read.append(row)
        return len(self.aln_read) - 1

    def freeze(self) -> Segments:
        arrays = {key: np.frombuffer(col, dtype=np.int64) for key, col in self.columns.items()}
        aln_read = np.frombuffer(self.aln_read, dtype=np.int64)
        return Segments(**arrays, aln_read=aln_read, n_reads=len(self.read_rows))


def read_alignments(
    bam: pysam.AlignmentFile, options: CoverageOptions, names: list[str]
) -> Segments:
    """Every counted alignment of the file as segments (see :class:`Segments`).

    Skips unmapped, supplementary and QC-failed records and those below ``min_mapq``;
    secondary alignments are the other loci of multi-mapped reads and count.
    """
    chrom_index = {name: i for i, name in enumerate(names)}
    strands = 2 if options.stranded else 1
    table = _SegmentTable()
    dropped = 0
    for read in _records(bam, names, options.unsorted):
        if read.is_unmapped or read.is_supplementary or read.is_qcfail:
            continue
        if read.mapping_quality < options.min_mapq:
            continue
        template = 0
        if options.shift_center and read.is_paired:
            if not (read.is_read1 and read.is_proper_pair) or read.template_length == 0:
                continue
            template = abs(read.template_length)
        loci = [(read.reference_id, read.reference_start, read.reference_end, read.is_reverse)]
        nh = read.get_tag("NH") if read.has_tag("NH") else 1
        if nh <= 1 and read.has_tag("XA"):
            loci += _xa_loci(read.get_tag("XA"), chrom_index)
        maps = max(nh, len(loci))
        multi = maps > 1 and not options.all_unique
        if maps > options.maps_t or (multi and options.skip_multi):
            dropped += 1
            continue
        fragment_reverse = read.is_paired and read.is_read2
        for li, (ci, start, end, reverse) in enumerate(loci):
            strand = int(reverse != fragment_reverse) if options.stranded else 0
            aln = table.new_alignment((read.query_name, read.is_read1)) if multi else -1
            if options.all_overlap:
                blocks = read.get_blocks() if li == 0 else [(start, end)]
                spans = [(s, e, 0) for s, e in blocks]
            else:
                spans = [_placements(start, end, reverse, template, options)]
            table.add(ci * strands + strand, spans, aln)
    if dropped:
        log.info("%d multi-mapped reads dropped (-t %d or --skip_multi)", dropped, options.maps_t)
    return table.freeze()


def learn_shift_single(segments: Segments, lengths: list[int], strands: int) -> int:
    """The ``-c`` shift (bp) of single-end reads: half the cross-strand correlation peak.

    As the original: on the longest chromosome, unique + strand 5' ends at i and - strand
    5' ends at i + d are paired for d in [50, 350) (the outer 5% at each end and multi-read
    positions left out); the pair counts by d are smoothed (Gaussian sd 12) and the shift is
    (50 + argmax) // 2. The original's mean-centred covariance differs from these counts by
    terms that do not depend on d, so the peak is the same.
    """
    chrom_lengths = lengths[::strands]
    ci = int(np.argmax(chrom_lengths))
    length = chrom_lengths[ci]
    on_chrom = (segments.track // strands == ci) & (segments.direction != 0)
    masked = np.unique(segments.start[on_chrom & (segments.aln >= 0)])
    keep = on_chrom & (segments.aln < 0)
    keep &= ~np.isin(segments.start, masked)
    buf = length // 20
    keep &= (segments.start >= buf) & (segments.start < length - buf)
    forward = np.sort(segments.start[keep & (segments.direction > 0)])
    reverse = np.sort(segments.start[keep & (segments.direction < 0)])
    lo = np.searchsorted(reverse, forward + SHIFT_MIN)
    hi = np.searchsorted(reverse, forward + SHIFT_MAX)
    if (hi - lo).sum() == 0:
        raise InputError(
            f"-c: too few single-end reads on both strands to learn the fragment length "
            f"({len(forward)} + and {len(reverse)} - strand); give --fragment_length"
        )
    pairs = np.repeat(np.arange(len(forward)), hi - lo)
    partner = np.arange(len(pairs)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo)
    distance = reverse[np.repeat(lo, hi - lo) + partner] - forward[pairs]
    counts = np.bincount(distance - SHIFT_MIN, minlength=SHIFT_MAX - SHIFT_MIN).astype(float)
    smoothed = gaussian_filter1d(counts, 12, truncate=TRUNCATE)
    return int((SHIFT_MIN + int(np.argmax(smoothed))) // 2)


def place_segments(segments: Segments, shift: int, lengths: list[int]) -> Segments:
    """Move pending events by ``shift`` bp and clip segments to their track; drop empty ones."""
    start = segments.start + segments.direction * shift
    end = segments.end + segments.direction * shift
    limit = np.asarray(lengths, dtype=np.int64)[segments.track]
    start, end = np.clip(start, 0, limit), np.clip(end, 0, limit)
    keep = end > start
    return Segments(
        segments.track[keep],
        start[keep],
        end[keep],
        np.zeros(int(keep.sum()), dtype=np.int64),
        segments.aln[keep],
        segments.aln_read,
        segments.n_reads,
    )


def multi_reads(segments: Segments) -> MultiReads:
    """The multi-read segments as one cell per bp (the EM's unit)."""
    multi = np.flatnonzero(segments.aln >= 0)
    sizes = segments.end[multi] - segments.start[multi]
    index = np.repeat(multi, sizes)
    offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return MultiReads(
        segments.track[index],
        segments.start[index] + offsets,
        segments.aln[index],
        segments.aln_read,
        segments.n_reads,
    )


def initial_weights(segments: Segments) -> np.ndarray:
    """float64 [alignments]: 1/n for each of the n alignments of a read that were kept."""
    kept = np.zeros(len(segments.aln_read), dtype=bool)
    kept[segments.aln[segments.aln >= 0]] = True
    per_read = np.bincount(segments.aln_read[kept], minlength=segments.n_reads)
    return np.where(kept, 1.0 / np.maximum(per_read[segments.aln_read], 1), 0.0)

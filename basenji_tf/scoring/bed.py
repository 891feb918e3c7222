"""BED regions and the model windows centred on them (REFERENCE 7.3, 7.5)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from basenji_tf.dna import dna_1hot, hot1_rc
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome, read_bed_records
from basenji_tf.textio import display_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Region:
    """A model window centred on a BED record.

    Attributes:
        chrom: FASTA chromosome name.
        start: first bp of the window, 0-based (may lie before the chromosome).
        end: end of the window, 0-based exclusive (may run past the chromosome).
        strand: '+' or '-' (BED column 6; '+' when absent).
        name: BED column 4, or ``chrom:start-end`` of the record.
    """

    chrom: str
    start: int
    end: int
    strand: str
    name: str


@dataclass(frozen=True)
class Site:
    """A BED record, clipped to its chromosome, and the model window centred on it.

    Attributes:
        window: the model window.
        start: the record's first bp, 0-based.
        end: the record's end, 0-based exclusive (at most the chromosome's length).
    """

    window: Region
    start: int
    end: int


def read_bed_windows(
    bed_file: str, genome: Genome, seq_length: int, stranded: bool = True
) -> list[Region]:
    """Windows of ``seq_length`` bp centred on each BED record: see :func:`read_bed_sites`."""
    return [site.window for site in read_bed_sites(bed_file, genome, seq_length, stranded)]


def read_bed_sites(
    bed_file: str, genome: Genome, seq_length: int, stranded: bool = True
) -> list[Site]:
    """Windows of ``seq_length`` bp centred on each BED record (mid = (start + end) // 2).

    With ``stranded`` False every window is '+' (basenji_predict_bed ignores strands).

    A record that runs past its chromosome's end is clipped to it, with one warning for
    all such records, and centred on what is left: the window still holds ``seq_length``
    bp (N-padded off the chromosome). A record that starts at or past the end is an
    error: the BED is for another genome build.

    Args:
        bed_file: BED, plain, gzip or bgzip; ``-`` reads standard input.
        genome: the FASTA; chromosome names are resolved to its own.
        seq_length: window length, bp.
        stranded: read the strand from column 6.

    Returns:
        one :class:`Site` per record, in file order.

    Raises:
        InputError: a malformed line, a chromosome the FASTA lacks, a record that starts
            past its chromosome, or an empty file.
    """
    sites = []
    clipped = []
    for record in read_bed_records(bed_file):
        where = f"{display_name(bed_file)}: line {record.line}"
        chrom = genome.resolve(record.chrom, source=where)
        size = genome.sizes[chrom]
        if record.start >= size:
            raise InputError(
                f"{where}: start {record.start} is past the end of {chrom} ({size} bp); "
                "use a BED of the FASTA's genome build"
            )
        end = min(record.end, size)
        if end < record.end:
            clipped.append(record.line)
        fields = record.fields
        strand = fields[5] if stranded and len(fields) > 5 and fields[5] in ("+", "-") else "+"
        name = fields[3] if len(fields) > 3 else f"{chrom}:{record.start}-{record.end}"
        w0 = (record.start + end) // 2 - seq_length // 2
        sites.append(Site(Region(chrom, w0, w0 + seq_length, strand, name), record.start, end))
    if clipped:
        log.warning(
            "%s: %d records run past their chromosome's end and were clipped to it (lines %s)",
            display_name(bed_file),
            len(clipped),
            ", ".join(map(str, clipped[:5])),
        )
    return sites


def region_1hot(genome: Genome, region: Region, n_uniform: bool = False) -> np.ndarray:
    """One-hot [L, 4] of a window (N-padded off the chromosome; minus strand: RC)."""
    seq_1hot = dna_1hot(genome.fetch(region.chrom, region.start, region.end), n_uniform)
    return hot1_rc(seq_1hot).copy() if region.strand == "-" else seq_1hot

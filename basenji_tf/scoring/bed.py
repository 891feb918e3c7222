"""BED regions and the model windows centred on them (REFERENCE 7.3, 7.5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from basenji_tf.dna import dna_1hot, hot1_rc
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome


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


def read_bed_windows(
    bed_file: str, genome: Genome, seq_length: int, stranded: bool = True
) -> list[Region]:
    """Windows of ``seq_length`` bp centred on each BED record (mid = (start + end) // 2).

    With ``stranded`` False every window is '+' (basenji_predict_bed ignores strands).

    Raises:
        InputError: a line with fewer than 3 columns or non-integer coordinates.
    """
    regions = []
    with open(bed_file) as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                chrom, start, end = fields[0], int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                raise InputError(
                    f"{bed_file}:{line_no}: a BED line needs chrom, start and end (integers) "
                    "separated by tabs"
                ) from None
            chrom = genome.resolve(chrom, source=f"{bed_file}:{line_no}")
            strand = fields[5] if stranded and len(fields) > 5 and fields[5] in "+-" else "+"
            name = fields[3] if len(fields) > 3 else f"{chrom}:{start}-{end}"
            mid = (start + end) // 2
            w0 = mid - seq_length // 2
            regions.append(Region(chrom, w0, w0 + seq_length, strand, name))
    return regions


def region_1hot(genome: Genome, region: Region, n_uniform: bool = False) -> np.ndarray:
    """One-hot [L, 4] of a window (N-padded off the chromosome; minus strand: RC)."""
    seq_1hot = dna_1hot(genome.fetch(region.chrom, region.start, region.end), n_uniform)
    return hot1_rc(seq_1hot).copy() if region.strand == "-" else seq_1hot

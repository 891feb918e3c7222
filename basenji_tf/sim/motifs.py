"""Transcription factor motifs of the simulator: IUPAC consensus strings, log-odds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T", "W": "AT", "S": "CG", "R": "AG", "Y": "CT",
    "K": "GT", "M": "AC", "N": "ACGT",
}  # fmt: skip


@dataclass(frozen=True)
class Motif:
    """A transcription factor motif as an IUPAC consensus (read 5' to 3' on '+')."""

    name: str
    jaspar_id: str
    consensus: str
    weight: float
    """Contribution of one bound site to accessibility (before cooperativity)."""
    source: str

    @property
    def width(self) -> int:
        return len(self.consensus)


# Consensus strings written from memory of the JASPAR logos; "core" means only the
# high-information centre of a longer matrix is used. sim.json repeats these notes.
MOTIFS: tuple[Motif, ...] = (
    Motif("CTCF", "MA0139.1", "TGGCCACCAGGGGGCGCTA", 2.0,
          "JASPAR MA0139.1 consensus (19 bp)"),
    Motif("GATA1", "MA0035.4", "WGATAAGR", 1.0,
          "core of JASPAR MA0035.4 (the matrix has weak flanks not modelled)"),
    Motif("SPI1", "MA0080.5", "AAAGAGGAAGTG", 1.0,
          "core of JASPAR MA0080 (PU.1 GGAA box); matrix version from memory, unsure"),
    Motif("CEBPB", "MA0466.2", "ATTGCGCAAT", 1.0,
          "JASPAR MA0466.2 palindromic consensus"),
    Motif("HNF4A", "MA0114.4", "GGGGTCAAAGGTCA", 1.0,
          "DR1 consensus of JASPAR MA0114 (HNF4A); matrix version from memory, unsure"),
    Motif("SP1", "MA0079.3", "GGGGCGGGGC", 0.8,
          "GC box consensus of JASPAR MA0079 (SP1); version from memory, unsure"),
    Motif("TBP", "MA0108.2", "TATAAAAG", 0.3,
          "TATA box core of JASPAR MA0108 (TBP); the matrix is longer, version unsure"),
)  # fmt: skip
MOTIF_BY_NAME = {m.name: m for m in MOTIFS}
ENHANCER_FACTORS = ("GATA1", "SPI1", "CEBPB", "HNF4A")
CONSTITUTIVE_FACTORS = ("CTCF", "SP1", "TBP")

# Probability mass on the consensus base(s) of a position; the rest is spread evenly.
_PWM_CONSENSUS_MASS = 0.91
# Score of an N in the sequence: the log-odds of a rare base, so N never binds.
_N_LOGODDS = float(np.log(0.01 / 0.25))


def motif_logodds(motif: Motif) -> np.ndarray:
    """Log-odds matrix (natural log, uniform background) of a consensus motif.

    Returns:
        float64 [width, 5]: columns A, C, G, T, N.
    """
    table = np.empty((motif.width, 5))
    for j, code in enumerate(motif.consensus):
        allowed = IUPAC[code]
        probs = np.full(4, (1 - _PWM_CONSENSUS_MASS) / max(4 - len(allowed), 1))
        for base in allowed:
            probs["ACGT".index(base)] = _PWM_CONSENSUS_MASS / len(allowed)
        probs /= probs.sum()
        table[j, :4] = np.log(probs / 0.25)
        table[j, 4] = _N_LOGODDS
    return table


def tata_centre(strand: str) -> int:
    """Offset of the TATA box centre from its window start, read on its own strand.

    The same base counted from either end, so a reverse-complemented promoter keeps its
    start site exactly (the width is even).
    """
    width = MOTIF_BY_NAME["TBP"].width
    return width // 2 if strand == "+" else width - 1 - width // 2

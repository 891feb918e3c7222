"""Simulator settings: tracks, cell types, true-model constants, genome sizes, splits.

The chromosomes held out for validation and testing are the same in both species.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from basenji_tf.sim.motifs import MOTIFS


@dataclass(frozen=True)
class Track:
    """One coverage track: an assay in a cell type, and its targets-table row."""

    identifier: str
    assay: str  # DNASE, CAGE or CHIP
    cell_type: str
    description: str
    clip: float
    clip_soft: float
    scale: float
    sum_stat: str


def _dnase(cell: str) -> Track:
    return Track(f"DNASE_{cell[:3]}", "DNASE", cell, f"DNASE:{cell}-like", 128, 32, 2.0, "mean")


def _cage(cell: str) -> Track:
    return Track(f"CAGE_{cell[:3]}", "CAGE", cell, f"CAGE:{cell}-like", 384, 64, 1.0, "sum_sqrt")


# Factor activity per cell type; constitutive factors (CTCF, SP1, TBP) are 1 everywhere.
CELL_TYPES: dict[str, dict[str, float]] = {
    "erythroid": {"GATA1": 1.0, "SPI1": 0.1, "CEBPB": 0.2, "HNF4A": 0.0},
    "myeloid": {"GATA1": 0.1, "SPI1": 1.0, "CEBPB": 0.8, "HNF4A": 0.0},
    "hepatic": {"GATA1": 0.0, "SPI1": 0.0, "CEBPB": 0.6, "HNF4A": 1.0},
}


@dataclass(frozen=True)
class TrueModelParams:
    """Constants of the true model (the formulas: :mod:`basenji_tf.sim.true_model`)."""

    motif_delta: float = 1.5
    motif_temp: float = 0.5
    acc_sigma_bp: int = 60
    promoter_base: float = 0.2
    sp1_half_window_bp: int = 150
    tss_offset_bp: int = 30
    cage_sigma_bp: int = 8
    cage_alpha: float = 0.3
    cage_amp: float = 200.0
    distal_lambda_bp: int = 8000
    distal_max_bp: int = 20000
    dnase_amp: float = 10.0
    dnase_bg: float = 0.02
    dnase_frag_bp: int = 50
    chip_amp: float = 50.0
    chip_bg: float = 0.02
    chip_sigma_bp: int = 50
    chip_acc_leak: float = 0.1
    chip_frag_bp: int = 150
    dispersion: dict[str, float] = field(
        default_factory=lambda: {"DNASE": 5.0, "CAGE": 2.0, "CHIP": 5.0}
    )
    effect_half_window_bp: int = 8192

    @property
    def context_bp(self) -> int:
        """How far (bp, each side) a changed base can move expected coverage.

        An upper bound: the distal kernel plus the whole chain of local steps (motif
        width, SP1 window, TSS offset, smoothing kernels, fragment length).
        """
        local = (
            max(m.width for m in MOTIFS)
            + self.sp1_half_window_bp
            + self.tss_offset_bp
            + 4 * max(self.acc_sigma_bp, self.chip_sigma_bp, self.cage_sigma_bp)
            + max(self.dnase_frag_bp, self.chip_frag_bp)
        )
        return self.distal_max_bp + local


@dataclass(frozen=True)
class SizeConfig:
    """Genome sizes and element densities of one ``--size``."""

    human_chrom_bp: tuple[int, ...]
    telomere_bp: int
    gap_bp: int
    segment_bp: int
    spacer_bp: tuple[int, int]
    gene_spacing_bp: int
    variants: dict[str, int]


SIZES: dict[str, SizeConfig] = {
    "default": SizeConfig(
        (1_600_000, 1_400_000, 1_000_000, 1_000_000), 10_000, 20_000, 150_000,
        (2_000, 20_000), 25_000, {"human": 300, "mouse": 120},
    ),
    "small": SizeConfig(
        (500_000, 400_000, 300_000, 300_000), 5_000, 10_000, 60_000,
        (1_000, 10_000), 25_000, {"human": 120, "mouse": 50},
    ),
    "tiny": SizeConfig(
        (120_000, 100_000, 90_000, 90_000), 2_000, 3_000, 20_000,
        (500, 4_000), 20_000, {"human": 24, "mouse": 12},
    ),
}  # fmt: skip

CHROMS = ("chr1", "chr2", "chr3", "chr4")
VALID_CHROMS = ("chr3",)
TEST_CHROMS = ("chr4",)
TRAIN_CHROMS = ("chr1", "chr2")

SPECIES_TRACKS: dict[str, tuple[Track, ...]] = {
    "human": (
        _dnase("erythroid"), _dnase("myeloid"), _dnase("hepatic"),
        _cage("erythroid"), _cage("myeloid"), _cage("hepatic"),
        Track("CHIP_CTCF_ery", "CHIP", "erythroid", "CHIP:CTCF:erythroid-like",
              128, 32, 2.0, "mean"),
    ),
    "mouse": (_dnase("erythroid"), _dnase("hepatic"), _cage("erythroid"), _cage("hepatic")),
}  # fmt: skip

ORTHOLOG_FRACTION = 0.65
SUBSTITUTION_RATE = 0.12
PROTECTED_SUBSTITUTION_RATE = 0.01
BASE_FREQS = (0.29, 0.21, 0.21, 0.29)


def rng_stream(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per named stream, so parts do not shift one another."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])

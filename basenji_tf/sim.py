"""The ground-truth simulator: two related genomes, regulatory grammar, tracks, variants.

``simulate(out_dir, seed, size)`` writes a human-like and a mouse-like genome whose
coverage tracks are a known function of their sequence, so that a model trained on them
can be checked against the truth (accuracy on held-out chromosomes, variant effects).

The true model (:class:`TrueModel`), all coordinates in bp:

1. Binding. Each factor has a position weight matrix built from a JASPAR consensus
   (:data:`MOTIFS`); the occupancy of every window on both strands is
   ``sigmoid((score - max_score + delta) / temp)``, so an exact consensus match binds
   (~0.95) and a mismatch at a fixed position almost abolishes binding (~0.02).
2. Accessibility, per cell type ``c``: ``u_c = G_60 * sum_m activity[c, m] weight_m
   site_m`` (site occupancies at window centres, ``G_60`` a Gaussian of sd 60 bp with
   peak 1), made cooperative by ``acc_c = u_c^2 / (1 + u_c)``: one site opens chromatin
   weakly, clusters of sites (enhancers, promoters) strongly.
3. Promoters: a TATA box (TBP) is a transcription start 30 bp downstream on its strand,
   with strength ``tata * (promoter_base + number of SP1 sites within +-150 bp)``.
4. Distal regulation: ``D_c = (acc_c * k) / 150`` with ``k(d) = exp(-|d| / 8000)`` for
   ``|d| <= 20000``; CAGE is ``cage_amp * (G_8 * start_strength) * (alpha + D_c)``
   (``G_8`` a Gaussian of sd 8 bp with sum 1), so enhancers 10-20 kb away still change it.
5. Tracks: DNase-like ``dnase_amp * (bg + acc_c)``; CAGE-like as above; ChIP-like
   (CTCF) ``chip_amp * (bg + activity * G_50 * ctcf_sites + leak * acc_c)``. DNase and
   ChIP are fragment coverage: fragment starts are drawn with mean ``rate / frag_bp``
   and each covers ``frag_bp`` bp; CAGE counts 5' ends per bp. Counts are
   negative-binomial (gamma-Poisson). The noise-free expected coverage is the same
   computation with the means instead of the draws.

Variant effects are computed by running the noise-free model on the reference and on
the alternative sequence of a window around the variant and subtracting the sums of
expected coverage over ``+-effect_half_window_bp`` (8192) around it.

The mouse-like genome is assembled from the orthologous segments of the human-like one
(substitutions outside planted elements, species-specific insertions on both sides,
segments moved between training chromosomes and inverted), plus mouse-specific spacer
sequence with its own elements; the alignment is written as a UCSC net file.

Differences from the original: Basenji has no simulator. Tracks here are unstranded
(one CAGE track per cell type, no ``strand_pair`` column), and enhancers act on every
promoter within range (no insulation by CTCF).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyBigWig
from scipy import signal
from tqdm import tqdm

from basenji_tf.dna import N_INDEX
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path, write_text_atomic

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Motifs

_IUPAC = {
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
        allowed = _IUPAC[code]
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


def _rc_table(table: np.ndarray) -> np.ndarray:
    """The matrix of the reverse strand: reverse positions, complement A<->T, C<->G."""
    out = table[::-1].copy()
    out[:, :4] = out[:, 3::-1]
    return out


# --------------------------------------------------------------------------------------
# Configuration


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
class ModelParams:
    """Constants of the true model (see the module docstring for the formulas)."""

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


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per named stream, so parts do not shift one another."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


# --------------------------------------------------------------------------------------
# The true model


def _conv_same(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Centred convolution (odd symmetric kernel), floored at 0 against FFT round-off."""
    return np.maximum(signal.oaconvolve(x, kernel, mode="same"), 0.0)


def _gauss(sigma: int, peak_one: bool) -> np.ndarray:
    d = np.arange(-4 * sigma, 4 * sigma + 1)
    k = np.exp(-0.5 * (d / sigma) ** 2)
    return k if peak_one else k / k.sum()


def _shift(x: np.ndarray, by: int) -> np.ndarray:
    """Move values ``by`` bp to the right (left if negative), zero-filled."""
    out = np.zeros_like(x)
    if by >= 0:
        out[by:] = x[: len(x) - by]
    else:
        out[:by] = x[-by:]
    return out


def fragment_coverage(starts: np.ndarray, frag_bp: int) -> np.ndarray:
    """Coverage of fragments of ``frag_bp`` bp centred on their start positions.

    Args:
        starts: [L] fragment counts (or expected counts) per bp.
        frag_bp: fragment length in bp.

    Returns:
        [L] coverage per bp (float64; exact integers for integer counts).
    """
    length = len(starts)
    cum = np.concatenate([[0.0], np.cumsum(starts, dtype=np.float64)])
    pos = np.arange(length)
    lo = np.clip(pos - frag_bp // 2, 0, length)
    hi = np.clip(pos - frag_bp // 2 + frag_bp, 0, length)
    return cum[hi] - cum[lo]


Sites = dict[str, np.ndarray]
"""Occupancy per motif: float32 [2, L] indexed by window start (row 0 '+', row 1 '-')."""


class TrueModel:
    """The noise-free map from sequence to expected per-bp coverage of each track.

    Args:
        tracks: the tracks to compute, in output order.
        params: model constants.
    """

    def __init__(self, tracks: Sequence[Track], params: ModelParams | None = None):
        self.tracks = tuple(tracks)
        self.params = params or ModelParams()
        p = self.params
        self._tables = {m.name: (motif_logodds(m), _rc_table(motif_logodds(m))) for m in MOTIFS}
        self._max_score = {m.name: float(t[0][:, :4].max(axis=1).sum()) for m, t in
                           zip(MOTIFS, self._tables.values())}  # fmt: skip
        self._acc_kernel = _gauss(p.acc_sigma_bp, peak_one=True)
        d = np.arange(-p.distal_max_bp, p.distal_max_bp + 1)
        self._distal_kernel = np.exp(-np.abs(d) / p.distal_lambda_bp) / self._acc_kernel.sum()
        self._sp1_kernel = np.ones(2 * p.sp1_half_window_bp + 1)
        self._cage_kernel = _gauss(p.cage_sigma_bp, peak_one=False)
        self._chip_kernel = _gauss(p.chip_sigma_bp, peak_one=True)

    # ---- binding
    def scan_motif(self, index: np.ndarray, motif: Motif) -> np.ndarray:
        """Occupancy of every window of one motif, float32 [2, L] (see :meth:`scan`)."""
        index = np.asarray(index, dtype=np.intp)
        w = motif.width
        out = np.zeros((2, len(index)), dtype=np.float32)
        n = len(index) - w + 1
        if n > 0:
            for strand, table in enumerate(self._tables[motif.name]):
                score = np.zeros(n)
                for j in range(w):
                    score += table[j][index[j : j + n]]
                z = score - self._max_score[motif.name] + self.params.motif_delta
                out[strand, :n] = 1.0 / (1.0 + np.exp(-z / self.params.motif_temp))
        return out

    def scan(self, index: np.ndarray) -> Sites:
        """Occupancy of every motif window on both strands.

        Args:
            index: uint8 [L] base indexes (A0 C1 G2 T3 N4).

        Returns:
            Sites: per motif float32 [2, L] by window start; windows running past the
            end are 0.
        """
        return {motif.name: self.scan_motif(index, motif) for motif in MOTIFS}

    def _centred_sum(self, sites: Sites, name: str) -> np.ndarray:
        """Occupancy of both strands moved from window start to window centre."""
        return _shift(sites[name].sum(axis=0, dtype=np.float64), MOTIF_BY_NAME[name].width // 2)

    # ---- coverage
    def accessibility(self, sites: Sites, cell_type: str) -> np.ndarray:
        """Cooperative accessibility ``u^2 / (1 + u)`` of one cell type, [L] float64."""
        activity = CELL_TYPES[cell_type]
        drive = 0.0
        for motif in MOTIFS:
            a = activity.get(motif.name, 1.0) * motif.weight
            if a:
                drive = drive + a * self._centred_sum(sites, motif.name)
        u = _conv_same(drive, self._acc_kernel)
        return u * u / (1.0 + u)

    def start_strength(self, sites: Sites) -> np.ndarray:
        """Transcription start strength per bp (TATA boxes and nearby SP1), [L] float64."""
        p = self.params
        sp1_near = p.promoter_base + _conv_same(self._centred_sum(sites, "SP1"), self._sp1_kernel)
        fwd = _shift(sites["TBP"][0].astype(np.float64), tata_centre("+")) * sp1_near
        rev = _shift(sites["TBP"][1].astype(np.float64), tata_centre("-")) * sp1_near
        return _shift(fwd, p.tss_offset_bp) + _shift(rev, -p.tss_offset_bp)

    def rates(self, sites: Sites) -> list[tuple[np.ndarray, int | None]]:
        """Per track: mean events per bp and the fragment length (None for CAGE).

        DNase and ChIP events are fragment starts (coverage = fragment box of them);
        CAGE events are 5' tags counted where they fall.
        """
        p = self.params
        acc_cache: dict[str, np.ndarray] = {}
        starts = bound = None
        out = []
        for track in self.tracks:
            cell = track.cell_type
            if cell not in acc_cache:
                acc_cache[cell] = self.accessibility(sites, cell)
            acc = acc_cache[cell]
            if track.assay == "DNASE":
                rate = p.dnase_amp * (p.dnase_bg + acc)
                out.append((rate / p.dnase_frag_bp, p.dnase_frag_bp))
            elif track.assay == "CAGE":
                if starts is None:
                    starts = _conv_same(self.start_strength(sites), self._cage_kernel)
                distal = _conv_same(acc, self._distal_kernel)
                out.append((p.cage_amp * starts * (p.cage_alpha + distal), None))
            elif track.assay == "CHIP":
                if bound is None:
                    bound = _conv_same(self._centred_sum(sites, "CTCF"), self._chip_kernel)
                activity = CELL_TYPES[cell].get("CTCF", 1.0)
                rate = p.chip_amp * (p.chip_bg + activity * bound + p.chip_acc_leak * acc)
                out.append((rate / p.chip_frag_bp, p.chip_frag_bp))
            else:
                raise ValueError(f"unknown assay {track.assay!r}")
        return out

    def expected(self, sites: Sites) -> np.ndarray:
        """Noise-free expected coverage per bp of every track.

        Args:
            sites: output of :meth:`scan` for a sequence of L bp.

        Returns:
            float64 [L, num_tracks]: expected BigWig values (fragment coverage for
            DNase/ChIP, 5' tag counts for CAGE).
        """
        columns = [
            rate if frag is None else fragment_coverage(rate, frag)
            for rate, frag in self.rates(sites)
        ]
        return np.stack(columns, axis=1)

    def sample(self, sites: Sites, rng: np.random.Generator) -> np.ndarray:
        """Observed coverage with negative-binomial (gamma-Poisson) event counts.

        Returns:
            float32 [L, num_tracks] integer-valued coverage per bp.
        """
        out = []
        for track, (rate, frag) in zip(self.tracks, self.rates(sites)):
            disp = self.params.dispersion[track.assay]
            counts = rng.poisson(rng.gamma(disp, rate / disp))
            out.append(counts if frag is None else fragment_coverage(counts, frag))
        return np.stack(out, axis=1).astype(np.float32)

    # ---- variants
    def splice(
        self, index: np.ndarray, sites: Sites, pos: int, ref_len: int, alt: np.ndarray
    ) -> tuple[np.ndarray, Sites, dict[str, float]]:
        """Sequence and sites after replacing ``index[pos:pos+ref_len]`` by ``alt``.

        Only windows overlapping the change are rescanned; the others are taken from
        ``sites`` (shifted by the length change), so the result equals :meth:`scan` of
        the new sequence at a fraction of the cost.

        Returns:
            (new index [L'], new sites, per motif the change of summed occupancy).
        """
        alt = np.asarray(alt, dtype=np.uint8)
        new_index = np.concatenate([index[:pos], alt, index[pos + ref_len :]])
        new_sites: Sites = {}
        change = {}
        for motif in MOTIFS:
            w = motif.width
            lo = max(pos - w + 1, 0)
            fresh = self.scan_motif(new_index[lo : pos + len(alt) + w - 1], motif)
            fresh = fresh[:, : pos + len(alt) - lo]
            old = sites[motif.name]
            new_sites[motif.name] = np.concatenate(
                [old[:, :lo], fresh, old[:, pos + ref_len :]], axis=1
            )
            change[motif.name] = float(fresh.sum() - old[:, lo : pos + ref_len].sum())
        return new_index, new_sites, change


# --------------------------------------------------------------------------------------
# Genome construction


@dataclass
class Site:
    """A planted motif instance (0-based start, on ``strand``)."""

    chrom: str
    start: int
    motif: str
    strand: str
    element: str

    @property
    def end(self) -> int:
        return self.start + MOTIF_BY_NAME[self.motif].width


@dataclass
class Gene:
    gene_id: str
    gene_name: str
    chrom: str
    tss: int  # 0-based bp of the first transcribed base
    strand: str
    start: int  # 0-based half-open gene extent
    end: int
    program: str  # housekeeping or the factor driving its enhancers
    ortholog: str = ""


@dataclass
class Chromosome:
    """A chromosome under construction: sequence, N runs, occupied (planted) bases."""

    name: str
    index: np.ndarray  # uint8 [L]
    planted: np.ndarray  # bool [L], planted elements plus padding

    @property
    def length(self) -> int:
        return len(self.index)

    def is_free(self, start: int, end: int) -> bool:
        """[start, end) lies on the chromosome, holds no N and nothing planted."""
        if start < 0 or end > self.length:
            return False
        return not (self.planted[start:end].any() or (self.index[start:end] == N_INDEX).any())


def _background(length: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(4, size=length, p=BASE_FREQS).astype(np.uint8)


def _motif_instance(motif: Motif, strand: str, rng: np.random.Generator) -> np.ndarray:
    """A random exact match of the consensus (IUPAC codes resolved), as indexes."""
    bases = "".join(rng.choice(list(_IUPAC[c])) for c in motif.consensus)
    index = np.array(["ACGT".index(b) for b in bases], dtype=np.uint8)
    return 3 - index[::-1] if strand == "-" else index


class _Planter:
    """Plants elements (clusters of motif sites) into a chromosome."""

    pad_bp = 50

    def __init__(self, chrom: Chromosome, rng: np.random.Generator, prefix: str):
        self.chrom = chrom
        self.rng = rng
        self.prefix = prefix
        self.sites: list[Site] = []
        self.count = 0

    def plant(self, layout: list[tuple[str, int, str]], kind: str) -> str | None:
        """Plant sites given as (motif, start, strand) if their span is free."""
        start = min(s for _, s, _ in layout)
        end = max(s + MOTIF_BY_NAME[m].width for m, s, _ in layout)
        if not self.chrom.is_free(start - self.pad_bp, end + self.pad_bp):
            return None
        self.count += 1
        element = f"{self.prefix}{kind}{self.count:05d}"
        for motif, site_start, strand in layout:
            instance = _motif_instance(MOTIF_BY_NAME[motif], strand, self.rng)
            self.chrom.index[site_start : site_start + len(instance)] = instance
            self.sites.append(Site(self.chrom.name, site_start, motif, strand, element))
        self.chrom.planted[start - self.pad_bp : end + self.pad_bp] = True
        return element

    def _strand(self) -> str:
        return "+" if self.rng.random() < 0.5 else "-"

    def enhancer(self, center: int, factor: str) -> str | None:
        """2-4 sites of ``factor`` and 0-1 of another enhancer factor within ~150 bp."""
        names = [factor] * int(self.rng.integers(2, 5))
        if self.rng.random() < 0.5:
            names.append(str(self.rng.choice([f for f in ENHANCER_FACTORS if f != factor])))
        self.rng.shuffle(names)
        layout, cursor = [], 0
        for name in names:
            layout.append((name, cursor, self._strand()))
            cursor += MOTIF_BY_NAME[name].width + int(self.rng.integers(4, 20))
        offset = center - cursor // 2
        return self.plant([(m, s + offset, st) for m, s, st in layout], "enh")

    def ctcf(self, center: int) -> str | None:
        """One CTCF site centred on ``center``, random orientation."""
        return self.plant([("CTCF", center - 9, self._strand())], "ctcf")

    def promoter(self, tss: int, strand: str, n_sp1: int) -> str | None:
        """TATA box 30 bp upstream of ``tss`` on ``strand`` and SP1 boxes further up."""
        sign = 1 if strand == "+" else -1
        centre_tata = tss - sign * ModelParams.tss_offset_bp
        layout = [("TBP", centre_tata - tata_centre(strand), strand)]
        for k in range(n_sp1):
            centre = centre_tata - sign * (32 + 24 * k)
            layout.append(("SP1", centre - 5, self._strand()))
        return self.plant(layout, "prom")


def _plant_genes(
    chrom: Chromosome, planter: _Planter, size: SizeConfig, rng: np.random.Generator,
    gene_prefix: str, first_number: int,
) -> list[Gene]:  # fmt: skip
    """Genes every ~gene_spacing_bp, each with a promoter and 0-4 enhancers 1-20 kb away."""
    programs = ("housekeeping",) + ENHANCER_FACTORS
    genes = []
    x = size.telomere_bp + rng.uniform(0.2, 1.0) * size.gene_spacing_bp
    while x < chrom.length - size.telomere_bp - 1000:
        tss, strand = int(x), ("+" if rng.random() < 0.5 else "-")
        x += rng.uniform(0.5, 1.5) * size.gene_spacing_bp
        program = str(rng.choice(programs))
        n_sp1 = 3 if program == "housekeeping" else int(rng.integers(1, 3))
        if planter.promoter(tss, strand, n_sp1) is None:
            continue
        if program != "housekeeping":
            for _ in range(int(rng.integers(1, 5))):
                distance = int(rng.uniform(1000, ModelParams.distal_max_bp))
                side = 1 if rng.random() < 0.5 else -1
                planter.enhancer(tss + side * distance, program)
        length = int(rng.integers(3000, 30000))
        start, end = (tss, tss + length) if strand == "+" else (tss - length + 1, tss + 1)
        start, end = _clip_to_sequence(chrom, tss, start, end)
        number = first_number + len(genes)
        genes.append(
            Gene(f"{gene_prefix}{number:04d}", f"GENE{number}", chrom.name, tss, strand,
                 start, end, program)
        )  # fmt: skip
    return genes


def _clip_to_sequence(chrom: Chromosome, tss: int, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) around ``tss`` so it contains no N and stays on the chromosome."""
    start, end = max(start, 0), min(end, chrom.length)
    is_n = np.flatnonzero(chrom.index[start:end] == N_INDEX) + start
    left, right = is_n[is_n < tss], is_n[is_n > tss]
    return (int(left.max()) + 1 if len(left) else start), (int(right.min()) if len(right) else end)


def _plant_scattered(
    chrom: Chromosome, planter: _Planter, rng: np.random.Generator, lo: int, hi: int,
    n_enhancers: int, n_ctcf: int,
) -> None:  # fmt: skip
    """Orphan enhancers and CTCF sites at random free places in [lo, hi)."""
    if hi - lo < 1000:
        return
    for _ in range(n_enhancers):
        planter.enhancer(int(rng.integers(lo, hi)), str(rng.choice(ENHANCER_FACTORS)))
    for _ in range(n_ctcf):
        planter.ctcf(int(rng.integers(lo, hi)))


@dataclass
class Cut:
    """A species-specific insertion inside an orthologous segment (human coordinates)."""

    pos: int
    human_bp: int
    mouse_bp: int


@dataclass
class Segment:
    """A stretch of a human chromosome and, if orthologous, its alignment to mouse."""

    chrom: str
    start: int
    end: int
    orthologous: bool
    cuts: list[Cut] = field(default_factory=list)
    # Filled in when the mouse genome is assembled.
    q_chrom: str = ""
    q_start: int = 0
    q_size: int = 0
    strand: str = "+"
    blocks: list[tuple[int, int, int]] = field(default_factory=list)  # (t, offset, size)
    gaps: list[tuple[int, int, int, int]] = field(default_factory=list)  # (t, h, offset, m)

    def q_interval(self, offset: int, size: int) -> tuple[int, int]:
        """Mouse forward-strand interval of [offset, offset+size) of the oriented copy."""
        if self.strand == "+":
            return self.q_start + offset, self.q_start + offset + size
        end = self.q_start + self.q_size
        return end - offset - size, end - offset


@dataclass
class SpeciesGenome:
    name: str
    chroms: list[Chromosome]
    genes: list[Gene]
    sites: list[Site]

    @property
    def sizes(self) -> dict[str, int]:
        return {c.name: c.length for c in self.chroms}

    def chrom(self, name: str) -> Chromosome:
        return next(c for c in self.chroms if c.name == name)


def build_human(size: SizeConfig, seed: int) -> tuple[SpeciesGenome, list[Segment]]:
    """The human-like genome and its division into (orthologous or not) segments."""
    rng = _rng(seed, "human-genome")
    chroms, genes, sites, segments = [], [], [], []
    for name, length in zip(CHROMS, size.human_chrom_bp):
        index = _background(length, rng)
        index[: size.telomere_bp] = N_INDEX
        index[length - size.telomere_bp :] = N_INDEX
        gap_start = int(rng.integers(int(0.3 * length), int(0.7 * length)))
        index[gap_start : gap_start + size.gap_bp] = N_INDEX
        chrom = Chromosome(name, index, np.zeros(length, dtype=bool))
        planter = _Planter(chrom, rng, f"hs_{name}_")
        genes += _plant_genes(chrom, planter, size, rng, "hs_g", len(genes) + 1)
        _plant_scattered(chrom, planter, rng, size.telomere_bp, length - size.telomere_bp,
                         length // 40_000, length // 25_000)  # fmt: skip
        sites += planter.sites
        chroms.append(chrom)
        segments += _segment(chrom, size, rng)
    return SpeciesGenome("human", chroms, genes, sites), segments


def _segment(chrom: Chromosome, size: SizeConfig, rng: np.random.Generator) -> list[Segment]:
    """Cut the chromosome (between telomeres) into segments at unplanted bases."""
    lo, hi = size.telomere_bp, chrom.length - size.telomere_bp
    bounds = [lo]
    while True:
        nxt = bounds[-1] + int(rng.uniform(0.6, 1.4) * size.segment_bp)
        while nxt < hi and chrom.planted[nxt]:
            nxt += 1
        if nxt >= hi - size.segment_bp // 2:
            break
        bounds.append(nxt)
    bounds.append(hi)
    spans = list(zip(bounds[:-1], bounds[1:]))
    # A fixed share of the segments without N per chromosome (not a coin flip each), so
    # every held-out chromosome keeps a mouse counterpart.
    eligible = [k for k, (s, e) in enumerate(spans) if not (chrom.index[s:e] == N_INDEX).any()]
    chosen = rng.choice(eligible, size=max(1, round(ORTHOLOG_FRACTION * len(eligible))),
                        replace=False)  # fmt: skip
    segments = []
    for k, (start, end) in enumerate(spans):
        segment = Segment(chrom.name, start, end, k in chosen)
        if segment.orthologous:
            segment.cuts = _cuts(chrom, start, end, rng)
        segments.append(segment)
    return segments


def _cuts(chrom: Chromosome, start: int, end: int, rng: np.random.Generator) -> list[Cut]:
    """1-3 human-only, mouse-only or two-sided insertions away from planted elements."""
    cuts: list[Cut] = []
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(["human", "mouse", "both"])
        human_bp = int(rng.integers(200, 2000)) if kind != "mouse" else 0
        mouse_bp = int(rng.integers(200, 2000)) if kind != "human" else 0
        for _attempt in range(20):
            pos = int(rng.integers(start + 500, end - 500 - human_bp))
            clear = not chrom.planted[pos - 1 : pos + human_bp + 1].any()
            apart = all(
                pos + human_bp + 200 < c.pos or c.pos + c.human_bp + 200 < pos for c in cuts
            )
            if clear and apart:
                cuts.append(Cut(pos, human_bp, mouse_bp))
                break
    return sorted(cuts, key=lambda c: c.pos)


def _rc_index(index: np.ndarray) -> np.ndarray:
    out = 3 - index[::-1]
    out[index[::-1] == N_INDEX] = N_INDEX
    return out.astype(np.uint8)


def build_mouse(
    human: SpeciesGenome, segments: list[Segment], size: SizeConfig, seed: int
) -> SpeciesGenome:
    """Assemble the mouse-like genome from the orthologous human segments.

    Training-chromosome segments are shuffled between the mouse training chromosomes;
    held-out chromosomes keep their own mouse counterpart so no alignment crosses the
    train / valid / test division. Fills in the segments' mouse coordinates.
    """
    rng = _rng(seed, "mouse-genome")
    orthologs = [s for s in segments if s.orthologous]
    assignment: dict[str, list[Segment]] = {c: [] for c in CHROMS}
    for segment in orthologs:
        target = segment.chrom
        if segment.chrom in TRAIN_CHROMS:
            target = str(rng.choice(TRAIN_CHROMS))
        assignment[target].append(segment)
    for name in TRAIN_CHROMS:
        order = rng.permutation(len(assignment[name]))
        assignment[name] = [assignment[name][i] for i in order]

    chroms, sites, genes = [], [], []
    human_sites = sorted(human.sites, key=lambda s: (s.chrom, s.start))
    for name in CHROMS:
        pieces = [np.full(size.telomere_bp, N_INDEX, dtype=np.uint8)]
        cursor = size.telomere_bp
        spacers = []  # (start, end) of mouse-only sequence
        gap_after = int(rng.integers(0, max(len(assignment[name]), 1)))
        for k, segment in enumerate(assignment[name] + [None]):
            spacer = _background(int(rng.integers(*size.spacer_bp)), rng)
            if k == gap_after:
                half = len(spacer) // 2
                spacer = np.concatenate([spacer[:half], np.full(size.gap_bp, N_INDEX, np.uint8),
                                         spacer[half:]])  # fmt: skip
            spacers.append((cursor, cursor + len(spacer)))
            pieces.append(spacer)
            cursor += len(spacer)
            if segment is None:
                break
            oriented = _mouse_copy(human.chrom(segment.chrom), segment, rng)
            segment.q_chrom, segment.q_start, segment.q_size = name, cursor, len(oriented)
            segment.strand = "-" if rng.random() < 0.3 else "+"
            pieces.append(_rc_index(oriented) if segment.strand == "-" else oriented)
            cursor += len(oriented)
        pieces.append(np.full(size.telomere_bp, N_INDEX, dtype=np.uint8))
        index = np.concatenate(pieces)
        planted = np.ones(len(index), dtype=bool)
        for lo, hi in spacers:
            planted[lo:hi] = False
        chrom = Chromosome(name, index, planted)
        for segment in assignment[name]:
            sites += _map_sites(segment, human_sites)
            genes += _map_genes(segment, human.genes, chrom)
        planter = _Planter(chrom, rng, f"mm_{name}_")
        for lo, hi in spacers:
            _plant_scattered(chrom, planter, rng, lo, hi, round((hi - lo) / 15_000),
                             round((hi - lo) / 30_000))  # fmt: skip
        sites += planter.sites
        chroms.append(chrom)
    genes.sort(key=lambda g: (CHROMS.index(g.chrom), g.tss))
    for number, gene in enumerate(genes, 1):
        gene.gene_id = f"mm_g{number:04d}"
    return SpeciesGenome("mouse", chroms, genes, sites)


def _mouse_copy(chrom: Chromosome, segment: Segment, rng: np.random.Generator) -> np.ndarray:
    """The segment as mouse sequence in human orientation; records blocks and gaps."""
    parts, offset, cursor = [], 0, segment.start
    segment.blocks, segment.gaps = [], []
    for cut in segment.cuts + [Cut(segment.end, 0, 0)]:
        size = cut.pos - cursor
        block = chrom.index[cursor : cut.pos].copy()
        rate = np.where(chrom.planted[cursor : cut.pos], PROTECTED_SUBSTITUTION_RATE,
                        SUBSTITUTION_RATE)  # fmt: skip
        mutate = rng.random(size) < rate
        block[mutate] = (block[mutate] + rng.integers(1, 4, size=int(mutate.sum()))) % 4
        segment.blocks.append((cursor, offset, size))
        parts.append(block)
        offset += size
        if cut.pos < segment.end:
            segment.gaps.append((cut.pos, cut.human_bp, offset, cut.mouse_bp))
            parts.append(_background(cut.mouse_bp, rng))
            offset += cut.mouse_bp
        cursor = cut.pos + cut.human_bp
    return np.concatenate(parts)


def _map_position(segment: Segment, t_start: int, t_end: int) -> tuple[int, int] | None:
    """Mouse forward interval of human [t_start, t_end) if one block holds all of it."""
    for t, offset, size in segment.blocks:
        if t <= t_start and t_end <= t + size:
            return segment.q_interval(offset + t_start - t, t_end - t_start)
    return None


def _flip(strand: str, segment: Segment) -> str:
    if segment.strand == "+":
        return strand
    return "-" if strand == "+" else "+"


def _map_sites(segment: Segment, human_sites: list[Site]) -> list[Site]:
    out = []
    for site in human_sites:
        if site.chrom != segment.chrom or not segment.start <= site.start < segment.end:
            continue
        mapped = _map_position(segment, site.start, site.end)
        if mapped is not None:
            out.append(Site(segment.q_chrom, mapped[0], site.motif, _flip(site.strand, segment),
                            site.element.replace("hs_", "mm_from_hs_", 1)))  # fmt: skip
    return out


def _map_genes(segment: Segment, human_genes: list[Gene], chrom: Chromosome) -> list[Gene]:
    """Human genes whose promoter (+-250 bp) lies in one aligned block, on mouse."""
    out = []
    for gene in human_genes:
        if gene.chrom != segment.chrom or not segment.start <= gene.tss < segment.end:
            continue
        promoter = _map_position(segment, gene.tss - 250, gene.tss + 250)
        if promoter is None:
            continue
        tss = promoter[0] + 250 if segment.strand == "+" else promoter[1] - 251
        strand = _flip(gene.strand, segment)
        length = gene.end - gene.start
        start, end = (tss, tss + length) if strand == "+" else (tss - length + 1, tss + 1)
        start, end = _clip_to_sequence(chrom, tss, start, end)
        number = gene.gene_name.removeprefix("GENE")
        out.append(Gene("", f"Gene{number}", chrom.name, tss, strand, start, end,
                        gene.program, ortholog=gene.gene_id))  # fmt: skip
    return out


# --------------------------------------------------------------------------------------
# Variants

VARIANT_CLASSES = ("motif_break", "motif_create", "neutral")
# Class thresholds on the change of summed occupancy of the most affected motif.
_BOUND_CHANGE = 0.5
_NEUTRAL_CHANGE = 0.01


@dataclass
class Variant:
    chrom: str
    pos: int  # VCF 1-based position of the first REF base
    ref: str
    alt: str
    vclass: str
    motif: str
    effects: np.ndarray  # [num_tracks] alt minus ref expected coverage over the window
    vid: str = ""


def _dna(index: np.ndarray) -> str:
    return np.frombuffer(b"ACGTN", dtype=np.uint8)[index].tobytes().decode()


def variant_effect(
    model: TrueModel, index: np.ndarray, sites: Sites, pos0: int, ref_len: int,
    alt: np.ndarray, ref_cumsum: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, float]]:  # fmt: skip
    """True effect of replacing ``index[pos0:pos0+ref_len]`` by ``alt`` on every track.

    The noise-free model runs on a window of ``+-(effect_half_window_bp + context_bp)``
    around the variant, for the reference and for the alternative sequence; the effect
    is the difference of expected coverage summed over the reference bases
    ``[pos0 - W, pos0 + W)`` (W = ``effect_half_window_bp``) and, on the alternative,
    over the same flanking bases, i.e. ``[pos0 - W, pos0 + W + len(alt) - ref_len)``.

    Args:
        model: the true model of the species.
        index: uint8 [L] chromosome, and ``sites`` its :meth:`TrueModel.scan`.
        pos0: 0-based start of the reference allele.
        ref_len: reference allele length in bp; ``alt`` the alternative allele indexes.
        ref_cumsum: optional float64 [L + 1, num_tracks] cumulative sums of the whole
            chromosome's expected coverage (leading zero row), which saves recomputing
            the reference; the model's locality makes both ways equal.

    Returns:
        (float64 [num_tracks] effects in coverage units summed over bp, per-motif change
        of summed occupancy).
    """
    half = model.params.effect_half_window_bp
    margin = half + model.params.context_bp
    c0, c1 = max(0, pos0 - margin), min(len(index), pos0 + ref_len + margin)
    chunk_sites = {name: occ[:, c0:c1] for name, occ in sites.items()}
    v = pos0 - c0
    _, alt_sites, change = model.splice(index[c0:c1], chunk_sites, v, ref_len, alt)
    lo = max(v - half, 0)
    if ref_cumsum is None:
        ref_sum = model.expected(chunk_sites)[lo : v + half].sum(axis=0)
    else:
        ref_sum = ref_cumsum[min(pos0 + half, len(index))] - ref_cumsum[c0 + lo]
    alt_sum = model.expected(alt_sites)[lo : v + half + len(alt) - ref_len].sum(axis=0)
    return alt_sum - ref_sum, change


def _classify(change: dict[str, float]) -> tuple[str | None, str]:
    motif = max(change, key=lambda m: abs(change[m]))
    low, high = min(change.values()), max(change.values())
    if low < -_BOUND_CHANGE and high < _BOUND_CHANGE:
        return "motif_break", motif
    if high > _BOUND_CHANGE and low > -_BOUND_CHANGE:
        return "motif_create", motif
    if abs(change[motif]) < _NEUTRAL_CHANGE:
        return "neutral", "."
    return None, motif


def _create_candidates(chrom: Chromosome, exclude: np.ndarray) -> list[tuple[int, int]]:
    """(position, base) pairs that complete a one-mismatch consensus match."""
    index = chrom.index.astype(np.intp)
    out = []
    for name in ENHANCER_FACTORS + ("CTCF",):
        motif = MOTIF_BY_NAME[name]
        w, n = motif.width, len(index) - motif.width + 1
        for strand in "+-":
            consensus = motif.consensus if strand == "+" else _rc_iupac(motif.consensus)
            allowed = np.zeros((w, 5), dtype=bool)
            for j, code in enumerate(consensus):
                for base in _IUPAC[code]:
                    allowed[j, "ACGT".index(base)] = True
            mismatches = np.zeros(n, dtype=np.int8)
            for j in range(w):
                mismatches += ~allowed[j][index[j : j + n]]
            for start in np.flatnonzero(mismatches == 1):
                window = index[start : start + w]
                if (window == N_INDEX).any() or exclude[start : start + w].any():
                    continue
                j = int(np.flatnonzero(~allowed[np.arange(w), window])[0])
                if len(_IUPAC[consensus[j]]) == 1:
                    out.append((int(start + j), "ACGT".index(consensus[j])))
    return sorted(set(out))


def _rc_iupac(consensus: str) -> str:
    comp = str.maketrans("ACGTWSRYKMN", "TGCAWSYRMKN")
    return consensus.translate(comp)[::-1]


def make_variants(
    model: TrueModel, genome: SpeciesGenome, chrom_name: str, sites: Sites, count: int,
    rng: np.random.Generator,
) -> list[Variant]:  # fmt: skip
    """Motif-breaking, motif-creating and neutral variants (SNVs and ~10% indels).

    45% break a bound planted site, 35% complete a one-mismatch motif match, 20% are
    neutral. Four in five breaking and creating variants are drawn within
    ``effect_half_window_bp`` of a TSS, where (like eQTLs) they can change expression,
    so that their CAGE effects are not all zero. Each candidate is classified by the
    change it makes to motif occupancy (see ``_classify``) and kept only if that matches
    the class it was drawn for.
    """
    chrom = genome.chrom(chrom_name)
    length = chrom.length
    near_site = np.zeros(length, dtype=bool)
    planted = [s for s in genome.sites if s.chrom == chrom_name]
    for s in planted:
        near_site[max(s.start - 30, 0) : s.end + 30] = True
    margin = model.params.effect_half_window_bp
    near_tss = np.zeros(length, dtype=bool)
    for gene in genome.genes:
        if gene.chrom == chrom_name:
            near_tss[max(gene.tss - margin, 0) : gene.tss + margin] = True
    bound = [s for s in planted if sites[s.motif][0 if s.strand == "+" else 1, s.start] > 0.5]
    creatable = _create_candidates(chrom, near_site)
    # (all candidates, those near a TSS) for each class drawn from a list
    pools = {
        "motif_break": (bound, [s for s in bound if near_tss[s.start]]),
        "motif_create": (creatable, [c for c in creatable if near_tss[c[0]]]),
    }
    expected = model.expected(sites)
    ref_cumsum = np.concatenate([np.zeros((1, expected.shape[1])), np.cumsum(expected, axis=0)])
    del expected
    wanted = {"motif_break": round(0.45 * count), "motif_create": round(0.35 * count)}
    wanted["neutral"] = count - sum(wanted.values())
    if not bound or not creatable:
        raise InputError(f"{chrom_name}: too small to hold variants; use a larger --size")
    used: set[int] = set()
    variants = []
    progress = tqdm(total=count, desc=f"{genome.name} variants", disable=None, leave=False)
    for vclass, n in wanted.items():
        made = 0
        for _attempt in range(200 * n):
            if made == n:
                break
            pool = None
            if vclass in pools:
                everywhere, near = pools[vclass]
                pool = near if near and rng.random() < 0.8 else everywhere
            proposal = _propose(vclass, chrom, pool, near_site, rng)
            if proposal is None:
                continue
            pos0, ref_len, alt = proposal
            if pos0 < margin or pos0 + ref_len > length - margin or used & set(
                range(pos0 - 1, pos0 + ref_len + 1)
            ):
                continue
            if (chrom.index[pos0 : pos0 + ref_len] == N_INDEX).any():
                continue
            effects, change = variant_effect(model, chrom.index, sites, pos0, ref_len, alt,
                                             ref_cumsum)  # fmt: skip
            got, motif = _classify(change)
            if got != vclass:
                continue
            used.update(range(pos0, pos0 + ref_len))
            variants.append(Variant(chrom_name, pos0 + 1, _dna(chrom.index[pos0 : pos0 + ref_len]),
                                    _dna(alt), vclass, motif, effects))  # fmt: skip
            made += 1
            progress.update()
        if made < n:
            log.warning(
                "%s %s: made %d of %d %s variants", genome.name, chrom_name, made, n, vclass
            )
    progress.close()
    return sorted(variants, key=lambda v: v.pos)


def _propose(
    vclass: str, chrom: Chromosome, pool: list | None, near_site: np.ndarray,
    rng: np.random.Generator,
) -> tuple[int, int, np.ndarray] | None:  # fmt: skip
    """A candidate (pos0, ref_len, alt indexes) for the class; VCF-style anchored indels.

    ``pool`` holds bound sites (motif_break) or (position, base) completions
    (motif_create); neutral variants are drawn anywhere away from planted sites.
    """
    index = chrom.index
    indel = rng.random() < 0.1
    if vclass == "motif_break":
        site = pool[int(rng.integers(len(pool)))]
        motif = MOTIF_BY_NAME[site.motif]
        fixed = [j for j, c in enumerate(motif.consensus) if len(_IUPAC[c]) == 1]
        j = int(rng.choice(fixed))
        pos = site.start + (j if site.strand == "+" else motif.width - 1 - j)
        if indel:
            return pos - 1, int(rng.integers(2, 8)), index[pos - 1 : pos].copy()
        return pos, 1, np.array([(index[pos] + rng.integers(1, 4)) % 4], dtype=np.uint8)
    if vclass == "motif_create":
        pos, base = pool[int(rng.integers(len(pool)))]
        return pos, 1, np.array([base], dtype=np.uint8)
    pos = int(rng.integers(1, chrom.length - 1))
    if near_site[pos] or index[pos] == N_INDEX:
        return None
    if indel and rng.random() < 0.5:
        return pos - 1, int(rng.integers(2, 8)), index[pos - 1 : pos].copy()
    if indel:
        inserted = rng.integers(0, 4, size=int(rng.integers(1, 7))).astype(np.uint8)
        return pos, 1, np.concatenate([index[pos : pos + 1], inserted])
    return pos, 1, np.array([(index[pos] + rng.integers(1, 4)) % 4], dtype=np.uint8)


# --------------------------------------------------------------------------------------
# Writers

FASTA_LINE_BP = 60


def write_fasta(path: str | os.PathLike, chroms: Sequence[Chromosome]) -> None:
    """FASTA with 60-bp lines and its samtools-style ``.fai`` index, both atomically."""
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    fai, offset = [], 0
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        for chrom in chroms:
            header = f">{chrom.name}\n".encode()
            handle.write(header)
            offset += len(header)
            fai.append(
                f"{chrom.name}\t{chrom.length}\t{offset}\t{FASTA_LINE_BP}\t{FASTA_LINE_BP + 1}\n"
            )
            seq = letters[chrom.index]
            full = chrom.length // FASTA_LINE_BP * FASTA_LINE_BP
            lines = seq[:full].reshape(-1, FASTA_LINE_BP)
            body = np.concatenate([lines, np.full((len(lines), 1), ord("\n"), np.uint8)], axis=1)
            handle.write(body.tobytes())
            if full < chrom.length:
                handle.write(seq[full:].tobytes() + b"\n")
            offset += chrom.length + -(-chrom.length // FASTA_LINE_BP)
    write_text_atomic(f"{path}.fai", "".join(fai))


def n_runs(index: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, end) runs of N (index 4) in bp."""
    is_n = np.concatenate([[False], index == N_INDEX, [False]])
    edges = np.flatnonzero(np.diff(is_n.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _write_lines(path: str | os.PathLike, lines: Iterable[str]) -> None:
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def write_gtf(path: str | os.PathLike, genes: Sequence[Gene]) -> None:
    """Gene records (1-based inclusive, as GTF says) with gene_id and gene_name."""
    lines = []
    for g in sorted(genes, key=lambda g: (CHROMS.index(g.chrom), g.start, g.gene_id)):
        attrs = f'gene_id "{g.gene_id}"; gene_name "{g.gene_name}"; program "{g.program}";'
        if g.ortholog:
            attrs += f' ortholog "{g.ortholog}";'
        lines.append(
            f"{g.chrom}\tbasenji_sim\tgene\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\t{attrs}"
        )
    _write_lines(path, lines)


def write_targets(path: str | os.PathLike, tracks: Sequence[Track]) -> None:
    """Targets table in the original column order; files relative to the table's folder."""
    lines = ["index\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tdescription"]
    for i, t in enumerate(tracks):
        lines.append(f"{i}\t{t.identifier}\ttracks/{t.identifier}.bw\t{t.clip:g}\t{t.clip_soft:g}"
                     f"\t{t.scale:g}\t{t.sum_stat}\t{t.description}")  # fmt: skip
    _write_lines(path, lines)


def _bigwig_entries(values: np.ndarray) -> tuple[list[int], list[int], list[float]]:
    """Run-length encode per-bp values as bedGraph-like (start, end, value) entries."""
    change = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(values)]])
    return starts.tolist(), ends.tolist(), values[starts].astype(np.float64).tolist()


def write_vcf(path: str | os.PathLike, variants: Sequence[Variant], sizes: dict[str, int]) -> None:
    """VCF 4.2 with contig lines; INFO CLASS and MOTIF; POS 1-based as VCF says."""
    lines = ["##fileformat=VCFv4.2", "##source=basenji_sim", "##reference=genome.fa"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in sizes.items()]
    lines += [
        "##INFO=<ID=CLASS,Number=1,Type=String,"
        'Description="motif_break, motif_create or neutral">',
        '##INFO=<ID=MOTIF,Number=1,Type=String,Description="Most affected motif (. if none)">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for v in variants:
        lines.append(f"{v.chrom}\t{v.pos}\t{v.vid}\t{v.ref}\t{v.alt}\t.\tPASS"
                     f"\tCLASS={v.vclass};MOTIF={v.motif}")  # fmt: skip
    _write_lines(path, lines)


def write_effects(
    path: str | os.PathLike, variants: Sequence[Variant], tracks: Sequence[Track]
) -> None:
    """The true-effects table: variant columns, then one column per track identifier."""
    header = ["id", "chrom", "pos", "ref", "alt", "class"] + [t.identifier for t in tracks]
    lines = ["\t".join(header)]
    for v in variants:
        fields = [v.vid, v.chrom, str(v.pos), v.ref, v.alt, v.vclass]
        # 4 decimals of coverage x bp: smaller differences come from the tails of the
        # occupancy sigmoid and FFT round-off (adding 0.0 turns -0.0 into 0.0).
        lines.append("\t".join(fields + [f"{round(e, 4) + 0.0:.4f}" for e in v.effects]))
    _write_lines(path, lines)


def write_net(path: str | os.PathLike, human: SpeciesGenome, segments: Sequence[Segment]) -> None:
    """UCSC net text: per human chromosome, top-level fills with nested gaps.

    Query (mouse) starts are 0-based on the forward strand for both strands, which is
    how basenji_data_align.py reads them.
    """
    lines, fill_id = [], 0
    for chrom in human.chroms:
        lines.append(f"net {chrom.name} {chrom.length}")
        for s in sorted((s for s in segments if s.orthologous and s.chrom == chrom.name),
                        key=lambda s: s.start):  # fmt: skip
            fill_id += 1
            aligned = sum(size for _, _, size in s.blocks)
            lines.append(f" fill {s.start} {s.end - s.start} {s.q_chrom} {s.strand} {s.q_start} "
                         f"{s.q_size} id {fill_id} score {aligned} ali {aligned}")  # fmt: skip
            for t, human_bp, offset, mouse_bp in s.gaps:
                q0, _ = s.q_interval(offset, mouse_bp)
                lines.append(f"  gap {t} {human_bp} {s.q_chrom} {s.strand} {q0} {mouse_bp}")
    _write_lines(path, lines)


# --------------------------------------------------------------------------------------
# Driver


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; choose another -o")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "sim.json").exists():
        raise InputError(
            f"{out_dir}: folder is not empty and holds no earlier simulation (sim.json); "
            "choose a new -o folder"
        )


def _write_species(
    out_dir: Path, genome: SpeciesGenome, model: TrueModel, size: SizeConfig, seed: int
) -> dict:
    """All files of one species; returns its sim.json entry."""
    log.info("%s: %d bp, writing genome, tracks and variants", genome.name,
             sum(genome.sizes.values()))  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(out_dir / "genome.fa", genome.chroms)
    _write_lines(out_dir / "gaps.bed", [f"{c.name}\t{s}\t{e}" for c in genome.chroms
                                        for s, e in n_runs(c.index)])  # fmt: skip
    write_gtf(out_dir / "genes.gtf", genome.genes)
    sites = sorted(genome.sites, key=lambda s: (CHROMS.index(s.chrom), s.start, s.motif))
    _write_lines(out_dir / "elements.bed", [f"{s.chrom}\t{s.start}\t{s.end}\t{s.element}:{s.motif}"
                                            f"\t0\t{s.strand}" for s in sites])  # fmt: skip
    write_targets(out_dir / "targets.txt", model.tracks)

    variants: list[Variant] = []
    header = list(genome.sizes.items())
    with contextlib.ExitStack() as stack:
        writers = []
        for track in model.tracks:
            tmp = stack.enter_context(atomic_path(out_dir / "tracks" / f"{track.identifier}.bw"))
            bw = pyBigWig.open(tmp, "w")
            bw.addHeader(header)
            writers.append(bw)
        for chrom in tqdm(genome.chroms, desc=f"{genome.name} tracks", disable=None):
            sites_c = model.scan(chrom.index)
            observed = model.sample(sites_c, _rng(seed, f"{genome.name}-noise-{chrom.name}"))
            for ti, bw in enumerate(writers):
                starts, ends, values = _bigwig_entries(observed[:, ti])
                bw.addEntries([chrom.name] * len(starts), starts, ends=ends, values=values)
            if chrom.name in TEST_CHROMS:
                rng = _rng(seed, f"{genome.name}-variants-{chrom.name}")
                count = size.variants[genome.name] // len(TEST_CHROMS)
                variants += make_variants(model, genome, chrom.name, sites_c, count, rng)
        for bw in writers:
            bw.close()
    prefix = "hs" if genome.name == "human" else "mm"
    for k, v in enumerate(variants, 1):
        v.vid = f"{prefix}_var{k:04d}"
    write_vcf(out_dir / "variants.vcf", variants, genome.sizes)
    write_effects(out_dir / "variant_effects.tsv", variants, model.tracks)
    classes = {c: sum(v.vclass == c for v in variants) for c in VARIANT_CLASSES}
    return {
        "chrom_sizes": genome.sizes,
        "genome_bp": int(sum(genome.sizes.values())),
        "train_chroms": list(TRAIN_CHROMS),
        "valid_chroms": list(VALID_CHROMS),
        "test_chroms": list(TEST_CHROMS),
        "cell_types": sorted({t.cell_type for t in model.tracks}),
        "tracks": [t.identifier for t in model.tracks],
        "genes": len(genome.genes),
        "planted_sites": len(genome.sites),
        "variants": len(variants),
        "variant_classes": classes,
        "variant_indels": sum(len(v.ref) != len(v.alt) for v in variants),
    }


_README = """\
Simulated genomes written by basenji_sim.py (basenji-tf); see docs/sim.md.

human/ and mouse/ each hold genome.fa (+ .fai), gaps.bed (runs of N), genes.gtf,
elements.bed (planted motif sites), targets.txt (file paths relative to that folder),
tracks/<identifier>.bw, variants.vcf and variant_effects.tsv (true effects).
human.mouse.net aligns them (target human, query mouse; UCSC net text).
Chromosomes chr3 are for validation and chr4 for testing in both species; variants lie
on chr4. sim.json records the seed, sizes, motifs and model parameters.
"""


def simulate(
    out_dir: str | os.PathLike, seed: int = 1, size: str = "default",
    params: ModelParams | None = None,
) -> dict:  # fmt: skip
    """Write the simulated human-like and mouse-like data sets to ``out_dir``.

    Args:
        out_dir: output folder (created; an earlier simulation in it is overwritten).
        seed: random seed; the same seed and size give byte-identical files.
        size: a key of :data:`SIZES` ('default', 'small' or 'tiny').
        params: true-model constants (default :class:`ModelParams`). They change how
            sequence becomes coverage, not where elements are planted (promoter geometry
            and enhancer distances use the defaults).

    Returns:
        the contents written to ``sim.json``.
    """
    if size not in SIZES:
        raise InputError(f"--size {size!r}: choose one of {', '.join(SIZES)}")
    out = Path(out_dir)
    _check_out_dir(out)
    params = params or ModelParams()
    config = SIZES[size]
    log.info("building genomes (size %s, seed %d)", size, seed)
    human, segments = build_human(config, seed)
    mouse = build_mouse(human, segments, config, seed)
    # Build the whole folder under a temporary name so a crash leaves no partial output.
    with atomic_path(out, is_dir=True) as tmp_dir:
        tmp = Path(tmp_dir)
        tmp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
        species = {}
        for genome in (human, mouse):
            model = TrueModel(SPECIES_TRACKS[genome.name], params)
            species[genome.name] = _write_species(tmp / genome.name, genome, model, config, seed)
        write_net(tmp / "human.mouse.net", human, segments)
        orthologous = [s for s in segments if s.orthologous]
        info = {
            "seed": seed,
            "size": size,
            "species": species,
            "alignment": {
                "net_file": "human.mouse.net",
                "target": "human",
                "query": "mouse",
                "fills": len(orthologous),
                "min_fill_bp": min(s.end - s.start for s in orthologous),
                "aligned_human_bp": int(sum(b[2] for s in orthologous for b in s.blocks)),
                "substitution_rate": SUBSTITUTION_RATE,
                "planted_substitution_rate": PROTECTED_SUBSTITUTION_RATE,
            },
            "motifs": [dataclasses.asdict(m) for m in MOTIFS],
            "cell_types": {
                cell: {**activity, **{f: 1.0 for f in CONSTITUTIVE_FACTORS}}
                for cell, activity in CELL_TYPES.items()
            },
            "tracks": {
                name: [dataclasses.asdict(t) for t in tracks]
                for name, tracks in SPECIES_TRACKS.items()
            },
            "targets_file_paths": "relative to the species folder (the targets table's folder)",
            "effect_window_bp": [-params.effect_half_window_bp, params.effect_half_window_bp],
            "model_params": dataclasses.asdict(params),
            "size_config": dataclasses.asdict(config),
        }
        write_text_atomic(tmp / "sim.json", json.dumps(info, indent=2) + "\n")
        write_text_atomic(tmp / "README.txt", _README)
    return info

"""The simulated genomes: planted elements and genes, and the mouse-like assembly.

The human-like genome is random sequence (telomeres and one assembly gap of N per
chromosome) with planted elements: promoters (a TATA box and SP1 boxes) of genes every
``gene_spacing_bp``, enhancers (clusters of one factor's sites) 1-20 kb from the genes
they drive, and scattered orphan enhancers and CTCF sites. Each chromosome is cut into
segments, a fixed share of which are orthologous.

The mouse-like genome is assembled from the orthologous segments of the human-like one
(substitutions outside planted elements, species-specific insertions on both sides,
segments moved between training chromosomes and inverted), plus mouse-specific spacer
sequence with its own elements; the alignment is written as a UCSC net file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from basenji_tf.dna import N_INDEX, index_rc
from basenji_tf.sim.config import (
    BASE_FREQS,
    CHROMS,
    ORTHOLOG_FRACTION,
    PROTECTED_SUBSTITUTION_RATE,
    SUBSTITUTION_RATE,
    TRAIN_CHROMS,
    SizeConfig,
    TrueModelParams,
    rng_stream,
)
from basenji_tf.sim.motifs import ENHANCER_FACTORS, IUPAC, MOTIF_BY_NAME, Motif, tata_centre


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
    """A simulated gene (GTF record) and the promoter program that drives it."""

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
    bases = "".join(rng.choice(list(IUPAC[c])) for c in motif.consensus)
    index = np.array(["ACGT".index(b) for b in bases], dtype=np.uint8)
    return index_rc(index) if strand == "-" else index


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
        centre_tata = tss - sign * TrueModelParams.tss_offset_bp
        layout = [("TBP", centre_tata - tata_centre(strand), strand)]
        for k in range(n_sp1):
            centre = centre_tata - sign * (32 + 24 * k)
            layout.append(("SP1", centre - 5, self._strand()))
        return self.plant(layout, "prom")


def _plant_genes(
    chrom: Chromosome,
    planter: _Planter,
    size: SizeConfig,
    rng: np.random.Generator,
    gene_prefix: str,
    first_number: int,
) -> list[Gene]:
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
                distance = int(rng.uniform(1000, TrueModelParams.distal_max_bp))
                side = 1 if rng.random() < 0.5 else -1
                planter.enhancer(tss + side * distance, program)
        length = int(rng.integers(3000, 30000))
        start, end = (tss, tss + length) if strand == "+" else (tss - length + 1, tss + 1)
        start, end = _clip_to_sequence(chrom, tss, start, end)
        number = first_number + len(genes)
        genes.append(
            Gene(
                f"{gene_prefix}{number:04d}",
                f"GENE{number}",
                chrom.name,
                tss,
                strand,
                start,
                end,
                program,
            )
        )
    return genes


def _clip_to_sequence(chrom: Chromosome, tss: int, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) around ``tss`` so it contains no N and stays on the chromosome."""
    start, end = max(start, 0), min(end, chrom.length)
    is_n = np.flatnonzero(chrom.index[start:end] == N_INDEX) + start
    left, right = is_n[is_n < tss], is_n[is_n > tss]
    return (int(left.max()) + 1 if len(left) else start), (int(right.min()) if len(right) else end)


def _plant_scattered(
    chrom: Chromosome,
    planter: _Planter,
    rng: np.random.Generator,
    lo: int,
    hi: int,
    n_enhancers: int,
    n_ctcf: int,
) -> None:
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
    """All chromosomes of one species with its genes and planted sites."""

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
    rng = rng_stream(seed, "human-genome")
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
        _plant_scattered(
            chrom,
            planter,
            rng,
            size.telomere_bp,
            length - size.telomere_bp,
            length // 40_000,
            length // 25_000,
        )
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
    chosen = rng.choice(
        eligible, size=max(1, round(ORTHOLOG_FRACTION * len(eligible))), replace=False
    )
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


def build_mouse(
    human: SpeciesGenome, segments: list[Segment], size: SizeConfig, seed: int
) -> SpeciesGenome:
    """Assemble the mouse-like genome from the orthologous human segments.

    Training-chromosome segments are shuffled between the mouse training chromosomes;
    held-out chromosomes keep their own mouse counterpart so no alignment crosses the
    train / valid / test division. Fills in the segments' mouse coordinates.
    """
    rng = rng_stream(seed, "mouse-genome")
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
                spacer = np.concatenate(
                    [spacer[:half], np.full(size.gap_bp, N_INDEX, np.uint8), spacer[half:]]
                )
            spacers.append((cursor, cursor + len(spacer)))
            pieces.append(spacer)
            cursor += len(spacer)
            if segment is None:
                break
            oriented = _mouse_copy(human.chrom(segment.chrom), segment, rng)
            segment.q_chrom, segment.q_start, segment.q_size = name, cursor, len(oriented)
            segment.strand = "-" if rng.random() < 0.3 else "+"
            pieces.append(index_rc(oriented) if segment.strand == "-" else oriented)
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
            _plant_scattered(
                chrom, planter, rng, lo, hi, round((hi - lo) / 15_000), round((hi - lo) / 30_000)
            )
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
        rate = np.where(
            chrom.planted[cursor : cut.pos], PROTECTED_SUBSTITUTION_RATE, SUBSTITUTION_RATE
        )
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
            out.append(
                Site(
                    segment.q_chrom,
                    mapped[0],
                    site.motif,
                    _flip(site.strand, segment),
                    site.element.replace("hs_", "mm_from_hs_", 1),
                )
            )
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
        out.append(
            Gene(
                "",
                f"Gene{number}",
                chrom.name,
                tss,
                strand,
                start,
                end,
                gene.program,
                ortholog=gene.gene_id,
            )
        )
    return out

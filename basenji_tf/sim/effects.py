"""Variants planted on the test chromosomes and their true effects.

Variant effects are computed by running the noise-free model on the reference and on
the alternative sequence of a window around the variant and subtracting the sums of
expected coverage over ``+-effect_half_window_bp`` (8192) around it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from basenji_tf.dna import N_INDEX, index_dna
from basenji_tf.errors import InputError
from basenji_tf.progress import track
from basenji_tf.sim.genomes import Chromosome, Site, SpeciesGenome
from basenji_tf.sim.motifs import ENHANCER_FACTORS, IUPAC, MOTIF_BY_NAME
from basenji_tf.sim.true_model import Sites, TrueModel

log = logging.getLogger(__name__)

VARIANT_CLASSES = ("motif_break", "motif_create", "neutral")
# Class thresholds on the change of summed occupancy of the most affected motif.
_BOUND_CHANGE = 0.5
_NEUTRAL_CHANGE = 0.01


@dataclass
class PlantedVariant:
    """A variant planted on a test chromosome (a VCF row) and its true effects."""

    chrom: str
    pos: int  # VCF 1-based position of the first REF base
    ref: str
    alt: str
    vclass: str
    motif: str
    effects: np.ndarray  # [num_tracks] alt minus ref expected coverage over the window
    vid: str = ""


def variant_effect(
    model: TrueModel,
    index: np.ndarray,
    sites: Sites,
    pos0: int,
    ref_len: int,
    alt: np.ndarray,
    ref_cumsum: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """True effect of replacing ``index[pos0:pos0+ref_len]`` by ``alt`` on every track.

    The noise-free model runs on a window of ``+-(effect_half_window_bp + context_bp)``
    around the variant, for the reference and for the alternative sequence; the effect
    is the difference of expected coverage summed over the reference bases
    ``[pos0 - W, pos0 + W)`` (W = ``effect_half_window_bp``) and, on the alternative,
    over the same flanking bases, i.e. ``[pos0 - W, pos0 + W + len(alt) - ref_len)``.

    Args:
        model: the true model of the species.
        index: uint8 [L] base indexes of the chromosome.
        sites: :meth:`TrueModel.scan` of ``index``.
        pos0: 0-based start of the reference allele.
        ref_len: reference allele length in bp.
        alt: uint8 base indexes of the alternative allele.
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
                for base in IUPAC[code]:
                    allowed[j, "ACGT".index(base)] = True
            mismatches = np.zeros(n, dtype=np.int8)
            for j in range(w):
                mismatches += ~allowed[j][index[j : j + n]]
            for start in np.flatnonzero(mismatches == 1):
                window = index[start : start + w]
                if (window == N_INDEX).any() or exclude[start : start + w].any():
                    continue
                j = int(np.flatnonzero(~allowed[np.arange(w), window])[0])
                if len(IUPAC[consensus[j]]) == 1:
                    out.append((int(start + j), "ACGT".index(consensus[j])))
    return sorted(set(out))


def _rc_iupac(consensus: str) -> str:
    comp = str.maketrans("ACGTWSRYKMN", "TGCAWSYRMKN")
    return consensus.translate(comp)[::-1]


def make_variants(
    model: TrueModel,
    genome: SpeciesGenome,
    chrom_name: str,
    sites: Sites,
    count: int,
    rng: np.random.Generator,
) -> list[PlantedVariant]:
    """Motif-breaking, motif-creating and neutral variants (SNVs and ~10% indels).

    45% break a bound planted site, 35% complete a one-mismatch motif match, 20% are
    neutral. Four in five breaking and creating variants are drawn within
    ``effect_half_window_bp`` of a TSS, where (like eQTLs) they can change expression,
    so that their CAGE effects are not all zero. Each candidate is classified by the
    change it makes to motif occupancy (see ``_classify``) and kept only if that matches
    the class it was drawn for.
    """
    chrom = genome.chrom(chrom_name)
    margin = model.params.effect_half_window_bp
    planted, near_site, near_tss = _near_masks(genome, chrom, margin)
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
    progress = track(total=count, desc=f"{genome.name} variants", unit="variants")
    for vclass, n in wanted.items():
        made = 0
        for _attempt in range(200 * n):
            if made == n:
                break
            pool = _pick_pool(pools[vclass], rng) if vclass in pools else None
            proposal = _propose(vclass, chrom, pool, near_site, rng)
            if proposal is None:
                continue
            pos0, ref_len, alt = proposal
            if not _placeable(chrom, pos0, ref_len, margin, used):
                continue
            effects, change = variant_effect(
                model, chrom.index, sites, pos0, ref_len, alt, ref_cumsum
            )
            got, motif = _classify(change)
            if got != vclass:
                continue
            used.update(range(pos0, pos0 + ref_len))
            ref = index_dna(chrom.index[pos0 : pos0 + ref_len])
            variants.append(
                PlantedVariant(chrom_name, pos0 + 1, ref, index_dna(alt), vclass, motif, effects)
            )
            made += 1
            progress.update()
        if made < n:
            log.warning(
                "%s %s: made %d of %d %s variants", genome.name, chrom_name, made, n, vclass
            )
    progress.close()
    return sorted(variants, key=lambda v: v.pos)


def _near_masks(
    genome: SpeciesGenome, chrom: Chromosome, margin: int
) -> tuple[list[Site], np.ndarray, np.ndarray]:
    """The chromosome's planted sites and bool [L] masks: within 30 bp of one, near a TSS.

    "Near a TSS" is within ``margin`` bp.
    """
    near_site = np.zeros(chrom.length, dtype=bool)
    planted = [s for s in genome.sites if s.chrom == chrom.name]
    for s in planted:
        near_site[max(s.start - 30, 0) : s.end + 30] = True
    near_tss = np.zeros(chrom.length, dtype=bool)
    for gene in genome.genes:
        if gene.chrom == chrom.name:
            near_tss[max(gene.tss - margin, 0) : gene.tss + margin] = True
    return planted, near_site, near_tss


def _pick_pool(pools: tuple[list, list], rng: np.random.Generator) -> list:
    """The candidates near a TSS four times in five (when there are any), else all."""
    everywhere, near = pools
    return near if near and rng.random() < 0.8 else everywhere


def _placeable(chrom: Chromosome, pos0: int, ref_len: int, margin: int, used: set[int]) -> bool:
    """The allele is ``margin`` bp inside the chromosome, has no N, and touches no other."""
    if pos0 < margin or pos0 + ref_len > chrom.length - margin:
        return False
    if used & set(range(pos0 - 1, pos0 + ref_len + 1)):
        return False
    return not (chrom.index[pos0 : pos0 + ref_len] == N_INDEX).any()


def _propose(
    vclass: str,
    chrom: Chromosome,
    pool: list | None,
    near_site: np.ndarray,
    rng: np.random.Generator,
) -> tuple[int, int, np.ndarray] | None:
    """A candidate (pos0, ref_len, alt indexes) for the class; VCF-style anchored indels.

    ``pool`` holds bound sites (motif_break) or (position, base) completions
    (motif_create); neutral variants are drawn anywhere away from planted sites.
    """
    index = chrom.index
    indel = rng.random() < 0.1
    if vclass == "motif_break":
        site = pool[int(rng.integers(len(pool)))]
        motif = MOTIF_BY_NAME[site.motif]
        fixed = [j for j, c in enumerate(motif.consensus) if len(IUPAC[c]) == 1]
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

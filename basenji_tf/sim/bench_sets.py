"""Benchmark VCF pairs from a simulation: variants with large true effects against nulls.

The simulated counterpart of the papers' fine-mapped eQTLs and matched negatives, as
folders of ``<name>_pos.vcf`` / ``<name>_neg.vcf`` pairs for ``basenji_bench_gtex.py -g``.
One set per track: its positives are the simulation's SNVs (``variant_effects.tsv``)
whose true effect on that track is at least ``min_effect`` in absolute value; its
negatives are null SNVs drawn by :func:`draw_null_snvs`, matched to the positives by
chromosome and by whether they lie within the effect window of a TSS (as GTEx negatives
are matched on distance to the TSS). A null SNV lies away from every planted motif site
and changes the occupancy of no motif by more than 0.01 under the true model (the
simulator's criterion of a neutral variant), so its true effect on every track is ~0.

The simulator's own outputs are read, never changed; the VCFs and a table of every set's
variants with their true effects (``bench_sets.tsv``) go to a folder of their own.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from basenji_tf.dna import N_INDEX, dna_index
from basenji_tf.errors import InputError
from basenji_tf.files import write_text_atomic
from basenji_tf.genome import Genome, read_bed_intervals, read_gtf_tss
from basenji_tf.sim.config import SPECIES_TRACKS, TrueModelParams
from basenji_tf.sim.effects import variant_effect
from basenji_tf.sim.true_model import TrueModel

log = logging.getLogger(__name__)

NULL_MAX_CHANGE = 0.01
"""Largest change of a motif's summed occupancy a null SNV may make (the simulator's
neutral threshold)."""


@dataclass(frozen=True)
class NullSnv:
    """A drawn null SNV: VCF position (1-based), alleles and its true effects [tracks]."""

    chrom: str
    pos: int
    ref: str
    alt: str
    vid: str
    effects: np.ndarray


@dataclass(frozen=True)
class BenchSet:
    """One written set: its name (the track), VCF paths and variant counts."""

    name: str
    pos_vcf: str
    neg_vcf: str
    positives: int
    negatives: int


def _near_tss(genes: Sequence[dict], chrom: str, length: int, window: int) -> np.ndarray:
    """A bool [length] mask: within ``window`` bp of a TSS of ``chrom``."""
    mask = np.zeros(length, dtype=bool)
    for gene in genes:
        if gene["chrom"] == chrom:
            mask[max(gene["tss"] - window, 0) : gene["tss"] + window] = True
    return mask


def draw_null_snvs(
    species_dir: str | os.PathLike,
    matches: Sequence[tuple[str, bool]],
    rng: np.random.Generator,
    min_site_bp: int = 100,
    exclude: set[tuple[str, int]] | None = None,
    prefix: str = "null",
) -> list[NullSnv]:
    """One null SNV per ``(chromosome, near a TSS)`` of ``matches``.

    Args:
        species_dir: a species folder of a simulation (``sim_out/human``) with
            genome.fa, elements.bed, genes.gtf and the ``../sim.json`` of its parameters.
        matches: per wanted SNV, the chromosome and whether it must lie within the
            effect window (``effect_half_window_bp``, 8,192 bp) of a TSS.
        rng: the random generator (seeded by the caller).
        min_site_bp: least distance (bp) from every planted motif site.
        exclude: (chromosome, 1-based position) pairs not to draw (the positives).
        prefix: ID prefix (``{prefix}0001``, ...).

    Returns:
        the SNVs, in the order of ``matches``; each changes no motif's occupancy by more
        than :data:`NULL_MAX_CHANGE`, lies ``effect_half_window_bp`` inside its chromosome
        and has an A/C/G/T reference base.

    Raises:
        InputError: a chromosome has no room for the SNVs asked of it.
    """
    species_dir = Path(species_dir)
    sim = json.loads((species_dir.parent / "sim.json").read_text())
    species = species_dir.name
    if species not in SPECIES_TRACKS:
        raise InputError(f"{species_dir}: not a species folder of a simulation (human, mouse)")
    params = TrueModelParams(**sim["model_params"])
    model = TrueModel(SPECIES_TRACKS[species], params)
    half = params.effect_half_window_bp
    genes = read_gtf_tss(species_dir / "genes.gtf")
    sites = read_bed_intervals(species_dir / "elements.bed")
    used = set(exclude or ())
    out: list[NullSnv | None] = [None] * len(matches)
    with Genome(species_dir / "genome.fa") as genome:
        for chrom in sorted({c for c, _ in matches}):
            if chrom not in genome.sizes:
                raise InputError(f"{species_dir}/genome.fa: no chromosome {chrom}")
            length = genome.sizes[chrom]
            index = dna_index(genome.fetch(chrom, 0, length))
            occupancy = model.scan(index)
            expected = model.expected(occupancy)
            cumsum = np.concatenate([np.zeros((1, expected.shape[1])), np.cumsum(expected, 0)])
            del expected
            near_site = np.zeros(length, dtype=bool)
            for start, end in sites.get(chrom, []):
                near_site[max(start - min_site_bp, 0) : end + min_site_bp] = True
            near_tss = _near_tss(genes, chrom, length, half)
            allowed = ~near_site & (index != N_INDEX)
            allowed[:half] = allowed[length - half :] = False
            for want_near in (True, False):
                todo = [i for i, m in enumerate(matches) if m == (chrom, want_near)]
                pool = np.flatnonzero(allowed & (near_tss == want_near))
                for i in todo:
                    out[i] = _draw_one(
                        model, index, occupancy, cumsum, pool, chrom, rng, used, species_dir
                    )
    for i, snv in enumerate(out):
        out[i] = NullSnv(snv.chrom, snv.pos, snv.ref, snv.alt, f"{prefix}{i + 1:04d}", snv.effects)
    return out


def _draw_one(model, index, occupancy, cumsum, pool, chrom, rng, used, where) -> NullSnv:
    """A random position of ``pool`` whose SNV passes the null test (200 tries)."""
    for _ in range(200):
        if len(pool) == 0:
            break
        pos0 = int(pool[rng.integers(len(pool))])
        if (chrom, pos0 + 1) in used:
            continue
        alt = np.array([(index[pos0] + rng.integers(1, 4)) % 4], dtype=np.uint8)
        _, _, change = model.splice(index, occupancy, pos0, 1, alt)
        if max(abs(v) for v in change.values()) > NULL_MAX_CHANGE:
            continue
        effects, _ = variant_effect(model, index, occupancy, pos0, 1, alt, cumsum)
        used.add((chrom, pos0 + 1))
        return NullSnv(chrom, pos0 + 1, "ACGT"[index[pos0]], "ACGT"[alt[0]], "", effects)
    raise InputError(
        f"{where}: {chrom} has no room for more null SNVs away from planted sites; "
        "ask fewer (lower nulls_per_positive) or simulate a larger --size"
    )


def _vcf_text(rows: Sequence[tuple[str, int, str, str, str]], sizes: dict[str, int]) -> str:
    lines = ["##fileformat=VCFv4.2", "##source=basenji_tf.sim.bench_sets"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in sizes.items()]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for chrom, pos, vid, ref, alt in sorted(rows, key=lambda r: (r[0], r[1])):
        lines.append(f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t.")
    return "\n".join(lines) + "\n"


def write_bench_vcfs(
    species_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    tracks: Sequence[str] | None = None,
    min_effect: float = 100.0,
    nulls_per_positive: int = 1,
    seed: int = 1,
) -> list[BenchSet]:
    """Write ``<track>_pos.vcf`` / ``<track>_neg.vcf`` per track and ``bench_sets.tsv``.

    Args:
        species_dir: a species folder of a simulation (``sim_out/human``).
        out_dir: folder to write (``basenji_bench_gtex.py -g``); created if needed.
        tracks: track identifiers to make sets of (None: every track of the species).
        min_effect: least absolute true effect of a positive on the set's track
            (expected coverage summed over bp of the 16,384 bp window; see docs/sim.md).
        nulls_per_positive: matched null SNVs drawn per positive.
        seed: seed of the draws.

    Returns:
        the sets written. ``bench_sets.tsv`` lists, per set, every variant (``role`` pos
        or neg) with its true effect on the set's track.

    Raises:
        InputError: an unknown track, or a track without 8 positives (too few for the
            classifier's 8 folds; lower ``min_effect``).
    """
    species_dir, out_dir = Path(species_dir), Path(out_dir)
    effects = pd.read_csv(species_dir / "variant_effects.tsv", sep="\t")
    identifiers = list(effects.columns[6:])
    tracks = list(tracks) if tracks is not None else identifiers
    unknown = [t for t in tracks if t not in identifiers]
    if unknown:
        raise InputError(
            f"{species_dir}/variant_effects.tsv: no track {unknown[0]}; "
            f"choose from {', '.join(identifiers)}"
        )
    snv = effects[(effects["ref"].str.len() == 1) & (effects["alt"].str.len() == 1)]
    sim = json.loads((species_dir.parent / "sim.json").read_text())
    half = sim["model_params"]["effect_half_window_bp"]
    sizes = sim["species"][species_dir.name]["chrom_sizes"]
    genes = read_gtf_tss(species_dir / "genes.gtf")
    near = {c: _near_tss(genes, c, n, half) for c, n in sizes.items()}
    rng = np.random.default_rng(seed)
    all_variants = {(r.chrom, int(r.pos)) for r in effects.itertuples()}
    out_dir.mkdir(parents=True, exist_ok=True)
    positives, matches = {}, []
    for track in tracks:
        pos = snv[snv[track].abs() >= min_effect]
        if len(pos) < 8:
            raise InputError(
                f"{species_dir}/variant_effects.tsv: {len(pos)} SNVs with |{track}| >= "
                f"{min_effect}; the classifier needs at least 8: lower min_effect"
            )
        positives[track] = pos
        matches += [
            (r.chrom, bool(near[r.chrom][int(r.pos) - 1]))
            for r in pos.itertuples()
            for _ in range(nulls_per_positive)
        ]
    # one draw for all sets: the chromosomes are scanned once, and no null is in two sets
    nulls = draw_null_snvs(species_dir, matches, rng, exclude=all_variants)
    sets, table, first = [], [], 0
    for track, pos in positives.items():
        track_nulls = nulls[first : first + nulls_per_positive * len(pos)]
        first += len(track_nulls)
        column = identifiers.index(track)
        pos_rows = [(r.chrom, int(r.pos), r.id, r.ref, r.alt) for r in pos.itertuples()]
        neg_rows = [(n.chrom, n.pos, n.vid, n.ref, n.alt) for n in track_nulls]
        pos_vcf, neg_vcf = out_dir / f"{track}_pos.vcf", out_dir / f"{track}_neg.vcf"
        write_text_atomic(pos_vcf, _vcf_text(pos_rows, sizes))
        write_text_atomic(neg_vcf, _vcf_text(neg_rows, sizes))
        table += [(track, "pos", *row, float(e)) for row, e in zip(pos_rows, pos[track])]
        table += [
            (track, "neg", *row, float(n.effects[column])) for row, n in zip(neg_rows, track_nulls)
        ]
        sets.append(BenchSet(track, str(pos_vcf), str(neg_vcf), len(pos_rows), len(neg_rows)))
        log.info("%s: %d positives, %d null SNVs", track, len(pos_rows), len(neg_rows))
    frame = pd.DataFrame(
        table, columns=["set", "role", "chrom", "pos", "id", "ref", "alt", "true_effect"]
    )
    write_text_atomic(
        out_dir / "bench_sets.tsv", frame.to_csv(sep="\t", index=False, float_format="%.4f")
    )
    return sets

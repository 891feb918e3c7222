"""The simulator's driver: build both genomes, write every file of a simulation."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path, write_text_atomic
from basenji_tf.progress import track
from basenji_tf.sim.config import (
    CELL_TYPES,
    PROTECTED_SUBSTITUTION_RATE,
    SIZES,
    SPECIES_TRACKS,
    SUBSTITUTION_RATE,
    TEST_CHROMS,
    TRAIN_CHROMS,
    VALID_CHROMS,
    SizeConfig,
    TrueModelParams,
    rng_stream,
)
from basenji_tf.sim.effects import VARIANT_CLASSES, PlantedVariant, make_variants
from basenji_tf.sim.genomes import SpeciesGenome, build_human, build_mouse
from basenji_tf.sim.motifs import CONSTITUTIVE_FACTORS, MOTIFS
from basenji_tf.sim.true_model import TrueModel
from basenji_tf.sim.writers import (
    track_bigwigs,
    write_effects,
    write_elements,
    write_fasta,
    write_gaps,
    write_gtf,
    write_net,
    write_targets,
    write_vcf,
)

log = logging.getLogger(__name__)


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
    log.info(
        "%s: %d bp, writing genome, tracks and variants", genome.name, sum(genome.sizes.values())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_fasta(out_dir / "genome.fa", genome.chroms)
    write_gaps(out_dir / "gaps.bed", genome.chroms)
    write_gtf(out_dir / "genes.gtf", genome.genes)
    write_elements(out_dir / "elements.bed", genome.sites)
    write_targets(out_dir / "targets.txt", model.tracks)

    variants: list[PlantedVariant] = []
    with track_bigwigs(out_dir / "tracks", model.tracks, genome.sizes) as add_coverage:
        for chrom in track(genome.chroms, desc=f"{genome.name} tracks", unit="chromosomes"):
            sites = model.scan(chrom.index)
            noise = rng_stream(seed, f"{genome.name}-noise-{chrom.name}")
            add_coverage(chrom.name, model.sample(sites, noise))
            if chrom.name in TEST_CHROMS:
                rng = rng_stream(seed, f"{genome.name}-variants-{chrom.name}")
                count = size.variants[genome.name] // len(TEST_CHROMS)
                variants += make_variants(model, genome, chrom.name, sites, count, rng)
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
    out_dir: str | os.PathLike,
    seed: int = 1,
    size: str = "default",
    params: TrueModelParams | None = None,
) -> dict:
    """Write the simulated human-like and mouse-like data sets to ``out_dir``.

    Args:
        out_dir: output folder (created; an earlier simulation in it is overwritten).
        seed: random seed; the same seed and size give byte-identical files.
        size: a key of :data:`SIZES` ('default', 'small' or 'tiny').
        params: true-model constants (default :class:`TrueModelParams`). They change how
            sequence becomes coverage, not where elements are planted (promoter geometry
            and enhancer distances use the defaults).

    Returns:
        the contents written to ``sim.json``.
    """
    if size not in SIZES:
        raise InputError(f"--size {size!r}: choose one of {', '.join(SIZES)}")
    out = Path(out_dir)
    _check_out_dir(out)
    params = params or TrueModelParams()
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

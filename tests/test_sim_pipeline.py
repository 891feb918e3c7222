"""sim.pipeline: a tiny simulation's files against formats, true model and alignment."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from basenji_tf.cli.basenji_sim import main
from basenji_tf.data_align import read_net_fills
from basenji_tf.dna import N_INDEX, dna_index, dna_rc
from basenji_tf.genome import Genome, read_gtf_tss
from basenji_tf.sim.config import SPECIES_TRACKS, TRAIN_CHROMS
from basenji_tf.sim.effects import VARIANT_CLASSES
from basenji_tf.sim.pipeline import simulate
from basenji_tf.sim.true_model import TrueModel
from basenji_tf.sim.writers import n_runs
from basenji_tf.targets import read_targets, resolve_track_path, target_options

SPECIES = ("human", "mouse")


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory) -> Path:
    """One tiny simulation written through the command line entry point."""
    out = tmp_path_factory.mktemp("sim") / "out"
    assert main(["-o", str(out), "--size", "tiny", "--seed", "1"]) == 0
    return out


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _gtf_tss_line(line: str) -> dict:
    """chrom, strand and 0-based TSS of one GTF line."""
    fields = line.split("\t")
    strand = fields[6]
    tss = int(fields[4]) - 1 if strand == "-" else int(fields[3]) - 1
    return {"chrom": fields[0], "strand": strand, "tss": tss}


@pytest.mark.slow
def test_same_seed_gives_identical_bytes(sim_dir, tmp_path):
    again = tmp_path / "again"
    simulate(again, seed=1, size="tiny")
    first, second = _digests(sim_dir), _digests(again)
    assert first == second
    # The contract's files are all there.
    for species in SPECIES:
        for name in (
            "genome.fa",
            "genome.fa.fai",
            "gaps.bed",
            "genes.gtf",
            "targets.txt",
            "variants.vcf",
            "variant_effects.tsv",
        ):
            assert f"{species}/{name}" in first
    assert "human.mouse.net" in first and "sim.json" in first
    info = json.loads((sim_dir / "sim.json").read_text())
    assert {m["jaspar_id"][:2] for m in info["motifs"]} == {"MA"}
    for species in SPECIES:
        held_out = info["species"][species]
        assert held_out["test_chroms"] == ["chr4"] and held_out["valid_chroms"] == ["chr3"]


def test_cli_refuses_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["-o", str(tmp_path), "--size", "tiny"]) == 1
    err = capsys.readouterr().err
    assert "not empty" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("species", SPECIES)
def test_files_follow_the_formats(sim_dir, species):
    folder = sim_dir / species
    info = json.loads((sim_dir / "sim.json").read_text())["species"][species]
    with Genome(folder / "genome.fa") as genome:
        assert genome.sizes == info["chrom_sizes"]
        # gaps.bed lists exactly the runs of N.
        gaps = pd.read_csv(folder / "gaps.bed", sep="\t", header=None)
        for chrom, size in genome.sizes.items():
            index = dna_index(genome.fetch(chrom, 0, size))
            expected = n_runs(index)
            listed = gaps[gaps[0] == chrom][[1, 2]].values.tolist()
            assert [list(r) for r in expected] == listed and expected
        # The targets table: original column order, read by the data pipeline's reader,
        # files relative to the table's folder.
        targets = read_targets(folder / "targets.txt")
        assert list(targets.columns) == [
            "identifier",
            "file",
            "clip",
            "clip_soft",
            "scale",
            "sum_stat",
            "description",
        ]
        assert list(targets.index) == list(range(len(targets)))
        assert list(targets.identifier) == info["tracks"]
        assert {d.split(":")[0] for d in targets.description} <= {"DNASE", "CAGE", "CHIP"}
        for option in target_options(targets):
            path = resolve_track_path(option["file"], str(folder / "targets.txt"))
            assert Path(path).resolve().parent == (folder / "tracks").resolve()
            with pyBigWig.open(path) as bw:
                assert bw.chroms() == genome.sizes
                values = bw.values("chr1", 0, genome.sizes["chr1"], numpy=True)
                assert np.isfinite(values).all() and (values >= 0).all()
                assert np.array_equal(values, np.round(values)) and values.max() > 0
        # VCF reference alleles are the genome's bases.
        vcf = pd.read_csv(folder / "variants.vcf", sep="\t", comment="#", header=None)
        assert len(vcf) == info["variants"] > 0
        for chrom, pos, ref in zip(vcf[0], vcf[1], vcf[3]):
            assert genome.fetch(chrom, pos - 1, pos - 1 + len(ref)) == ref
    effects = pd.read_csv(folder / "variant_effects.tsv", sep="\t")
    assert list(effects.columns[:6]) == ["id", "chrom", "pos", "ref", "alt", "class"]
    assert list(effects.columns[6:]) == info["tracks"]
    assert list(effects.id) == list(vcf[2])
    assert set(effects["class"]) == set(VARIANT_CLASSES)
    # Genes: a GTF that the project's own reader accepts, one TSS per gene record.
    genes = read_gtf_tss(folder / "genes.gtf")
    assert len(genes) == info["genes"] > 0


def _binned(values: np.ndarray, stat: str) -> np.ndarray:
    bins = values[: len(values) // 128 * 128].reshape(-1, 128)
    return bins.mean(axis=1) if stat == "mean" else bins.sum(axis=1)


def test_tracks_follow_the_true_model(sim_dir):
    """Observed coverage tracks the noise-free model, and cell types differ as designed."""
    folder = sim_dir / "human"
    model = TrueModel(SPECIES_TRACKS["human"])
    with Genome(folder / "genome.fa") as genome:
        index = dna_index(genome.fetch("chr1", 0, genome.sizes["chr1"]))
    expected = model.expected(model.scan(index))
    for ti, track in enumerate(model.tracks):
        with pyBigWig.open(str(folder / "tracks" / f"{track.identifier}.bw")) as bw:
            observed = bw.values("chr1", 0, len(index), numpy=True)
        obs, exp = _binned(observed, track.sum_stat), _binned(expected[:, ti], track.sum_stat)
        r = np.corrcoef(obs, exp)
        assert r[0, 1] > (0.6 if track.assay == "CHIP" else 0.85), track.identifier
    # GATA1 enhancers are open in the erythroid-like cell type, closed in hepatic-like.
    sites = pd.read_csv(folder / "elements.bed", sep="\t", header=None)
    gata = sites[(sites[0] == "chr1") & sites[3].str.endswith("GATA1")]
    centres = ((gata[1] + gata[2]) // 2).to_numpy()
    identifiers = [t.identifier for t in model.tracks]
    ery, hep = identifiers.index("DNASE_ery"), identifiers.index("DNASE_hep")
    assert len(centres) > 3
    assert np.median(expected[centres, ery]) > 5 * np.median(expected[centres, hep])


@pytest.mark.slow
def test_distal_enhancers_matter_in_the_simulated_genome(sim_dir):
    """Erasing the enhancers 10-20 kb from a TSS lowers its expected CAGE."""
    folder = sim_dir / "human"
    model = TrueModel(SPECIES_TRACKS["human"])
    cage = [i for i, t in enumerate(model.tracks) if t.assay == "CAGE"]
    sites = pd.read_csv(folder / "elements.bed", sep="\t", header=None)
    enhancers = sites[(sites[0] == "chr1") & sites[3].str.contains("enh")]
    with Genome(folder / "genome.fa") as genome:
        index = dna_index(genome.fetch("chr1", 0, genome.sizes["chr1"]))
    ref = model.expected(model.scan(index))
    drops = []
    for gene in read_gtf_tss(folder / "genes.gtf"):
        tss = gene["tss"]
        distance = np.abs(enhancers[1].to_numpy() - tss)
        far = enhancers[(distance >= 10_000) & (distance <= 20_000)]
        if gene["chrom"] != "chr1" or far.empty:
            continue
        erased = index.copy()
        for start, end in zip(far[1], far[2]):
            erased[start:end] = N_INDEX
        alt = model.expected(model.scan(erased))
        before = ref[tss - 100 : tss + 100, cage].sum(axis=0)
        after = alt[tss - 100 : tss + 100, cage].sum(axis=0)
        drops.append((1 - after / before).max())
    assert len(drops) >= 3
    assert min(drops) > 0 and np.median(drops) > 0.1


@pytest.mark.slow
def test_variant_effects_match_whole_chromosome_recomputation(sim_dir):
    folder = sim_dir / "human"
    model = TrueModel(SPECIES_TRACKS["human"])
    effects = pd.read_csv(folder / "variant_effects.tsv", sep="\t")
    with Genome(folder / "genome.fa") as genome:
        index = dna_index(genome.fetch("chr4", 0, genome.sizes["chr4"]))
    ref_sites = model.scan(index)
    ref = model.expected(ref_sites)
    half = model.params.effect_half_window_bp
    picked = pd.concat(
        [effects[effects.ref.str.len() != effects.alt.str.len()], effects.groupby("class").head(2)]
    ).drop_duplicates("id")
    for _, v in picked.iterrows():
        pos0 = v.pos - 1
        alt_index = np.concatenate([index[:pos0], dna_index(v.alt), index[pos0 + len(v.ref) :]])
        alt = model.expected(model.scan(alt_index))
        shift = len(v.alt) - len(v.ref)
        truth = alt[pos0 - half : pos0 + half + shift].sum(0)
        truth -= ref[pos0 - half : pos0 + half].sum(0)
        table = v[[t.identifier for t in model.tracks]].to_numpy(dtype=float)
        np.testing.assert_allclose(table, truth, rtol=1e-4, atol=1e-3)
    # Classes mean what they say: breaks close chromatin, creations open it.
    dnase = [t.identifier for t in model.tracks if t.assay == "DNASE"]
    total = effects[dnase].sum(axis=1)
    assert (total[effects["class"] == "motif_break"] < 0).all()
    assert (total[effects["class"] == "motif_create"] > 0).all()
    scale = effects[dnase].abs().to_numpy().max()
    assert (effects.loc[effects["class"] == "neutral", dnase].abs() < 1e-3 * scale).all().all()


def _read_net(path: Path) -> list[dict]:
    """Top-level fills of a net file with their nested gaps."""
    fills: list[dict] = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if line.startswith("net "):
            t_chrom = fields[1]
        elif line.startswith(" fill "):
            fills.append(
                {
                    "t_chrom": t_chrom,
                    "t_start": int(fields[1]),
                    "t_size": int(fields[2]),
                    "q_chrom": fields[3],
                    "strand": fields[4],
                    "q_start": int(fields[5]),
                    "q_size": int(fields[6]),
                    "gaps": [],
                }
            )
        elif line.startswith("  gap "):
            fills[-1]["gaps"].append(tuple(int(fields[i]) for i in (1, 2, 5, 6)))
    return fills


def _aligned_blocks(fill: dict) -> list[tuple[int, int, int]]:
    """(t_start, q_start, size) of the gap-free pieces of a fill, q on the + strand."""
    blocks, t, offset = [], fill["t_start"], 0
    q_end = fill["q_start"] + fill["q_size"]
    for gap_t, gap_tsize, gap_q, gap_qsize in fill["gaps"] + [
        (fill["t_start"] + fill["t_size"], 0, None, 0)
    ]:
        size = gap_t - t
        q = fill["q_start"] + offset if fill["strand"] == "+" else q_end - offset - size
        blocks.append((t, q, size))
        offset += size
        if gap_q is not None:
            if fill["strand"] == "+":
                expected_q = fill["q_start"] + offset
            else:
                expected_q = q_end - offset - gap_qsize
            assert gap_q == expected_q, "gap query start disagrees with the fill"
        t, offset = gap_t + gap_tsize, offset + gap_qsize
    assert offset == fill["q_size"]
    return blocks


def test_orthology_consistent_with_net(sim_dir):
    fills = _read_net(sim_dir / "human.mouse.net")
    # basenji_data_align.py reads the same aligned intervals.
    assert list(read_net_fills(sim_dir / "human.mouse.net")) == [
        (
            f["t_chrom"],
            f["t_start"],
            f["t_start"] + f["t_size"],
            f["q_chrom"],
            f["q_start"],
            f["q_start"] + f["q_size"],
        )
        for f in fills
    ]
    hs_fasta, mm_fasta = sim_dir / "human" / "genome.fa", sim_dir / "mouse" / "genome.fa"
    with Genome(hs_fasta) as hs, Genome(mm_fasta) as mm:
        identities, shuffled = [], []
        by_chrom: dict[str, list] = {}
        for fill in fills:
            assert fill["q_start"] + fill["q_size"] <= mm.sizes[fill["q_chrom"]]
            assert fill["t_start"] + fill["t_size"] <= hs.sizes[fill["t_chrom"]]
            if fill["t_chrom"] not in TRAIN_CHROMS:  # held-out chromosomes stay apart
                assert fill["q_chrom"] == fill["t_chrom"]
            by_chrom.setdefault(fill["t_chrom"], []).append((fill["t_start"], fill["t_size"]))
            for t, q, size in _aligned_blocks(fill):
                a = dna_index(hs.fetch(fill["t_chrom"], t, t + size))
                b = mm.fetch(fill["q_chrom"], q, q + size)
                b = dna_index(dna_rc(b) if fill["strand"] == "-" else b)
                identities.append((a == b).mean())
                shuffled.append((a[: size // 2] == b[size - size // 2 :]).mean())
        for spans in by_chrom.values():
            spans.sort()
            assert all(s0 + n0 <= s1 for (s0, n0), (s1, _) in zip(spans, spans[1:]))
        # 12% substitutions outside planted elements: ~88% identity, chance is ~26%.
        assert min(identities) > 0.8 and max(shuffled) < 0.4
    # Orthologous genes: the net carries each human TSS onto its mouse TSS.
    human_tss = {g["gene_id"]: g for g in read_gtf_tss(sim_dir / "human" / "genes.gtf")}
    mapped = 0
    for line in (sim_dir / "mouse" / "genes.gtf").read_text().splitlines():
        ortholog = line.split('ortholog "')[1].split('"')[0]
        mouse = _gtf_tss_line(line)
        h = human_tss[ortholog]
        for fill in fills:
            for t, q, size in _aligned_blocks(fill):
                if fill["t_chrom"] == h["chrom"] and t <= h["tss"] < t + size:
                    off = h["tss"] - t
                    q_tss = q + off if fill["strand"] == "+" else q + size - 1 - off
                    assert (fill["q_chrom"], q_tss) == (mouse["chrom"], mouse["tss"])
                    flipped = {"+": "-", "-": "+"}[h["strand"]]
                    assert mouse["strand"] == (h["strand"] if fill["strand"] == "+" else flipped)
                    mapped += 1
    assert mapped > 0

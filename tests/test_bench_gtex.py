"""basenji_bench_gtex.py (scoring/bench.py) and the simulated benchmark sets (sim/bench_sets.py)."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pandas as pd
import pytest

from basenji_tf.cli import basenji_bench_gtex
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome, read_bed_intervals, read_gtf_tss
from basenji_tf.scoring.bench import find_vcf_pairs
from basenji_tf.scoring.vcf import read_vcf


def write_vcf(path, rows):
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += [f"chrG\t{pos}\t{vid}\t{ref}\t{alt}\t.\t.\t." for pos, vid, ref, alt in rows]
    path.write_text("\n".join(lines) + "\n")


def random_snvs(genome, rng, count, prefix):
    rows = []
    for i, pos in enumerate(sorted(rng.choice(np.arange(20_000, 110_000), count, replace=False))):
        ref = genome.fetch("chrG", int(pos) - 1, int(pos))
        alt = "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]
        rows.append((int(pos), f"{prefix}{i}", ref, alt))
    return rows


@pytest.fixture(scope="module")
def vcf_dir(tmp_path_factory, small_model):
    """Two sets of 8 positive and 8 negative SNVs on the small model's locus."""
    folder = tmp_path_factory.mktemp("gtex")
    rng = np.random.default_rng(5)
    with Genome(small_model["fasta"]) as genome:
        for name in ("liver", "lung"):
            write_vcf(folder / f"{name}_pos.vcf", random_snvs(genome, rng, 8, f"{name}_p"))
            write_vcf(folder / f"{name}_neg.vcf", random_snvs(genome, rng, 8, f"{name}_n"))
    return folder


def test_pairs_are_found_by_the_originals_names(tmp_path):
    for name in ("Whole_Blood_pos.vcf", "Whole_Blood_neg.vcf", "a_pos.vcf.gz", "a_neg.vcf.gz"):
        (tmp_path / name).write_text("")
    (tmp_path / "notes.vcf").write_text("")
    pairs = find_vcf_pairs(str(tmp_path))
    assert [p.name for p in pairs] == ["Whole_Blood", "a"]
    assert pairs[0].neg_vcf.endswith("Whole_Blood_neg.vcf")
    (tmp_path / "lonely_pos.vcf").write_text("")
    with pytest.raises(InputError, match="lonely_pos.vcf: no negatives lonely_neg.vcf"):
        find_vcf_pairs(str(tmp_path))
    with pytest.raises(InputError, match="missing: no such folder"):
        find_vcf_pairs(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no <name>_pos.vcf files"):
        find_vcf_pairs(str(tmp_path / "empty"))


@pytest.mark.slow
def test_end_to_end_on_the_small_model(tmp_path, small_model, vcf_dir, caplog):
    from basenji_tf.scoring.classify import ClassifyOptions, read_summary, run_classify
    from basenji_tf.scoring.ensemble import ModelSpec
    from basenji_tf.scoring.sad import SadOptions, run_sad

    out = tmp_path / "bench"
    argv = ["-f", small_model["fasta"], "-g", str(vcf_dir), "-o", str(out), "-i", "1",
            "-q", "gpu", small_model["params"], small_model["model"]]  # fmt: skip
    with caplog.at_level(logging.WARNING):
        assert basenji_bench_gtex.main(argv) == 0
    assert "ignored (see docs/variants.md): queue" in caplog.text
    for name in ("liver", "lung"):
        for side in ("pos", "neg"):
            assert (out / f"{name}_{side}" / "sad.h5").is_file()
        for f in ("stats.txt", "aurocs.npy", "auprcs.npy", "preds.npy", "roc.pdf", "pr.pdf"):
            assert (out / f"{name}_class" / f).is_file(), f
    summary = pd.read_csv(out / "summary.tsv", sep="\t")
    assert list(summary["set"]) == ["liver", "lung"]
    assert list(summary["positives"]) == [8, 8] and list(summary["negatives"]) == [8, 8]
    assert summary[["auroc", "auprc"]].apply(lambda c: c.between(0, 1)).all().all()

    # each sad.h5 is basenji_sad.py's on that VCF
    spec = ModelSpec(small_model["params"], small_model["model"])
    alone = run_sad(spec, small_model["fasta"], str(vcf_dir / "liver_neg.vcf"),
                    str(tmp_path / "alone"), SadOptions())  # fmt: skip
    with h5py.File(alone, "r") as a, h5py.File(out / "liver_neg" / "sad.h5", "r") as b:
        np.testing.assert_array_equal(a["SAD"][:], b["SAD"][:])
        assert list(a["snp"][:]) == list(b["snp"][:])
    # each class folder is basenji_bench_classify.py -i 1 -p 2 -r 44 -s on the pair
    direct = run_classify(
        str(out / "lung_pos" / "sad.h5"), str(out / "lung_neg" / "sad.h5"),
        str(tmp_path / "direct"), ClassifyOptions(iterations=1, seed=44, n_jobs=2),
    )  # fmt: skip
    assert direct["auroc"] == pytest.approx(summary["auroc"][1], abs=5e-5)
    assert read_summary(str(out / "lung_class"))["auroc"] == direct["auroc"]

    # -r keeps what is there; without it a used folder is refused
    stamp = (out / "liver_pos" / "sad.h5").stat().st_mtime_ns
    assert basenji_bench_gtex.main([*argv, "-r"]) == 0
    assert (out / "liver_pos" / "sad.h5").stat().st_mtime_ns == stamp
    assert pd.read_csv(out / "summary.tsv", sep="\t").equals(summary)
    assert basenji_bench_gtex.main(argv) == 1


def test_usage_errors(tmp_path, small_model, vcf_dir, capsys):
    base = ["-f", small_model["fasta"], "-g", str(vcf_dir), small_model["params"]]
    argv = [*base, small_model["model"], "-o", str(tmp_path / "o")]
    assert basenji_bench_gtex.main([*argv, "--pseudo", "2"]) == 1
    assert "--pseudo 2.0: the log statistics use log2(x + 1)" in capsys.readouterr().err
    assert basenji_bench_gtex.main([*argv, "--stats", "SAD,XYZ"]) == 1
    assert "unknown statistic(s) XYZ" in capsys.readouterr().err


# The original's options (original_cli_more.tsv): option -> (dest, default); site-specific
# defaults (-f, -g: required here; -e, -q) are left out.
ORIGINAL = {
    "-n": ("norm_file", None), "-o": ("out_dir", "sad_gtex"), "--pseudo": ("log_pseudo", 1),
    "--rc": ("rc", False), "--shifts": ("shifts", [0]), "--stats": ("sad_stats", "SAD"),
    "-t": ("targets_file", None), "--ti": ("track_indexes", None), "--threads": ("threads", False),
    "-u": ("penultimate", False), "--msl": ("msl", 1), "--name": ("name", "gtex"),
    "--max_proc": ("max_proc", None), "-p": ("processes", None), "-r": ("restart", False),
    "-e": ("conda_env", None), "-q": ("queue", None), "-f": ("genome_fasta", None),
    "-g": ("gtex_vcf_dir", None),
}  # fmt: skip


def test_every_original_option_parses_with_its_default():
    parser = basenji_bench_gtex.build_parser()
    args = parser.parse_args(["-f", "g.fa", "-g", "vcfs", "p.json", "m.h5"])
    by_option = {s: a for a in parser._actions for s in a.option_strings}
    for option, (dest, default) in ORIGINAL.items():
        assert by_option[option].dest == dest, option
        if option not in ("-e", "-q", "-f", "-g"):
            assert getattr(args, dest) == default, option


# -- the simulator's benchmark sets ---------------------------------------------------


@pytest.fixture(scope="module")
def tiny_sim(tmp_path_factory):
    from basenji_tf.sim.pipeline import simulate

    out = tmp_path_factory.mktemp("sim") / "sim"
    simulate(str(out), seed=1, size="tiny")
    return out / "human"


@pytest.mark.slow
def test_null_snvs_are_matched_and_null(tiny_sim, tmp_path):
    from basenji_tf.sim.bench_sets import draw_null_snvs, write_bench_vcfs

    effects = pd.read_csv(tiny_sim / "variant_effects.tsv", sep="\t")
    sets = write_bench_vcfs(tiny_sim, tmp_path / "v1", tracks=["DNASE_ery"], min_effect=50)
    again = write_bench_vcfs(tiny_sim, tmp_path / "v2", tracks=["DNASE_ery"], min_effect=50)
    (one,) = sets
    assert one.negatives == one.positives >= 8
    assert (tmp_path / "v1" / "DNASE_ery_neg.vcf").read_text() == (
        tmp_path / "v2" / "DNASE_ery_neg.vcf"
    ).read_text()
    assert (
        [p.name for p in find_vcf_pairs(str(tmp_path / "v1"))]
        == ["DNASE_ery"]
        == [s.name for s in again]
    )
    table = pd.read_csv(tmp_path / "v1" / "bench_sets.tsv", sep="\t")
    pos, neg = table[table.role == "pos"], table[table.role == "neg"]
    assert (pos.true_effect.abs() >= 50).all()
    assert set(pos.id) <= set(effects.id)
    # nulls: true effects ~0 on every track is checked through the set's track here and
    # through the returned effects below; away from planted sites; REF matches the genome
    assert neg.true_effect.abs().max() < 1.0
    sites = read_bed_intervals(tiny_sim / "elements.bed")
    with Genome(tiny_sim / "genome.fa") as genome:
        rows = list(read_vcf(str(tmp_path / "v1" / "DNASE_ery_neg.vcf"), genome))
    assert len(rows) == one.negatives
    for v in rows:
        assert all(v.pos - 1 < s - 100 or v.pos - 1 >= e + 100 for s, e in sites[v.chrom])
    # matched: as many near a TSS as the positives
    genes = read_gtf_tss(tiny_sim / "genes.gtf")

    def near(chrom, pos):
        return any(g["chrom"] == chrom and abs(g["tss"] - (pos - 1)) < 8192 for g in genes)

    assert sum(near(r.chrom, r.pos) for r in pos.itertuples()) == sum(
        near(r.chrom, r.pos) for r in neg.itertuples()
    )
    nulls = draw_null_snvs(tiny_sim, [("chr4", False)] * 3, np.random.default_rng(0))
    assert all(np.abs(n.effects).max() < 1.0 for n in nulls)
    assert len({(n.chrom, n.pos) for n in nulls}) == 3
    with pytest.raises(InputError, match="no track NOPE"):
        write_bench_vcfs(tiny_sim, tmp_path / "v3", tracks=["NOPE"])


@pytest.mark.slow
@pytest.mark.subprocess
def test_local_processes_score_as_this_process(tmp_path, small_model, vcf_dir):
    base = ["-f", small_model["fasta"], "-g", str(vcf_dir), "-i", "1",
            small_model["params"], small_model["model"]]  # fmt: skip
    assert basenji_bench_gtex.main([*base, "-o", str(tmp_path / "one")]) == 0
    assert basenji_bench_gtex.main([*base, "-p", "2", "-o", str(tmp_path / "two")]) == 0
    for name in ("liver_pos", "liver_neg", "lung_pos", "lung_neg"):
        with h5py.File(tmp_path / "one" / name / "sad.h5", "r") as a:
            with h5py.File(tmp_path / "two" / name / "sad.h5", "r") as b:
                np.testing.assert_array_equal(a["SAD"][:], b["SAD"][:])
    one = pd.read_csv(tmp_path / "one" / "summary.tsv", sep="\t")
    two = pd.read_csv(tmp_path / "two" / "summary.tsv", sep="\t")
    assert one.equals(two)

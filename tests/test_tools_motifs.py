"""basenji_motifs.py: first-layer filters -> PWMs, MEME file, logos, Tomtom matches."""

import numpy as np
import pandas as pd
import pytest

from basenji_tf.cli import basenji_motifs
from basenji_tf.dna import dna_index
from basenji_tf.interpret.motifs import (
    consensus,
    filter_sites,
    info_content,
    meme_text,
    read_motif_db,
    site_pwm,
    tomtom_matches,
    trim_pwm,
)

pytest.importorskip("memelite")
pytest.importorskip("pyjaspar")


def test_sites_and_pwm_of_a_planted_motif():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(4, 200)).astype(np.uint8)
    acts = np.zeros((4, 200), np.float32)
    for n, pos in [(0, 20), (1, 50), (2, 100), (3, 190)]:
        codes[n, pos - 2 : pos + 3] = dna_index("GATAA")
        acts[n, pos] = 5.0
    sites = filter_sites(acts, 0.5, None)
    assert sites.tolist() == [[0, 20], [1, 50], [2, 100], [3, 190]]
    pwm, nsites = site_pwm(codes, sites, 5)  # width 5: window starts 2 bp before the site
    assert nsites == 4 and "".join("ACGT"[i] for i in pwm.argmax(axis=1)) == "GATAA"
    np.testing.assert_allclose(pwm.sum(axis=1), 1)
    assert pwm[0, 2] == pytest.approx(5 / 8)  # 4 sites + 1 pseudocount of 4 + 4
    # a site at the sequence end reads N (1/4 to each base) past it
    edge, _ = site_pwm(codes, np.array([[3, 199]]), 5)
    np.testing.assert_allclose(edge[4], [(1 + 0.25) / 5] * 4)


def test_information_trim_consensus_and_meme_roundtrip(tmp_path):
    flat, sharp = np.full(4, 0.25), np.array([0.97, 0.01, 0.01, 0.01])
    pwm = np.array([flat, sharp, sharp, flat])
    assert info_content(flat[None]) == pytest.approx(0, abs=0.03)
    assert trim_pwm(pwm).shape == (2, 4)
    assert consensus(np.array([[1, 0, 0, 0], [-1, -2, -1, -1], [0, 0, 0, 2.0]])) == "ANT"
    path = tmp_path / "db.meme"
    path.write_text(meme_text({"m1 (GATA1)": (pwm, 12)}, np.full(4, 0.25)))
    ids, names, pwms = read_motif_db(str(path))
    assert ids == ["m1"] and names == ["GATA1"]
    np.testing.assert_allclose(pwms[0].T, pwm, atol=1e-4)


@pytest.mark.slow
def test_tomtom_finds_a_jaspar_motif_itself():
    db = read_motif_db(None)
    ctcf = next(i for i, name in enumerate(db[1]) if name == "CTCF")
    matches = tomtom_matches({"q": db[2][ctcf].T}, db, threads=1)
    assert matches["Target_ID"][0] == db[0][ctcf] and matches["q-value"][0] < 1e-10


@pytest.mark.slow
def test_cli_on_the_small_reference_model(small_model, reference_dir, tmp_path, capsys):
    data_dir = reference_dir / "basenji_data_small" / "data_out"
    out = tmp_path / "motifs"
    argv = [small_model["params"], small_model["model"], str(data_dir), "-o", str(out)]
    assert basenji_motifs.main([*argv, "-s", "2", "-a", "0.6", "-t", "--heat"]) == 0
    table = pd.read_csv(out / "table.txt", sep="\t", keep_default_na=False)
    assert len(table) == 32 and table["consensus"].str.len().eq(15).all()
    meme = (out / "filters_meme.txt").read_text()
    assert meme.startswith("MEME version 4") and meme.count("MOTIF filter") >= 1
    matches = pd.read_csv(out / "tomtom.tsv", sep="\t")
    assert (matches["q-value"] < 0.1).all()
    annotated = table[table["annotation"] != "."]
    assert set(annotated["filter"]) == {int(q[6:]) for q in matches["Query_ID"]}
    # the reference model's weights are random draws: no filter may match JASPAR (the
    # raw-probability Tomtom of issue 22 annotated most of them CTCF)
    assert matches.empty
    first = int(table.loc[table["ic"] > 0, "filter"].iloc[0])
    assert (out / f"filter{first}_logo.png").stat().st_size > 1000
    assert (out / "filter_target_cors_mean.png").is_file()
    # a bad -m is one line
    assert basenji_motifs.main([*argv, "-s", "1", "-m", str(tmp_path / "none.meme")]) == 1
    assert "none.meme: no such MEME file" in capsys.readouterr().err

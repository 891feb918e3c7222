"""basenji_motifs_inject.py: motif insertion into background windows and its effects."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from basenji_tf.cli.basenji_motifs_inject import main
from basenji_tf.dna import dna_1hot, hot1_index, hot1_rc
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.interpret.motifs_inject import (
    InjectOptions,
    Motif,
    motif_rng,
    motif_scores,
    motif_start,
    motif_windows,
    read_motifs,
    sample_bases,
)

MEME = """MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies:
A 0.25 C 0.25 G 0.25 T 0.25

MOTIF M1 (GATA4)_(Homo_sapiens)_(DBD_1.00)
letter-probability matrix: alength= 4 w= 4 nsites= 10
0 0 1 0
1 0 0 0
0 0 0 1
1 0 0 0

MOTIF M2 CTCF
letter-probability matrix: alength= 4 w= 5 nsites= 10
0.0 1.0 0.0 0.0
0.0 0.0 0.0 1.0
0.0 0.0 1.0 0.0
1.0 0.0 0.0 0.0
0.0 0.0 1.0 0.0

MOTIF M3 soft
letter-probability matrix: alength= 4 w= 3 nsites= 10
0.7 0.1 0.1 0.1
0.1 0.1 0.2 0.6
0.25 0.25 0.25 0.25
"""


@pytest.fixture
def meme(tmp_path):
    path = tmp_path / "motifs.meme"
    path.write_text(MEME)
    return str(path)


@pytest.fixture
def bed(tmp_path):
    path = tmp_path / "bg.bed"
    # gata4_locus.fa: chrG, 131,072 bp; the model's window is 16,384 bp
    path.write_text("chrG\t60000\t60010\tr1\t0\t+\nchrG\t70000\t70100\tr2\t0\t-\n")
    return str(path)


def test_read_motifs_names_and_exponent(meme):
    motifs = read_motifs(meme, pwm_exp=2.0)
    assert [(m.id, m.tf) for m in motifs] == [("M1", "GATA4"), ("M2", "CTCF"), ("M3", "soft")]
    soft = np.array([[0.49, 0.01, 0.01, 0.01], [0.01, 0.01, 0.04, 0.36], [1, 1, 1, 1]])
    np.testing.assert_allclose(motifs[2].pwm, soft / soft.sum(axis=1, keepdims=True))


def test_inserted_sequence_at_the_centre_plus_offset():
    seq_length = 100
    background = dna_1hot("A" * seq_length)
    onehot = np.eye(4)[[2, 1, 3, 3, 0]]  # GCTTA, one base per row: the draw is certain
    motifs = [Motif("m", "m", onehot)]
    for offset, start in ((0, 48), (7, 55), (-10, 38)):
        assert motif_start(seq_length, 5, offset) == start  # L // 2 + offset - width // 2
        window = motif_windows(background, motifs, 0, InjectOptions(offset=offset))[0]
        assert window.dtype == np.float32 and window.shape == (seq_length, 4)
        text = "".join("ACGT"[i] for i in hot1_index(window))
        assert text == "A" * start + "GCTTA" + "A" * (seq_length - start - 5)
    with pytest.raises(InputError, match="-s 60: a 5 bp motif there leaves the 100 bp window"):
        motif_start(seq_length, 5, 60)


def test_bases_are_drawn_from_the_pwm_and_seeded():
    pwm = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 0.5, 0.5]])
    draws = np.stack([sample_bases(pwm, motif_rng(1, 0, k)) for k in range(4000)])
    freq = np.stack([np.bincount(draws[:, i], minlength=4) / len(draws) for i in range(2)])
    np.testing.assert_allclose(freq, pwm, atol=0.03)
    again = np.stack([sample_bases(pwm, motif_rng(1, 0, k)) for k in range(4000)])
    np.testing.assert_array_equal(draws, again)
    other = np.stack([sample_bases(pwm, motif_rng(2, 0, k)) for k in range(4000)])
    assert (draws != other).any()


def test_a_motifs_bases_do_not_depend_on_the_others(meme):
    motifs = read_motifs(meme)
    background = dna_1hot("ACGT" * 50)
    all_three = motif_windows(background, motifs, 3, InjectOptions(seed=5))
    from basenji_tf.interpret.motifs_inject import inject_chunk

    last_alone = inject_chunk(background, motifs[2:], 2, 3, InjectOptions(seed=5))
    np.testing.assert_array_equal(all_three[2], last_alone[0])


def test_scores_center_on_the_motif_mean():
    effects = np.array([[[1.0], [3.0]], [[2.0], [6.0]]])  # [N=2, M=2, T=1]
    scores, var = motif_scores(effects)
    np.testing.assert_allclose(scores[:, 0], [-1.5, 1.5])
    np.testing.assert_allclose(var[:, 0], [0.25, 0.25])


@pytest.mark.slow
def test_effect_equals_predicting_both_windows(tmp_path, small_model, meme, bed):
    from basenji_tf.scoring.ensemble import ModelSpec, load_predictor

    out = tmp_path / "out"
    argv = ["--db", meme, "-g", small_model["fasta"], "-o", str(out), "-s", "100", "--rc"]
    argv += ["--seed", "3", small_model["params"], small_model["model"], bed]
    assert main(argv) == 0
    with h5py.File(out / "scores.h5") as h5:
        assert list(h5["motif"][()]) == [b"M1", b"M2", b"M3"]
        assert list(h5["tf"][()]) == [b"GATA4", b"CTCF", b"soft"]
        assert h5["scores"].dtype == np.float16 and h5["var"].dtype == np.float16
        scores, var = h5["scores"][()], h5["var"][()]

    spec = ModelSpec(small_model["params"], small_model["model"], rc=True, batch_size=4)
    head, predictor, _ = load_predictor(spec)
    motifs = read_motifs(meme)
    options = InjectOptions(offset=100, seed=3)
    effects = []
    with Genome(small_model["fasta"]) as genome:
        fwd = dna_1hot(genome.fetch("chrG", 60005 - 8192, 60005 + 8192))
        rev = hot1_rc(dna_1hot(genome.fetch("chrG", 70050 - 8192, 70050 + 8192)))
    for i, background in enumerate((fwd, rev)):
        windows = motif_windows(background, motifs, i, options)
        # the minus-strand window gets the motif in its own orientation
        start = motif_start(head.seq_length, 4, 100)
        assert "".join("ACGT"[b] for b in hot1_index(windows[0])[start : start + 4]) == "GATA"
        preds = predictor.predict(np.concatenate([background[None], windows]))
        sums = preds.sum(axis=1, dtype=np.float64)
        effects.append(sums[1:] - sums[0])
    want_scores, want_var = motif_scores(np.array(effects))
    np.testing.assert_allclose(scores, want_scores, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(var, want_var, rtol=2e-3, atol=1e-6)
    assert np.abs(want_scores).max() > 1e-3  # the motifs change the predictions


@pytest.mark.slow
@pytest.mark.fixed_shape
def test_effects_do_not_depend_on_the_motifs_sharing_a_call(small_model, meme, monkeypatch):
    from basenji_tf.interpret import motifs_inject
    from basenji_tf.scoring.ensemble import ModelSpec, load_predictor

    spec = ModelSpec(small_model["params"], small_model["model"], rc=True, batch_size=4)
    _, predictor, _ = load_predictor(spec)
    assert predictor.splice is not None  # the motif windows reuse their background's tower
    motifs = read_motifs(meme)
    with Genome(small_model["fasta"]) as genome:
        backgrounds = [dna_1hot(genome.fetch("chrG", s, s + 16384)) for s in (50000, 80000)]
    options = InjectOptions(seed=2)
    together = motifs_inject.motif_effects(predictor, backgrounds, motifs, options)
    monkeypatch.setattr(motifs_inject, "MOTIFS_PER_CALL", 1)
    alone = motifs_inject.motif_effects(predictor, backgrounds, motifs, options)
    np.testing.assert_array_equal(together, alone)
    assert together.shape == (2, 3, 8) and np.abs(together).max() > 1e-2


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("cisbp", "--db cisbp: the CIS-BP motifs are not shipped with basenji-tf; give --db"),
        ("missing.meme", "--db missing.meme: no such MEME file; give a MEME motif file or"),
    ],
)
def test_database_errors_are_one_line(capsys, tmp_path, small_model, bed, db, message):
    argv = ["--db", db, "-g", small_model["fasta"], "-o", str(tmp_path / "o")]
    assert main([*argv, small_model["params"], small_model["model"], bed]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"basenji_motifs_inject.py: error: {message}")


def test_default_database_is_refused(capsys, tmp_path, small_model, bed):
    argv = ["-g", small_model["fasta"], "-o", str(tmp_path / "o")]
    assert main([*argv, small_model["params"], small_model["model"], bed]) == 1
    assert "--db cisbp: the CIS-BP motifs are not shipped" in capsys.readouterr().err


def test_empty_meme_file_is_one_line(capsys, tmp_path, small_model, bed):
    empty = tmp_path / "empty.meme"
    empty.write_text("MEME version 4\n")
    argv = ["--db", str(empty), "-g", small_model["fasta"], "-o", str(tmp_path / "o")]
    assert main([*argv, small_model["params"], small_model["model"], bed]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"basenji_motifs_inject.py: error: --db {empty}: no MOTIF found; give a "
                   "MEME motif file or jaspar"]  # fmt: skip


def test_ce11_without_its_environment_is_one_line(capsys, tmp_path, small_model, meme, bed):
    argv = ["--db", meme, "-o", str(tmp_path / "o"), small_model["params"], small_model["model"]]
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CE11", raising=False)
        assert main([*argv, bed]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "basenji_motifs_inject.py: error: -g ce11: the original's $CE11/assembly/ce11.fa, "
        "and $CE11 is not set; give -g a genome FASTA"
    ]


@pytest.mark.slow
def test_region_near_a_chromosome_end_is_one_line(capsys, tmp_path, small_model, meme):
    bed = tmp_path / "edge.bed"
    bed.write_text("chrG\t60000\t60010\tok\nchrG\t1000\t1010\tedge\n")
    argv = ["--db", meme, "-g", small_model["fasta"], "-o", str(tmp_path / "o")]
    assert main([*argv, small_model["params"], small_model["model"], str(bed)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"basenji_motifs_inject.py: error: {bed}: record 2 (edge): its 16384 bp window "
        "chrG:-7187-9197 leaves chrG (131072 bp); drop the record or move it away from the "
        "chromosome's end"
    ]
    assert not (tmp_path / "o" / "scores.h5").exists()

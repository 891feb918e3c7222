"""Motif matches that can be trusted: controls of basenji_motifs.py's Tomtom matching.

A uniform or nearly uniform filter, a composition-only filter and a column-shuffled JASPAR
matrix must match nothing at q < 0.05; a filter PWM built (as basenji_motifs.py builds
one) from sites sampled from a JASPAR matrix must match that matrix first. Before the
fix every weak filter matched JASPAR's extended CTCF matrices (issue 22).
"""

import numpy as np
import pytest

from basenji_tf.errors import InputError
from basenji_tf.interpret.motifs import (
    filter_sites,
    meme_text,
    read_motif_db,
    site_pwm,
    tomtom_columns,
    tomtom_matches,
)

pytest.importorskip("memelite")

# Matrices with varied columns: (JASPAR ID without version, protein, what must match
# first: the matrix itself, or for CEBPB any CEBP, whose matrices are near copies of one
# another; CEBPE's comes first from some samples of CEBPB's). A low-complexity matrix such
# as SP1's GC box (MA0079) is no control: its column shuffles are GC boxes too.
KNOWN = [
    ("MA0139", "CTCF", None),
    ("MA0035", "GATA1", None),
    ("MA0080", "SPI1", None),
    ("MA0466", "CEBPB", "CEBP"),
]


@pytest.fixture(scope="module")
def jaspar():
    """JASPAR CORE vertebrates (pyjaspar, offline): (ids, names, PWMs [4, width])."""
    pytest.importorskip("pyjaspar")
    return read_motif_db(None)


def matrix(db, base_id: str) -> tuple[int, np.ndarray]:
    """(index, PWM [4, width]) of the newest version of a JASPAR matrix in the database."""
    versions = [i for i, motif_id in enumerate(db[0]) if motif_id.split(".")[0] == base_id]
    best = max(versions, key=lambda i: int(db[0][i].split(".")[1]))
    return best, db[2][best]


def sampled_filter_pwm(pwm: np.ndarray, n_sites: int, flank: int, seed: int) -> np.ndarray:
    """A filter PWM [width + 2 flank, 4] from n_sites sites drawn from a PWM [4, width].

    Each site is planted in a random sequence where a filter's activation peaks;
    :func:`filter_sites` and :func:`site_pwm` turn them into the PWM as basenji_motifs.py
    does, so a filter wider than the motif sees random flanks.
    """
    rng = np.random.default_rng(seed)
    width = pwm.shape[1]
    length = width + 2 * flank + 40
    codes = rng.integers(0, 4, size=(n_sites, length)).astype(np.uint8)
    probs = pwm / pwm.sum(axis=0)
    for col in range(width):
        codes[:, 20 + flank + col] = rng.choice(4, size=n_sites, p=probs[:, col])
    acts = np.zeros((n_sites, length), np.float32)
    centre = 20 + (width + 2 * flank - 1) // 2  # site_pwm's window starts (w - 1) // 2 before
    acts[:, centre] = 1.0
    pwm_sites, nsites = site_pwm(codes, filter_sites(acts, 0.5, None), width + 2 * flank)
    assert nsites == n_sites
    return pwm_sites


def test_columns_score_by_pearson_correlation():
    rng = np.random.default_rng(0)
    q, t = rng.dirichlet(np.ones(4), size=50).T, rng.dirichlet(np.ones(4), size=50).T  # [4, 50]
    a, b = tomtom_columns(q, False), tomtom_columns(t, True)
    r = np.array([np.corrcoef(q[:, i], t[:, i])[0, 1] for i in range(50)])
    norm_a = np.linalg.norm(a, axis=0)
    expected = np.sqrt(norm_a**2 + 1 - 2 * norm_a * r)
    np.testing.assert_allclose(np.linalg.norm(a - b, axis=0), expected, atol=1e-12)
    # a uniform target column correlates 0 with everything; a uniform query column is
    # equally far from every target column; reversing both axes is the reverse complement
    uniform = np.full((4, 1), 0.25)
    flat_t = tomtom_columns(uniform, True)
    np.testing.assert_allclose(np.linalg.norm(a - flat_t, axis=0), np.sqrt(norm_a**2 + 1))
    assert np.abs(tomtom_columns(uniform, False)).max() == 0
    np.testing.assert_allclose(tomtom_columns(t[::-1, ::-1], True), b[::-1, ::-1])


@pytest.mark.slow
def test_uniform_weak_and_composition_only_filters_match_nothing(jaspar):
    rng = np.random.default_rng(1)
    peak = np.full((15, 4), 0.25)
    peak[7] = [0.55, 0.15, 0.15, 0.15]  # one column of 0.3 bits, the rest uniform
    queries = {
        "uniform": np.full((15, 4), 0.25),
        "peak": peak,
        "gc_rich": np.tile([0.22, 0.28, 0.28, 0.22], (15, 1)),  # base composition only
    }
    # and a model's worth of weak random filters, matched together as basenji_motifs.py
    # matches a model's filters (from ~0.3 bits per column down to < 0.01)
    for i, concentration in enumerate(np.repeat([5.0, 20.0, 100.0, 1000.0], 12)):
        queries[f"noise{i}"] = rng.dirichlet(np.full(4, concentration), size=15)
    matches = tomtom_matches(queries, jaspar, threads=1)
    assert matches.empty, matches.head()


@pytest.mark.slow
def test_column_shuffled_jaspar_matrices_match_nothing(jaspar):
    rng = np.random.default_rng(2)
    queries = {}
    for base_id, protein, _ in KNOWN:
        _, pwm = matrix(jaspar, base_id)
        for s in range(3):
            queries[f"{protein}_shuffled{s}"] = pwm[:, rng.permutation(pwm.shape[1])].T
    matches = tomtom_matches(queries, jaspar, threads=1)
    assert not (matches["q-value"] < 0.05).any(), matches.head()


@pytest.mark.slow
@pytest.mark.parametrize("n_sites", [30, 200])
def test_a_filter_of_sampled_sites_matches_its_matrix_first(jaspar, n_sites):
    queries, truth = {}, {}
    for seed, (base_id, protein, family) in enumerate(KNOWN):
        index, pwm = matrix(jaspar, base_id)
        queries[protein] = sampled_filter_pwm(pwm, n_sites, flank=2, seed=seed)
        truth[protein] = (jaspar[0][index], family)
    matches = tomtom_matches(queries, jaspar, threads=1)
    for protein, (motif_id, family) in truth.items():
        own = matches[matches["Query_ID"] == protein].reset_index(drop=True)
        assert len(own), protein
        if family is None:
            assert own["Target_ID"][0] == motif_id, (protein, own.head(3))
        else:
            assert own["Target_name"][0].upper().startswith(family), (protein, own.head(3))
        assert motif_id in set(own["Target_ID"]), protein
        assert (own.loc[own["Target_ID"] == motif_id, "q-value"] < 0.05).all(), protein


def test_a_meme_file_with_a_negative_column_is_one_line(tmp_path):
    path = tmp_path / "bad.meme"
    pwm = np.array([[0.5, 0.5, 0.5, -0.5], [0.25, 0.25, 0.25, 0.25]])
    path.write_text(meme_text({"m1 (X)": (pwm, 10)}, np.full(4, 0.25)))
    with pytest.raises(InputError, match="motif m1 has a negative or all-zero column"):
        read_motif_db(str(path))

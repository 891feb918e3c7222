"""sim.true_model: the noise-free model on synthetic sequences."""

import numpy as np

from basenji_tf.dna import dna_index, dna_rc
from basenji_tf.sim.config import BASE_FREQS, SPECIES_TRACKS
from basenji_tf.sim.motifs import MOTIF_BY_NAME
from basenji_tf.sim.true_model import TrueModel, fragment_coverage


def _track_index(model: TrueModel, identifier: str) -> int:
    return next(i for i, t in enumerate(model.tracks) if t.identifier == identifier)


def _plant(index: np.ndarray, start: int, motif: str, strand: str = "+") -> None:
    seq = MOTIF_BY_NAME[motif].consensus.replace("W", "A").replace("R", "G")
    index[start : start + len(seq)] = dna_index(dna_rc(seq) if strand == "-" else seq)


def test_distal_enhancer_raises_cage_with_distance_decay():
    """A GATA1 enhancer up to 20 kb away raises CAGE at a promoter, less with distance."""
    rng = np.random.default_rng(0)
    model = TrueModel(SPECIES_TRACKS["human"])
    cage_ery = _track_index(model, "CAGE_ery")
    cage_hep = _track_index(model, "CAGE_hep")
    base = rng.choice(4, size=60_000, p=BASE_FREQS).astype(np.uint8)
    tss = 20_000
    _plant(base, tss - 34, "TBP")
    _plant(base, tss - 70, "SP1")

    def cage_at_tss(distance):
        index = base.copy()
        if distance is not None:
            for k in range(3):
                _plant(index, tss + distance + 20 * k, "GATA1")
        expected = model.expected(model.scan(index))
        return expected[tss - 100 : tss + 100, [cage_ery, cage_hep]].sum(axis=0)

    alone = cage_at_tss(None)
    gains = {d: cage_at_tss(d) / alone - 1 for d in (3_000, 12_000, 19_000, 25_000)}
    assert gains[3_000][0] > gains[12_000][0] > gains[19_000][0] > 0.01
    assert abs(gains[25_000][0]) < 1e-6  # beyond distal_max_bp
    assert abs(gains[12_000][1]) < 1e-6  # GATA1 is inactive in hepatic-like cells


def test_fragment_coverage_is_a_box_around_each_start():
    starts = np.zeros(20)
    starts[[0, 10]] = [1, 2]
    coverage = fragment_coverage(starts, 4)
    # a 4-bp fragment counted at s covers [s - 1, s + 3), clipped at the sequence start
    np.testing.assert_array_equal(np.flatnonzero(coverage), [0, 1, 2, 9, 10, 11, 12])
    np.testing.assert_array_equal(coverage[[0, 1, 2, 9, 10, 11, 12]], [1, 1, 1, 2, 2, 2, 2])


def test_splice_equals_a_rescan():
    """Rescanning only around a change gives the sites of the whole new sequence."""
    rng = np.random.default_rng(1)
    model = TrueModel(SPECIES_TRACKS["human"])
    index = rng.choice(4, size=3_000, p=BASE_FREQS).astype(np.uint8)
    _plant(index, 1_000, "CTCF")
    sites = model.scan(index)
    for pos, ref_len, alt in ((1_005, 1, [2]), (990, 12, [0]), (1_010, 1, [1, 2, 3, 0])):
        new_index, new_sites, change = model.splice(index, sites, pos, ref_len, alt)
        rescanned = model.scan(new_index)
        for name, occupancy in rescanned.items():
            np.testing.assert_allclose(new_sites[name], occupancy, atol=1e-6)
            total = occupancy.sum() - sites[name].sum()
            np.testing.assert_allclose(change[name], total, atol=1e-3)

"""dna.py against the original's test_dna_io cases and the encoding conventions."""

import numpy as np
import pytest

from basenji_tf import dna


def test_index_and_1hot_round_trip():
    seq = "ACGTNacgtRYn"
    index = dna.dna_index(seq)
    np.testing.assert_array_equal(index, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4, 4])
    onehot = dna.dna_1hot(seq)
    assert onehot.shape == (12, 4) and onehot.dtype == np.float32
    assert onehot[4].sum() == 0
    assert dna.hot1_dna(onehot) == "ACGTNACGTNNN"


def test_n_uniform():
    onehot = dna.dna_1hot("AN", n_uniform=True)
    np.testing.assert_array_equal(onehot[1], [0.25] * 4)


@pytest.mark.parametrize("seq, rc", [("GATTACA", "TGTAATC"), ("TAGATAC", "GTATCTA")])
def test_reverse_complement(seq, rc):
    assert dna.hot1_dna(dna.hot1_rc(dna.dna_1hot(seq))) == rc
    assert dna.dna_rc(seq) == rc
    assert dna.hot1_dna(dna.hot1_rc(dna.hot1_rc(dna.dna_1hot(seq)))) == seq


@pytest.mark.parametrize(
    "fwdrc, shift, expected",
    [
        (True, 1, "NGATTAC"),
        (False, 0, "TGTAATC"),
        (False, 1, "GTAATCN"),
        (True, -1, "ATTACAN"),
        (False, -1, "NTGTAAT"),
    ],
)
def test_augment_shift_before_rc(fwdrc, shift, expected):
    out = dna.hot1_augment(dna.dna_1hot("GATTACA"), fwdrc=fwdrc, shift=shift)
    assert dna.hot1_dna(out) == expected


def test_insert_delete_keep_length():
    x = dna.dna_1hot("GATTACA")
    assert dna.hot1_dna(dna.hot1_delete(x, 3, 2)) == "GATCANN"
    assert dna.hot1_dna(dna.hot1_insert(x, 3, "AG")) == "GATAGTA"


def test_length_normalisation_centres():
    assert dna.hot1_dna(dna.dna_length_1hot("ACGTAC", 4)) == "CGTA"
    assert dna.hot1_dna(dna.dna_length_1hot("AC", 5)) == "NACNN"


def test_shift_too_far_raises():
    with pytest.raises(ValueError, match="shorter"):
        dna.hot1_shift(dna.dna_1hot("ACGT"), 4)


def test_index_dna_and_index_rc():
    index = dna.dna_index("ACGTNa")
    assert dna.index_dna(index) == "ACGTNA"
    rc = dna.index_rc(index)
    assert rc.dtype == np.uint8
    assert dna.index_dna(rc) == dna.dna_rc("ACGTNA")


def _dinucleotides(seq_1hot):
    index = dna.hot1_index(seq_1hot)
    counts = np.zeros((5, 5), np.int64)
    np.add.at(counts, (index[:-1], index[1:]), 1)
    return counts


def test_dinuc_shuffle_keeps_every_dinucleotide_count_and_the_n_rows():
    rng = np.random.default_rng(3)
    index = rng.choice(4, 3000, p=[0.4, 0.1, 0.1, 0.4])
    index[100:180] = 4  # a gap, and single N's inside runs
    index[rng.choice(3000, 40)] = 4
    seq = dna.index_1hot(index)
    seq[2000] = 0.25  # a uniform N row stays where it is too
    shuffled = dna.dinuc_shuffle(seq, np.random.default_rng(0))
    assert shuffled.dtype == seq.dtype and shuffled.shape == seq.shape
    np.testing.assert_array_equal(_dinucleotides(shuffled), _dinucleotides(seq))
    is_n = dna.hot1_index(seq) == 4
    np.testing.assert_array_equal(shuffled[is_n], seq[is_n])
    assert (dna.hot1_index(shuffled) != dna.hot1_index(seq)).mean() > 0.3
    again = dna.dinuc_shuffle(seq, np.random.default_rng(0))
    np.testing.assert_array_equal(again, shuffled)  # a function of the generator's state
    assert not np.array_equal(dna.dinuc_shuffle(seq, np.random.default_rng(1)), shuffled)


def test_dinuc_shuffle_draws_every_arrangement_about_equally():
    """All sequences with the dinucleotide counts of ACAGTCAT (same ends), uniformly."""
    import itertools
    from collections import Counter

    seq = "ACAGTCAT"
    onehot = dna.dna_1hot(seq)

    def same(s):
        return _dinucleotides(dna.dna_1hot(s)).tolist() == _dinucleotides(onehot).tolist()

    valid = {"".join(p) for p in itertools.permutations(seq) if same("".join(p))}
    rng = np.random.default_rng(7)
    draws = Counter(dna.hot1_dna(dna.dinuc_shuffle(onehot, rng)) for _ in range(1500))
    assert set(draws) == valid and len(valid) > 2
    expected = 1500 / len(valid)
    assert all(abs(n - expected) < 0.25 * expected for n in draws.values())

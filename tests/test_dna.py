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

"""The targets table of a scoring command: slice, strand pairs, un-transformation."""

import h5py
import numpy as np
import pytest

from basenji_tf.scoring.sad import sad_stats
from basenji_tf.scoring.target_set import TargetSet


@pytest.fixture(scope="module")
def sad_dir(reference_dir):
    return reference_dir / "sad_small"


@pytest.fixture(scope="module")
def float32_run(sad_dir):
    return np.load(sad_dir / "sad_float32.npz")


def test_targets_table_slice_strand_and_untransform(sad_dir, float32_run):
    targets = TargetSet.from_table(str(sad_dir / "targets_sad.txt"))
    assert targets.ids == ["H0", "H1", "H2+", "H5+"]
    assert list(targets.slice) == [0, 1, 2, 3, 5, 6]
    assert list(targets.strand_pair) == [0, 1, 3, 2, 5, 4]
    x = np.array([[[0.5, 3.0, 1.0, 2.0, 0.25, 1.5, 0.0]]], dtype=np.float32)
    got = targets.transform(x[..., targets.slice])
    h2 = -1 + (1.0 + 1) ** (4 / 3) + (-1 + (2.0 + 1) ** (4 / 3))
    h1 = -1 + (1.5 - 1 + (3.0 - 1.5 + 1) ** 2 + 1) ** (4 / 3)
    np.testing.assert_allclose(got[0, 0], [0.5, h1, h2, (0.5 - 1 + 2.0**2) + 0.0], rtol=1e-6)
    # Unpaired outputs need no model: the original's H0/H1 columns from run-1 predictions.
    ref = targets.transform(float32_run["ref_preds"][..., targets.slice])
    alt = targets.transform(float32_run["alt_preds"][..., targets.slice])
    scores = sad_stats(ref, alt, ["SAD", "REF"])
    with h5py.File(sad_dir / "sad_targets_out" / "sad.h5") as h5:
        np.testing.assert_allclose(scores["SAD"][:, :2], h5["SAD"][:, :2], rtol=2e-3, atol=1e-3)
        np.testing.assert_array_equal(scores["REF"][..., :2], h5["REF"][..., :2])

"""SharedTower: overlapping windows' towers computed together equal window-by-window."""

import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.dna import dna_1hot
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor
from basenji_tf.scoring.shared_tower import SharedTower


@pytest.fixture(scope="module")
def small(reference_dir):
    """The small Basenji2 reference model's head 0, for inference."""
    d = reference_dir / "basenji2_small"
    return seqnn.load(str(d / "params.json"), str(d / "model0_best.h5")).head


@pytest.mark.slow
@pytest.mark.parametrize("rc", [True, False])
def test_shared_tower_equals_window_by_window(small, rc):
    """Overlapping genome windows share their tower, equal to window-by-window passes.

    Every ensemble member (shifts, reverse complement) equals its own tower pass. Windows
    are grouped by the fixed tile their start falls in (alone in it, off the chromosome's
    start in N, or beyond its end too); windows without a start or not matching the genome
    take their own pass.
    """
    model = small.model
    splice = ConeSplice(model)
    shared = SharedTower(splice)
    length = splice.seq_length
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 4 * length))

    def fetch(chrom, start, end):
        inside = seq[max(start, 0) : max(end, 0)]
        padded = "N" * max(0, -start) + inside
        return dna_1hot(padded + "N" * (end - start - len(padded)), n_uniform=True)

    starts = [-300, 5, 130, 131, 1000, 9001, 2 * length, None, 6 * length, 77]
    loci = [None if s is None else ("c", s) for s in starts]
    windows = np.stack([fetch("c", s or 0, (s or 0) + length) for s in starts])
    windows[-1, 4000] = windows[-1, 4000, ::-1]  # a REF put in for the genome's allele
    predictor = EnsemblePredictor(model, rc=rc, shifts=[0, 1, -1], splice=splice)
    inputs = predictor._member_inputs(windows)
    whole_rows = []

    def call(fn, x):
        if x.shape[1] == length:
            whole_rows.append(len(x))
        return predictor._call(fn, x)

    got = shared.outputs(loci, predictor.members, inputs, call, fetch)
    step = shared.tile_step_bp
    assert step == length // 8
    assert shared.tiles(loci) == {
        ("c", -1): [0],
        ("c", 0): [1, 2, 3, 4, 9],
        ("c", 9001 // step): [5],
        ("c", 2 * length // step): [6],
        ("c", 6 * length // step): [8],
    }
    assert whole_rows == [len(predictor.members) * 2]  # each member of rows 7 and 9
    want = predictor._call(splice.tower, inputs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)

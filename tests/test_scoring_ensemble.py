"""EnsemblePredictor: the original's float32 predictions, and the Keras ensemble's."""

import numpy as np
import pytest

from basenji_tf import layers, seqnn
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor


@pytest.fixture(scope="module")
def small(reference_dir):
    """The small Basenji2 reference model's head 0, for inference."""
    d = reference_dir / "basenji2_small"
    return seqnn.load(str(d / "params.json"), str(d / "model0_best.h5")).head


@pytest.fixture(scope="module")
def sad_dir(reference_dir):
    return reference_dir / "sad_small"


@pytest.mark.slow
def test_float32_predictions_and_seqnn_ensemble(small, sad_dir):
    """Our batched ensemble (spliced and not) matches the original's float32 arrays.

    It also matches the Keras ensemble of the head (``Head.predict``).
    """
    model = small.model
    z = np.load(sad_dir / "sad_float32.npz")
    refs = z["ref_onehot"].astype(np.float32)
    alts = z["alt_onehot"].astype(np.float32)
    index = np.arange(len(refs))
    plain = EnsemblePredictor(model, True, [0, 1, -1], batch_size=12)
    spliced = EnsemblePredictor(model, True, [0, 1, -1], splice=ConeSplice(model))
    for predictor in (plain, spliced):
        ref_p, alt_p = predictor.predict_pairs(refs, alts, index)
        np.testing.assert_allclose(ref_p, z["ref_preds"], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(alt_p, z["alt_preds"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        small.predict(refs[:3], rc=True, shifts=[0, 1, -1]),
        plain.predict(refs[:3]),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("rc", [True, False])
def test_keras_layers_and_predictor_share_members_and_averaging(rc):
    """The Keras ensemble layers and the numpy predictor agree bit for bit.

    They build the same member inputs and average the same member predictions to the
    same bits (one definition).
    """
    rng = np.random.default_rng(0)
    seqs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 16))]
    shifts, pair = [0, 2, -1], [1, 0, 2]
    predictor = EnsemblePredictor(lambda x: x, rc, shifts, strand_pair=pair)
    members = np.asarray(layers.EnsembleInputs(shifts, rc)(seqs))
    np.testing.assert_array_equal(predictor._member_inputs(seqs), members)
    preds = rng.normal(size=(len(predictor.members) * 3, 5, 3)).astype(np.float32)
    keras_avg = np.asarray(layers.EnsembleAverage(len(shifts), rc, pair)(preds))
    np.testing.assert_array_equal(predictor._average(preds), keras_avg)
    # by hand: RC members flipped back along the length, paired targets swapped
    parts = np.split(preds, len(predictor.members))
    flip = [p[:, ::-1][..., pair] if not fw else p for (_, fw), p in zip(predictor.members, parts)]
    np.testing.assert_allclose(keras_avg, np.mean(flip, axis=0), rtol=1e-6)

"""ConeSplice: ALT predictions recomputed only inside the edit's cone equal full ones."""

import keras
import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor


@pytest.fixture(scope="module")
def small(reference_dir):
    """The small Basenji2 reference model's head 0, for inference."""
    d = reference_dir / "basenji2_small"
    return seqnn.load(str(d / "params.json"), str(d / "model0_best.h5")).head


@pytest.mark.slow
def test_cone_splice_is_exact(small):
    """Spliced ALT predictions equal full ones.

    For SNVs anywhere (edges included), a short multi-base change, and a long change that
    takes the full pass.
    """
    model = small.model
    splice = ConeSplice(model)
    assert (splice.stride_bp, splice.reach_bp) == (128, 7 + 2 * (2 + 4 + 8 + 16 + 32 + 64))
    assert {kind for *_, kind in splice._steps} == {"pointwise", "conv", "merge", "crop"}
    rng = np.random.default_rng(0)
    length = model.input.shape[1]
    ref = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (2, length))]
    positions = [0, 5, 127, 128, 300, 8191, 8192, 16000, length - 1]
    alts = np.repeat(ref[[0]], len(positions) + 2, axis=0)
    for j, p in enumerate(positions):
        alts[j, p] = np.roll(alts[j, p], 1)
    alts[-2, 4000:4003] = 0.25  # a short multi-base change, still one band
    alts[-1, 4000:4400] = 0.25  # longer than a band: the full pass
    alt_ref = np.zeros(len(alts), dtype=int)
    full = EnsemblePredictor(model, rc=True, shifts=[0, 1])
    fast = EnsemblePredictor(model, rc=True, shifts=[0, 1], splice=splice, batch_size=3)
    want = full.predict_pairs(ref, alts, alt_ref)
    got = fast.predict_pairs(ref, alts, alt_ref)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("unknown", ["layer_norm", "concatenate"])
def test_cone_splice_any_layer_stays_exact(unknown):
    """A layer the band logic does not know widens the band to the whole length.

    LayerNormalization, or Concatenate with two inputs; convolutions of even width and
    dilation, Add and cropping around it keep their bands; results stay exact.
    """
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((1024, 4))
    x = keras.layers.Conv1D(8, 5, padding="same")(x)
    x = keras.layers.MaxPooling1D(8)(x)
    y = keras.layers.Conv1D(8, 4, padding="same", dilation_rate=3, activation="relu")(x)
    x = keras.layers.Add()([x, y])
    z = keras.layers.Conv1D(8, 3, padding="same")(x)
    if unknown == "layer_norm":
        z = keras.layers.LayerNormalization()(z)
    else:
        z = keras.layers.Concatenate()([z, y])
    x = keras.layers.Add()([x, keras.layers.Conv1D(8, 3, padding="same")(z)])
    x = keras.layers.Cropping1D((3, 5))(x)
    outputs = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    splice = ConeSplice(model)
    kinds = [kind for *_, kind in splice._steps]
    assert kinds.count("whole") == 1 and kinds.count("conv") == 3
    rng = np.random.default_rng(1)
    ref = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (1, 1024))]
    alts = np.repeat(ref, 4, axis=0)
    for j, p in enumerate([0, 9, 500, 1023]):
        alts[j, p] = np.roll(alts[j, p], 1)
    alt_ref = np.zeros(len(alts), dtype=int)
    want = EnsemblePredictor(model).predict_pairs(ref, alts, alt_ref)
    got = EnsemblePredictor(model, splice=splice).predict_pairs(ref, alts, alt_ref)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)

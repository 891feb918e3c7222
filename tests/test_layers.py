"""Custom layers: values computed by hand, serialization, augmentation behaviour."""

import keras
import numpy as np
import pytest

from basenji_tf import dna, layers


def test_gelu_forms_at_known_points():
    x = np.array([0.0, 1.0, 2.29], np.float32)
    sigmoid = np.asarray(layers.gelu_sigmoid(x))
    tanh = np.asarray(layers.gelu_tanh(x))
    erf = np.asarray(layers.gelu_erf(x))
    np.testing.assert_allclose(sigmoid[:2], [0.0, 1 / (1 + np.exp(-1.702))], rtol=1e-6)
    np.testing.assert_allclose(tanh[1], 0.8411920, rtol=1e-5)
    np.testing.assert_allclose(erf[1], 0.8413447, rtol=1e-5)
    assert abs(sigmoid[2] - tanh[2]) == pytest.approx(0.0207, abs=5e-4)


def test_exp_linear_is_smooth_and_positive():
    x = np.array([-3.0, -1e-4, 0.0, 1e-4, 5.0], np.float32)
    y = np.asarray(layers.exp_linear(x))
    np.testing.assert_allclose(y, [np.exp(-3), np.exp(-1e-4), 1.0, 1.0001, 6.0], rtol=1e-5)


def test_unknown_activation_lists_valid():
    with pytest.raises(ValueError, match="unknown activation 'gleu'.*gelu_sigmoid"):
        layers.resolve_activation_name("gleu")


LAYERS = [
    layers.Activate("gelu_sigmoid"),
    layers.Softplus(exp_max=5.0),
    layers.Exp(base=2.0, minus=1.0),
    layers.Scale(),
    layers.StochasticReverseComplement(seed=1),
    layers.StochasticShift(3, symmetric=False, seed=2),
    layers.SwitchReverse([1, 0]),
    layers.EnsembleInputs([0, 1], rc=True),
    layers.EnsembleAverage(2, rc=True, strand_pair=[1, 0]),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_stochastic_rc_flips_whole_batch_consistently():
    x = dna.dna_1hot("GATTACA")[None].repeat(2, axis=0)
    layer = layers.StochasticReverseComplement(seed=0)
    seen = set()
    for _ in range(20):
        out, reverse = layer(x, training=True)
        out, reverse = np.asarray(out), bool(reverse)
        expected = dna.hot1_rc(x) if reverse else x
        np.testing.assert_array_equal(out, expected)
        seen.add(reverse)
    assert seen == {True, False}
    out, reverse = layer(x, training=False)
    np.testing.assert_array_equal(np.asarray(out), x)
    assert not bool(reverse)


def test_stochastic_shift_pads_with_n():
    x = dna.dna_1hot("GATTACA")[None]
    layer = layers.StochasticShift(2, seed=0)
    seen = set()
    for _ in range(30):
        out = dna.hot1_dna(np.asarray(layer(x, training=True))[0])
        seen.add(out)
    expected = {dna.hot1_dna(dna.hot1_shift(x[0], s)) for s in range(-2, 3)}
    assert seen == expected
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_switch_reverse_swaps_strands():
    preds = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    layer = layers.SwitchReverse([1, 0, 2, 3])
    out = np.asarray(layer([preds, np.bool_(True)]))
    np.testing.assert_array_equal(out, preds[:, ::-1][:, :, [1, 0, 2, 3]])
    np.testing.assert_array_equal(np.asarray(layer([preds, np.bool_(False)])), preds)


def test_ensemble_average_of_identity_model_undoes_rc():
    """Through an identity 'model', RC members flipped back equal forward members."""
    x = np.random.default_rng(0).random((2, 6, 4)).astype(np.float32)
    members = layers.EnsembleInputs([0], rc=True)(x)
    assert members.shape == (4, 6, 4)
    flipped_channels = np.asarray(members)[2:, :, ::-1]  # complement channels back
    merged = np.concatenate([np.asarray(members)[:2], flipped_channels])
    out = np.asarray(layers.EnsembleAverage(1, rc=True)(merged))
    np.testing.assert_allclose(out, x, rtol=1e-6)


def test_ensemble_members_in_the_originals_order():
    assert layers.ensemble_members([0, 1, -1], rc=True) == [
        (0, True),
        (0, False),
        (1, True),
        (1, False),
        (-1, True),
        (-1, False),
    ]
    assert layers.ensemble_members([0, 2]) == [(0, True), (2, True)]


def test_average_members_flips_and_swaps_rc_members():
    forward = np.arange(6, dtype=np.float32).reshape(1, 3, 2)
    reverse = forward[:, ::-1][:, :, [1, 0]] * 3  # an RC member seeing 3x the signal
    out = np.asarray(
        layers.average_members(
            np.concatenate([forward, reverse]), [True, False], strand_pair=[1, 0]
        )
    )
    np.testing.assert_array_equal(out, forward * 2)

"""Batch normalisation folded into convolutions (basenji_tf/fold.py) for inference.

The folded model must give the unfolded model's outputs within 1e-5 relative (of the
largest output, and elementwise where an output is not tiny) on random Basenji2-shaped
models with non-trivial statistics, on the original's small two-head model file
(tests/data/reference/basenji2_small, tanh GELU) and on the 2020 code's sigmoid GELU.
"""

import json

import keras
import numpy as np
import pytest

from basenji_tf import dna, fold, seqnn
from basenji_tf.errors import InputError

REL = 1e-5


def tiny_params(activation: str = "gelu_sigmoid", seq_length: int = 2048) -> dict:
    """A Basenji2-shaped model (conv stem, tower, dilated residuals, crop, final conv)."""
    return {
        "seq_length": seq_length,
        "activation": activation,
        "norm_type": "batch",
        "bn_momentum": 0.9,
        "trunk": [
            {"name": "conv_block", "filters": 12, "kernel_size": 15, "pool_size": 2},
            {
                "name": "conv_tower",
                "filters_init": 14,
                "filters_mult": 1.2,
                "kernel_size": 5,
                "pool_size": 2,
                "repeat": 3,
            },
            {
                "name": "dilated_residual",
                "filters": 8,
                "rate_mult": 1.5,
                "repeat": 4,
                "dropout": 0.3,
                "round": True,
            },
            {"name": "Cropping1D", "cropping": 8},
            {"name": "conv_block", "filters": 24, "dropout": 0.05},
        ],
        "head_human": {"name": "final", "units": 5, "activation": "softplus"},
        "head_mouse": {"name": "final", "units": 3, "activation": "softplus"},
    }


def randomize_norms(model: keras.Model, seed: int = 0) -> None:
    """Give every BatchNormalization random gamma, beta and moving statistics."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.3, 2.0, n).astype(np.float32),
                    rng.normal(0, 0.5, n).astype(np.float32),
                    rng.normal(0, 0.5, n).astype(np.float32),
                    rng.uniform(0.2, 3.0, n).astype(np.float32),
                ]
            )


def sequences(n: int, length: int, seed: int = 1) -> np.ndarray:
    return dna.index_1hot(np.random.default_rng(seed).integers(0, 4, (n, length)))


def assert_close(folded: np.ndarray, plain: np.ndarray) -> None:
    """Within REL of the largest output; elementwise within 10 REL where |plain| > 1e-2 of it.

    Elementwise, float32 rounding through twenty layers moves an output by ~1e-6 of the
    largest (the same as the plain model under XLA), so an output at 1% of the largest
    moves by up to ~1e-4 of itself: measured up to 6.8e-5 on these models.
    """
    scale = np.abs(plain).max()
    assert scale > 0
    assert np.abs(folded - plain).max() / scale < REL
    big = np.abs(plain) > 1e-2 * scale
    assert big.mean() > 0.1
    assert (np.abs(folded - plain)[big] / np.abs(plain)[big]).max() < REL * 10


def norm_count(model: keras.Model) -> int:
    return sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_folded_weights_match_normalised_conv_by_hand():
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(5, 3, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    gamma, beta, mean = (rng.normal(size=4) for _ in range(3))
    var = rng.uniform(0.1, 2, 4)
    new_kernel, new_bias = fold.folded_conv_weights(kernel, bias, gamma, beta, mean, var, 1e-3)
    x = rng.normal(size=(20, 5, 3))  # 20 receptive fields
    conv = np.einsum("pki,kio->po", x, kernel.astype(np.float64)) + bias
    expected = (conv - mean) / np.sqrt(var + 1e-3) * gamma + beta
    got = np.einsum("pki,kio->po", x, new_kernel.astype(np.float64)) + new_bias
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert new_kernel.dtype == np.float32 and new_bias.dtype == np.float32
    # no bias, no scale, no centre: gamma 1, beta 0
    k2, b2 = fold.folded_conv_weights(kernel, None, None, None, mean, var, 1e-3)
    np.testing.assert_allclose(b2, -mean / np.sqrt(var + 1e-3), rtol=1e-6)
    np.testing.assert_allclose(k2, kernel / np.sqrt(var + 1e-3), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["gelu_sigmoid", "gelu", "relu"])
def test_random_basenji2_shaped_model_folds_within_tolerance(activation):
    keras.utils.set_random_seed(1)
    net = seqnn.SeqNN(tiny_params(activation), augment=False)
    randomize_norms(net.model)
    x = sequences(3, net.seq_length)
    plains = [seqnn.predict_model(m, x, 3) for m in net.models]
    trunk_plain = seqnn.predict_model(net.model_trunk, x, 3)
    net.fold_batch_norm()
    assert net.folded and all(norm_count(m) == 0 for m in net.models)
    for model, plain in zip(net.models, plains):
        assert_close(seqnn.predict_model(model, x, 3), plain)
    assert_close(seqnn.predict_model(net.model_trunk, x, 3), trunk_plain)


def test_every_conv_norm_pair_folds_and_nothing_else_changes():
    net = seqnn.SeqNN(tiny_params(), augment=False)
    model = net.model
    pairs = fold.foldable_pairs(model)
    assert len(pairs) == norm_count(model) == 1 + 3 + 2 * 4 + 1
    folded = fold.fold_batch_norm(model)
    assert norm_count(folded) == 0 and folded.name == model.name
    kept = [layer.name for layer in model.layers if layer.name not in pairs]
    assert [layer.name for layer in folded.layers] == kept
    for name in pairs.values():
        assert folded.get_layer(name).use_bias and not model.get_layer(name).use_bias
    for layer in model.layers:
        if layer.name not in pairs and layer.name not in pairs.values():
            for a, b in zip(layer.get_weights(), folded.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)
    # the original keeps its graph: one call per layer (cone splicing relies on it)
    assert all(len(layer._inbound_nodes) == 1 for layer in model.layers)


def test_only_conv_directly_before_norm_folds():
    x = keras.Input((64, 4))
    a = keras.layers.Conv1D(6, 3, padding="same", name="shared")(x)
    b = keras.layers.BatchNormalization(name="bn_shared")(a)
    c = keras.layers.Add(name="add")([a, b])  # the conv's output is used twice
    d = keras.layers.SeparableConv1D(6, 3, padding="same", name="sep")(c)
    e = keras.layers.BatchNormalization(name="bn_sep")(d)
    f = keras.layers.Conv1D(6, 3, padding="same", activation="relu", name="relu_conv")(e)
    g = keras.layers.BatchNormalization(name="bn_relu")(f)
    h = keras.layers.Conv1D(6, 3, padding="same", dilation_rate=2, name="dil")(g)
    i = keras.layers.BatchNormalization(name="bn_dil")(h)
    model = keras.Model(x, i)
    keras.utils.set_random_seed(3)
    randomize_norms(model)
    assert fold.foldable_pairs(model) == {"bn_dil": "dil"}
    folded = fold.fold_batch_norm(model)
    assert norm_count(folded) == 3
    xs = sequences(2, 64)
    assert_close(
        seqnn.predict_model(folded, xs, 2),
        seqnn.predict_model(model, xs, 2),
    )


@pytest.mark.slow
@pytest.mark.parametrize("head_i", [0, 1])
def test_released_weight_fixture_folds_within_tolerance(reference_dir, head_i):
    root = reference_dir / "basenji2_small"
    preds = np.load(root / "predictions.npz")
    x = preds["sequence_onehot"]
    params, model_file = root / "params.json", root / f"model{head_i}_best.h5"
    plain = seqnn.load(params, model_file, head_i).predict(x)
    folded_net = seqnn.load(params, model_file, head_i, fold=True)
    assert folded_net.folded and norm_count(folded_net.model) == 0
    folded = folded_net.predict(x)
    assert_close(folded, plain)
    np.testing.assert_allclose(folded, preds[f"pred_head{head_i}"], atol=1e-4, rtol=1e-4)
    folded_net.build_ensemble(True, [0, 1, -1])
    np.testing.assert_allclose(
        folded_net.predict(x), preds[f"pred_head{head_i}_rc_shifts"], atol=1e-4, rtol=1e-4
    )


@pytest.mark.fixed_shape
def test_folded_row_alone_equals_row_in_batch():
    keras.utils.set_random_seed(2)
    net = seqnn.SeqNN(tiny_params(), augment=False)
    randomize_norms(net.model)
    net.fold_batch_norm()
    x = sequences(3, net.seq_length)
    together = seqnn.predict_model(net.model, x, batch_size=3)
    for i in range(3):
        alone = seqnn.predict_model(net.model, x[i : i + 1], batch_size=3)
        np.testing.assert_array_equal(alone[0], together[i])


def test_training_model_keeps_its_norms_and_folded_model_refuses_weights(tmp_path):
    params = {"model": tiny_params()}
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params))
    training = seqnn.load(path, augment=True)
    assert not training.folded and norm_count(training.model) == 13
    with pytest.raises(InputError, match="inference only"):
        seqnn.load(path, augment=True, fold=True)
    folded = seqnn.load(path, fold=True)
    assert folded.model.trainable_weights == []
    with pytest.raises(InputError, match="folded"):
        folded.save(tmp_path / "model.h5")
    with pytest.raises(InputError, match="folded"):
        folded.restore(tmp_path / "model.h5")

"""SeqNN against the original implementation's model files and predictions.

Fixture: tests/data/reference/basenji2_small (a two-head Basenji2-shaped model written by
the original code, with its predictions on the real hg19 GATA4 window). The original's
own measured noise (oneDNN on/off, eager vs graph) is ~4e-5, so 1e-4 is the tolerance.
"""

import copy
import dataclasses
import json

import h5py
import keras
import numpy as np
import pytest

from basenji_tf import seqnn, weights
from basenji_tf.errors import InputError

TOL = dict(atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def small(reference_dir):
    root = reference_dir / "basenji2_small"
    params = json.loads((root / "params.json").read_text())
    preds = dict(np.load(root / "predictions.npz"))
    return root, params, preds


@pytest.fixture(scope="module")
def models_dir(repo):
    """The params JSONs shipped in the repository's models/."""
    return repo / "models"


@pytest.mark.slow
@pytest.mark.parametrize("head_i", [0, 1])
def test_restore_matches_original_predictions(small, head_i):
    root, params, preds = small
    model = seqnn.SeqNN(params["model"])
    model.restore(root / f"model{head_i}_best.h5", head_i=head_i)
    x = preds["sequence_onehot"]
    np.testing.assert_allclose(model.predict(x), preds[f"pred_head{head_i}"], **TOL)
    for rc, shifts, key in [
        (True, [0], "rc"),
        (False, [0, 1, -1], "shifts"),
        (True, [0, 1, -1], "rc_shifts"),
    ]:
        model.build_ensemble(rc, shifts)
        np.testing.assert_allclose(model.predict(x), preds[f"pred_head{head_i}_{key}"], **TOL)


def test_ensemble_members_in_original_order(small):
    """Each member (shift, then RC of the shifted input) equals the original's member."""
    from basenji_tf import dna

    root, params, preds = small
    model = seqnn.SeqNN(params["model"])
    model.restore(root / "model0_best.h5")
    x = preds["sequence_onehot"]
    members = []
    for shift in (0, 1, -1):
        shifted = dna.hot1_shift(x, shift)
        members.append(model.predict(shifted))
        members.append(model.predict(dna.hot1_rc(shifted))[:, ::-1])
    np.testing.assert_allclose(np.concatenate(members), preds["members_head0_rc_shifts"], **TOL)


@pytest.mark.slow
@pytest.mark.parametrize("trunk_file", ["model_trunk.h5", "model1_best.h5"])
def test_trunk_restore_from_trunk_or_full_file(small, trunk_file, caplog):
    root, params, preds = small
    model = seqnn.SeqNN(params["model"])
    model.restore(root / trunk_file, trunk=True)
    out = model.model_trunk.predict(preds["sequence_onehot"], verbose=0)
    np.testing.assert_allclose(out, preds["trunk"], **TOL)


def test_bookkeeping_matches_original(small, reference_dir):
    _, params, _ = small
    layers_info = json.loads((reference_dir / "basenji2_small" / "model_layers.json").read_text())
    model = seqnn.SeqNN(params["model"])
    assert model.model_strides == layers_info["model_strides"]
    assert model.target_lengths == layers_info["target_lengths"]
    assert model.target_crops == layers_info["target_crops"]
    assert model.models[0].count_params() == layers_info["param_count_head0"]
    assert model.models[1].count_params() == layers_info["param_count_head1"]
    assert model.model_trunk.count_params() == layers_info["param_count_trunk"]
    assert [model.num_targets(0), model.num_targets(1)] == [8, 4]


@pytest.mark.slow
def test_published_basenji2_architecture(models_dir):
    model = seqnn.load(models_dir / "params_basenji2_joint.json")
    human = model.models[0]
    assert len(weights.weighted_layers(human)) == 61
    assert human.count_params() == 30_123_584
    assert model.model_trunk.count_params() == 21_957_503
    convs = [layer for layer in human.layers if isinstance(layer, keras.layers.Conv1D)]
    assert [c.filters for c in convs[1:7]] == [339, 399, 470, 554, 652, 768]
    dilations = [c.dilation_rate[0] for c in convs if c.kernel_size[0] == 3]
    assert dilations == [1, 2, 3, 4, 6, 9, 14, 21, 32, 48, 72]
    assert tuple(human.output.shape[1:]) == (896, 5313)
    assert tuple(model.models[1].output.shape[1:]) == (896, 1643)
    assert model.model_strides == [128, 128] and model.target_crops == [64, 64]


def test_released_params_use_sigmoid_gelu(models_dir):
    for species in ("human", "mouse"):
        params = json.loads((models_dir / f"params_basenji2_{species}.json").read_text())
        assert params["model"]["activation"] == "gelu_sigmoid"


def test_basenji2018_builds_dilated_dense_with_exp_link(models_dir):
    model = seqnn.load(models_dir / "params_basenji2018.json")
    assert tuple(model.model.output.shape[1:]) == (960, 4229)
    convs = [layer for layer in model.model.layers if isinstance(layer, keras.layers.Conv1D)]
    assert [c.dilation_rate[0] for c in convs if c.filters == 108] == [2, 4, 8, 16, 32, 64]


@pytest.mark.slow
def test_save_round_trips(small, tmp_path):
    root, params, preds = small
    model = seqnn.SeqNN(params["model"])
    model.restore(root / "model1_best.h5", head_i=1)
    x = preds["sequence_onehot"]
    expected = model.predict(x)

    model.save(tmp_path / "ours.h5")
    again = seqnn.SeqNN(params["model"])
    again.restore(tmp_path / "ours.h5", head_i=1)
    np.testing.assert_array_equal(again.predict(x), expected)

    model.model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-6)
    via_restore = seqnn.SeqNN(params["model"])
    via_restore.restore(tmp_path / "model.keras", head_i=1)
    np.testing.assert_allclose(via_restore.predict(x), expected, atol=1e-6)


@pytest.mark.slow
def test_our_h5_has_legacy_layout(small, tmp_path):
    root, params, _ = small
    model = seqnn.SeqNN(params["model"])
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as handle:
        assert {"backend", "keras_version"} <= set(handle.attrs)
        group = handle["model_weights"]
        names = [n.decode() for n in group.attrs["layer_names"]]
        assert names == [layer.name for layer in model.model.layers]
        weighted = [n for n in names if len(group[n].attrs["weight_names"])]
        assert len(weighted) == 33
        bn = group["trunk0_conv_block_bn"]
        assert [w.decode() for w in bn.attrs["weight_names"]] == [
            f"trunk0_conv_block_bn/{v}:0"
            for v in ("gamma", "beta", "moving_mean", "moving_variance")
        ]
        assert bn["trunk0_conv_block_bn/gamma:0"].shape == (32,)


@pytest.mark.slow
def test_weights_only_legacy_file(small, tmp_path):
    """A save_weights-style file (layer groups at the root) restores too."""
    root, params, preds = small
    legacy = tmp_path / "weights_only.h5"
    with h5py.File(root / "model0_best.h5") as src, h5py.File(legacy, "w") as dst:
        group = src["model_weights"]
        for key, value in group.attrs.items():
            dst.attrs[key] = value
        for name in group:
            group.copy(name, dst)
    model = seqnn.SeqNN(params["model"])
    model.restore(legacy)
    np.testing.assert_allclose(model.predict(preds["sequence_onehot"]), preds["pred_head0"], **TOL)


def test_wrong_architecture_and_truncated_files(small, tmp_path):
    root, params, _ = small
    model = seqnn.SeqNN(params["model"])
    with pytest.raises(InputError, match="32 weighted layers, the head 0 model has 33.*trunk=True"):
        model.restore(root / "model_trunk.h5")
    other = copy.deepcopy(params["model"])
    other["trunk"][0]["filters"] = 30
    with pytest.raises(InputError, match=r"weighted layer 0 .*\(15, 4, 32\).*\(15, 4, 30\)"):
        seqnn.SeqNN(other).restore(root / "model0_best.h5")
    data = (root / "model0_best.h5").read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        model.restore(truncated)
    with pytest.raises(FileNotFoundError):
        model.restore(tmp_path / "missing.h5")


def test_params_errors(models_dir):
    base = json.loads((models_dir / "params_tiny.json").read_text())["model"]
    bad_block = copy.deepcopy(base)
    bad_block["trunk"][0]["name"] = "conv_blok"
    with pytest.raises(InputError, match="unknown block 'conv_blok'.*conv_block"):
        seqnn.SeqNN(bad_block)
    bad_kw = copy.deepcopy(base)
    bad_kw["trunk"][0]["filter"] = 3
    with pytest.raises(InputError, match="unknown keyword.*filter;.*filters"):
        seqnn.SeqNN(bad_kw)
    bad_key = dict(base, learning_rate=0.1)
    with pytest.raises(InputError, match="unknown model key.*learning_rate"):
        seqnn.SeqNN(bad_key)
    model = seqnn.SeqNN(base)
    with pytest.raises(InputError, match=r"\[batch, 2048, 4\]"):
        model.predict(np.zeros((1, 1000, 4), np.float32))


def test_legacy_batch_norm_key_means_batch_norm(models_dir):
    base = json.loads((models_dir / "params_tiny.json").read_text())["model"]
    old = copy.deepcopy(base)
    del old["norm_type"]
    old["batch_norm"] = True
    assert seqnn.SeqNN(old).model.count_params() == seqnn.SeqNN(base).model.count_params()


@pytest.mark.slow
def test_batch_size_invariance_and_rc_symmetry(models_dir):
    """An RC ensemble without strand pairs is symmetric: f(rc(x)) = flip(f(x))."""
    keras.utils.set_random_seed(3)
    model = seqnn.load(models_dir / "params_tiny.json")
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (5, 2048))]
    full = model.predict(x, batch_size=5)
    np.testing.assert_allclose(model.predict(x, batch_size=2), full, atol=1e-5)
    model.build_ensemble(True, [0])
    fwd = model.predict(x)
    rev = model.predict(x[:, ::-1, ::-1].copy())
    np.testing.assert_allclose(rev[:, ::-1], fwd, atol=1e-5)


@pytest.mark.slow
def test_predict_accepts_datasets(models_dir):
    import tensorflow as tf

    model = seqnn.load(models_dir / "params_tiny.json")
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (3, 2048))]
    y = np.zeros((3, 120, 3), np.float32)
    pairs = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    np.testing.assert_allclose(model.predict(pairs), model.predict(x), atol=1e-5)


def test_head_index_checked(models_dir):
    model = seqnn.load(models_dir / "params_tiny.json")
    with pytest.raises(InputError, match="head 2 does not exist.*head_human"):
        model.predict(np.zeros((1, 2048, 4), np.float32), head_i=2)


# -- seqnn.load and Head ------------------------------------------------------------------


@pytest.mark.slow
def test_load_returns_seqnn_with_heads(small):
    root, params, preds = small
    model = seqnn.load(root / "params.json", root / "model1_best.h5", 1)
    assert isinstance(model, seqnn.SeqNN)
    assert model.params_json == params
    assert len(model.heads) == 2 and model.head is model.heads[1] and model.head_i == 1
    head = model.head
    assert (head.index, head.seq_length, head.stride, head.crop) == (
        1,
        model.seq_length,
        model.model_strides[1],
        model.target_crops[1],
    )
    assert (head.target_length, head.num_targets) == (model.target_lengths[1], 4)
    assert head.model is model.models[1] is model.model
    x = preds["sequence_onehot"]
    np.testing.assert_allclose(head.predict(x), preds["pred_head1"], **TOL)
    np.testing.assert_allclose(
        head.predict(x, rc=True, shifts=(0, 1, -1)), preds["pred_head1_rc_shifts"], **TOL
    )


def test_head_is_frozen(small):
    root, _, _ = small
    head = seqnn.load(root / "params.json").head
    with pytest.raises(dataclasses.FrozenInstanceError):
        head.stride = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        head.model = None


@pytest.mark.slow
def test_load_without_augmentation_predicts_the_same(tmp_path, models_dir):
    """augment=False leaves the Stochastic* and SwitchReverse layers out; same outputs."""
    keras.utils.set_random_seed(4)
    trained = seqnn.load(models_dir / "params_tiny.json", augment=True)
    kinds = {type(layer).__name__ for layer in trained.model.layers}
    assert {"StochasticReverseComplement", "StochasticShift", "SwitchReverse"} <= kinds
    trained.save(tmp_path / "m.h5")
    inference = seqnn.load(models_dir / "params_tiny.json", tmp_path / "m.h5", augment=False)
    kinds = {type(layer).__name__ for layer in inference.model.layers}
    assert not any(k.startswith("Stochastic") or k == "SwitchReverse" for k in kinds)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(2).integers(0, 4, (3, 2048))]
    np.testing.assert_array_equal(inference.predict(x), trained.predict(x))
    for rc, shifts in ((True, [0]), (False, [0, 1]), (True, [0, 1, -1])):
        np.testing.assert_array_equal(
            inference.head.predict(x, rc=rc, shifts=shifts),
            trained.head.predict(x, rc=rc, shifts=shifts),
        )


@pytest.mark.slow
def test_head_ensemble_is_build_ensemble_and_cached(small):
    root, params, preds = small
    model = seqnn.load(root / "params.json", root / "model0_best.h5")
    head = model.head
    assert head.ensemble() is head.model
    assert head.ensemble(False, [3]) is head.model
    ensemble = head.ensemble(True, [0, 1, -1])
    assert head.ensemble(True, (0, 1, -1)) is ensemble
    assert head.ensemble(True, [0, 1, -1], strand_pair=[1, 0, 2, 3, 4, 5, 6, 7]) is not ensemble
    model.build_ensemble(True, [0, 1, -1])
    assert model.ensemble is ensemble
    x = preds["sequence_onehot"]
    np.testing.assert_array_equal(model.predict(x), head.predict(x, rc=True, shifts=[0, 1, -1]))
    model.build_ensemble(False, [0])
    assert model.ensemble is None


@pytest.mark.slow
def test_load_trunk_only(small):
    root, _, preds = small
    model = seqnn.load(root / "params.json", root / "model_trunk.h5", 1, trunk=True)
    assert model.head_i == 1 and model.model is model.models[1]
    out = model.model_trunk.predict(preds["sequence_onehot"], verbose=0)
    np.testing.assert_allclose(out, preds["trunk"], **TOL)


def test_load_checks_head(small):
    root, _, _ = small
    with pytest.raises(InputError, match="head 2 does not exist"):
        seqnn.load(root / "params.json", head=2)

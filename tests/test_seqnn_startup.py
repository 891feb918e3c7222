"""seqnn.load's start-up shortcut: no random initial weights where a file overwrites all.

A one-head model restored from a whole-model file is built with zero kernels
(``SeqNN(initialize=False)``) instead of Basenji2's 30 M truncated-normal draws; every
weight then comes from the file, so predictions are those of the model that wrote it.
Anywhere a weight would keep its initial value (trunk-only files, other heads, adapters)
the weights are drawn as before.
"""

import json

import keras
import numpy as np

from basenji_tf import dna, seqnn

PARAMS = {
    "seq_length": 1024,
    "activation": "gelu",
    "norm_type": "batch",
    "trunk": [
        {"name": "conv_block", "filters": 8, "kernel_size": 9, "pool_size": 4},
        {"name": "dilated_residual", "filters": 4, "rate_mult": 2, "repeat": 2},
        {"name": "conv_block", "filters": 12},
    ],
    "head_human": {"name": "final", "units": 3, "activation": "softplus"},
}


def write_params(path, model: dict) -> str:
    path.write_text(json.dumps({"model": model}))
    return str(path)


def kernels_all_zero(model: keras.Model) -> bool:
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    return all(not np.any(k.numpy()) for k in kernels)


def test_restored_model_skips_random_init_and_predicts_the_same(tmp_path):
    params = write_params(tmp_path / "params.json", PARAMS)
    keras.utils.set_random_seed(0)
    original = seqnn.load(params)
    original.save(tmp_path / "model.h5")
    x = dna.index_1hot(np.random.default_rng(0).integers(0, 4, (2, 1024)))
    restored = seqnn.load(params, tmp_path / "model.h5")
    np.testing.assert_array_equal(restored.predict(x), original.predict(x))
    bare = seqnn.SeqNN(PARAMS, augment=False, initialize=False)
    assert kernels_all_zero(bare.model)
    assert not kernels_all_zero(seqnn.load(params).model)


def test_weights_not_in_the_file_keep_random_init(tmp_path):
    two_heads = {**PARAMS, "head_mouse": {"name": "final", "units": 2}}
    params = write_params(tmp_path / "params.json", two_heads)
    seqnn.load(params).save(tmp_path / "model0.h5")
    net = seqnn.load(params, tmp_path / "model0.h5")
    assert np.any(net.models[1].get_layer("head_mouse0_final_dense").kernel.numpy())
    seqnn.load(params).save(tmp_path / "trunk.h5", trunk=True)
    trunk_only = seqnn.load(params, tmp_path / "trunk.h5", trunk=True)
    assert np.any(trunk_only.model.get_layer("head_human0_final_dense").kernel.numpy())

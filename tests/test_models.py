"""Every models/*.json builds, has the geometry its blocks describe, and survives saving.

The published inputs (131,072 bp) are too slow to build and run for every file here, so each
model is built at the shortest input its blocks allow: one output bin after cropping. Block
hyper-parameters (filters, kernels, repeats) stay as the JSON gives them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest

from basenji_tf.seqnn import SeqNN


@dataclass(frozen=True)
class Geometry:
    """What a head's blocks describe, independently of the built model."""

    stride: int  # bp per output bin
    crop: int  # bins cropped from each side
    num_targets: int


def block_geometry(blocks: list[dict]) -> Geometry:
    """Stride, crop and output channels of a trunk + head block list.

    Pooling divides the length by `pool_size` (`repeat` times in a conv_tower); `Cropping1D`
    removes `cropping` bins of the resolution at that point from each side.
    """
    stride, crop_bp = 1, 0
    for block in blocks:
        repeat = block.get("repeat", 1) if block["name"] == "conv_tower" else 1
        stride *= block.get("pool_size", 1) ** repeat
        crop_bp += block.get("cropping", 0) * stride
    assert crop_bp % stride == 0, "a crop before the last pooling must be a whole final bin"
    return Geometry(stride, crop_bp // stride, blocks[-1]["units"])


def head_geometries(model_params: dict) -> list[Geometry]:
    heads = sorted(k for k in model_params if k.startswith("head"))
    return [block_geometry(model_params["trunk"] + _blocks(model_params[k])) for k in heads]


def _blocks(head: dict | list[dict]) -> list[dict]:
    return head if isinstance(head, list) else [head]


def shortest_params(model_params: dict) -> dict:
    """`model_params` at the shortest input that leaves one bin after cropping, every head."""
    geometries = head_geometries(model_params)
    seq_length = max(g.stride * (2 * g.crop + 1) for g in geometries)
    short = dict(model_params, seq_length=seq_length)
    if "target_length" in short:  # in the original's meaning: before cropping
        short["target_length"] = seq_length // geometries[0].stride
    return short


@dataclass(frozen=True)
class Built:
    """A SeqNN built from one params file at its shortest length, with its expectations."""

    params: dict
    model: SeqNN
    geometries: list[Geometry]
    x: np.ndarray  # float32 [2, seq_length, 4] one-hot


def _one_hot(batch: int, length: int, seed: int = 0) -> np.ndarray:
    index = np.random.default_rng(seed).integers(0, 4, (batch, length))
    return np.eye(4, dtype=np.float32)[index]


@pytest.fixture(scope="module")
def built(model_params_file: Path) -> Built:
    params = shortest_params(json.loads(model_params_file.read_text())["model"])
    keras.utils.set_random_seed(1)
    model = SeqNN(params)
    return Built(params, model, head_geometries(params), _one_hot(2, params["seq_length"]))


def _fresh(built: Built) -> SeqNN:
    """The same architecture with other initial weights, so a restore has to do the work."""
    keras.utils.set_random_seed(2)
    return SeqNN(built.params)


def test_geometry_helpers_follow_the_blocks():
    tiny_like = [
        {"name": "conv_block", "pool_size": 4},
        {"name": "conv_tower", "pool_size": 2, "repeat": 2},
        {"name": "Cropping1D", "cropping": 4},
        {"name": "final", "units": 3},
    ]
    assert block_geometry(tiny_like) == Geometry(stride=16, crop=4, num_targets=3)
    short = shortest_params({"seq_length": 2048, "trunk": tiny_like[:3], "head": tiny_like[3]})
    assert short["seq_length"] == 16 * 9


def test_output_shape_and_stride(built):
    assert len(built.model.models) == len(built.geometries)
    seq_length = built.params["seq_length"]
    for head_i, geometry in enumerate(built.geometries):
        target_length = seq_length // geometry.stride - 2 * geometry.crop
        assert target_length >= 1
        preds = built.model.predict(built.x, head_i=head_i)
        assert preds.shape == (2, target_length, geometry.num_targets)
        assert preds.dtype == np.float32
        assert np.isfinite(preds).all()


def test_keras_round_trip(built, tmp_path):
    for head_i, model in enumerate(built.model.models):
        path = tmp_path / f"head{head_i}.keras"
        keras.saving.save_model(model, path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_array_equal(
            loaded.predict(built.x, verbose=0), model.predict(built.x, verbose=0)
        )


def test_legacy_h5_save_and_restore(built, tmp_path):
    for head_i in range(len(built.model.models)):
        path = tmp_path / f"model{head_i}.h5"
        built.model.save(path, head_i=head_i)
        expected = built.model.predict(built.x, head_i=head_i)
        restored = _fresh(built)
        assert not np.array_equal(restored.predict(built.x, head_i=head_i), expected)
        restored.restore(path, head_i)
        np.testing.assert_array_equal(restored.predict(built.x), expected)

"""Weight files: the original's Keras-2 HDF5 layout, read and written, every tensor checked.

Layout (REFERENCE 2.4): full-model files have root attributes (``backend``,
``keras_version``, ``model_config``) and a ``model_weights`` group; weights-only files
have the same content at the root. The group's ``layer_names`` attribute lists all
layers in model order; each layer group's ``weight_names`` attribute lists its arrays,
stored at ``<layer>/<layer>/<var>:0``.

Loading pairs the file's weighted layers with the model's weighted layers by ORDER
(names are ignored, as in Keras' legacy loader): layer names differ between Keras 2
and our builder. Unlike Keras, we refuse a file whose count or any shape disagrees,
naming the first mismatch, so a file is never "mostly" loaded.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass

import h5py
import keras
import numpy as np

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_h5, read_h5

log = logging.getLogger(__name__)


@dataclass
class LayerWeights:
    """The arrays of one weighted layer of a file, in the layer's weight order."""

    name: str
    weight_names: list[str]
    arrays: list[np.ndarray]


def _read_attr_list(group: h5py.Group, name: str) -> list[str]:
    """Read a string-list attribute, also in Keras' chunked form (name0, name1, ...)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def read_legacy_h5(path: str | os.PathLike) -> list[LayerWeights]:
    """Read the weighted layers of a Keras-2 HDF5 file (full model or weights only).

    Returns:
        weighted layers in file order.

    Raises:
        InputError: not an HDF5 file, truncated, or not in the Keras layout.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: weight file not found")
    try:
        with read_h5(path, "Keras HDF5 model file") as handle:
            group = handle["model_weights"] if "model_weights" in handle else handle
            layer_names = _read_attr_list(group, "layer_names")
            if not layer_names:
                raise InputError(
                    f"{path}: no 'layer_names' attribute: not a Keras HDF5 model or weights file"
                )
            layers = []
            for name in layer_names:
                weight_names = _read_attr_list(group[name], "weight_names")
                if weight_names:
                    arrays = [np.asarray(group[name][w]) for w in weight_names]
                    layers.append(LayerWeights(name, weight_names, arrays))
            return layers
    except KeyError as err:
        raise InputError(
            f"{path}: cannot read weights (no {err}); the file is truncated, corrupt or not a "
            "Keras HDF5 model file"
        ) from None


def read_keras_archive(path: str | os.PathLike) -> list[LayerWeights]:
    """Weighted layers of a Keras 3 ``.keras`` archive saved from a SeqNN model."""
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a .keras archive (zip); the file is truncated or corrupt")
    try:
        model = keras.saving.load_model(path, compile=False)
    except (zipfile.BadZipFile, EOFError, KeyError, OSError, ValueError) as err:
        if isinstance(err, OSError) and err.errno is not None:
            raise
        reason = " ".join(str(err).split())[:200]
        raise InputError(
            f"{path}: cannot load the .keras archive ({type(err).__name__}: {reason}); the file "
            "is truncated or corrupt, or was not saved from a basenji_tf model"
        ) from err
    return model_layer_weights(model)


def model_layer_weights(model: keras.Model) -> list[LayerWeights]:
    """The weighted layers of a model in order, with their current values."""
    return [
        LayerWeights(
            layer.name,
            [w.path for w in layer.weights],
            [np.asarray(w.numpy()) for w in layer.weights],
        )
        for layer in weighted_layers(model)
    ]


def weighted_layers(model: keras.Model) -> list:
    """Layers of ``model`` that own weights, in model order."""
    return [layer for layer in model.layers if layer.weights]


def check_and_assign(
    model: keras.Model,
    file_layers: list[LayerWeights],
    source: str,
    what: str = "model",
    allow_extra: bool = False,
    hint: str = "build the model from the params file the weights were trained with",
) -> None:
    """Assign ``file_layers`` to the weighted layers of ``model`` by order.

    Args:
        model: the Keras model to load into.
        file_layers: weighted layers read from ``source``.
        source: file name for messages.
        what: name of the model part for messages ("trunk", "model").
        allow_extra: accept a file with MORE weighted layers and use its leading ones
            (a full model file loaded into the trunk).
        hint: how to fix a mismatch, ending the error message.

    Raises:
        InputError: count or any shape differs; nothing is assigned then.
    """
    targets = weighted_layers(model)
    n_file, n_model = len(file_layers), len(targets)
    if n_file != n_model and not (allow_extra and n_file > n_model):
        raise InputError(f"{source} has {n_file} weighted layers, the {what} has {n_model}; {hint}")
    for i, (layer, saved) in enumerate(zip(targets, file_layers)):
        want = [tuple(w.shape) for w in layer.weights]
        have = [a.shape for a in saved.arrays]
        if want != have:
            raise InputError(
                f"{source}: weighted layer {i} ({saved.name!r}) has shapes {have}, "
                f"the {what}'s layer {layer.name!r} needs {want}; {hint}"
            )
    for layer, saved in zip(targets, file_layers):
        layer.set_weights(saved.arrays)
    if n_file > n_model:
        skipped = ", ".join(s.name for s in file_layers[n_model:])
        log.info(
            "%s: loaded the first %d of %d weighted layers into the %s; skipped %s",
            source,
            n_model,
            n_file,
            what,
            skipped,
        )


def read_weight_file(path: str | os.PathLike) -> list[LayerWeights]:
    """Weighted layers of a legacy HDF5 file or a ``.keras`` archive."""
    if os.fspath(path).endswith(".keras"):
        return read_keras_archive(path)
    return read_legacy_h5(path)


def save_legacy_h5(
    model: keras.Model, path: str | os.PathLike, extra_attrs: dict | None = None
) -> None:
    """Write ``model``'s weights in the Keras-2 full-model HDF5 layout (atomically).

    The file loads with the original's ``load_weights`` (order-based) and with
    :func:`read_legacy_h5`. No ``model_config`` is written: our graph is not a Keras-2
    graph, so ``keras.models.load_model`` must not be tempted; rebuild from params.

    Args:
        model: the model to save.
        path: output ``.h5`` path.
        extra_attrs: more root attributes (strings), e.g. the params JSON.
    """
    with atomic_h5(path) as handle:
        handle.attrs["backend"] = keras.backend.backend()
        handle.attrs["keras_version"] = keras.__version__
        for key, value in (extra_attrs or {}).items():
            handle.attrs[key] = value if isinstance(value, str) else json.dumps(value)
        group = handle.create_group("model_weights")
        group.attrs["backend"] = keras.backend.backend()
        group.attrs["keras_version"] = keras.__version__
        group.attrs["layer_names"] = np.array([layer.name.encode() for layer in model.layers])
        for layer in model.layers:
            layer_group = group.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            layer_group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for name, weight in zip(names, layer.weights):
                layer_group.create_dataset(name, data=np.asarray(weight.numpy()))

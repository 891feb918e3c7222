"""The 2018 Basenji text params (TF1 ``params.txt``) -> our params JSON.

:func:`convert_params_txt`: a TF1 ``params.txt`` (``key value`` lines; a per-layer key
repeats once per layer) -> a params dict that :class:`basenji_tf.seqnn.SeqNN` builds.
Unknown keys, wrong values and settings the current blocks cannot express are errors naming
the line. The mapping table is in docs/legacy2018.md; the 2018 training data converts with
:mod:`basenji_tf.legacy_data`.

Defaults are those of the code the paper ran (the original's pre-release 0.1): Adam, no
gradient clipping, constant learning rate, ``exp_linear`` link, 64 bp ``batch_buffer``.

Differences from the original:
* ``batch_buffer`` (bp cut from each end of predictions and targets before the loss) is a
  ``Cropping1D`` block; convert the data with the same crop so records hold scored bins.
* ``cnn_l2_scale`` is halved: TF1's ``l2_regularizer(s)`` adds s * sum(w^2) / 2, Keras'
  ``L2(l)`` adds l * sum(w^2).
* ``adam_eps`` (Keras' 1e-7 is used) and learning-rate decay are dropped with a warning.
"""

from __future__ import annotations

import json
import logging
import math
import os
from typing import Any

from basenji_tf.errors import InputError
from basenji_tf.files import write_text_atomic
from basenji_tf.textio import read_lines

log = logging.getLogger(__name__)


_INT, _NUMBER, _WORD, _FLAG = "an integer", "a number", "a word", "0 or 1"

# key -> kind of value. Per-layer keys (cnn_*) repeat once per layer, or appear once for all.
PARAMS_TXT_KEYS: dict[str, str] = {
    **dict.fromkeys(
        (
            "seq_length",
            "seq_depth",
            "num_targets",
            "target_classes",
            "target_pool",
            "batch_buffer",
            "batch_size",
            "cnn_filters",
            "cnn_filter_sizes",
            "cnn_stride",
            "cnn_pool",
            "cnn_dilation",
            "cnn_skip",
        ),
        _INT,
    ),
    **dict.fromkeys(
        (
            "target_clip",
            "cnn_l2_scale",
            "final_l1_scale",
            "cnn_dropout",
            "non_dilated_cnn_dropout",
            "dilated_cnn_dropout",
            "learning_rate",
            "momentum",
            "adam_beta1",
            "adam_beta2",
            "grad_clip",
        ),
        _NUMBER,
    ),
    **dict.fromkeys(("nonlinearity", "link", "loss", "architecture", "optimizer"), _WORD),
    **dict.fromkeys(("batch_norm", "batch_renorm", "target_sqrt", "cnn_dense"), _FLAG),
}
# Other spellings the original read, -> the key above.
PARAMS_TXT_ALIASES = {
    "optimization": "optimizer",
    "link_function": "link",
    "loss_name": "loss",
    "cnn_strides": "cnn_stride",
    "renorm": "batch_renorm",
}
# Keys read by the original that change nothing here, -> why they are dropped.
_DROPPED = {
    "cnn_l2": "read but never applied by the 2018 code",
    "final_l1": "read but never applied by the 2018 code",
    "save_reprs": "a debugging switch",
    "decay": "RMSProp's decay (RMSProp is not supported)",
    "adam_eps": "Adam uses Keras' epsilon 1e-7",
    "learning_decay_steps": "there is no learning-rate decay schedule",
    "learning_decay_rate": "there is no learning-rate decay schedule",
    "augment_mutation": "mutation augmentation is not supported",
}
_LINKS = {
    "exp_linear": "exp_linear",
    "softplus": "softplus",
    "exp": "exp",
    "relu": "relu",
    "identity": "linear",
    "linear": "linear",
}
_LOSSES = {"poisson": "poisson", "gaussian": "mse"}
_OPTIMIZERS = {"adam": "adam", "sgd": "sgd", "momentum": "sgd"}
_NONLINEARITIES = {"relu": "relu", "gelu": "gelu_sigmoid"}  # TF1 gelu: x * sigmoid(1.702 x)


def _typed(text: str) -> int | float | str:
    """The original's value typing: with an 'e' or a '.' a float, else an int, else text."""
    convert = float if ("e" in text or "." in text) else int
    try:
        return convert(text)
    except ValueError:
        return text


def read_params_txt(path: str | os.PathLike) -> dict[str, list[tuple[int, Any]]]:
    """Read a TF1 ``params.txt`` into key -> [(line number, typed value), ...].

    Aliases are resolved to the keys of :data:`PARAMS_TXT_KEYS`.

    Raises:
        InputError: a line without exactly two fields, an unknown key, or a key and its
            alias both given.
    """
    entries: dict[str, list[tuple[int, Any]]] = {}
    spelled: dict[str, str] = {}
    for number, line in read_lines(path, "TF1 params.txt"):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise InputError(
                f"{path}: line {number}: expected 'key value', got "
                f"{len(fields)} fields; write one key and one value per line"
            )
        name, value = fields
        key = PARAMS_TXT_ALIASES.get(name, name)
        if key not in PARAMS_TXT_KEYS and key not in _DROPPED:
            valid = sorted([*PARAMS_TXT_KEYS, *PARAMS_TXT_ALIASES, *_DROPPED])
            raise InputError(
                f"{path}: line {number}: unknown key {name!r}; valid keys: {', '.join(valid)}"
            )
        if spelled.setdefault(key, name) != name:
            raise InputError(
                f"{path}: line {number}: {name!r} repeats {spelled[key]!r} "
                "under another name; keep one spelling"
            )
        entries.setdefault(key, []).append((number, _typed(value)))
    return entries


class _Job:
    """Typed access to the entries of one params.txt, with errors naming the line."""

    def __init__(self, path: str, entries: dict[str, list[tuple[int, Any]]]):
        self.path = path
        self.entries = entries

    def where(self, key: str, index: int = 0) -> str:
        return f"{self.path}: line {self.entries[key][index][0]}: {key}"

    def has(self, key: str) -> bool:
        return key in self.entries

    def _check(self, key: str, index: int) -> Any:
        value = self.entries[key][index][1]
        kind = PARAMS_TXT_KEYS[key]
        ok = {
            _INT: isinstance(value, int),
            _NUMBER: isinstance(value, (int, float)),
            _WORD: isinstance(value, str),
            _FLAG: value in (0, 1) and isinstance(value, int),
        }[kind]
        if not ok:
            raise InputError(f"{self.where(key, index)} is {value!r}; it must be {kind}")
        return bool(value) if kind == _FLAG else value

    def one(self, key: str, default: Any) -> Any:
        """The value of a once-only key (``default`` when absent)."""
        if key not in self.entries:
            return default
        if len(self.entries[key]) > 1:
            raise InputError(
                f"{self.where(key, 1)} is given {len(self.entries[key])} times; give it once"
            )
        return self._check(key, 0)

    def per_layer(self, key: str, default: Any, layers: int) -> list:
        """One value per layer, as the original extended them.

        A key given once applies to every layer; a shorter list ends with ``default``.
        """
        values = [self._check(key, i) for i in range(len(self.entries.get(key, ())))]
        if len(values) > layers:
            raise InputError(
                f"{self.where(key, layers)}: {len(values)} values for "
                f"{layers} layers (one per cnn_filters line); remove the extra"
            )
        if len(values) == 1:
            default = values[0]
        return values + [default] * (layers - len(values))


def _layers(job: _Job) -> list[dict]:
    """Per-layer settings of the 'cnn' architecture, checked."""
    if not job.has("cnn_filters"):
        raise InputError(
            f"{job.path}: no cnn_filters lines; the 2018 'cnn' architecture "
            "needs one per convolution layer"
        )
    filters = job.per_layer("cnn_filters", 16, len(job.entries["cnn_filters"]))
    n = len(filters)
    columns = {
        "filters": filters,
        "size": job.per_layer("cnn_filter_sizes", 1, n),
        "stride": job.per_layer("cnn_stride", 1, n),
        "pool": job.per_layer("cnn_pool", 1, n),
        "dense": job.per_layer("cnn_dense", False, n),
        "dilation": job.per_layer("cnn_dilation", 1, n),
        "skip": job.per_layer("cnn_skip", 0, n),
        "dropout": job.per_layer("cnn_dropout", 0.0, n),
    }
    layers = [{name: column[i] for name, column in columns.items()} for i in range(n)]
    if job.has("non_dilated_cnn_dropout") and job.has("dilated_cnn_dropout"):
        for layer in layers:
            which = "dilated_cnn_dropout" if layer["dilation"] > 1 else "non_dilated_cnn_dropout"
            layer["dropout"] = job.one(which, 0.0)
    for i, layer in enumerate(layers):
        _check_layer(job, i, layer)
    return layers


def _check_layer(job: _Job, i: int, layer: dict) -> None:
    where = f"{job.path}: layer {i} (cnn_filters line {job.entries['cnn_filters'][i][0]})"
    for name in ("filters", "size", "stride", "pool", "dilation"):
        if layer[name] < 1:
            raise InputError(f"{where}: {name} {layer[name]} must be at least 1")
    if not 0 <= layer["dropout"] < 1:
        raise InputError(f"{where}: dropout {layer['dropout']} must be in [0, 1)")
    if layer["skip"]:
        raise InputError(
            f"{where}: cnn_skip (residual) layers are not supported; "
            "write the model as a params JSON with dilated_residual blocks"
        )
    if layer["dense"] and (layer["pool"] > 1 or layer["stride"] > 1):
        raise InputError(
            f"{where}: a cnn_dense layer with pooling or stride cannot be "
            "converted; use cnn_pool 1 and cnn_stride 1 on dense layers"
        )


def _conv_block(layer: dict) -> dict:
    block = {"name": "conv_block", "filters": layer["filters"], "kernel_size": layer["size"]}
    optional = (
        ("stride", "stride", 1),
        ("dilation_rate", "dilation", 1),
        ("pool_size", "pool", 1),
        ("dropout", "dropout", 0),
    )
    block.update({key: layer[name] for key, name, unset in optional if layer[name] != unset})
    return block


def _dense_run_length(layers: list[dict], start: int) -> int:
    """How many dense layers from ``start`` form one dilated_dense block.

    They share filters, width and dropout, and their dilations are d0 * m**i (integer m).
    """
    first = layers[start]
    length, mult = 1, None
    while start + length < len(layers):
        layer = layers[start + length]
        if not layer["dense"] or any(layer[k] != first[k] for k in ("filters", "size", "dropout")):
            break
        if mult is None:
            mult, rest = divmod(layer["dilation"], first["dilation"])
            if rest or mult < 1:
                break
        if layer["dilation"] != first["dilation"] * mult**length:
            break
        length += 1
    return length


def _dilated_dense(run: list[dict]) -> dict:
    first = run[0]
    block = {
        "name": "dilated_dense",
        "filters": first["filters"],
        "kernel_size": first["size"],
        "rate_init": first["dilation"],
    }
    if len(run) > 1:
        block["rate_mult"] = run[1]["dilation"] // first["dilation"]
    block["repeat"] = len(run)
    if first["dropout"]:
        block["dropout"] = first["dropout"]
    return block


def trunk_blocks(layers: list[dict]) -> list[dict]:
    """Block dicts of the 2018 conv layers.

    A conv_block per plain layer; one dilated_dense per run of densely connected layers
    (output = concat of input and conv) sharing filters, width and dropout with dilations
    growing by an integer factor.
    """
    blocks, i = [], 0
    while i < len(layers):
        if not layers[i]["dense"]:
            blocks.append(_conv_block(layers[i]))
            i += 1
            continue
        length = _dense_run_length(layers, i)
        blocks.append(_dilated_dense(layers[i : i + length]))
        i += length
    return blocks


def _mapped(job: _Job, key: str, default: str, table: dict[str, str]) -> str:
    value = job.one(key, default)
    if value.lower() not in table:
        raise InputError(
            f"{job.where(key)} {value!r} is not supported; use one of {', '.join(sorted(table))}"
        )
    return table[value.lower()]


def _reject_unsupported(job: _Job) -> None:
    checks = (
        ("architecture", "cnn", ("cnn",)),
        ("target_classes", 1, (1,)),
        ("batch_renorm", False, (False,)),
        ("target_sqrt", False, (False,)),
    )
    for key, default, allowed in checks:
        value = job.one(key, default)
        if value not in allowed:
            raise InputError(
                f"{job.where(key)} {value!r} is not supported; the converter "
                f"reads {key} {allowed[0]!r} only"
            )
    if job.has("target_clip"):
        raise InputError(
            f"{job.where('target_clip')}: clipping targets inside the loss is "
            "not supported; clip them when making the data and remove the line"
        )
    for key, why in _DROPPED.items():
        if job.has(key):
            log.warning("%s: dropped (%s)", job.where(key), why)


def _required(job: _Job, key: str, override: int | None) -> int:
    value = override if override is not None else job.one(key, None)
    if value is None:
        raise InputError(f"{job.path}: no {key} line; add '{key} N' or pass --{key}")
    if value < 1:
        raise InputError(f"{job.path}: {key} {value} must be positive")
    return value


def _model_section(job: _Job, num_targets: int | None, seq_length: int | None) -> dict:
    layers = _layers(job)
    seq_length = _required(job, "seq_length", seq_length)
    pool_bp = math.prod(layer["stride"] * layer["pool"] for layer in layers)
    if seq_length % pool_bp:
        raise InputError(
            f"{job.path}: seq_length {seq_length} is not a multiple of the "
            f"layers' total pooling {pool_bp} bp"
        )
    if job.one("target_pool", pool_bp) != pool_bp:
        raise InputError(
            f"{job.where('target_pool')} {job.one('target_pool', 0)} disagrees "
            f"with the layers' total pooling {pool_bp} bp; fix one of them"
        )
    buffer_bp = job.one("batch_buffer", 64)
    crop, remainder = divmod(buffer_bp, pool_bp)
    target_length = seq_length // pool_bp - 2 * crop
    if remainder or buffer_bp < 0 or target_length < 1:
        raise InputError(
            f"{job.path}: batch_buffer {buffer_bp} bp (the original's default is "
            f"64) must be a multiple of the {pool_bp} bp bins leaving bins to "
            f"predict; add or fix the batch_buffer line"
        )
    trunk = trunk_blocks(layers)
    if crop:
        trunk.append({"name": "Cropping1D", "cropping": crop})
    model: dict[str, Any] = {"seq_length": seq_length}
    if job.has("seq_depth"):
        model["seq_depth"] = job.one("seq_depth", 4)
    model["target_length"] = target_length
    model["activation"] = _mapped(job, "nonlinearity", "relu", _NONLINEARITIES)
    if job.one("batch_norm", True):
        model.update(norm_type="batch", bn_momentum=0.9)
    head = {
        "name": "final",
        "units": _required(job, "num_targets", num_targets),
        "activation": _mapped(job, "link", "exp_linear", _LINKS),
    }
    l2_scale = job.one("cnn_l2_scale", 0.0) / 2
    if l2_scale:
        model["l2_scale"] = l2_scale
        head["l2_scale"] = 0  # TF1 regularized only the convolutions with it
    if job.one("final_l1_scale", 0.0):
        head["l1_scale"] = job.one("final_l1_scale", 0.0)
    model["trunk"] = trunk
    model["head"] = head
    return model


def _train_section(job: _Job) -> dict:
    train: dict[str, Any] = {"batch_size": job.one("batch_size", 64)}
    optimizer = _mapped(job, "optimizer", "adam", _OPTIMIZERS)
    train.update(optimizer=optimizer, learning_rate=job.one("learning_rate", 0.001))
    if optimizer == "sgd":
        train["momentum"] = job.one("momentum", 0.0)
    else:
        train.update(adam_beta1=job.one("adam_beta1", 0.9), adam_beta2=job.one("adam_beta2", 0.999))
    if job.has("grad_clip"):
        train["global_clipnorm"] = job.one("grad_clip", None)
    train["loss"] = _mapped(job, "loss", "poisson", _LOSSES)
    return train


def convert_params_txt(
    path: str | os.PathLike, num_targets: int | None = None, seq_length: int | None = None
) -> dict:
    """Convert a 2018 TF1 ``params.txt`` to a params dict (mapping: docs/legacy2018.md).

    Args:
        path: the text params file.
        num_targets: outputs per bin, instead of the file's (the original's training took
            it from the data).
        seq_length: input bp, instead of the file's (also taken from the data).

    Returns:
        ``{"train": {...}, "model": {...}}`` with one ``head``.

    Raises:
        InputError: naming the file, line or layer, for unknown keys, wrong value types,
            and settings the current model cannot express.
    """
    job = _Job(str(path), read_params_txt(path))
    _reject_unsupported(job)
    return {"train": _train_section(job), "model": _model_section(job, num_targets, seq_length)}


def write_params_json(params: dict, path: str | os.PathLike) -> None:
    """Write a params dict as JSON (indent 4, as the files in models/), atomically."""
    write_text_atomic(path, json.dumps(params, indent=4) + "\n")

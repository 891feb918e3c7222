"""``upgrade_tf1.py``: a Basenji 2018 TensorFlow 1 checkpoint -> our model file.

The 2018 code (``basenji/seqnn.py`` and ``basenji/layers.py`` of 2018-2019, and the
pre-release ``seqnn_orig.py`` the paper ran) named its variables by layer scope:

* ``cnn{i}/conv1d/kernel`` [width, in, filters]: our i-th Conv1D;
* ``cnn{i}/batch_normalization/{gamma,beta,moving_mean,moving_variance}`` [filters]: our
  i-th BatchNormalization;
* ``final/dense/kernel`` [channels, targets] and ``final/dense/bias`` [targets]: the
  ``final`` block's Dense (``final/conv1d/...``, kernel [1, channels, targets], in
  seqnn_orig.py).

Layer ``i`` of the text params file is ``cnn{i}``; its convolution has no bias (TF1's
``use_bias=False``); with ``batch_norm 0`` our convolution has one, set to zero. The
checkpoint is read with ``tf.train.load_checkpoint`` (no TF1 graph is built); every
variable must be used, except the training state (``global_step``, optimizer slots such as
``.../Adam``, ``beta1_power``, the loss parameters ``alphas`` / ``target_sigmas``).

Differences from the original's ``upgrade_tf1.py``: it wrote into an existing TF2 HDF5
file (built beforehand for the same params) by layer name; here the model is built from
the params (a 2018 ``params.txt``, converted as ``basenji_params_convert.py`` does, or a
params JSON such as models/params_basenji2018.json) and written whole, every shape
checked. ``-f start:end`` slices the final layer's targets as there; the head then has
``end - start`` outputs.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from basenji_tf import seqnn
from basenji_tf.errors import InputError
from basenji_tf.legacy_params import convert_params_txt
from basenji_tf.model_files import model_format, save_model_file
from basenji_tf.params import read_params
from basenji_tf.weights import weighted_layers

log = logging.getLogger(__name__)

BN_VARIABLES = ("gamma", "beta", "moving_mean", "moving_variance")
_TRAINING_STATE = re.compile(
    r"(^|/)(global_step|beta1_power|beta2_power|alphas|target_sigmas)$"
    r"|/(Adam|Adam_1|Momentum|RMSProp|RMSProp_1|ExponentialMovingAverage)$"
)


@dataclass(frozen=True)
class FinalSlice:
    """Targets ``start:end`` of the final layer (``-f``)."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> FinalSlice:
        """``"0:1000"`` -> FinalSlice(0, 1000); InputError for anything else."""
        match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
        if not match or int(match[1]) >= int(match[2]):
            raise InputError(
                f"-f {text!r}: give the final layer's targets as start:end, 0 <= start < end "
                "(e.g. 0:1000)"
            )
        return cls(int(match[1]), int(match[2]))


def read_tf1_checkpoint(prefix: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every variable of a TF1 checkpoint (``prefix.index`` + ``prefix.data-*``).

    Args:
        prefix: the checkpoint prefix (``model.tf``); ``model.tf.index`` is accepted too.

    Raises:
        InputError: no checkpoint there, or not readable.
    """
    prefix = os.fspath(prefix)
    if prefix.endswith(".index"):
        prefix = prefix[: -len(".index")]
    if not os.path.isfile(prefix + ".index"):
        raise InputError(
            f"{prefix}: no TF1 checkpoint ({prefix}.index not found); give the prefix of "
            "model.tf.index / model.tf.data-00000-of-00001"
        )
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = sorted(reader.get_variable_to_shape_map())
        return {name: np.asarray(reader.get_tensor(name)) for name in names}
    except (tf.errors.OpError, ValueError) as err:
        reason = " ".join(str(err).split())[:200]
        raise InputError(
            f"{prefix}: cannot read the TF1 checkpoint ({reason}); the .index or .data file "
            "is truncated or missing"
        ) from None


def _layer_variables(variables: dict[str, np.ndarray], scope: str) -> dict[str, str]:
    """``{kind: name}`` of the conv kernel and batch-norm variables under ``scope/``."""
    found: dict[str, str] = {}
    for name in variables:
        if not name.startswith(scope + "/") or _TRAINING_STATE.search(name):
            continue
        kind = name.rsplit("/", 1)[-1]
        if kind not in ("kernel", "bias", *BN_VARIABLES):
            raise InputError(f"checkpoint: unexpected variable {name!r} in {scope}")
        if kind in found:
            raise InputError(
                f"checkpoint: two {kind} variables in {scope} ({found[kind]!r}, {name!r}); "
                "one convolution per cnn layer expected"
            )
        found[kind] = name
    return found


def tf1_layer_arrays(
    variables: dict[str, np.ndarray], final_slice: FinalSlice | None = None
) -> tuple[list[tuple[str, list[np.ndarray]]], list[str]]:
    """The checkpoint's arrays grouped per weighted layer, in model order.

    Args:
        variables: checkpoint name -> array (:func:`read_tf1_checkpoint`).
        final_slice: keep these targets of the final layer.

    Returns:
        ([(what, arrays)] for cnn0's conv, cnn0's batch norm (if any), cnn1's ..., final;
        the names of every variable used).

    Raises:
        InputError: no cnn0 or final layer, a gap in the layer numbers, or a slice past
            the final layer's targets.
    """
    numbers = sorted({int(m[1]) for n in variables if (m := re.match(r"cnn(\d+)/", n))})
    if not numbers or numbers != list(range(len(numbers))):
        raise InputError(
            f"checkpoint: convolution layers {numbers or 'none'}; the 2018 model has cnn0, "
            "cnn1, ... without gaps"
        )
    groups, used = [], []
    for i in numbers:
        found = _layer_variables(variables, f"cnn{i}")
        if "kernel" not in found:
            raise InputError(f"checkpoint: cnn{i} has no convolution kernel")
        groups.append((f"cnn{i} conv", [variables[found["kernel"]]]))
        used.append(found["kernel"])
        if "bias" in found:  # not written by the 2018 code; kept if present
            groups[-1][1].append(variables[found["bias"]])
            used.append(found["bias"])
        bn = [found.get(k) for k in BN_VARIABLES]
        if any(bn):
            if not all(bn):
                missing = [k for k, name in zip(BN_VARIABLES, bn) if name is None]
                raise InputError(f"checkpoint: cnn{i} batch norm lacks {', '.join(missing)}")
            groups.append((f"cnn{i} batch norm", [variables[name] for name in bn]))
            used.extend(bn)
    for layer in ("dense", "conv1d"):
        kernel, bias = f"final/{layer}/kernel", f"final/{layer}/bias"
        if kernel in variables and bias in variables:
            break
    else:
        raise InputError("checkpoint: no final/dense/kernel and final/dense/bias")
    weight, offset = variables[kernel], variables[bias]
    if weight.ndim == 3:  # seqnn_orig.py: a width-1 convolution
        weight = weight[0]
    if final_slice is not None:
        if final_slice.end > weight.shape[-1]:
            raise InputError(
                f"-f {final_slice.start}:{final_slice.end}: the final layer has "
                f"{weight.shape[-1]} targets"
            )
        weight = weight[..., final_slice.start : final_slice.end]
        offset = offset[final_slice.start : final_slice.end]
    groups.append(("final", [weight, offset]))
    used += [kernel, bias]
    return groups, used


def check_all_used(variables: dict[str, np.ndarray], used: list[str], source: str) -> None:
    """InputError naming the variables that are neither used nor training state."""
    unused = [n for n in variables if n not in used and not _TRAINING_STATE.search(n)]
    if unused:
        raise InputError(
            f"{source}: variables {', '.join(unused[:5])} are not part of the 2018 model's "
            "layers; is it a checkpoint of another architecture?"
        )


def _model_params(params_file: str | os.PathLike, num_targets: int) -> dict:
    """The params dict of ``params_file`` (params.txt or JSON), its head ``num_targets`` wide."""
    if os.fspath(params_file).endswith(".json"):
        params = read_params(params_file)
    else:
        params = convert_params_txt(params_file, num_targets=num_targets)
    model = params["model"]
    heads = [k for k in model if k.startswith("head")]
    head = model[heads[0]] if len(heads) == 1 else None
    final = head[-1] if isinstance(head, list) else head
    if not isinstance(final, dict) or final.get("name") != "final":
        raise InputError(
            f"{params_file}: the 2018 model has one head ending in a 'final' block; found "
            f"{', '.join(heads) or 'no head'}"
        )
    if final.get("units") != num_targets:
        log.info("%s: head units %s -> %d", params_file, final.get("units"), num_targets)
        final["units"] = num_targets
    return params


def upgrade_tf1(
    params_file: str | os.PathLike,
    checkpoint: str | os.PathLike,
    out_file: str | os.PathLike,
    final_slice: FinalSlice | None = None,
) -> dict:
    """Convert a 2018 TF1 checkpoint into our model file for its params.

    Args:
        params_file: the 2018 ``params.txt`` (or its params JSON).
        checkpoint: the checkpoint prefix (``model.tf``).
        out_file: ``.h5`` (our Keras-2 layout) or ``.keras``.
        final_slice: keep only these targets of the final layer.

    Returns:
        the params dict the file's model is built from (its head as wide as the targets
        kept).

    Raises:
        InputError: a checkpoint that is not the params' model (layer count or a shape),
            unused variables, or a bad slice.
    """
    model_format(out_file)
    variables = read_tf1_checkpoint(checkpoint)
    groups, used = tf1_layer_arrays(variables, final_slice)
    check_all_used(variables, used, os.fspath(checkpoint))
    num_targets = int(groups[-1][1][1].shape[0])
    params = _model_params(params_file, num_targets)
    model = seqnn.SeqNN(params["model"], source=os.fspath(params_file), params_json=params)
    assign_tf1_arrays(model, groups, os.fspath(checkpoint))
    save_model_file(model, out_file)
    return params


def assign_tf1_arrays(
    model: seqnn.SeqNN, groups: list[tuple[str, list[np.ndarray]]], source: str
) -> None:
    """Set the weighted layers of ``model`` (head 0) from :func:`tf1_layer_arrays`' groups.

    Raises:
        InputError: the counts or any shape differ; nothing is assigned then.
    """
    targets = weighted_layers(model.model)
    if len(targets) != len(groups):
        raise InputError(
            f"{source}: {len(groups)} weighted layers (convolutions, batch norms, final), the "
            f"params' model has {len(targets)}; give the params the checkpoint was trained with"
        )
    values = []
    for layer, (what, arrays) in zip(targets, groups):
        want = [tuple(w.shape) for w in layer.weights]
        if len(want) == len(arrays) + 1 and what.endswith("conv"):  # our bias, TF1's none
            arrays = [*arrays, np.zeros(want[-1], np.float32)]
        have = [a.shape for a in arrays]
        if have != want:
            raise InputError(
                f"{source}: {what} has shapes {have}, the params' layer {layer.name!r} needs "
                f"{want}; give the params the checkpoint was trained with"
            )
        values.append(arrays)
    for layer, arrays in zip(targets, values):
        layer.set_weights(arrays)

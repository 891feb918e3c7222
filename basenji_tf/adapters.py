"""Adapter layers for fine-tuning a pretrained trunk, and where they go in a Basenji graph.

The successor library (baskerville) adapts the attention layers of its transformers;
Basenji's trunks are convolutions, so each adapter is placed as follows (docs/train.md,
"Transfer learning"):

* **LoRA / LoCon**: a low-rank update of a kernel, trained while the kernel stays frozen:
  Keras' own ``enable_lora`` (Conv1D and Dense), with :func:`enable_low_rank` freezing
  the bias too. For a Conv1D with kernel [k, c_in, c_out] the update is
  (alpha / rank) * A @ B with A [k, c_in, rank] and B [rank, c_out]: a rank-``rank``
  convolution followed by a 1x1 one, which is LoCon's factorization. :func:`merged_weights`
  folds it back into the kernel.
* **IA3**: a learned per-channel scale (:class:`basenji_tf.layers.Scale`, ones at
  initialization) of a convolution's output, before its normalization; folded back into
  the kernel (and bias) by :func:`merged_weights`.
* **Houlsby**: a bottleneck on the residual branch of every ``dilated_residual`` repeat,
  just before the add: ``branch + Dense(c)(relu(Dense(latent)(branch)))``, both Dense
  initialized near zero (truncated normal, stddev 1e-3; zero bias) so the adapted model
  starts as the pretrained one. Not mergeable: the params file that rebuilds it carries the
  ``adapter`` model keys (:mod:`basenji_tf.params`).
* **Squeeze-excite** (``houlsby_se``): after each selected convolution,
  ``x + x * tanh(W2 relu(W1 mean_L(x)))`` (:class:`SqueezeExcite`), as the successor
  library's transfer variant (no bias, truncated-normal stddev 1e-3 weights).

Adapter layers are named after the layer they adapt (``{conv}_ia3``, ``{conv}_se``,
``{block}_r{i}_houlsby_down``/``_act``/``_up``/``_add``), so weight files with adapters
load by order like any other and :func:`is_adapter_layer` finds them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from basenji_tf import layers
from basenji_tf.errors import InputError

# The Add of each dilated_residual repeat (blocks.dilated_residual names it so).
_RESIDUAL_ADD = re.compile(r"^trunk\d+_dilated_residual_r\d+_add$")
_ADAPTER_NAME = re.compile(r"_(houlsby_(down|act|up|add)|se|ia3)$")
_NEAR_ZERO = {"class_name": "TruncatedNormal", "config": {"stddev": 1e-3}}


@layers.register
class SqueezeExcite(keras.layers.Layer):
    """Squeeze-excite as a residual scale: ``x + x * tanh(relu(mean_L(x) W1) W2)``.

    [B, L, C] -> [B, L, C]; W1 [C, rank], W2 [rank, C], no biases, initialized near zero
    (truncated normal, stddev 1e-3) so the layer starts close to the identity. The mean
    runs over the whole window, so every output depends on every position.
    """

    def __init__(self, rank: int, **kwargs):
        super().__init__(**kwargs)
        self.rank = int(rank)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        init = keras.initializers.get(_NEAR_ZERO)
        self.squeeze = self.add_weight(
            name="squeeze", shape=(channels, self.rank), initializer=init
        )
        self.excite = self.add_weight(name="excite", shape=(self.rank, channels), initializer=init)

    def call(self, inputs):
        pooled = ops.mean(inputs, axis=1, keepdims=True)
        hidden = ops.relu(ops.matmul(pooled, ops.cast(self.squeeze, inputs.dtype)))
        scale = ops.tanh(ops.matmul(hidden, ops.cast(self.excite, inputs.dtype)))
        return inputs + inputs * scale

    def get_config(self):
        return {**super().get_config(), "rank": self.rank}


@dataclasses.dataclass(frozen=True)
class AdapterPlan:
    """Adapter layers to insert into a model graph (see :func:`insert_adapters`).

    Attributes:
        houlsby_latent: bottleneck width of a Houlsby adapter on every dilated_residual
            branch (None: none).
        se: names of the Conv1D layers followed by :class:`SqueezeExcite`.
        se_rank: its bottleneck width.
        ia3: names of the Conv1D / Dense layers followed by an IA3 per-channel scale.
    """

    houlsby_latent: int | None = None
    se: tuple[str, ...] = ()
    se_rank: int = 4
    ia3: tuple[str, ...] = ()


def is_adapter_layer(layer: keras.layers.Layer) -> bool:
    """True for the layers :func:`insert_adapters` adds."""
    return bool(_ADAPTER_NAME.search(layer.name))


def trunk_convs(trunk: keras.Model) -> list[keras.layers.Conv1D]:
    """The trunk's Conv1D layers in graph order (separable convolutions are not adapted)."""
    return [layer for layer in trunk.layers if type(layer) is keras.layers.Conv1D]


def pointwise_layers(trunk: keras.Model) -> list[keras.layers.Layer]:
    """The trunk's per-position matrix products: kernel-1 Conv1D layers and Dense layers.

    Basenji's counterpart of the attention projections that the successor library's LoRA
    adapts (the 1x1 convolutions of the dilated residual blocks, the final conv_block).
    """
    return [
        layer
        for layer in trunk.layers
        if (type(layer) is keras.layers.Conv1D and tuple(layer.kernel_size) == (1,))
        or type(layer) is keras.layers.Dense
    ]


def last_convs(trunk: keras.Model, count: int, where: str) -> list[keras.layers.Conv1D]:
    """The last ``count`` Conv1D layers of the trunk.

    Raises:
        InputError: the trunk has fewer; ``where`` names the key (``transfer.conv_select``).
    """
    convs = trunk_convs(trunk)
    if count > len(convs):
        raise InputError(
            f"{where}: {count} convolutions selected, the trunk has {len(convs)}; choose at "
            f"most {len(convs)}"
        )
    return convs[len(convs) - count :]


def model_plan(trunk: keras.Model, adapter: str, latent: int, conv_select: int, se_rank: int):
    """The :class:`AdapterPlan` of a params file's adapter model keys.

    ``adapter`` (houlsby or houlsby_se), ``adapter_latent``, ``conv_select``, ``se_rank``.

    Raises:
        InputError: no dilated_residual block for the Houlsby adapters, or too few
            convolutions for ``conv_select``.
    """
    if not any(_RESIDUAL_ADD.match(layer.name) for layer in trunk.layers):
        raise InputError(
            f"adapter {adapter!r}: the trunk has no dilated_residual block, whose residual "
            "branches the Houlsby adapters adapt; choose another adapter"
        )
    se = ()
    if adapter == "houlsby_se":
        se = tuple(c.name for c in last_convs(trunk, conv_select, "model.conv_select"))
    return AdapterPlan(houlsby_latent=latent, se=se, se_rank=se_rank)


def insert_adapters(
    trunk: keras.Model, models: Sequence[keras.Model], plan: AdapterPlan
) -> tuple[keras.Model, list[keras.Model]]:
    """The trunk and head models rebuilt with the adapter layers of ``plan``.

    The graph of all heads is cloned once (fresh layers with the same names and weights,
    each called once, as :class:`basenji_tf.seqnn.SeqNN` builds it), with the adapters
    inserted; the adapters keep their initial weights.

    Args:
        trunk: sequence [B, L_bp, 4] -> the trunk's output [B, bins, C].
        models: the head models, sharing ``trunk``'s graph.
        plan: what to insert where.

    Returns:
        (trunk, head models) of the new graph.
    """
    whole = keras.Model(trunk.input, [trunk.output] + [m.output for m in models])
    houlsby, se, ia3 = plan.houlsby_latent, set(plan.se), set(plan.ia3)

    def call(layer, *args, **kwargs):
        if houlsby and _RESIDUAL_ADD.match(layer.name):
            residual, branch = args[0]
            prefix = layer.name.removesuffix("_add")
            return layer([residual, _houlsby(branch, houlsby, prefix)], **kwargs)
        out = layer(*args, **kwargs)
        if layer.name in se:
            out = SqueezeExcite(plan.se_rank, name=f"{layer.name}_se")(out)
        if layer.name in ia3:
            out = layers.Scale("ones", name=f"{layer.name}_ia3")(out)
        return out

    clone = keras.models.clone_model(whole, call_function=call)
    for layer in whole.layers:
        if layer.weights:
            clone.get_layer(layer.name).set_weights(layer.get_weights())
    outputs = clone.outputs
    new_trunk = keras.Model(clone.input, outputs[0], name=trunk.name)
    heads = [keras.Model(clone.input, o, name=m.name) for o, m in zip(outputs[1:], models)]
    return new_trunk, heads


def _houlsby(branch, latent: int, prefix: str):
    """``branch + up(relu(down(branch)))``: the Houlsby bottleneck, [B, L, C] -> [B, L, C]."""
    channels = int(branch.shape[-1])
    init = dict(kernel_initializer=keras.initializers.get(_NEAR_ZERO), bias_initializer="zeros")
    down = keras.layers.Dense(latent, name=f"{prefix}_houlsby_down", **init)(branch)
    down = keras.layers.Activation("relu", name=f"{prefix}_houlsby_act")(down)
    up = keras.layers.Dense(channels, name=f"{prefix}_houlsby_up", **init)(down)
    return keras.layers.Add(name=f"{prefix}_houlsby_add")([branch, up])


def enable_low_rank(layer: keras.layers.Layer, rank: int, alpha: float) -> int:
    """Train a low-rank update of ``layer``'s kernel (Keras' LoRA), nothing else of it.

    Args:
        layer: a built Conv1D or Dense layer.
        rank: the update's rank.
        alpha: the update is scaled by alpha / rank.

    Returns:
        the number of parameters added.
    """
    layer.trainable = True
    layer.enable_lora(rank, lora_alpha=alpha)
    if getattr(layer, "bias", None) is not None:
        layer.bias.trainable = False
    return int(np.prod(layer.lora_kernel_a.shape) + np.prod(layer.lora_kernel_b.shape))


def merged_weights(
    layer: keras.layers.Layer, scale: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The plain weights of an adapted Conv1D / Dense layer, by variable name.

    A LoRA update is added to the kernel: kernel + (alpha / rank) * A @ B (float32);
    an IA3 ``scale`` [c_out] multiplies the kernel's output channels and the bias.
    Other variables (bias) are copied.
    """
    values = {}
    for variable in layer.weights:
        if variable.name.startswith("lora_kernel_"):
            continue
        values[variable.name] = np.asarray(variable.numpy(), np.float32)
    if getattr(layer, "lora_enabled", False):
        a = np.asarray(layer.lora_kernel_a.numpy(), np.float32)
        b = np.asarray(layer.lora_kernel_b.numpy(), np.float32)
        values["kernel"] = values["kernel"] + np.float32(layer.lora_alpha / layer.lora_rank) * (
            a @ b
        )
    if scale is not None:
        values = {name: value * np.asarray(scale, np.float32) for name, value in values.items()}
    return values

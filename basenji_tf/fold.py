"""Batch normalisation folded into the convolution before it, for inference only.

In Basenji2's blocks the order is activation -> Conv1D -> BatchNormalization (-> dropout
-> residual add -> pool; blocks.py), so at inference each BatchNormalization is an affine
map per output channel of the convolution just before it:

    bn(conv(x)) = (conv(x) + b - mean) * s + beta,   s = gamma / sqrt(var + eps)
                = conv'(x)   with kernel' = kernel * s (per output channel),
                                  bias'   = (b - mean) * s + beta

:func:`fold_batch_norm` rebuilds a model with each such pair replaced by one Conv1D
(with a bias) holding the folded weights, computed in float64 and stored as float32; every
other layer is a fresh copy with the same name, configuration and weights. The folded
model computes the same function as the original at inference (``training=False``) up to
float32 rounding: each output moves by a few ulps (tests/test_fold.py checks 1e-5 of the
largest output). It saves one pass over every normalised activation tensor (a read and a
write of [B, L, C] floats per BatchNormalization, a dozen elementwise ops).

Only a plain ``keras.layers.Conv1D`` (any dilation and stride) whose one consumer is a
BatchNormalization over the last axis, which has no other input, is folded: separable
convolutions, Dense -> BatchNormalization (dense_block), LayerNormalization and a
normalisation after an add or pooling stay as they are.

Never for training: the folded model has no moving statistics to update and no batch
statistics to normalise with, so ``training=True`` would compute a different function.
It is a snapshot of the weights at the time of the call; rebuild it after the original's
weights change. The original model is not modified (its layers keep one call each, which
cone splicing and the shared tower rely on).
"""

from __future__ import annotations

import logging

import keras
import numpy as np

log = logging.getLogger(__name__)
_ZEROS = {"module": "keras.initializers", "class_name": "Zeros", "config": {}}


def foldable_pairs(model: keras.Model) -> dict[str, str]:
    """The Conv1D -> BatchNormalization pairs of ``model`` that can be folded.

    Returns:
        BatchNormalization layer name -> Conv1D layer name, in model order.
    """
    consumers: dict[int, int] = {}
    for layer in model.layers:
        for tensor in keras.tree.flatten(layer._inbound_nodes[0].input_tensors):
            producer = tensor._keras_history.operation
            consumers[id(producer)] = consumers.get(id(producer), 0) + 1
    for output in keras.tree.flatten(model.outputs):  # an output is a consumer too
        producer = output._keras_history.operation
        consumers[id(producer)] = consumers.get(id(producer), 0) + 1
    pairs = {}
    for layer in model.layers:
        if not _is_foldable_norm(layer):
            continue
        (tensor,) = keras.tree.flatten(layer._inbound_nodes[0].input_tensors)
        conv = tensor._keras_history.operation
        if (
            type(conv) is keras.layers.Conv1D
            and len(conv._inbound_nodes) == 1
            and consumers.get(id(conv)) == 1
            and conv.activation in (None, keras.activations.linear)
        ):
            pairs[layer.name] = conv.name
    return pairs


def _is_foldable_norm(layer) -> bool:
    return (
        isinstance(layer, keras.layers.BatchNormalization)
        and len(layer._inbound_nodes) == 1
        and layer.axis in (-1, len(layer.input.shape) - 1)
    )


def folded_conv_weights(
    kernel: np.ndarray,
    bias: np.ndarray | None,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    moving_mean: np.ndarray,
    moving_variance: np.ndarray,
    epsilon: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The kernel and bias of one Conv1D with the BatchNormalization after it folded in.

    Args:
        kernel: [kernel_size, in_channels, filters] float32.
        bias: [filters], or None for a convolution without bias.
        gamma: [filters], or None when the normalisation has no scale.
        beta: [filters], or None when it has no centre.
        moving_mean: [filters], the inference mean.
        moving_variance: [filters], the inference variance.
        epsilon: the normalisation's epsilon.

    Returns:
        (kernel', bias') float32, computed in float64.
    """
    filters = kernel.shape[-1]
    gamma = np.ones(filters) if gamma is None else np.asarray(gamma, np.float64)
    beta = np.zeros(filters) if beta is None else np.asarray(beta, np.float64)
    bias = np.zeros(filters) if bias is None else np.asarray(bias, np.float64)
    scale = gamma / np.sqrt(np.asarray(moving_variance, np.float64) + epsilon)
    new_kernel = np.asarray(kernel, np.float64) * scale
    new_bias = (bias - np.asarray(moving_mean, np.float64)) * scale + beta
    return new_kernel.astype(np.float32), new_bias.astype(np.float32)


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """An inference copy of ``model`` with each Conv1D -> BatchNormalization pair folded.

    Args:
        model: a functional Keras model, e.g. a head's model: sequence [B, L_bp, 4] ->
            [B, bins, targets]; several outputs are kept (a trunk and its heads).

    Returns:
        a new keras.Model with the same inputs, outputs, name and other layers (fresh
        copies with the same weights); each folded Conv1D keeps its name and gains a bias,
        its BatchNormalization is gone. Marked ``trainable = False``.
    """
    pairs = foldable_pairs(model)
    folded_convs = set(pairs.values())

    def clone(layer):
        config = layer.get_config()
        if layer.name in folded_convs:
            config["use_bias"] = True
        # the weights are overwritten below: zeros are ~4x faster to create than
        # Basenji2's 30 M he_normal draws
        for key in config:
            if key.endswith("_initializer") and config[key] is not None:
                config[key] = _ZEROS
        return layer.__class__.from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in pairs:
            return args[0]  # the folded conv already applies this normalisation
        return layer(*args, **kwargs)

    folded = keras.models.clone_model(model, clone_function=clone, call_function=call)
    for layer in model.layers:
        if not layer.weights or layer.name in pairs:
            continue
        target = folded.get_layer(layer.name)
        if layer.name in folded_convs:
            target.set_weights(_fold(layer, model.get_layer(_norm_of(pairs, layer.name))))
        else:
            target.set_weights(layer.get_weights())
    folded.trainable = False
    log.debug("folded %d BatchNormalization layers of %s", len(pairs), model.name)
    return folded


def _norm_of(pairs: dict[str, str], conv_name: str) -> str:
    return next(norm for norm, conv in pairs.items() if conv == conv_name)


def _fold(conv, norm) -> list[np.ndarray]:
    bias = conv.bias.numpy() if conv.use_bias else None
    kernel, new_bias = folded_conv_weights(
        conv.kernel.numpy(),
        bias,
        norm.gamma.numpy() if norm.scale else None,
        norm.beta.numpy() if norm.center else None,
        norm.moving_mean.numpy(),
        norm.moving_variance.numpy(),
        norm.epsilon,
    )
    return [kernel, new_bias]

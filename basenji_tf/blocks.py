"""The block registry: the vocabulary of params JSON ``trunk`` and ``head*`` lists.

A block dict ``{"name": "conv_block", "filters": 64, ...}`` names either a registered
lower-case block below or one of the Keras passthrough classes (``Conv1D``,
``Cropping1D``, ``Dense``, ``Flatten``). Unknown block names and unknown keywords raise
``ValueError`` listing the valid ones.

Model-wide keys (``activation``, ``norm_type``, ``bn_momentum``, ...) are injected into
every block that accepts them, only when truthy, and block keys win: the original's rule
(REFERENCE 1.1). The old ``batch_norm: true`` means ``norm_type: "batch"``.

Layer order and numerics follow the original exactly, because released weight files
are loaded by the order of weighted layers:

* conv_block is pre-activation: activation -> Conv1D ('same' padding always; bias only
  without normalization) -> normalization (BatchNormalization epsilon 1e-3, Keras'
  default) -> dropout -> residual add -> end activation -> max pooling ('same', so
  odd lengths round up; stride = pool size).
* Filter counts and dilation rates use numpy's round-half-to-even.

Every layer gets a predictable name from its block: ``{block}_conv``, ``{block}_bn``,
``{block}_pool`` ..., where ``{block}`` is e.g. ``trunk2_r5_a`` (third trunk block, sixth
repeat, first conv).

Differences from the original:
* With ``norm_gamma`` unset, BatchNormalization gamma starts at ones, as in the 2020 code
  that trained the released models (the current original passes None, which Keras turns
  into random glorot-uniform values). Loading weights is unaffected.
* ``dilated_residual`` and ``dilated_dense`` take ``rate_init`` (default 1, the original's
  fixed start) so the 2018 Basenji trunk (dilations 2..64) can be written as one block.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import keras
import numpy as np

from basenji_tf import layers

GLOBAL_KEYS = (
    "activation",
    "batch_norm",
    "bn_momentum",
    "norm_type",
    "l2_scale",
    "l1_scale",
    "padding",
    "kernel_initializer",
)

BLOCKS: dict[str, Callable] = {}
KERAS_BLOCKS = {
    "Conv1D": keras.layers.Conv1D,
    "Cropping1D": keras.layers.Cropping1D,
    "Dense": keras.layers.Dense,
    "Flatten": keras.layers.Flatten,
}


def register_block(name: str, forwards_to: str | None = None):
    """Register a block function; ``forwards_to`` names the block its **kwargs reach."""

    def decorate(fn):
        fn.forwards_to = forwards_to
        BLOCKS[name] = fn
        return fn

    return decorate


def _accepted_keys(fn) -> set[str]:
    params = inspect.signature(fn).parameters
    keys = {
        k
        for k, p in params.items()
        if k not in ("inputs", "name") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    if fn.forwards_to:
        keys |= _accepted_keys(BLOCKS[fn.forwards_to])
    return keys


def _normalize_legacy_keys(kwargs: dict) -> dict:
    """Map 2020-era keywords onto the current ones."""
    kwargs = dict(kwargs)
    if kwargs.pop("batch_norm", False) and not kwargs.get("norm_type"):
        kwargs["norm_type"] = "batch"
    if "bn_gamma" in kwargs:
        kwargs.setdefault("norm_gamma", kwargs.pop("bn_gamma"))
    if "strides" in kwargs and "stride" not in kwargs:
        kwargs["stride"] = kwargs.pop("strides")
    return kwargs


def build_block(inputs, block: dict, model_globals: dict, name: str):
    """Apply one block dict to a tensor.

    Args:
        inputs: tensor [batch, length, channels].
        block: the params dict, with ``name`` naming the block.
        model_globals: model-level keys; truthy ones are passed where accepted.
        name: prefix for the block's layer names.

    Returns:
        the output tensor.
    """
    block = dict(block)
    block_name = block.pop("name", None)
    if block_name in KERAS_BLOCKS:
        return _build_keras_block(inputs, block_name, block, model_globals, name)
    if block_name not in BLOCKS:
        valid = ", ".join(sorted(BLOCKS) + sorted(KERAS_BLOCKS))
        raise ValueError(f"unknown block {block_name!r} in params; valid blocks: {valid}")
    fn = BLOCKS[block_name]
    accepted = _accepted_keys(fn)
    unknown = sorted(set(_normalize_legacy_keys(block)) - accepted)
    if unknown:
        raise ValueError(
            f"block {block_name!r} has unknown keyword(s) {', '.join(unknown)}; "
            f"valid keywords: {', '.join(sorted(accepted))}"
        )
    kwargs = {k: v for k, v in model_globals.items() if k in GLOBAL_KEYS and v}
    kwargs = _normalize_legacy_keys({**kwargs, **block})
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return fn(inputs, name=name, **kwargs)


def _build_keras_block(inputs, class_name, block, model_globals, name):
    cls = KERAS_BLOCKS[class_name]
    init_keys = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    unknown = sorted(set(block) - init_keys - {"name"})
    if unknown:
        raise ValueError(
            f"block {class_name!r} has unknown keyword(s) {', '.join(unknown)}; "
            f"valid keywords: {', '.join(sorted(init_keys))}"
        )
    kwargs = {k: v for k, v in model_globals.items() if k in GLOBAL_KEYS and v and k in init_keys}
    kwargs.update(block)
    if "activation" in kwargs:
        kwargs["activation"] = layers.keras_activation(kwargs["activation"])
    return cls(name=name, **kwargs)(inputs)


# ---------------------------------------------------------------------------------------
# Building pieces


def activate(inputs, activation: str | None, name: str):
    """Apply a named activation (identity for None / 'linear')."""
    if layers.resolve_activation_name(activation) is None:
        return inputs
    return layers.Activate(activation, name=name)(inputs)


def _regularizer(l2_scale: float = 0, l1_scale: float = 0):
    if l1_scale and l2_scale:
        return keras.regularizers.L1L2(l1=l1_scale, l2=l2_scale)
    if l2_scale:
        return keras.regularizers.L2(l2_scale)
    if l1_scale:
        return keras.regularizers.L1(l1_scale)
    return None


def normalize(inputs, norm_type, bn_momentum, norm_gamma, name):
    """Normalization layer by ``norm_type``: None, 'batch', 'batch-sync' or 'layer'."""
    gamma = norm_gamma or "ones"
    if norm_type is None:
        return inputs
    if norm_type in ("batch", "batch-sync"):
        return keras.layers.BatchNormalization(
            momentum=bn_momentum,
            gamma_initializer=gamma,
            synchronized=norm_type == "batch-sync",
            name=name,
        )(inputs)
    if norm_type == "layer":
        return keras.layers.LayerNormalization(gamma_initializer=gamma, name=name)(inputs)
    raise ValueError(f"unknown norm_type {norm_type!r}; valid: batch, batch-sync, layer, null")


def _round_half_even(x: float) -> int:
    return int(np.round(x))


def dilation_rates(rate_init: float, rate_mult: float, repeat: int, round: bool) -> list[int]:
    """Dilation rate of each repeat of a dilated residual tower.

    Repeat i gets round_half_even(d) with d = rate_init * rate_mult**i, where ``round`` also
    rounds d itself at every step (Basenji2: 1.5 -> 1,2,3,4,6,9,14,...).
    """
    rates, dilation = [], float(rate_init)
    for _ in range(repeat):
        rates.append(_round_half_even(dilation))
        dilation *= rate_mult
        if round:
            dilation = float(np.round(dilation))
    return rates


# ---------------------------------------------------------------------------------------
# Blocks


@register_block("conv_block")
def conv_block(
    inputs,
    filters=None,
    kernel_size=1,
    activation="relu",
    activation_end=None,
    stride=1,
    dilation_rate=1,
    l2_scale=0,
    dropout=0,
    conv_type="standard",
    pool_size=1,
    pool_type="max",
    norm_type=None,
    bn_momentum=0.99,
    norm_gamma=None,
    residual=False,
    kernel_initializer="he_normal",
    padding="same",
    name="conv_block",
):
    """Conv1D block: activation, Conv1D, norm, dropout, residual add, activation_end, pool.

    Shapes: [B, L, C] -> [B, ceil(L / stride / pool_size), filters]. The conv always uses
    'same' padding; ``padding`` applies to pooling only (as in the original).
    """
    current = activate(inputs, activation, f"{name}_act")
    if filters is None:
        filters = inputs.shape[-1]
    if conv_type not in ("standard", "separable"):
        raise ValueError(f"unknown conv_type {conv_type!r}; valid: standard, separable")
    conv_class = keras.layers.SeparableConv1D if conv_type == "separable" else keras.layers.Conv1D
    conv_args = dict(
        filters=filters,
        kernel_size=kernel_size,
        strides=stride,
        padding="same",
        dilation_rate=dilation_rate,
        use_bias=norm_type is None,
        name=f"{name}_conv",
    )
    if conv_type == "separable":
        conv_args.update(
            depthwise_initializer=kernel_initializer, pointwise_initializer=kernel_initializer
        )
    else:
        conv_args.update(
            kernel_initializer=kernel_initializer, kernel_regularizer=_regularizer(l2_scale)
        )
    current = conv_class(**conv_args)(current)
    current = normalize(current, norm_type, bn_momentum, norm_gamma, f"{name}_bn")
    if dropout > 0:
        current = keras.layers.Dropout(dropout, name=f"{name}_dropout")(current)
    if residual:
        current = keras.layers.Add(name=f"{name}_add")([inputs, current])
    current = activate(current, activation_end, f"{name}_act_end")
    if pool_size > 1:
        if pool_type != "max":
            raise ValueError(f"unsupported pool_type {pool_type!r}; valid: max")
        current = keras.layers.MaxPooling1D(
            pool_size=pool_size, padding=padding, name=f"{name}_pool"
        )(current)
    return current


@register_block("conv_tower", forwards_to="conv_block")
def conv_tower(
    inputs,
    filters_init,
    filters_end=None,
    filters_mult=None,
    divisible_by=1,
    repeat=1,
    name="conv_tower",
    **kwargs,
):
    """``repeat`` conv_blocks with filters growing geometrically from ``filters_init``.

    Stage i has round_half_even(filters_init * mult**i / divisible_by) * divisible_by
    filters, mult = filters_mult, or (filters_end / filters_init)**(1 / (repeat - 1)).
    """
    if filters_mult is None:
        filters_mult = np.exp(np.log(filters_end / filters_init) / (repeat - 1))
    rep_filters = filters_init
    current = inputs
    for ri in range(repeat):
        filters = _round_half_even(rep_filters / divisible_by) * divisible_by
        current = conv_block(current, filters=filters, name=f"{name}_r{ri}", **kwargs)
        rep_filters *= filters_mult
    return current


@register_block("dilated_residual", forwards_to="conv_block")
def dilated_residual(
    inputs,
    filters,
    kernel_size=3,
    rate_mult=2,
    rate_init=1,
    dropout=0,
    repeat=1,
    conv_type="standard",
    norm_type=None,
    round=False,
    name="dilated_residual",
    **kwargs,
):
    """Residual stack of dilated convs: x + conv1x1(conv_k,dil(x)) per repeat.

    The first conv has ``filters`` and dilation round_half_even(d) with d = rate_init,
    multiplied by ``rate_mult`` each repeat (and rounded when ``round``); the second
    restores the input channels, has the dropout, and its norm gamma starts at zero so
    each residual branch starts silent. Without normalization a zero-initialized
    :class:`layers.Scale` plays that role. Length and channels are unchanged.
    """
    kwargs.pop("norm_gamma", None)
    current = inputs
    for ri, dilation in enumerate(dilation_rates(rate_init, rate_mult, repeat, round)):
        rep_input = current
        current = conv_block(
            current,
            filters=filters,
            kernel_size=kernel_size,
            dilation_rate=dilation,
            conv_type=conv_type,
            norm_type=norm_type,
            norm_gamma="ones",
            name=f"{name}_r{ri}_a",
            **kwargs,
        )
        current = conv_block(
            current,
            filters=rep_input.shape[-1],
            dropout=dropout,
            norm_type=norm_type,
            norm_gamma="zeros",
            name=f"{name}_r{ri}_b",
            **kwargs,
        )
        if norm_type is None:
            current = layers.Scale(name=f"{name}_r{ri}_scale")(current)
        current = keras.layers.Add(name=f"{name}_r{ri}_add")([rep_input, current])
    return current


@register_block("dilated_dense", forwards_to="conv_block")
def dilated_dense(
    inputs,
    filters,
    kernel_size=3,
    rate_mult=2,
    rate_init=1,
    dropout=0,
    repeat=1,
    conv_type="standard",
    round=False,
    name="dilated_dense",
    **kwargs,
):
    """Densely connected dilated convs (the 2018 Basenji trunk).

    Each repeat appends ``filters`` channels: concat([x, conv_block_dil(x)]), dilation
    starting at ``rate_init`` and multiplied by ``rate_mult``.
    """
    current = inputs
    for ri, dilation in enumerate(dilation_rates(rate_init, rate_mult, repeat, round)):
        rep_input = current
        current = conv_block(
            current,
            filters=filters,
            kernel_size=kernel_size,
            dilation_rate=dilation,
            conv_type=conv_type,
            dropout=dropout,
            name=f"{name}_r{ri}",
            **kwargs,
        )
        current = keras.layers.Concatenate(name=f"{name}_r{ri}_concat")([rep_input, current])
    return current


@register_block("dense_block")
def dense_block(
    inputs,
    units=None,
    activation="relu",
    activation_end=None,
    flatten=False,
    dropout=0,
    l2_scale=0,
    l1_scale=0,
    residual=False,
    norm_type=None,
    bn_momentum=0.99,
    norm_gamma=None,
    kernel_initializer="he_normal",
    name="dense_block",
):
    """Dense block: activation, [flatten], Dense, norm, dropout, residual add, activation_end.

    The Dense layer has a bias only without norm. Shapes: [B, L, C] -> [B, L, units]
    (or [B, units] flattened).
    """
    current = activate(inputs, activation, f"{name}_act")
    if flatten:
        current = keras.layers.Flatten(name=f"{name}_flatten")(current)
    if units is None:
        units = inputs.shape[-1]
    current = keras.layers.Dense(
        units,
        use_bias=norm_type is None,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=_regularizer(l2_scale, l1_scale),
        name=f"{name}_dense",
    )(current)
    gamma = norm_gamma or ("zeros" if residual else "ones")
    current = normalize(current, norm_type, bn_momentum, gamma, f"{name}_bn")
    if dropout > 0:
        current = keras.layers.Dropout(dropout, name=f"{name}_dropout")(current)
    if residual:
        current = keras.layers.Add(name=f"{name}_add")([inputs, current])
    return activate(current, activation_end, f"{name}_act_end")


@register_block("final")
def final(
    inputs,
    units,
    activation="linear",
    flatten=False,
    kernel_initializer="he_normal",
    l2_scale=0,
    l1_scale=0,
    name="final",
):
    """The output layer: [flatten] -> Dense(units, bias, activation).

    ``activation`` is handed to Keras as in the original, so ``softplus`` is Keras'
    unclipped softplus and ``gelu`` the exact erf form. [B, L, C] -> [B, L, units].

    The layer computes in float32 under every dtype policy: bfloat16's 8-bit mantissa
    would round each prediction to steps of ~0.4%, coarser than many variants' effects
    (SAD Spearman against float32 on the small demo's variants: 0.989 with a bfloat16
    output layer, 0.994 with this one, at a small share of the model's FLOPs).
    """
    current = inputs
    if flatten:
        current = keras.layers.Reshape((1, -1), name=f"{name}_flatten")(current)
    return keras.layers.Dense(
        units,
        use_bias=True,
        activation=layers.keras_activation(activation),
        kernel_initializer=kernel_initializer,
        kernel_regularizer=_regularizer(l2_scale, l1_scale),
        dtype="float32",
        name=f"{name}_dense",
    )(current)


BLOCKS["dense"] = final  # the deprecated alias used by the cross2020 params

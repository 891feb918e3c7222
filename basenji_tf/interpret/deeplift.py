"""DeepLIFT's rules (Shrikumar et al. 2017) for the layers our blocks build.

DeepLIFT runs the sequences and their references as one batch, sequences first: a call of
``2n`` rows whose row ``n + i`` is the reference of row ``i``. Every layer of our models
treats rows independently, so a nonlinearity sees a sequence's value ``x`` and its
reference's ``r`` at the same place of the two halves. Inside :func:`deeplift_rules` the
gradient of each nonlinearity is replaced by DeepLIFT's multiplier, so the gradient of the
objective with respect to the input is the product of multipliers, and ``sum((x - r) *
multiplier)`` equals ``f(x) - f(r)`` (summation to delta):

* elementwise activations (ReLU, GELU in its tanh, erf and sigmoid forms, softplus, exp,
  sigmoid, tanh, exp_linear, polyrelu: :class:`~basenji_tf.layers.Activate`, the
  ``activation`` of Dense / Conv1D layers, the :class:`~basenji_tf.layers.Softplus` and
  :class:`~basenji_tf.layers.Exp` layers): the rescale rule, multiplier ``(f(x) - f(r)) /
  (x - r)``, the ordinary gradient where ``|x - r| < 1e-6``. Each activation is one
  nonlinearity: ``x * sigmoid(1.702 x)`` gets one multiplier, not one per factor.
* max pooling: the rule of Captum and DeepSHAP. Each output's difference ``max(x) -
  max(r)`` is split into ``m - max(r)`` and ``max(x) - m`` with ``m = max(max(x), max(r))``
  (one of them is zero); the first goes to the position of the sequence's maximum, the
  second to that of the reference's, each divided by that position's ``x - r``. The
  multipliers thus add up to the pooled difference exactly (summation to delta holds
  through pooling), but a window's difference is credited to at most two of its
  positions, not shared among all that changed.
* linear at inference, left as they are: convolutions, dense layers, batch normalisation
  (moving statistics), dropout, additions, concatenation, cropping, reshaping, average
  pooling, up-sampling, :class:`~basenji_tf.layers.Scale`, and the augmentation layers
  (the identity at inference).

Any other layer (layer normalisation, ensembling layers that stack members along the batch
axis, ...) has no rule here and is an error, rather than a silently wrong attribution.

The rules are attributes of the model's layers swapped in for the ``with`` block only and
restored afterwards, so predictions outside it are unchanged bit for bit. They are read
when the layers run, so the model must be called eagerly inside the block (not through a
``tf.function`` traced elsewhere), and no other thread may use the model meanwhile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import keras
import tensorflow as tf

from basenji_tf import layers
from basenji_tf.errors import InputError

NEAR = 1e-6
"""Where ``|x - r|`` is below this the ordinary gradient stands in for the multiplier."""

LINEAR_LAYERS = (
    keras.layers.InputLayer,
    keras.layers.Conv1D,
    keras.layers.SeparableConv1D,
    keras.layers.Dense,
    keras.layers.BatchNormalization,
    keras.layers.Dropout,
    keras.layers.Add,
    keras.layers.Concatenate,
    keras.layers.Cropping1D,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.AveragePooling1D,
    keras.layers.UpSampling1D,
    keras.layers.ZeroPadding1D,
    keras.layers.Activation,
    keras.layers.Identity,
    layers.Scale,
    layers.StochasticReverseComplement,
    layers.StochasticShift,
    layers.SwitchReverse,
)
"""Layers that are linear (or the identity) at inference: no rule needed."""


def _halves(t):
    return tf.split(t, 2, axis=0)


def _tile(t):
    return tf.concat([t, t], axis=0)


def rescale(fn: Callable) -> Callable:
    """``fn`` (elementwise) whose gradient is DeepLIFT's rescale multiplier.

    The input holds the sequences' rows, then their references'. The multiplier is
    computed from the sequences' half of the upstream gradient and given to both halves.
    """

    @tf.custom_gradient
    def rule(z):
        y = fn(z)

        def grad(upstream):
            g = _halves(upstream)[0]
            with tf.GradientTape() as tape:
                tape.watch(z)
                again = fn(z)
            plain = _halves(tape.gradient(again, z, output_gradients=_tile(g)))[0]
            zx, zr = _halves(tf.cast(z, tf.float32))
            yx, yr = _halves(tf.cast(y, tf.float32))
            dz = zx - zr
            near = tf.abs(dz) < NEAR
            slope = (yx - yr) / tf.where(near, tf.ones_like(dz), dz)
            multiplier = tf.where(near, tf.cast(plain, tf.float32), tf.cast(g, tf.float32) * slope)
            return _tile(tf.cast(multiplier, z.dtype))

        return y, grad

    return rule


def max_pool_rule(pool: Callable) -> Callable:
    """``pool`` (a max pooling layer's ``call``) with DeepLIFT's max pooling multipliers."""

    @tf.custom_gradient
    def rule(z):
        y = pool(z)

        def grad(upstream):
            g = _halves(upstream)[0]
            yx, yr = _halves(y)
            top = tf.maximum(yx, yr)
            split = tf.concat([g * (top - yr), g * (yx - top)], axis=0)
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(z)
                again = pool(z)
            # the gradient of max pooling routes each output to its window's maximum
            to_x, to_r = _halves(tape.gradient(again, z, output_gradients=split))
            plain = _halves(tape.gradient(again, z, output_gradients=_tile(g)))[0]
            del tape
            zx, zr = _halves(tf.cast(z, tf.float32))
            dz = zx - zr
            near = tf.abs(dz) < NEAR
            routed = tf.cast(to_x + to_r, tf.float32)
            multiplier = tf.where(
                near, tf.cast(plain, tf.float32), routed / tf.where(near, tf.ones_like(dz), dz)
            )
            return _tile(tf.cast(multiplier, z.dtype))

        return y, grad

    return rule


def _is_linear(activation) -> bool:
    return activation is None or activation is keras.activations.linear


def _rules(layer) -> list[tuple[str, Callable]]:
    """(attribute, its DeepLIFT replacement) of one layer.

    Raises:
        InputError: a layer with no rule.
    """
    if isinstance(layer, keras.layers.MaxPooling1D):
        return [("call", max_pool_rule(layer.call))]
    if isinstance(layer, layers.Activate):
        return [("_fn", rescale(layer._fn))]
    if isinstance(layer, (layers.Softplus, layers.Exp)):
        return [("call", rescale(layer.call))]
    if isinstance(layer, LINEAR_LAYERS):
        activation = getattr(layer, "activation", None)
        return [] if _is_linear(activation) else [("activation", rescale(activation))]
    raise InputError(
        f"--method deepshap: no DeepLIFT rule for layer {layer.name} "
        f"({type(layer).__name__}); use --method integrated_gradients or expected_gradients"
    )


def _leaf_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


@contextlib.contextmanager
def deeplift_rules(model: keras.Model) -> Iterator[None]:
    """Give every nonlinearity of ``model`` its DeepLIFT rule for the ``with`` block.

    Raises:
        InputError: the model has a layer with no rule (see the module docstring).
    """
    swaps = [(layer, name, rule) for layer in _leaf_layers(model) for name, rule in _rules(layer)]
    done = []
    try:
        for layer, name, rule in swaps:
            # an attribute of the instance (Activate._fn, Dense.activation) or of the
            # class (call): restored as it was found
            done.append((layer, name, layer.__dict__.get(name, _CLASS)))
            object.__setattr__(layer, name, rule)
        yield
    finally:
        for layer, name, original in reversed(done):
            if original is _CLASS:
                object.__delattr__(layer, name)
            else:
                object.__setattr__(layer, name, original)


_CLASS = object()

"""Custom Keras layers: activations, RC / shift augmentation and ensembling.

Every layer takes ``**kwargs``, stores its arguments, implements ``get_config`` and is
registered for Keras serialization under the package ``basenji_tf``. None of them has
weights except :class:`Scale`, so they do not affect the order-based loading of legacy
weight files.

Sequences are one-hot ``[batch, length_bp, 4]`` in A, C, G, T order, so the complement
of a row is the row with its channels reversed. Predictions are
``[batch, length_bins, num_targets]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import ops

from basenji_tf.errors import InputError

register = keras.saving.register_keras_serializable(package="basenji_tf")

# ---------------------------------------------------------------------------------------
# Activations


@register
def gelu_tanh(x):
    """GELU, tanh approximation: what ``gelu`` means in the current original code."""
    return keras.activations.gelu(x, approximate=True)


@register
def gelu_sigmoid(x):
    """GELU as x * sigmoid(1.702 x), the form the released Basenji2 weights were trained with."""
    return x * ops.sigmoid(1.702 * x)


@register
def gelu_erf(x):
    """Exact GELU x * Phi(x) (Keras' ``gelu``, used by Keras Dense/Conv1D passthroughs)."""
    return keras.activations.gelu(x, approximate=False)


@register
def exp_linear(x):
    """exp(x) for x <= 0 and x + 1 above: the Basenji (2018) output link.

    Continuous with a continuous first derivative at 0, positive everywhere, and linear
    (not exponential) for large inputs, which keeps Poisson training stable.
    """
    return ops.where(x > 0, x + 1.0, ops.exp(ops.minimum(x, 0.0)))


@register
def polyrelu(x):
    """relu((x - 2)^3)."""
    return ops.relu(ops.power(x - 2.0, 3))


ACTIVATIONS = {
    "relu": ops.relu,
    "gelu": gelu_tanh,
    "gelu_tanh": gelu_tanh,
    "gelu_sigmoid": gelu_sigmoid,
    "gelu_erf": gelu_erf,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "exp": ops.exp,
    "softplus": ops.softplus,
    "exp_linear": exp_linear,
    "polyrelu": polyrelu,
}
"""Activation names of params files. ``gelu`` is the tanh form, as in the current original;
use ``gelu_sigmoid`` for the released Basenji2 weights (trained with the 2020 code)."""

IDENTITY_ACTIVATIONS = (None, "linear", "none", False)


def resolve_activation_name(name: str | None) -> str | None:
    """Validate an activation name; None for the identity."""
    if name in IDENTITY_ACTIVATIONS:
        return None
    if name not in ACTIVATIONS:
        valid = ", ".join(sorted(ACTIVATIONS) + ["linear"])
        raise ValueError(f"unknown activation {name!r}; valid activations: {valid}")
    return name


def keras_activation(name: str | None):
    """Activation for a Keras ``Dense``/``Conv1D`` argument.

    Plain Keras names (``gelu`` = exact erf GELU, ``softplus`` unclipped) keep their Keras
    meaning, as the original passes the string straight to Keras; our own forms
    (``gelu_sigmoid``, ``gelu_tanh``, ``exp_linear``, ...) become functions.
    """
    if name in IDENTITY_ACTIVATIONS:
        return None
    try:
        return keras.activations.get(name)
    except ValueError:
        return ACTIVATIONS[resolve_activation_name(name)]


@register
class Activate(keras.layers.Layer):
    """Apply a named activation from :data:`ACTIVATIONS` (no weights)."""

    def __init__(self, activation: str, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self._fn = ACTIVATIONS[resolve_activation_name(activation)]

    def call(self, inputs):
        return self._fn(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@register
class Softplus(keras.layers.Layer):
    """softplus(clip(x, -exp_max, exp_max)) (the original's clipped softplus layer)."""

    def __init__(self, exp_max: float = 10000.0, **kwargs):
        super().__init__(**kwargs)
        self.exp_max = exp_max

    def call(self, inputs):
        return ops.softplus(ops.clip(inputs, -self.exp_max, self.exp_max))

    def get_config(self):
        return {**super().get_config(), "exp_max": self.exp_max}


@register
class Exp(keras.layers.Layer):
    """exp(x), or base**x if ``base`` is given; ``minus`` subtracted afterwards if given."""

    def __init__(self, base: float | None = None, minus: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self.minus = minus

    def call(self, inputs):
        x = inputs if self.base is None else inputs * math.log(self.base)
        x = ops.exp(x)
        return x if self.minus is None else x - self.minus

    def get_config(self):
        return {**super().get_config(), "base": self.base, "minus": self.minus}


@register
class Scale(keras.layers.Layer):
    """Learned per-channel multiplier (weight ``scale``, zeros at initialization)."""

    def __init__(self, initializer: str = "zeros", **kwargs):
        super().__init__(**kwargs)
        self.initializer = initializer

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale", shape=(input_shape[-1],), initializer=self.initializer
        )

    def call(self, inputs):
        return inputs * self.scale

    def get_config(self):
        return {**super().get_config(), "initializer": self.initializer}


# ---------------------------------------------------------------------------------------
# Sequence transforms


def reverse_complement(seq_1hot):
    """Reverse the length axis and complement (reverse the A,C,G,T channels) [B, L, 4]."""
    return ops.flip(ops.flip(seq_1hot, axis=1), axis=2)


def shift_sequence(seq_1hot, shift, max_shift: int):
    """Shift [B, L, C] along L by ``shift`` (|shift| <= max_shift), zero padded.

    A positive shift moves the sequence right: zero rows enter at the start and the
    last ``shift`` positions drop. ``shift`` may be a tensor (one value for the batch).
    """
    if max_shift == 0:
        return seq_1hot
    length = ops.shape(seq_1hot)[1]
    padded = ops.pad(seq_1hot, [[0, 0], [max_shift, max_shift], [0, 0]])
    start = max_shift - shift
    return ops.slice(
        padded,
        ops.stack([0, start, 0]),
        ops.stack([ops.shape(seq_1hot)[0], length, ops.shape(seq_1hot)[2]]),
    )


def reverse_predictions(preds, strand_pair: Sequence[int] | None):
    """Flip predictions [B, L, T] along L and swap strand-paired targets."""
    flipped = ops.flip(preds, axis=1)
    if strand_pair is not None and len(strand_pair):
        flipped = ops.take(flipped, list(strand_pair), axis=2)
    return flipped


@register
class StochasticReverseComplement(keras.layers.Layer):
    """Training: with probability 1/2 (one coin per batch) reverse complement the batch.

    Returns ``(sequence, reverse_bool)``; at inference ``(sequence, False)``.
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs, ops.convert_to_tensor(False)
        reverse = keras.random.uniform((), seed=self.seed_generator) > 0.5
        return ops.where(reverse, reverse_complement(inputs), inputs), reverse

    def compute_output_shape(self, input_shape):
        return input_shape, ()

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@register
class StochasticShift(keras.layers.Layer):
    """Training: shift the batch by one random offset in [-shift_max, shift_max] bp.

    With ``symmetric=False`` the offset is in [0, shift_max]. Padding rows are all zero
    (N). Inference: identity.
    """

    def __init__(
        self, shift_max: int = 0, symmetric: bool = True, seed: int | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        self.shift_max = int(shift_max)
        self.symmetric = symmetric
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.shift_max == 0:
            return inputs
        low = -self.shift_max if self.symmetric else 0
        shift = keras.random.randint((), low, self.shift_max + 1, seed=self.seed_generator)
        return shift_sequence(inputs, shift, self.shift_max)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "shift_max": self.shift_max,
            "symmetric": self.symmetric,
            "seed": self.seed,
        }


@register
class SwitchReverse(keras.layers.Layer):
    """Undo a reverse complement on predictions: inputs ``[preds, reverse_bool]``.

    If ``reverse_bool``, flip the length axis and, with ``strand_pair``, swap each target
    with its opposite-strand partner. Targets are never flipped; predictions are.
    """

    def __init__(self, strand_pair: Sequence[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.strand_pair = list(strand_pair) if strand_pair is not None else None

    def call(self, inputs):
        preds, reverse = inputs
        return ops.where(reverse, reverse_predictions(preds, self.strand_pair), preds)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "strand_pair": self.strand_pair}


# ---------------------------------------------------------------------------------------
# Ensembles: the one definition of members and averaging (Keras layers and numpy callers)


def ensemble_members(shifts: Sequence[int] = (0,), rc: bool = False) -> list[tuple[int, bool]]:
    """(shift bp, forward) of each ensemble member, in the original's order.

    For each shift: the shifted sequence (zero padded), then, with ``rc``, its reverse
    complement (``forward`` False).
    """
    return [(int(s), forward) for s in shifts for forward in ((True, False) if rc else (True,))]


def check_shifts(shifts: Sequence[int], seq_length: int) -> None:
    """Reject ensemble shifts that move the whole input out of the model's window.

    A shift of ``|s| >= seq_length`` bp leaves nothing but zero padding (all N), so its
    member would average noise into the predictions.

    Raises:
        InputError: naming ``--shifts``, the option every ensembling command shares.
    """
    for shift in shifts:
        if abs(int(shift)) >= seq_length:
            raise InputError(
                f"--shifts {shift}: a shift must be shorter than the model's {seq_length} bp "
                "input sequence; give small shifts such as 0,1,-1"
            )


def average_members(preds, forward: Sequence[bool], strand_pair: Sequence[int] | None = None):
    """Average member predictions stacked member-major along the batch axis.

    RC members (``forward`` False) are flipped back along the length and have their
    strand-paired targets swapped first; shifted members are not shifted back (shifts are
    much smaller than a bin), as in the original. Members count equally.

    Args:
        preds: [M * B, L, T], tensor or numpy array, members in :func:`ensemble_members`
            order.
        forward: per member, whether it is a forward-strand sequence (M values).
        strand_pair: per target, its other-strand target (None or empty: no swapping).

    Returns:
        [B, L, T] tensor.
    """
    total = None
    for fw, member in zip(forward, ops.split(preds, len(forward), axis=0)):
        if not fw:
            member = reverse_predictions(member, strand_pair)
        # from zeros, as 0 + (-0.0) is 0.0: a zero prediction averages to +0 however
        # many members there are
        total = (ops.zeros_like(member) if total is None else total) + member
    return total / len(forward)


@register
class EnsembleInputs(keras.layers.Layer):
    """Stack the ensemble members (:func:`ensemble_members`) of a batch along the batch axis.

    Input [B, L, 4] -> [n_members * B, L, 4], member-major.
    """

    def __init__(self, shifts: Sequence[int] = (0,), rc: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.shifts = [int(s) for s in shifts]
        self.rc = bool(rc)

    def call(self, inputs):
        max_shift = max(abs(s) for s in self.shifts)
        members = []
        for shift, forward in ensemble_members(self.shifts, self.rc):
            shifted = shift_sequence(inputs, shift, max_shift) if shift else inputs
            members.append(shifted if forward else reverse_complement(shifted))
        return ops.concatenate(members, axis=0)

    def compute_output_shape(self, input_shape):
        return (None,) + tuple(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "shifts": self.shifts, "rc": self.rc}


@register
class EnsembleAverage(keras.layers.Layer):
    """Average member predictions stacked by :class:`EnsembleInputs`.

    See :func:`average_members`. Input [n_members * B, L, T] -> [B, L, T].
    """

    def __init__(
        self,
        num_shifts: int = 1,
        rc: bool = False,
        strand_pair: Sequence[int] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_shifts = int(num_shifts)
        self.rc = bool(rc)
        self.strand_pair = list(strand_pair) if strand_pair is not None else None

    def call(self, inputs):
        # only the members' strands matter for averaging, not their shifts
        forward = [fw for _, fw in ensemble_members([0] * self.num_shifts, self.rc)]
        return average_members(inputs, forward, self.strand_pair)

    def compute_output_shape(self, input_shape):
        return (None,) + tuple(input_shape[1:])

    def get_config(self):
        return {
            **super().get_config(),
            "num_shifts": self.num_shifts,
            "rc": self.rc,
            "strand_pair": self.strand_pair,
        }

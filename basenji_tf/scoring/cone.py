"""Exact predictions of locally edited sequences, computed only inside the edit's cone.

A variant changes a model's activations only inside its receptive cone: a few hundred bp
through the conv tower, then a band of bins that widens by each convolution's reach in
the dilated stack. :class:`ConeSplice` predicts many edited (ALT) sequences from their
reference (REF) sequences by recomputing only that band, layer by layer, and reusing the
REF activations everywhere else (and
:class:`~basenji_tf.scoring.shared_tower.SharedTower` computes the tower of many
overlapping REF windows together). Results equal a full forward pass up to float rounding.

Units: ``bp`` are input positions; ``bins`` are positions of the tower output (the
model's stride) and of every later layer.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from basenji_tf import layers as bl

# Layers that map each position on its own: they run on a band as they run on the whole.
POINTWISE = (
    keras.layers.Activation,
    keras.layers.BatchNormalization,
    keras.layers.Dense,
    keras.layers.Dropout,
    bl.Activate,
    bl.Exp,
    bl.Scale,
    bl.Softplus,
)
MERGES = (keras.layers.Add, keras.layers.Multiply, keras.layers.Subtract)


def int_arg(value) -> int:
    """A Keras layer argument that may be a 1-tuple (``kernel_size``, ``strides``), as an int."""
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


def _is_band_conv(layer) -> bool:
    """A plain 'same', stride-1, ungrouped Conv1D on [batch, length, channels]."""
    return (
        type(layer) is keras.layers.Conv1D
        and layer.padding == "same"
        and int_arg(layer.strides) == 1
        and layer.groups == 1
        and layer.data_format == "channels_last"
    )


def _split_layer(model: keras.Model) -> int:
    """Index in ``model.layers`` of the last pooling layer (the tower's end)."""
    split_i = None
    for i, layer in enumerate(model.layers):
        if hasattr(layer, "pool_size"):
            split_i = i
    if split_i is None:
        raise ValueError("model has no pooling layer to split the tower at")
    return split_i


def _tower_reach(tower_layers) -> tuple[int, int]:
    """(one-sided receptive field in bp, stride in bp) of the layers up to the split.

    Raises:
        ValueError: a layer whose receptive field cannot be bounded.
    """
    reach_bp, stride = 0, 1
    for layer in tower_layers:
        if hasattr(layer, "pool_size"):
            pool, strides = int_arg(layer.pool_size), int_arg(layer.strides)
            if strides != pool:
                raise ValueError(f"{layer.name}: pool stride {strides} != size {pool}")
            # Pooling aligned to the sequence start widens no bin's receptive field.
            stride *= pool
        elif hasattr(layer, "kernel_size"):
            if layer.padding != "same" or int_arg(layer.strides) != 1:
                raise ValueError(f"{layer.name}: tower convolutions must be 'same', stride 1")
            reach_bp += (int_arg(layer.kernel_size) // 2) * int_arg(layer.dilation_rate) * stride
        elif (
            (layer.weights and not hasattr(layer, "moving_mean"))
            or len(layer.output.shape) != 3
            or layer.output.shape[1] != layer.input.shape[1]
        ):
            raise ValueError(f"{layer.name}: cannot bound the receptive field of this layer")
    return reach_bp, stride


class ConeSplice:
    """REF predictions and exact ALT predictions that reuse them outside the ALT's cone.

    The tower (every layer up to the last pooling layer) of an ALT runs on a short,
    stride-aligned window around its change whose edges lie more than the tower's reach
    from the bins kept (``patch_bins`` bins). Each later layer then runs on the band of
    bins its input differs in, widened by its own reach: a 'same' convolution of kernel
    k and dilation d widens the band by (k - 1) * d bins, with REF activations (or the
    zero padding, at the sequence edges) on either side; per-position layers keep it;
    cropping moves it; a merge (Add) takes the union of its inputs' bands. A layer of any
    other kind makes the band the whole length from there on, so any model stays exact.

    Args:
        model: a functional ``keras.Model`` [batch, L, 4] -> [batch, bins, T], each layer
            called once.
        max_change_bp: longest change (first to last differing bp) handled by a band;
            longer ones (indels shift the rest of the window) take the full pass.

    Raises:
        ValueError: the tower cannot be cut out (no pooling layer, or a layer before it
            whose receptive field cannot be bounded).
    """

    def __init__(self, model: keras.Model, max_change_bp: int | None = None):
        self.seq_length = int(model.input.shape[1])
        split_i = _split_layer(model)
        self.reach_bp, self.stride_bp = _tower_reach(model.layers[1 : split_i + 1])
        split = model.layers[split_i].output
        self.tower = keras.Model(model.input, split)
        # The dtype of every activation after the input (bfloat16 or float16 under a
        # reduced precision; see basenji_tf.seqnn.PRECISIONS).
        self.compute_dtype = split.dtype
        # Partials, not closures or bound methods: TensorFlow counts traces per code
        # object, and the functions of several models would add up to retracing warnings.
        # The tower on windows of any length (local windows of ALT bands and edges).
        self.local_tower = tf.function(
            functools.partial(_run_tower, self.tower),
            input_signature=[tf.TensorSpec([None, None, 4], tf.float32)],
            autograph=False,
        )
        self.output_shape = tuple(int(d) for d in model.output.shape[1:])
        self.tower_bins = self.seq_length // self.stride_bp
        self.max_change_bp = max_change_bp or self.stride_bp
        self.patch_bins = (self.max_change_bp - 1 + 2 * self.reach_bp) // self.stride_bp + 2
        self.margin_bins = -(-self.reach_bp // self.stride_bp)
        self.local_bins = self.patch_bins + 2 * self.margin_bins
        if self.local_bins >= self.tower_bins or self.seq_length % self.stride_bp:
            raise ValueError("the local window would not be shorter than the sequence")
        self._steps = self._plan(model, split_i)
        self._out_key = id(model.output)
        self._split_key = id(split)
        self._saved_keys = self._keys_bands_read()
        channels = int(split.shape[-1])
        self._ref_pass = tf.function(
            functools.partial(ConeSplice._ref_graph, self),
            input_signature=[tf.TensorSpec([None, self.tower_bins, channels], tf.float32)],
            # plain Python loops over the layers: AutoGraph's conversion only costs time
            # (~2 s of tracing for Basenji2)
            autograph=False,
        )
        self._band_pass = tf.function(
            functools.partial(ConeSplice._band_graph, self),
            input_signature=[
                [tf.TensorSpec(shape, dtype) for shape, dtype in self._saved_specs()],
                tf.TensorSpec([None, self.patch_bins, channels], tf.float32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
            ],
            autograph=False,
        )

    # -- planning --------------------------------------------------------------------

    @staticmethod
    def _plan(model: keras.Model, split_i: int) -> list[tuple]:
        """(layer, input keys, output key, kind) for every layer after the split."""
        steps = []
        for layer in model.layers[split_i + 1 :]:
            if len(layer._inbound_nodes) != 1:
                raise ValueError(f"{layer.name}: a layer called more than once")
            inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
            if _is_band_conv(layer):
                kind = "conv"
            elif isinstance(layer, keras.layers.Cropping1D):
                kind = "crop"
            elif (
                isinstance(layer, POINTWISE)
                and len(layer.output.shape) == 3
                and (getattr(layer, "axis", -1) in (-1, 2, [-1], [2]))
            ):
                kind = "pointwise"
            elif isinstance(layer, MERGES):
                kind = "merge"
            else:
                kind = "whole"
            steps.append((layer, [id(t) for t in inputs], id(layer.output), kind))
        return steps

    # -- the tower ---------------------------------------------------------------------

    def patch_start(self, first_bp: int, last_bp: int) -> int | None:
        """First tower bin of the band for a change at bp ``[first_bp, last_bp]``.

        None if the change is longer than ``max_change_bp``.
        """
        if last_bp - first_bp + 1 > self.max_change_bp:
            return None
        first_bin = (first_bp - self.reach_bp) // self.stride_bp
        return min(max(0, first_bin), self.tower_bins - self.patch_bins)

    def local_start(self, patch_start: int) -> int:
        """First tower bin of the local window whose tower output is exact on the band.

        The window has ``local_bins`` bins, lies inside the sequence, and keeps at least
        ``margin_bins`` bins (the tower's reach) between the band and any window edge that
        is not a sequence edge.
        """
        start = patch_start - self.margin_bins
        return min(max(0, start), self.tower_bins - self.local_bins)

    # -- the rest of the model -----------------------------------------------------------

    def _keys_bands_read(self) -> list[int]:
        """Tensors whose REF values the band pass reads.

        Those are the inputs of widening convolutions, merges and whole-length layers,
        and the model output.
        """
        keys = []
        for layer, in_keys, _, kind in self._steps:
            widens = kind == "conv" and int_arg(layer.kernel_size) > 1
            if widens or kind in ("merge", "whole"):
                keys += [k for k in in_keys if k not in keys]
        return keys + [self._out_key]

    def _saved_specs(self) -> list[tuple[list, str]]:
        """(shape, dtype) of each tensor the band pass reads, batch size left open."""
        tensors = {self._split_key: self.tower.output}
        for layer, _, out_key, _ in self._steps:
            tensors[out_key] = layer.output
        return [([None, *tensors[k].shape[1:]], tensors[k].dtype) for k in self._saved_keys]

    def ref_pass(self, rows: np.ndarray) -> list:
        """Run the layers after the tower on REF rows [R, tower_bins, C].

        Returns:
            the REF tensors the band pass reads, the last one the predictions
            [R, bins, T] (``.numpy()`` for an array).
        """
        return self._ref_pass(tf.constant(rows, tf.float32))

    def band_pass(
        self, saved: list, patches: np.ndarray, alt_ref: np.ndarray, patch_starts: np.ndarray
    ) -> np.ndarray:
        """ALT predictions from their tower bands and their REF rows' saved tensors.

        Args:
            saved: :meth:`ref_pass` output for the REF rows.
            patches: [A, patch_bins, C] ALT tower outputs on their bands.
            alt_ref: [A] REF row each ALT derives from.
            patch_starts: [A] first tower bin of each band.

        Returns:
            ALT predictions [A, bins, T], float32.
        """
        out = self._band_pass(
            saved,
            tf.constant(patches, tf.float32),
            tf.constant(alt_ref, tf.int32),
            tf.constant(patch_starts, tf.int32),
        )
        return out.numpy()

    def _ref_graph(self, rows):
        values = {self._split_key: tf.cast(rows, self.compute_dtype)}
        for layer, in_keys, out_key, _ in self._steps:
            args = [values[k] for k in in_keys]
            values[out_key] = layer(args if len(args) > 1 else args[0], training=False)
        return [values[k] for k in self._saved_keys]

    def _band_graph(self, saved, patch, alt_ref, start):
        refs = dict(zip(self._saved_keys, saved))
        # Each tensor's ALT band and its offset from `start` (None: the whole length).
        bands = {self._split_key: (tf.cast(patch, self.compute_dtype), 0)}
        for layer, in_keys, out_key, kind in self._steps:
            args = [(refs.get(k), *bands[k]) for k in in_keys]
            if kind in ("merge", "whole"):
                args = _align(args, alt_ref, start, whole=kind == "whole")
                xs = [band for _, band, _ in args]
                bands[out_key] = (layer(xs if len(xs) > 1 else xs[0], training=False), args[0][2])
                continue
            ((ref, band, off),) = args
            if off is None or kind == "pointwise":
                bands[out_key] = (layer(band, training=False), off)
            elif kind == "crop":
                bands[out_key] = (band, off - int_arg(layer.cropping))
            else:
                bands[out_key] = _conv_band(layer, ref, band, off, alt_ref, start)
        band, off = bands[self._out_key]
        if off is None:
            return band
        return _paste(band, tf.gather(refs[self._out_key], alt_ref), start + off)


def _run_tower(tower: keras.Model, x):
    return tower(x, training=False)


def _ref_at(ref, alt_ref, positions):
    """REF values [A, n, C] of each ALT's row at ``positions`` [A, n], zero outside."""
    length = tf.shape(ref)[1]
    rows = tf.broadcast_to(alt_ref[:, None], tf.shape(positions))
    inside = (positions >= 0) & (positions < length)
    index = tf.stack([rows, tf.clip_by_value(positions, 0, length - 1)], axis=-1)
    return tf.gather_nd(ref, index) * tf.cast(inside, ref.dtype)[..., None]


def _conv_band(layer, ref, band, off, alt_ref, start):
    """A 'same' Conv1D on a band: (output band, its offset)."""
    total = (int_arg(layer.kernel_size) - 1) * int_arg(layer.dilation_rate)
    width = band.shape[1]
    if total == 0:
        return layer(band), off
    s = start + off
    left = _ref_at(ref, alt_ref, s[:, None] + tf.range(-total, 0))
    right = _ref_at(ref, alt_ref, s[:, None] + width + tf.range(total))
    positions = s[:, None] + tf.range(width)
    inside = (positions >= 0) & (positions < tf.shape(ref)[1])
    window = tf.concat([left, band * tf.cast(inside, band.dtype)[..., None], right], axis=1)
    # Variables stay float32 under a reduced precision: compute in the band's type.
    kernel = tf.cast(layer.kernel, band.dtype)
    out = tf.nn.convolution(window, kernel, padding="VALID", dilations=int_arg(layer.dilation_rate))
    if layer.use_bias:
        out = out + tf.cast(layer.bias, band.dtype)
    out = layer.activation(out)
    return out, off - (total - total // 2)


def _align(args, alt_ref, start, whole: bool):
    """Bands of several tensors widened to their union (or to the whole length)."""
    if whole or any(off is None for _, _, off in args):
        return [(r, _to_whole(r, band, off, alt_ref, start), None) for r, band, off in args]
    lo = min(off for _, _, off in args)
    hi = max(off + band.shape[1] for _, band, off in args)
    aligned = []
    for r, band, off in args:
        left = _ref_at(r, alt_ref, start[:, None] + tf.range(lo, off))
        right = _ref_at(r, alt_ref, start[:, None] + tf.range(off + band.shape[1], hi))
        aligned.append((r, tf.concat([left, band, right], axis=1), lo))
    return aligned


def _to_whole(ref, band, off, alt_ref, start):
    """The ALT tensor over the whole length: REF rows with the band pasted in."""
    if off is None:
        return band
    return _paste(band, tf.gather(ref, alt_ref), start + off)


def _paste(band, base, band_start):
    """``base`` [A, n, C] with ``band`` [A, w, C] written from ``band_start`` [A] on.

    Positions outside ``[0, n)`` are dropped.
    """
    width = band.shape[1]
    positions = tf.range(tf.shape(base)[1])[None, :] - band_start[:, None]
    inside = (positions >= 0) & (positions < width)
    taken = tf.gather(band, tf.clip_by_value(positions, 0, width - 1), batch_dims=1)
    return tf.where(inside[..., None], taken, base)

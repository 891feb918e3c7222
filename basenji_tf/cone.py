"""Exact predictions of locally edited sequences, computed only inside the edit's cone.

A variant changes a model's activations only inside its receptive cone: a few hundred bp
through the conv tower, then a band of bins that widens by each convolution's reach in
the dilated stack. :class:`ConeSplice` predicts many edited (ALT) sequences from their
reference (REF) sequences by recomputing only that band, layer by layer, and reusing the
REF activations everywhere else. :class:`SharedTower` computes the tower of many
overlapping REF windows (nearby variants) together. Results equal a full forward pass up
to float rounding.

Units: ``bp`` are input positions; ``bins`` are positions of the tower output (the
model's stride) and of every later layer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from basenji_tf import layers as bl
from basenji_tf.dna import hot1_rc

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
    bl.TargetSlice,
)
MERGES = (keras.layers.Add, keras.layers.Multiply, keras.layers.Subtract)


def _int(value) -> int:
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)


def _is_band_conv(layer) -> bool:
    """A plain 'same', stride-1, ungrouped Conv1D on [batch, length, channels]."""
    return (
        type(layer) is keras.layers.Conv1D
        and layer.padding == "same"
        and _int(layer.strides) == 1
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
            pool, strides = _int(layer.pool_size), _int(layer.strides)
            if strides != pool:
                raise ValueError(f"{layer.name}: pool stride {strides} != size {pool}")
            # Pooling aligned to the sequence start widens no bin's receptive field.
            stride *= pool
        elif hasattr(layer, "kernel_size"):
            if layer.padding != "same" or _int(layer.strides) != 1:
                raise ValueError(f"{layer.name}: tower convolutions must be 'same', stride 1")
            reach_bp += (_int(layer.kernel_size) // 2) * _int(layer.dilation_rate) * stride
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
        # The tower on windows of any length (local windows of ALT bands and edges).
        self.local_tower = tf.function(
            lambda x: self.tower(x, training=False),
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
            self._ref_graph,
            input_signature=[tf.TensorSpec([None, self.tower_bins, channels], tf.float32)],
        )
        self._band_pass = tf.function(
            self._band_graph,
            input_signature=[
                [tf.TensorSpec(shape, tf.float32) for shape in self._saved_shapes()],
                tf.TensorSpec([None, self.patch_bins, channels], tf.float32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
            ],
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
            elif isinstance(layer, POINTWISE) and len(layer.output.shape) == 3 and (
                getattr(layer, "axis", -1) in (-1, 2, [-1], [2])
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
        """First tower bin of the band for a change at bp ``[first_bp, last_bp]``, or
        None if the change is longer than ``max_change_bp``."""
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
        """Tensors whose REF values the band pass reads: inputs of widening
        convolutions, merges and whole-length layers, and the model output."""
        keys = []
        for layer, in_keys, _, kind in self._steps:
            widens = kind == "conv" and _int(layer.kernel_size) > 1
            if widens or kind in ("merge", "whole"):
                keys += [k for k in in_keys if k not in keys]
        return keys + [self._out_key]

    def _saved_shapes(self) -> list[list]:
        shapes = {self._split_key: self.tower.output.shape}
        for layer, _, out_key, _ in self._steps:
            shapes[out_key] = layer.output.shape
        return [[None, *shapes[k][1:]] for k in self._saved_keys]

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
            saved, tf.constant(patches, tf.float32), tf.constant(alt_ref, tf.int32),
            tf.constant(patch_starts, tf.int32),
        )  # fmt: skip
        return out.numpy()

    def _ref_graph(self, rows):
        values = {self._split_key: rows}
        for layer, in_keys, out_key, _ in self._steps:
            args = [values[k] for k in in_keys]
            values[out_key] = layer(args if len(args) > 1 else args[0], training=False)
        return [values[k] for k in self._saved_keys]

    def _band_graph(self, saved, patch, alt_ref, start):
        refs = dict(zip(self._saved_keys, saved))
        # Each tensor's ALT band and its offset from `start` (None: the whole length).
        bands = {self._split_key: (patch, 0)}
        for layer, in_keys, out_key, kind in self._steps:
            args = [(refs.get(k), *bands[k]) for k in in_keys]
            if kind in ("merge", "whole"):
                args = _align(args, alt_ref, start, whole=kind == "whole")
                xs = [band for _, band, _ in args]
                bands[out_key] = (layer(xs if len(xs) > 1 else xs[0], training=False), args[0][2])
                continue
            (ref, band, off), = args
            if off is None or kind == "pointwise":
                bands[out_key] = (layer(band, training=False), off)
            elif kind == "crop":
                bands[out_key] = (band, off - _int(layer.cropping))
            else:
                bands[out_key] = _conv_band(layer, ref, band, off, alt_ref, start)
        band, off = bands[self._out_key]
        if off is None:
            return band
        return _paste(band, tf.gather(refs[self._out_key], alt_ref), start + off)


class SharedTower:
    """Tower outputs of many overlapping genome windows, sharing their common work.

    Neighbouring variants of a VCF have windows that overlap almost entirely. The tower
    (the convolutions and poolings up to :class:`ConeSplice`'s split) is shift-equivariant
    for shifts that are multiples of the stride reached so far, so windows whose starts
    agree modulo that stride can be computed as one sequence covering them all. All
    windows of a region start as one sequence; at each pooling layer a sequence splits into
    ``pool_size`` sub-phases (pooling from its 1st, 2nd, ... position), each cut to the
    windows that need it. Early layers, the costly ones at high resolution, thus run once
    per region instead of once per window. A window's first and last ``edge_bins`` bins,
    which its own zero padding makes differ from its neighbours', come from the tower run
    on a short window at each edge. Results equal the window-by-window tower up to float
    rounding.

    Args:
        splice: the model's :class:`ConeSplice` (its tower, reach and local windows).
        max_region_bp: longest region run at once (memory: its bp x the first layer's
            channels x 4 bytes); default three windows.

    Raises:
        ValueError: the tower is not a chain of layers (each feeding only the next).
    """

    # Below this many GFLOPs per window tower the splitting's per-call overhead outweighs
    # the work saved: the 16 kb test model (0.38) scored 22 instead of 34 variants/s
    # on SNVs ~2 kb apart; Basenji2 (190) gained 2.8x on its REF towers.
    MIN_WORTH_GFLOPS = 10.0

    def __init__(self, splice: ConeSplice, max_region_bp: int | None = None):
        self.splice = splice
        self.layers = splice.tower.layers[1:]
        previous = splice.tower.input
        for layer in self.layers:
            if len(layer._inbound_nodes) != 1 or layer.input is not previous:
                raise ValueError(f"{layer.name}: the tower is not a chain of layers")
            previous = layer.output
        self.segments = [_traced_segment(seg) for seg in _segments(self.layers)]
        self.seq_length = splice.seq_length
        self.window_gflops = _conv_gflops(self.layers, self.seq_length)
        self.max_region_bp = max_region_bp or 3 * splice.seq_length
        # Bins taken from an edge window: those a window's (or a cut shared sequence's)
        # edge can reach, and one more for a shift's zero padding (less than a stride).
        # The edge window adds the tower's reach beyond them, for its inner edge.
        self.edge_bins = splice.margin_bins + 1
        self.edge_window_bins = self.edge_bins + splice.margin_bins
        # Member inputs computed from a shared sequence, and on their own, so far.
        self.counts = {"shared": 0, "alone": 0}

    def regions(self, starts: Sequence[tuple[str, int] | None]) -> list[list[int]]:
        """Rows grouped into regions: windows of one chromosome chained by overlaps, each
        region at most ``max_region_bp`` long. Rows without a start, and regions of one
        window (nothing to share), are left out.

        Args:
            starts: per row, (chromosome, window start bp) or None.
        """
        located = sorted((loc[0], loc[1], i) for i, loc in enumerate(starts) if loc is not None)
        groups: list[list[int]] = []
        chrom0 = first = end = None
        for chrom, start, i in located:
            joins = chrom == chrom0 and start < end
            if joins and start + self.seq_length - first <= self.max_region_bp:
                groups[-1].append(i)
            else:
                groups.append([i])
                chrom0, first = chrom, start
            end = start + self.seq_length
        return [g for g in groups if len(g) > 1]

    def outputs(
        self,
        starts: Sequence[tuple[str, int] | None],
        members: Sequence[tuple[int, bool]],
        member_inputs: np.ndarray,
        call: Callable,
        fetch: Callable[[str, int, int], np.ndarray],
    ) -> np.ndarray:
        """Tower outputs of every ensemble member of R genome windows.

        Args:
            starts: per window, (chromosome, start bp), or None if it is not a plain genome
                window. A member input that does not equal its place in the genome (a REF
                put in for the genome's allele, say) is run on its own.
            members: (shift bp, forward) per ensemble member: shifted with zero padding,
                then reverse complemented unless forward (``dna.hot1_augment``).
            member_inputs: [M * R, L, 4] the members' inputs, member-major.
            call: ``call(keras_model, x)`` -> numpy outputs, batched.
            fetch: ``fetch(chromosome, start, end)`` -> one-hot genome [end - start, 4],
                encoded as the windows are (N beyond the chromosome's ends).

        Returns:
            [M * R, tower_bins, C] float32, as ``call(splice.tower, member_inputs)``.
        """
        sp, n_rows = self.splice, len(starts)
        sequences: list[_Shared] = []
        max_shift = max(abs(s) for s, _ in members)
        for rows in self.regions(starts) if max_shift < sp.stride_bp else []:
            chrom, first = starts[rows[0]][0], min(starts[r][1] for r in rows)
            # A stride of flank on each side keeps shifted inputs inside the region.
            flank = sp.stride_bp
            span = max(starts[r][1] for r in rows) + self.seq_length - first + 2 * flank
            region = fetch(chrom, first - flank, first - flank + span)
            strands = {True: _Shared(region)}
            if not all(forward for _, forward in members):
                strands[False] = _Shared(hot1_rc(region))
            for m, (shift, forward) in enumerate(members):
                for r in rows:
                    o = flank + starts[r][1] - first
                    offset, lo, hi = self._placement(span, o, shift, forward)
                    row, seq = m * n_rows + r, strands[forward].seq
                    if np.array_equal(member_inputs[row, lo:hi], seq[offset + lo : offset + hi]):
                        strands[forward].rows.append((row, offset))
            sequences += [s for s in strands.values() if s.rows]
        placed = [row for s in sequences for row, _ in s.rows]
        out = np.empty((len(member_inputs), sp.tower_bins, sp.tower.output.shape[-1]), np.float32)
        alone = np.setdiff1d(np.arange(len(member_inputs)), placed)
        self.counts["shared"] += len(placed)
        self.counts["alone"] += len(alone)
        if len(alone):
            out[alone] = call(sp.tower, member_inputs[alone])
        if placed:
            self._tower_tree(sequences, out)
            self._edges(member_inputs, placed, out, call)
        return out

    def _placement(self, span: int, o: int, shift: int, forward: bool) -> tuple[int, int, int]:
        """Where a member input lies in its strand's sequence.

        Args:
            span: region length, bp.
            o: the window's start in the region, bp.
            shift, forward: the member.

        Returns:
            (offset of the input in the strand's sequence, first and end bp of the input
            that equal the sequence there: the rest is the shift's zero padding).
        """
        length = self.seq_length
        lo, hi = max(shift, 0), length - max(-shift, 0)
        if forward:
            return o - shift, lo, hi
        return span - length - (o - shift), length - hi, length - lo

    def _tower_tree(self, sequences: list[_Shared], out: np.ndarray) -> None:
        """Run the tower over shared sequences, splitting them at each pooling layer, and
        write each row's bins into ``out[row]``."""
        length = self.seq_length
        groups = []
        for shared in sequences:
            first = min(offset for _, offset in shared.rows)
            end = max(offset for _, offset in shared.rows) + length
            groups.append(_Group(tf.constant(shared.seq[None, first:end]), first, shared.rows))
        step = 1
        for pool_size, segment in self.segments:
            if pool_size:
                groups = [g for group in groups for g in _split(group, step, pool_size, length)]
                step *= pool_size
            groups = _apply(segment, groups)
        for group in groups:
            x = group.x.numpy()[0]
            for row, offset in group.rows:
                b0 = (offset - group.origin) // step
                out[row] = x[b0 : b0 + self.splice.tower_bins]

    def _edges(self, member_inputs: np.ndarray, rows: list[int], out: np.ndarray, call):
        """Replace the first and last ``edge_bins`` bins of ``out[rows]`` with the tower
        run on each input's edge windows."""
        sp, k = self.splice, self.edge_bins
        window_bp = self.edge_window_bins * sp.stride_bp
        left = call(sp.local_tower, member_inputs[rows, :window_bp])
        right = call(sp.local_tower, member_inputs[rows, self.seq_length - window_bp :])
        out[rows, :k] = left[:, :k]
        out[rows, sp.tower_bins - k :] = right[:, -k:]


@dataclass
class _Shared:
    """A strand of a region [n, 4] and the (input row, offset bp) of inputs lying in it."""

    seq: np.ndarray
    rows: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class _Group:
    """Activations [1, n, C] of a shared sequence whose element i is bp ``origin + i *
    step`` of its strand, and the (input row, offset bp) of the windows it serves."""

    x: tf.Tensor
    origin: int
    rows: list[tuple[int, int]]


def _split(group: _Group, step: int, size: int, length_bp: int) -> list[_Group]:
    """A group before a pooling of ``size`` cut into one group per sub-phase its windows
    need and per run of overlapping windows (``length_bp`` long) in it, each spanning
    just those windows: no group is longer than its windows' total. Window starts and
    lengths are then multiples of ``size`` elements from the cut, so the pooling aligns
    to every window."""
    by_phase: dict[int, list[tuple[int, int]]] = {}
    for row, offset in sorted(group.rows, key=lambda r: r[1]):
        by_phase.setdefault((offset - group.origin) // step % size, []).append((row, offset))
    runs: list[list[tuple[int, int]]] = []
    for rows in by_phase.values():
        runs.append(rows[:1])
        for row, offset in rows[1:]:
            if offset >= runs[-1][-1][1] + length_bp:
                runs.append([])
            runs[-1].append((row, offset))
    parts = []
    for rows in runs:
        i0 = (rows[0][1] - group.origin) // step
        i1 = (rows[-1][1] + length_bp - group.origin) // step
        parts.append(_Group(group.x[:, i0:i1], group.origin + i0 * step, rows))
    return parts


def _conv_gflops(layers, length_bp: int) -> float:
    """Multiply-adds x 2, in GFLOPs, of the convolutions of a chain of layers run on one
    sequence of ``length_bp``."""
    flops, step = 0, 1
    for layer in layers:
        if hasattr(layer, "pool_size"):
            step *= _int(layer.pool_size)
        elif hasattr(layer, "kernel_size"):
            flops += 2 * (length_bp // step) * int(np.prod(layer.kernel.shape))
    return flops / 1e9


def _segments(layers) -> list[list]:
    """Layers cut before each pooling layer."""
    segments: list[list] = [[]]
    for layer in layers:
        if hasattr(layer, "pool_size") and segments[-1]:
            segments.append([])
        segments[-1].append(layer)
    return segments


def _run_layers(layers, x):
    for layer in layers:
        x = layer(x, training=False)
    return x


def _traced_segment(layers) -> tuple[int, Callable]:
    """(pool size of the first layer, or 0; the layers as one traced function taking
    [batch, any length, channels]), so that the graph optimiser fuses their operations."""
    channels = int(layers[0].input.shape[-1])
    spec = tf.TensorSpec([None, None, channels], tf.float32)
    pool_size = _int(layers[0].pool_size) if hasattr(layers[0], "pool_size") else 0
    # A partial, not a closure: TensorFlow counts traces per code object and would warn
    # of "retracing" when the segments, each traced once, share one.
    run = functools.partial(_run_layers, layers)
    return pool_size, tf.function(run, input_signature=[spec], autograph=False)


def _apply(function: Callable, groups: list[_Group]) -> list[_Group]:
    """``function`` on every group, groups of equal length stacked into one call."""
    by_length: dict[int, list[int]] = {}
    for i, group in enumerate(groups):
        by_length.setdefault(group.x.shape[1], []).append(i)
    out = list(groups)
    for members in by_length.values():
        y = function(tf.concat([groups[i].x for i in members], 0))
        for k, i in enumerate(members):
            out[i] = _Group(y[k : k + 1], groups[i].origin, groups[i].rows)
    return out


def _ref_at(ref, alt_ref, positions):
    """REF values [A, n, C] of each ALT's row at ``positions`` [A, n], zero outside."""
    length = tf.shape(ref)[1]
    rows = tf.broadcast_to(alt_ref[:, None], tf.shape(positions))
    inside = (positions >= 0) & (positions < length)
    index = tf.stack([rows, tf.clip_by_value(positions, 0, length - 1)], axis=-1)
    return tf.gather_nd(ref, index) * tf.cast(inside, ref.dtype)[..., None]


def _conv_band(layer, ref, band, off, alt_ref, start):
    """A 'same' Conv1D on a band: (output band, its offset)."""
    total = (_int(layer.kernel_size) - 1) * _int(layer.dilation_rate)
    width = band.shape[1]
    if total == 0:
        return layer(band), off
    s = start + off
    left = _ref_at(ref, alt_ref, s[:, None] + tf.range(-total, 0))
    right = _ref_at(ref, alt_ref, s[:, None] + width + tf.range(total))
    positions = s[:, None] + tf.range(width)
    inside = (positions >= 0) & (positions < tf.shape(ref)[1])
    window = tf.concat([left, band * tf.cast(inside, band.dtype)[..., None], right], axis=1)
    out = tf.nn.convolution(
        window, layer.kernel, padding="VALID", dilations=_int(layer.dilation_rate)
    )
    if layer.use_bias:
        out = out + layer.bias
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
    """``base`` [A, n, C] with ``band`` [A, w, C] written from ``band_start`` [A] on
    (positions outside ``[0, n)`` dropped)."""
    width = band.shape[1]
    positions = tf.range(tf.shape(base)[1])[None, :] - band_start[:, None]
    inside = (positions >= 0) & (positions < width)
    taken = tf.gather(band, tf.clip_by_value(positions, 0, width - 1), batch_dims=1)
    return tf.where(inside[..., None], taken, base)

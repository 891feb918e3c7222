"""The conv tower of many overlapping genome windows, computed once per region.

See :class:`SharedTower`. Units: ``bp`` are input positions; ``bins`` are positions of the
tower output (the model's stride).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from basenji_tf.dna import hot1_rc
from basenji_tf.scoring.cone import ConeSplice, int_arg


class SharedTower:
    """Tower outputs of many overlapping genome windows, sharing their common work.

    Neighbouring variants of a VCF have windows that overlap almost entirely. The tower
    (the convolutions and poolings up to :class:`ConeSplice`'s split) is shift-equivariant
    for shifts that are multiples of the stride reached so far, so windows whose starts
    agree modulo that stride can be computed as one sequence covering them all.

    Each chromosome is cut into fixed tiles: a window starting in
    ``[k * tile_step_bp, (k + 1) * tile_step_bp)`` is computed from tile ``k``, a sequence
    of ``max_region_bp`` plus flanks that covers every such window. At each pooling layer
    a tile's sequence splits into ``pool_size`` sub-phases (pooling from its 1st, 2nd, ...
    position) of one fixed length, and only the phases some window needs are run. Early
    layers, the costly ones at high resolution, thus run once per tile instead of once per
    window. A window's first and last ``edge_bins`` bins, which its own zero padding makes
    differ from the tile's, come from the tower run on a short window at each edge.

    Which tile, which phases and which calls compute a window depend on the window alone,
    never on the other windows of the run: every call of a tower segment has one shape
    (a fixed number of tile sequences of the layer's fixed length, padded with zero
    sequences), so a window's outputs are the same bits whichever other windows are
    scored with it (a shard of a VCF equals its rows of the whole VCF; docs/architecture.md,
    "fixed-shape calls"). They equal the window-by-window tower up to float rounding.

    Args:
        splice: the model's :class:`ConeSplice` (its tower, reach and local windows).
        max_region_bp: the windows of one tile, bp (flanks not counted): the window length
            plus the tile step; default the window length plus an eighth.
        max_call_bp: most input bp of tile sequences stacked into one call of a tower
            segment (at least one per call); default ``max_region_bp``.

    Raises:
        ValueError: the tower is not a chain of layers (each feeding only the next), or
            ``max_region_bp`` leaves a tile step shorter than the model's stride.
    """

    # Below this many GFLOPs per window tower the splitting's per-call overhead outweighs
    # the work saved: the 16 kb test model (0.38) scored 22 instead of 34 variants/s
    # on SNVs ~2 kb apart; Basenji2 (190) gained 2.8x on its REF towers.
    MIN_WORTH_GFLOPS = 10.0

    def __init__(
        self,
        splice: ConeSplice,
        max_region_bp: int | None = None,
        max_call_bp: int | None = None,
    ):
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
        self.max_region_bp = max_region_bp or splice.seq_length + splice.seq_length // 8
        # Tiles step by a multiple of the stride, so that every tile has the same phases.
        self.tile_step_bp = (self.max_region_bp - self.seq_length) // splice.stride_bp
        self.tile_step_bp *= splice.stride_bp
        if self.tile_step_bp <= 0:
            raise ValueError(
                f"a region of {self.max_region_bp} bp holds no two windows of "
                f"{self.seq_length} bp one stride ({splice.stride_bp} bp) apart"
            )
        # Flanks keep shifted inputs inside the tile and leave room for the phase cuts
        # (each pooling of size p cuts up to 2 (p - 1) elements: < 2 strides in all).
        self.flank_bp = 3 * splice.stride_bp
        self.tile_bp = self.tile_step_bp + self.seq_length + 2 * self.flank_bp
        self.max_call_bp = max_call_bp or self.max_region_bp
        # Bins taken from an edge window: those a window's (or a cut shared sequence's)
        # edge can reach, and one more for a shift's zero padding (less than a stride).
        # The edge window adds the tower's reach beyond them, for its inner edge.
        self.edge_bins = splice.margin_bins + 1
        self.edge_window_bins = self.edge_bins + splice.margin_bins
        # Member inputs computed from a shared sequence, and on their own, so far.
        self.counts = {"shared": 0, "alone": 0}

    def tiles(self, starts: Sequence[tuple[str, int] | None]) -> dict[tuple[str, int], list[int]]:
        """Rows grouped by tile: (chromosome, tile index) -> rows, in row order.

        A row's tile depends on its own start only. Rows without a start are left out.

        Args:
            starts: per row, (chromosome, window start bp) or None.
        """
        tiles: dict[tuple[str, int], list[int]] = {}
        for i, loc in enumerate(starts):
            if loc is not None:
                tiles.setdefault((loc[0], loc[1] // self.tile_step_bp), []).append(i)
        return tiles

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
        tiles = self.tiles(starts) if max_shift < sp.stride_bp else {}
        for (chrom, k), rows in tiles.items():
            first = k * self.tile_step_bp - self.flank_bp
            region = fetch(chrom, first, first + self.tile_bp)
            strands = {True: _Shared(region)}
            if not all(forward for _, forward in members):
                strands[False] = _Shared(hot1_rc(region))
            for m, (shift, forward) in enumerate(members):
                for r in rows:
                    offset, lo, hi = self._placement(starts[r][1] - first, shift, forward)
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

    def _placement(self, o: int, shift: int, forward: bool) -> tuple[int, int, int]:
        """Where a member input lies in its strand's sequence.

        Args:
            o: the window's start in the tile, bp.
            shift: the member's shift, bp.
            forward: whether the member is forward (else reverse complemented).

        Returns:
            (offset of the input in the strand's sequence, first and end bp of the input
            that equal the sequence there: the rest is the shift's zero padding).
        """
        length = self.seq_length
        lo, hi = max(shift, 0), length - max(-shift, 0)
        if forward:
            return o - shift, lo, hi
        return self.tile_bp - length - (o - shift), length - hi, length - lo

    def _tower_tree(self, sequences: list[_Shared], out: np.ndarray) -> None:
        """Run the tower over shared sequences, splitting them at each pooling layer.

        Each row's bins go into ``out[row]``.
        """
        groups = [_Group(tf.constant(shared.seq[None]), 0, shared.rows) for shared in sequences]
        step = 1
        for pool_size, segment in self.segments:
            if pool_size:
                groups = [g for group in groups for g in _split(group, step, pool_size)]
                step *= pool_size
            groups = _apply(segment, groups, self.max_call_bp // step)
        for group in groups:
            x = group.x.numpy()[0]
            for row, offset in group.rows:
                b0 = (offset - group.origin) // step
                out[row] = x[b0 : b0 + self.splice.tower_bins]

    def _edges(self, member_inputs: np.ndarray, rows: list[int], out: np.ndarray, call):
        """Replace the first and last ``edge_bins`` bins of ``out[rows]``.

        They come from the tower run on each input's edge windows.
        """
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
    """Activations [1, n, C] of a shared sequence, and the windows it serves.

    Element i is bp ``origin + i * step`` of its strand; ``rows`` holds the (input row,
    offset bp) of the windows.
    """

    x: tf.Tensor
    origin: int
    rows: list[tuple[int, int]]


def _split(group: _Group, step: int, size: int) -> list[_Group]:
    """Cut a group before a pooling of ``size``: one group per sub-phase its windows need.

    Every sub-phase has the same length, ``size * ((n - size + 1) // size)`` of the
    group's n elements, so that the pooling aligns to every window and all groups of a
    layer have one shape.
    """
    by_phase: dict[int, list[tuple[int, int]]] = {}
    for row, offset in group.rows:
        by_phase.setdefault((offset - group.origin) // step % size, []).append((row, offset))
    n = size * ((group.x.shape[1] - size + 1) // size)
    return [
        _Group(group.x[:, phase : phase + n], group.origin + phase * step, rows)
        for phase, rows in sorted(by_phase.items())
    ]


def _conv_gflops(layers, length_bp: int) -> float:
    """Multiply-adds x 2, in GFLOPs, of the convolutions of a chain of layers.

    The layers run on one sequence of ``length_bp``.
    """
    flops, step = 0, 1
    for layer in layers:
        if hasattr(layer, "pool_size"):
            step *= int_arg(layer.pool_size)
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
    """Pool size of the first layer (or 0), and the layers as one traced function.

    The function takes [batch, any length, channels]; tracing the layers together lets
    the graph optimiser fuse their operations.
    """
    first_input = layers[0].input
    # float32 into the first segment; later ones take the model's compute dtype
    spec = tf.TensorSpec([None, None, int(first_input.shape[-1])], first_input.dtype)
    pool_size = int_arg(layers[0].pool_size) if hasattr(layers[0], "pool_size") else 0
    # A partial, not a closure: TensorFlow counts traces per code object and would warn
    # of "retracing" when the segments, each traced once, share one.
    run = functools.partial(_run_layers, layers)
    return pool_size, tf.function(run, input_signature=[spec], autograph=False)


def _apply(function: Callable, groups: list[_Group], max_length: int) -> list[_Group]:
    """``function`` on every group, in calls of one shape.

    Groups (all of one length) are stacked into calls of ``max_length // length``
    sequences (at least one), the last call padded with zero sequences.
    """
    if not groups:
        return groups
    length = int(groups[0].x.shape[1])
    per_call = max(1, max_length // length)
    out = list(groups)
    for c in range(0, len(groups), per_call):
        chunk = [g.x for g in groups[c : c + per_call]]
        pad = per_call - len(chunk)
        if pad:
            chunk.append(tf.zeros((pad, *chunk[0].shape[1:]), chunk[0].dtype))
        y = function(tf.concat(chunk, 0))
        for k, group in enumerate(groups[c : c + per_call]):
            out[c + k] = _Group(y[k : k + 1], group.origin, group.rows)
    return out

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
            channels x 4 bytes per activation); default three windows.
        max_call_bp: most input bp of equal-length sequences stacked into one call of a
            tower segment (at least one sequence per call); default ``max_region_bp``.

    Raises:
        ValueError: the tower is not a chain of layers (each feeding only the next).
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
        self.max_region_bp = max_region_bp or 3 * splice.seq_length
        self.max_call_bp = max_call_bp or self.max_region_bp
        # Bins taken from an edge window: those a window's (or a cut shared sequence's)
        # edge can reach, and one more for a shift's zero padding (less than a stride).
        # The edge window adds the tower's reach beyond them, for its inner edge.
        self.edge_bins = splice.margin_bins + 1
        self.edge_window_bins = self.edge_bins + splice.margin_bins
        # Member inputs computed from a shared sequence, and on their own, so far.
        self.counts = {"shared": 0, "alone": 0}

    def regions(self, starts: Sequence[tuple[str, int] | None]) -> list[list[int]]:
        """Rows grouped into regions: windows of one chromosome chained by overlaps.

        Each region is at most ``max_region_bp`` long. Rows without a start, and regions
        of one window (nothing to share), are left out.

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
        return span - length - (o - shift), length - hi, length - lo

    def _tower_tree(self, sequences: list[_Shared], out: np.ndarray) -> None:
        """Run the tower over shared sequences, splitting them at each pooling layer.

        Each row's bins go into ``out[row]``.
        """
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


def _split(group: _Group, step: int, size: int, length_bp: int) -> list[_Group]:
    """Cut a group before a pooling of ``size``.

    One group per sub-phase its windows need and per run of overlapping windows
    (``length_bp`` long) in it, each spanning just those windows: no group is longer than
    its windows' total. Window starts and lengths are then multiples of ``size`` elements
    from the cut, so the pooling aligns to every window.
    """
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
    """``function`` on every group.

    Groups of equal length are stacked into calls of at most ``max_length`` elements in
    all (at least one group per call).
    """
    by_length: dict[int, list[int]] = {}
    for i, group in enumerate(groups):
        by_length.setdefault(group.x.shape[1], []).append(i)
    out = list(groups)
    for length, same in by_length.items():
        per_call = max(1, max_length // length)
        for c in range(0, len(same), per_call):
            members = same[c : c + per_call]
            y = function(tf.concat([groups[i].x for i in members], 0))
            for k, i in enumerate(members):
                out[i] = _Group(y[k : k + 1], groups[i].origin, groups[i].rows)
    return out

"""Ensemble predictions in large batches, and the model a scoring command loads.

:class:`EnsemblePredictor` runs many variants' REF, ALT and ensemble members (shifts,
reverse complement; :func:`basenji_tf.layers.ensemble_members`) through a model head in
large batches and averages them (:func:`basenji_tf.layers.average_members`, the
averaging of the Keras ensemble layers). With a
:class:`~basenji_tf.scoring.cone.ConeSplice` it recomputes only the band of each layer an
SNV can change and reuses the REF activations elsewhere, and with a
:class:`~basenji_tf.scoring.shared_tower.SharedTower` overlapping REF windows share their
conv tower (both exact).

:class:`ModelSpec` names what a scoring command loads (picklable, so that shard tasks
carry it to other processes); :func:`load_predictor` builds the predictor from it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from basenji_tf import seqnn
from basenji_tf.dna import dna_1hot, hot1_augment
from basenji_tf.genome import Genome
from basenji_tf.layers import average_members, check_shifts, ensemble_members
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.shared_tower import SharedTower
from basenji_tf.scoring.target_set import TargetSet

log = logging.getLogger(__name__)


class EnsemblePredictor:
    """Ensemble-averaged predictions of many sequences per model call.

    Members are the original's (:func:`basenji_tf.layers.ensemble_members`): for each
    shift (zero-padded, not undone on the output) the sequence, and with ``rc`` its reverse
    complement, whose predictions are flipped back along the length and have strand-paired
    columns swapped. Members are averaged with equal weights.

    Args:
        model: ``keras.Model`` [batch, L, 4] -> [batch, bins, T] (one SeqNN head), or any
            callable returning a numpy array of that shape.
        rc: add reverse-complement members.
        shifts: bp shifts of the members.
        strand_pair: per kept output column, its other-strand column (None or empty: none).
        target_slice: model output columns to keep, applied before averaging.
        batch_size: sequences (members included) per model call.
        splice: reuse REF activations outside each ALT's cone (see
            :class:`~basenji_tf.scoring.cone.ConeSplice`).
        share_towers: with ``splice``, compute the towers of overlapping REF windows
            together (see :class:`~basenji_tf.scoring.shared_tower.SharedTower`); None:
            when the model's tower is costly enough to gain from it (Basenji2, not small
            test models).
        max_call_bp: most input bp per model call: calls take
            ``min(batch_size, max_call_bp // input bp)`` sequences (at least one), and
            shared-tower tiles hold windows within ``max_call_bp`` bp (a window and
            less than one stride more: no sharing).
            Peak memory grows with it (a convolution takes ~ bp x kernel x channels x 4
            bytes). None: calls of the conv tower alone take :attr:`TOWER_CALL_BP`,
            others ``batch_size`` sequences, and tiles hold windows within 9/8 of a
            window. Either way every call of a run has one shape (short ones padded),
            so a row's outputs never depend on the other rows; another ``max_call_bp``
            rounds differently (docs/precision.md).
    """

    # One Basenji2 window (131,072 bp): its conv tower takes ~0.75 GB per sequence and more
    # sequences per call are no faster on a CPU. (Rows do not keep their bits across
    # batch sizes on every CPU: each run keeps its one size.)
    TOWER_CALL_BP = 131_072

    def __init__(
        self,
        model,
        rc: bool = False,
        shifts: Sequence[int] = (0,),
        strand_pair: Sequence[int] | None = None,
        target_slice: Sequence[int] | None = None,
        batch_size: int = 8,
        splice: ConeSplice | None = None,
        share_towers: bool | None = None,
        max_call_bp: int | None = None,
    ):
        self.model = model
        self.members = ensemble_members(shifts, rc)
        has_pairs = strand_pair is not None and len(strand_pair) > 0
        self.strand_pair = [int(c) for c in strand_pair] if has_pairs else None
        self.target_slice = None if target_slice is None else np.asarray(target_slice)
        self.batch_size = max(1, batch_size)
        self.max_call_bp = max_call_bp
        self.splice = splice
        self.shared = None
        if splice is not None and share_towers is not False:
            try:
                shared = SharedTower(splice, max_call_bp, max_call_bp or self.TOWER_CALL_BP)
            except ValueError as err:
                log.info("REF towers computed window by window: %s", err)
            else:
                worth = shared.window_gflops >= SharedTower.MIN_WORTH_GFLOPS
                self.shared = shared if share_towers or worth else None

    @property
    def seq_length(self) -> int:
        """Input length in bp."""
        return int(self.model.input.shape[1])

    def _call(self, fn: Callable, x: np.ndarray, tower: bool = False) -> np.ndarray:
        """``fn`` on ``x`` in fixed-size batches; ``tower``: ``fn`` is the conv tower."""
        if hasattr(fn, "predict_on_batch"):  # a Keras model
            fn = seqnn.traced_inference(fn)
        rows = self._rows_per_call(x.shape[1], tower)
        outs = []
        for b0 in range(0, len(x), rows):
            # One input shape per model and length: no retracing, and a sequence's outputs
            # do not depend on which sequences share its batch (sharded runs equal single
            # ones).
            n = min(rows, len(x) - b0)
            batch = seqnn.pad_rows(x[b0 : b0 + n], rows)
            # float32 whatever the model's compute precision (seqnn.PRECISIONS)
            outs.append(np.asarray(fn(batch), np.float32)[:n])
        return np.concatenate(outs)

    def _tower_call(self, fn: Callable, x: np.ndarray) -> np.ndarray:
        return self._call(fn, x, tower=True)

    def _rows_per_call(self, length_bp: int, tower: bool = False) -> int:
        """Sequences of ``length_bp`` per call: ``batch_size``, capped as ``max_call_bp`` says."""
        limit = self.max_call_bp or (self.TOWER_CALL_BP if tower else None)
        if limit is None:
            return self.batch_size
        return max(1, min(self.batch_size, limit // length_bp))

    def _member_inputs(self, seqs: np.ndarray) -> np.ndarray:
        """[members * N, L, 4], member-major."""
        return np.concatenate([hot1_augment(seqs, fwdrc=fw, shift=s) for s, fw in self.members])

    def _average(self, preds: np.ndarray) -> np.ndarray:
        """Member-major raw predictions [members * n, bins, T] -> averaged [n, bins, T']."""
        if self.target_slice is not None:
            preds = preds[..., self.target_slice]
        forward = [fw for _, fw in self.members]
        return np.asarray(average_members(preds, forward, self.strand_pair))

    def predict(self, seqs: np.ndarray) -> np.ndarray:
        """Ensemble predictions of one-hot sequences [N, L, 4] -> float32 [N, bins, T]."""
        seqs = np.asarray(seqs, dtype=np.float32)
        return self._average(self._call(self.model, self._member_inputs(seqs)))

    def predict_pairs(
        self,
        refs: np.ndarray,
        alts: np.ndarray,
        alt_ref: np.ndarray,
        ref_starts: Sequence[tuple[str, int] | None] | None = None,
        genome: Genome | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble predictions of REF windows and of ALT windows each derived from one.

        Args:
            refs: [R, L, 4] reference windows.
            alts: [A, L, 4] alternative windows.
            alt_ref: [A] index into ``refs`` of each ALT's reference.
            ref_starts: per REF window, (chromosome, start bp) in ``genome``, or None;
                with both, overlapping windows share their tower.
            genome: the FASTA the windows come from.

        Returns:
            (ref predictions [R, bins, T], alt predictions [A, bins, T]), float32.
        """
        refs = np.asarray(refs, dtype=np.float32)
        alts = np.asarray(alts, dtype=np.float32)
        if self.splice is None:
            both = self.predict(np.concatenate([refs, alts]))
            return both[: len(refs)], both[len(refs) :]
        num_m = len(self.members)
        ref_in = self._member_inputs(refs)
        alt_in = self._member_inputs(alts)
        alt_ref_m = np.concatenate([m * len(refs) + np.asarray(alt_ref) for m in range(num_m)])
        if self.shared is not None and ref_starts is not None and genome is not None:

            def fetch(chrom: str, start: int, end: int) -> np.ndarray:
                return dna_1hot(genome.fetch(chrom, start, end), n_uniform=True)

            ref_tower = self.shared.outputs(
                ref_starts, self.members, ref_in, self._tower_call, fetch
            )
        else:
            ref_tower = self._tower_call(self.splice.tower, ref_in)
        ref_raw, alt_raw = self._spliced(ref_tower, ref_in, alt_in, alt_ref_m)
        return self._average(ref_raw), self._average(alt_raw)

    def _spliced(
        self, ref_tower: np.ndarray, ref_in: np.ndarray, alt_in: np.ndarray, alt_ref: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw REF and ALT predictions of member inputs through the ConeSplice.

        Given the REF inputs' tower outputs, ALTs that differ from their REF in a short
        stretch get the tower on a local window and the rest of the model on their band;
        others (indels) get the full pass.
        """
        sp = self.splice
        local, band_rows, starts, whole = [], [], [], []
        for j in range(len(alt_in)):
            diff = np.nonzero((alt_in[j] != ref_in[alt_ref[j]]).any(axis=-1))[0]
            first, last = (int(diff[0]), int(diff[-1])) if len(diff) else (0, 0)
            start = sp.patch_start(first, last)
            if start is None:
                whole.append(j)
                continue
            w0 = sp.local_start(start)
            local.append(alt_in[j, w0 * sp.stride_bp : (w0 + sp.local_bins) * sp.stride_bp])
            band_rows.append(j)
            starts.append((start, start - w0))
        # ALTs taking the full pass join the REF rows, with no band of their own.
        rows = ref_tower
        if whole:
            rows = np.concatenate([ref_tower, self._tower_call(sp.tower, alt_in[whole])])
        channels = ref_tower.shape[-1]
        patches = np.zeros((len(band_rows), sp.patch_bins, channels), np.float32)
        if local:
            local_out = self._tower_call(sp.local_tower, np.stack(local))
            for k, (_, at) in enumerate(starts):
                patches[k] = local_out[k, at : at + sp.patch_bins]
        band_ref = alt_ref[band_rows] if band_rows else np.zeros(0, int)
        band_start = np.array([s for s, _ in starts], dtype=int)
        alt_out = np.empty((len(alt_in), *sp.output_shape), np.float32)
        row_out = self._rest_chunks(rows, patches, band_ref, band_start, band_rows, alt_out)
        num_refs = len(ref_in)
        alt_out[whole] = row_out[num_refs:]
        return row_out[:num_refs], alt_out

    def _rest_chunks(
        self,
        rows: np.ndarray,
        patches: np.ndarray,
        band_ref: np.ndarray,
        band_start: np.ndarray,
        band_rows: Sequence[int],
        alt_out: np.ndarray,
    ) -> np.ndarray:
        """Run the layers after the tower on REF rows, then on their ALTs' bands.

        REF rows go in chunks of the rows per call of their windows (``batch_size``, or
        fewer with ``max_call_bp``: the REF tensors the bands read take ~0.13 GB per
        Basenji2 row), then the bands of each chunk's ALTs in groups of that size. Every
        call has the same shapes, so that a row's outputs do not depend on which rows
        share its batch (a sharded run then equals a single one).

        Returns:
            predictions of ``rows``; the ALT predictions go into ``alt_out[band_rows]``.
        """
        sp = self.splice
        size = self._rows_per_call(sp.seq_length)
        band_rows = np.asarray(band_rows, dtype=int)
        row_out = []
        for r0 in range(0, len(rows), size):
            r1 = min(r0 + size, len(rows))
            saved = sp.ref_pass(seqnn.pad_rows(rows[r0:r1], size))
            row_out.append(saved[-1].numpy()[: r1 - r0])
            mine = np.nonzero((band_ref >= r0) & (band_ref < r1))[0]
            for g in range(0, len(mine), size):
                group = mine[g : g + size]
                out = sp.band_pass(
                    saved,
                    seqnn.pad_rows(patches[group], size),
                    seqnn.pad_rows(band_ref[group] - r0, size),
                    seqnn.pad_rows(band_start[group], size),
                )
                alt_out[band_rows[group]] = out[: len(group)]
        return np.concatenate(row_out)


# ---------------------------------------------------------------------------------------
# The model of a scoring command
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """The model, head, targets and ensemble a scoring command uses (picklable).

    Attributes:
        params_file: params JSON.
        model_file: weights of head ``head``.
        head: head index.
        targets_file: targets table: output channels to keep, un-transformation and
            strand pairs (None: every output, the params' strand pairs).
        rc: average with reverse complements.
        shifts: ensemble shifts, bp.
        batch_size: sequences (members included) per model call.
        splice: cone splicing and shared REF towers (:class:`EnsemblePredictor`).
        precision: compute precision (:data:`basenji_tf.seqnn.PRECISIONS`).
        max_call_bp: most input bp per model call (:class:`EnsemblePredictor`; None: its
            default).
    """

    params_file: str
    model_file: str
    head: int = 0
    targets_file: str | None = None
    rc: bool = False
    shifts: tuple[int, ...] = (0,)
    batch_size: int = 8
    splice: bool = True
    precision: str = "float32"
    max_call_bp: int | None = None


def load_predictor(spec: ModelSpec) -> tuple[seqnn.Head, EnsemblePredictor, TargetSet]:
    """Load a head for inference and its ensemble predictor and reported targets.

    Training augmentation is left out of the graph (:func:`basenji_tf.seqnn.load` with
    ``augment=False`): it is the identity at inference, and without it the graph can be
    cut for :class:`~basenji_tf.scoring.cone.ConeSplice`.

    The last result is kept: a worker process (``-p``, Dask) running several shard tasks
    of one spec loads, builds and traces the model once. The key is the spec and the
    size and modification time of its files, so a rewritten file is loaded again.

    Returns:
        (the head, its :class:`EnsemblePredictor`, the :class:`TargetSet`); the predictor
        keeps the targets table's channels (whose strand pairs swap under RC).

    Raises:
        InputError: bad params or weights, a targets table naming outputs the head does
            not have, a shift not shorter than the head's input, or an unknown precision.
    """
    key = (spec, *(_file_stamp(f) for f in (spec.params_file, spec.model_file, spec.targets_file)))
    if key not in _LOADED:
        _LOADED.clear()  # one model at a time: a Basenji2 head holds ~1 GB
        _LOADED[key] = _load_predictor(spec)
    return _LOADED[key]


_LOADED: dict[tuple, tuple[seqnn.Head, EnsemblePredictor, TargetSet]] = {}


def _file_stamp(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def _load_predictor(spec: ModelSpec) -> tuple[seqnn.Head, EnsemblePredictor, TargetSet]:
    head = seqnn.load(
        spec.params_file, spec.model_file, spec.head, augment=False, precision=spec.precision
    ).head
    check_shifts(spec.shifts, head.seq_length)
    strand_pair = head.strand_pair
    if spec.targets_file:
        targets = TargetSet.from_table(spec.targets_file)
        targets.check_outputs(head.num_targets, spec.targets_file, spec.head)
        strand_pair = targets.strand_pair
    else:
        targets = TargetSet.all_outputs(head.num_targets)
    cone = None
    if spec.splice:
        try:
            cone = ConeSplice(head.model)
        except ValueError as err:
            log.info("no cone splicing (%s)", err)
    predictor = EnsemblePredictor(
        head.model, spec.rc, spec.shifts, strand_pair, targets.slice, spec.batch_size, cone,
        max_call_bp=spec.max_call_bp,
    )  # fmt: skip
    return head, predictor, targets

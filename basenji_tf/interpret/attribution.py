"""Attribution of a model's predictions to its input bases: one interface, five methods.

:func:`attribute` explains an objective, the predictions summed over chosen targets and
bins of each sequence (with ``rc``, averaged with the reverse complement's, the bins and
strand-paired targets mirrored). Every method returns, per sequence, *hypothetical*
contributions ``hyp`` [L, 4] (what each of the four bases would contribute at each
position) and *contributions* [L, 4] (the observed base's, zero elsewhere), as TF-MoDISco
reads them. With multipliers ``m`` (gradients, or DeepLIFT's) and a reference ``r``, as in
DeepSHAP and tangermeme::

    hyp[i, b] = sum_b' m[i, b'] * (onehot(b) - r)[i, b']      (averaged over references)
    contributions = hyp * x                                    (x one-hot)

so the contribution of a position is ``sum_b' m * (x - r)`` there. Methods:

* ``saliency``: ``hyp`` is the gradient; contributions are its absolute value, every
  channel (Simonyan et al. 2013; Captum's default).
* ``input_x_gradient``: ``hyp`` is the gradient, contributions gradient x input (the
  reference is all zeros).
* ``integrated_gradients``: ``m`` is the gradient averaged along the straight path from a
  baseline to the sequence (trapezoid rule, ``steps`` intervals); baseline zeros, or
  ``references`` dinucleotide-shuffled ones averaged. Completeness (contributions sum to
  ``f(x) - f(baseline)``) holds as ``steps`` grows.
* ``expected_gradients`` (Erion et al. 2021): ``m`` is the gradient at one random point
  ``r + a (x - r)``, ``a ~ U(0, 1)``, of each of ``references`` shuffled references;
  complete in expectation only.
* ``deepshap``: DeepLIFT's multipliers (:mod:`.deeplift`) against each of ``references``
  dinucleotide-shuffled references, averaged: contributions sum to ``f(x) - mean f(r)``.

Summation to delta is checked for every sequence where it holds (``deepshap`` exactly,
``integrated_gradients`` up to the quadrature): :attr:`Attributions.delta_violation` is
the worst ``|sum m * (x - r) - (f(x) - f(r))|`` over the references and strands.

References are drawn per sequence from ``seed`` and the sequence's own bases
(:func:`shuffled_references`), so a sequence's attribution depends on nothing else in
the run. Every model call has one shape, ``rows`` sequences (``2 rows`` for deepshap:
sequences then references), short batches padded with zero rows (docs/architecture.md,
"fixed-shape calls"), and calls run eagerly, as ``input_x_gradient`` always has.

``input_x_gradient`` gives the bits ``basenji_grad_bed.py`` always gave, except for models
with strand pairs under ``rc``: the reverse strand's objective now sums the strand-paired
outputs of the chosen targets (it summed the same output indexes on both strands).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from basenji_tf import seqnn
from basenji_tf.dna import dinuc_shuffle, hot1_rc
from basenji_tf.errors import InputError
from basenji_tf.interpret import BASELINES, METHODS
from basenji_tf.interpret.deeplift import deeplift_rules
from basenji_tf.progress import track

CHECKED = ("integrated_gradients", "deepshap")
"""Methods whose summation to delta is checked."""


@dataclass(frozen=True)
class Attributions:
    """What :func:`attribute` returns.

    Attributes:
        contributions: float32 [N, L, 4]: the observed bases' contributions (saliency:
            the absolute gradient of every channel).
        hypothetical: float32 [N, L, 4]: every base's hypothetical contribution.
        delta_violation: float32 [N], the worst summation-to-delta violation of each
            sequence (objective units), or None where the method promises none.
    """

    contributions: np.ndarray
    hypothetical: np.ndarray
    delta_violation: np.ndarray | None


def shuffled_references(seq_1hot: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """``count`` dinucleotide shuffles of one sequence, a function of seed and sequence.

    Args:
        seq_1hot: [L, 4].
        count: references.
        seed: the run's seed.

    Returns:
        float32 [count, L, 4] (:func:`basenji_tf.dna.dinuc_shuffle`).
    """
    rng = np.random.default_rng(_key(seq_1hot, seed, 0))
    return np.stack([dinuc_shuffle(seq_1hot, rng) for _ in range(count)]).astype(np.float32)


def _key(seq_1hot: np.ndarray, seed: int, stream: int) -> list[int]:
    digest = hashlib.sha256(np.ascontiguousarray(seq_1hot, np.float32).tobytes()).digest()
    return [int(seed), stream, *np.frombuffer(digest, np.uint32).tolist()]


def _path_points(seq_1hot: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Expected gradients' ``a ~ U(0, 1)`` per reference of one sequence: float32 [count]."""
    return np.random.default_rng(_key(seq_1hot, seed, 1)).random(count).astype(np.float32)


@dataclass(frozen=True)
class _Objective:
    """Per strand: target weights [T] and per-sequence bin masks [N, bins]."""

    weights: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray, ...]


def _objective(
    model: keras.Model,
    num_seqs: int,
    targets: Sequence[int] | None,
    bins,
    rc: bool,
    strand_pair: Sequence[int] | None,
) -> _Objective:
    shape = tuple(model.output.shape[1:])
    if None in shape:  # a layer that does not say its output shape: ask the model
        sample = np.zeros((1, *model.input.shape[1:]), np.float32)
        shape = tuple(model(sample, training=False).shape[1:])
    if len(shape) != 2:
        raise InputError(f"the model's output has shape {shape}; attribution needs [bins, T]")
    num_bins, num_targets = int(shape[0]), int(shape[1])
    forward = np.ones(num_targets, np.float32)
    if targets is not None:
        if not all(0 <= t < num_targets for t in targets):
            raise InputError(f"--targets: the model has outputs 0..{num_targets - 1}")
        forward = np.bincount(list(targets), minlength=num_targets).astype(np.float32)
    ranges = _bin_ranges(bins, num_seqs, num_bins)
    mask = np.zeros((num_seqs, num_bins), np.float32)
    for i, (first, last) in enumerate(ranges):
        mask[i, first:last] = 1
    weights, masks = [forward], [mask]
    if rc:
        pair = np.arange(num_targets) if strand_pair is None else np.asarray(strand_pair)
        reverse = np.zeros(num_targets, np.float32)
        np.add.at(reverse, pair, forward)
        weights.append(reverse)
        masks.append(mask[:, ::-1].copy())
    return _Objective(tuple(weights), tuple(masks))


def _bin_ranges(bins, num_seqs: int, num_bins: int) -> np.ndarray:
    """``bins`` (None: all; (first, last); int [N, 2]) as int [N, 2] half-open ranges."""
    if bins is None:
        return np.tile([0, num_bins], (num_seqs, 1))
    ranges = np.asarray(bins, np.int64)
    if ranges.shape == (2,):
        ranges = np.tile(ranges, (num_seqs, 1))
    if ranges.shape != (num_seqs, 2):
        raise InputError(f"bins: give (first, last) or one range per sequence, not {bins!r}")
    bad = (ranges[:, 0] < 0) | (ranges[:, 1] > num_bins) | (ranges[:, 0] >= ranges[:, 1])
    if bad.any():
        first, last = ranges[np.argmax(bad)]
        raise InputError(
            f"--bins {first}:{last}: the model predicts bins 0..{num_bins}; give a non-empty "
            "range within them"
        )
    return ranges


class _Caller:
    """Fixed-shape gradient calls of one model and objective."""

    def __init__(self, model: keras.Model, objective: _Objective, rows: int):
        self.model = model
        self.objective = objective
        self.rows = rows

    def __call__(
        self, seqs: np.ndarray, strand: int, chunk: slice, paired: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(gradient [n, L, 4], objective [n] or, with ``paired``, [2, n]) of one call.

        With ``paired`` (references [n, L, 4]) the call holds ``rows`` padded sequences
        then ``rows`` padded references, and the gradient is the sequences' objective's.
        """
        n = len(seqs)
        mask = seqnn.pad_rows(self.objective.masks[strand][chunk], self.rows)
        batch = seqnn.pad_rows(seqs, self.rows)
        if paired is not None:
            batch = np.concatenate([batch, seqnn.pad_rows(paired, self.rows)])
            mask = np.concatenate([mask, mask])
        x = tf.constant(batch, dtype=tf.float32)
        weights = tf.constant(self.objective.weights[strand])
        with tf.GradientTape() as tape:
            tape.watch(x)
            preds = self.model(x, training=False)
            per_row = tf.reduce_sum(tf.reduce_sum(preds * weights, axis=-1) * mask, axis=-1)
            total = tf.reduce_sum(per_row[: self.rows] if paired is not None else per_row)
        grads = tape.gradient(total, x).numpy()[:n]
        values = per_row.numpy().astype(np.float64)
        if paired is not None:
            return grads, np.stack([values[:n], values[self.rows : self.rows + n]])
        return grads, values[:n]


def _project(multipliers: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Hypothetical contributions [n, L, 4] of multipliers against a reference (float64)."""
    m = multipliers.astype(np.float64)
    return m - (m * reference).sum(axis=-1, keepdims=True)


def _violation(multipliers, seqs, reference, delta) -> np.ndarray:
    """|sum m * (x - r) - (f(x) - f(r))| per sequence [n] (float64)."""
    total = (multipliers.astype(np.float64) * (seqs - reference)).sum(axis=(1, 2))
    return np.abs(total - delta)


def attribute(
    model: keras.Model,
    seqs: np.ndarray,
    method: str = "input_x_gradient",
    targets: Sequence[int] | None = None,
    bins=None,
    rc: bool = False,
    rows: int | None = None,
    references: int | np.ndarray = 20,
    steps: int = 50,
    seed: int = 0,
    baseline: str = "zeros",
    strand_pair: Sequence[int] | None = None,
) -> Attributions:
    """Attributions of the objective of each sequence to its bases (module docstring).

    Args:
        model: ``keras.Model`` [batch, L, 4] -> [batch, bins, T], without ensembling
            layers (``rc`` is done here).
        seqs: one-hot [N, L, 4].
        method: one of :data:`METHODS`.
        targets: outputs summed (None: all; an index given twice counts twice).
        bins: output bins summed: None (all), ``(first, last)`` or int [N, 2], one
            half-open range per sequence (the bins over each BED region).
        rc: average with the reverse complement's attribution, flipped back.
        rows: sequences per model call (None: N); see the module docstring.
        references: shuffled references per sequence (deepshap, expected gradients,
            integrated gradients from shuffled baselines), or the references themselves,
            float32 [N, K, L, 4].
        steps: integrated gradients' intervals along each path.
        seed: seed of the references and of expected gradients' path points.
        baseline: integrated gradients' baseline, one of :data:`BASELINES`.
        strand_pair: per output, its output on the other strand (``rc``; None: itself).

    Returns:
        :class:`Attributions`.

    Raises:
        InputError: an unknown method or baseline, bad counts, targets or bins, sequences
            of the wrong shape, or (deepshap) a layer without a DeepLIFT rule.
    """
    seqs = np.asarray(seqs, np.float32)
    _check_arguments(model, seqs, method, references, steps, baseline)
    rows = rows or max(len(seqs), 1)
    caller = _Caller(model, _objective(model, len(seqs), targets, bins, rc, strand_pair), rows)
    hypothetical = np.zeros(seqs.shape, np.float32)
    worst = np.zeros(len(seqs), np.float64)
    rules = deeplift_rules(model) if method == "deepshap" else contextlib.nullcontext()
    with rules:
        for c0 in track(range(0, len(seqs), rows), desc="attribution", unit="batches"):
            chunk = slice(c0, c0 + rows)
            hypothetical[chunk], worst[chunk] = _attribute_chunk(
                caller, seqs[chunk], chunk, method, references, steps, seed, baseline, rc
            )
    if method == "saliency":
        contributions = np.abs(hypothetical)
    else:
        contributions = hypothetical * seqs
    violation = worst.astype(np.float32) if method in CHECKED else None
    return Attributions(contributions, hypothetical, violation)


def _check_arguments(model, seqs, method, references, steps, baseline) -> None:
    if method not in METHODS:
        raise InputError(f"--method {method!r}: choose from {', '.join(METHODS)}")
    if baseline not in BASELINES:
        raise InputError(f"--baseline {baseline!r}: choose from {', '.join(BASELINES)}")
    length, depth = model.input.shape[1:]
    if seqs.ndim != 3 or length not in (None, seqs.shape[1]) or seqs.shape[2] != depth:
        raise InputError(
            f"sequences of shape {seqs.shape}; the model needs [N, {length}, {depth}] one-hot"
        )
    if isinstance(references, np.ndarray):
        if (
            references.ndim != 4
            or references.shape[0] != len(seqs)
            or (references.shape[2:] != seqs.shape[1:] or references.shape[1] < 1)
        ):
            raise InputError(
                f"references of shape {references.shape}; give [N, K, L, 4] for sequences "
                f"{seqs.shape}"
            )
    elif int(references) < 1:
        raise InputError(f"--references {references}: give at least 1")
    if int(steps) < 1:
        raise InputError(f"--steps {steps}: give at least 1")


def _chunk_references(seqs, chunk, references, seed):
    """The references of a chunk's sequences: a list (one per reference) of [n, L, 4]."""
    if isinstance(references, np.ndarray):
        return list(np.asarray(references[chunk], np.float32).transpose(1, 0, 2, 3))
    per_seq = [shuffled_references(s, int(references), seed) for s in seqs]
    return list(np.stack(per_seq).transpose(1, 0, 2, 3))


def _attribute_chunk(caller, seqs, chunk, method, references, steps, seed, baseline, rc):
    """Hypothetical contributions float32 [n, L, 4] and worst violations [n] of a chunk."""
    strands = [(0, seqs)] + ([(1, hot1_rc(seqs).copy())] if rc else [])
    if method in ("saliency", "input_x_gradient"):
        # float32 throughout, as basenji_grad_bed.py always computed it
        grads = [caller(x, strand, chunk)[0] for strand, x in strands]
        if rc:
            return (grads[0] + hot1_rc(grads[1])) / 2, np.zeros(len(seqs))
        return grads[0], np.zeros(len(seqs))
    if method == "integrated_gradients" and baseline == "zeros":
        refs = [np.zeros_like(seqs)]
    else:
        refs = _chunk_references(seqs, chunk, references, seed)
    points = None
    if method == "expected_gradients":
        points = np.stack([_path_points(s, len(refs), seed) for s in seqs], axis=1)
    total = np.zeros(seqs.shape, np.float64)
    worst = np.zeros(len(seqs), np.float64)
    for k, ref in enumerate(refs):
        for strand, x in strands:
            r = ref if strand == 0 else hot1_rc(ref).copy()
            if method == "deepshap":
                m, (fx, fr) = caller(x, strand, chunk, paired=r)
                worst = np.maximum(worst, _violation(m, x, r, fx - fr))
            elif method == "integrated_gradients":
                m, delta = _path_integral(caller, x, r, strand, chunk, int(steps))
                worst = np.maximum(worst, _violation(m, x, r, delta))
            else:
                a = points[k].astype(np.float32)[:, None, None]
                m = caller(r + a * (x - r), strand, chunk)[0]
            hyp = _project(m, r)
            total += hyp if strand == 0 else hot1_rc(hyp)
    return (total / (len(refs) * len(strands))).astype(np.float32), worst


def _path_integral(caller, x, r, strand, chunk, steps):
    """Trapezoid-rule mean gradient on r -> x [n, L, 4] and f(x) - f(r) [n]."""
    mean = np.zeros(x.shape, np.float64)
    for j in range(steps + 1):
        a = np.float32(j / steps)
        grads, values = caller(r + a * (x - r), strand, chunk)
        weight = (0.5 if j in (0, steps) else 1.0) / steps
        mean += weight * grads
        if j == 0:
            start = values
        if j == steps:
            end = values
    return mean, end - start

"""``basenji_sat_plot.py``: figures of a saturation mutagenesis ``scores.h5``.

One figure per sequence and target (``seq{i}_t{t}.pdf`` and ``.png``): loss logo (and gain
logo), loss and gain per position, heatmap of every substitution's change from the
reference (:func:`basenji_tf.plots.sat_mutation_map`), over the central ``plot_len`` bp.

Differences from the original:

* ``-t`` is optional (default: every target of the file); its ``index`` column selects
  targets of the file's last axis, as in the original;
* ``-a`` works (the original parsed it and never used it): the sequences are ranked by
  their reference score (the reference slots of ``sum``/``center``: predicted activity),
  averaged over the plotted targets, and the top fraction is kept; ``-s`` then samples
  from those;
* at a reference N (no reference slot) the change is taken from the mean of the four
  mutants, where the original read past the region's bookkeeping.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from basenji_tf import plots
from basenji_tf.errors import InputError
from basenji_tf.scoring.outputs import read_sat_h5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SatPlotOptions:
    """Options of ``basenji_sat_plot.py`` (see its ``--help``).

    Attributes:
        activity_enrich: fraction (0-1] of the most active sequences to plot.
        figure_width: inches.
        gain: draw a gain logo as well.
        plot_len: bp plotted around the centre of the mutated region.
        min_limit: smallest heatmap colour limit.
        rng_seed: seed of ``sample``.
        sample: plot this many sequences drawn at random (None: all).
        targets: indexes on the scores' target axis (None: all).
        stat: score dataset (None: the first of sum, center, scd, scores).
    """

    activity_enrich: float = 1.0
    figure_width: float = 20
    gain: bool = False
    plot_len: int = 300
    min_limit: float = 0.01
    rng_seed: int = 1
    sample: int | None = None
    targets: tuple[int, ...] | None = None
    stat: str | None = None


def plot_window(mut_len: int, plot_len: int) -> slice:
    """The central ``plot_len`` bp of a ``mut_len`` bp region (all of it if shorter)."""
    if plot_len <= 0:
        raise InputError(f"-l {plot_len}: the plot length must be positive")
    start = max(0, mut_len // 2 - plot_len // 2)
    return slice(start, min(mut_len, start + plot_len))


def sat_deltas(seq_1hot: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each base's score minus the reference's at its position.

    Args:
        seq_1hot: bool [len, 4] reference bases.
        scores: [len, 4] scores of one target.

    Returns:
        float32 [len, 4], 0 in the reference slots; at an N position the four mutants
        minus their mean.
    """
    scores = np.asarray(scores, dtype=np.float32)
    is_ref = np.asarray(seq_1hot, dtype=bool)
    ref = np.where(is_ref.any(axis=1), (scores * is_ref).sum(axis=1), scores.mean(axis=1))
    return scores - ref[:, None]


def choose_sequences(
    seqs: np.ndarray, scores: np.ndarray, targets: Sequence[int], options: SatPlotOptions
) -> np.ndarray:
    """Sequence indexes to plot: the most active ``activity_enrich``, then ``sample``.

    Args:
        seqs: bool [N, len, 4].
        scores: [N, len, 4, T].
        targets: plotted targets.
        options: ``activity_enrich``, ``sample``, ``rng_seed``.

    Returns:
        sorted int indexes.
    """
    if not 0 < options.activity_enrich <= 1:
        raise InputError(f"-a {options.activity_enrich}: give a fraction in (0, 1]")
    chosen = np.arange(len(seqs))
    if options.activity_enrich < 1:
        ref = (scores[..., list(targets)] * seqs[..., None]).sum(axis=2)  # [N, len, T']
        activity = ref.mean(axis=(1, 2))
        keep = math.ceil(options.activity_enrich * len(seqs))
        chosen = np.sort(np.argsort(-activity, kind="stable")[:keep])
    if options.sample is not None and options.sample < len(chosen):
        rng = np.random.default_rng(options.rng_seed)
        chosen = np.sort(rng.choice(chosen, size=options.sample, replace=False))
    return chosen


def plot_sat_scores(scores_file: str, out_dir: str, options: SatPlotOptions) -> list[str]:
    """Write the figures of ``scores_file`` into ``out_dir``.

    Returns:
        the figure stems written (``out_dir/seq{i}_t{t}``; .pdf and .png each).

    Raises:
        InputError: a target index outside the file, or a bad option.
    """
    seqs, scores, labels = read_sat_h5(scores_file, options.stat)
    num_targets = scores.shape[-1]
    targets = options.targets if options.targets is not None else tuple(range(num_targets))
    bad = [t for t in targets if not 0 <= t < num_targets]
    if bad:
        raise InputError(
            f"targets table: index {bad[0]} is outside the {num_targets} targets of "
            f"{scores_file}; use indexes 0..{num_targets - 1}"
        )
    window = plot_window(seqs.shape[1], options.plot_len)
    os.makedirs(out_dir, exist_ok=True)
    stems = []
    for si in choose_sequences(seqs, scores, targets, options):
        for ti in targets:
            stem = os.path.join(out_dir, f"seq{si}_t{ti}")
            plots.sat_mutation_map(
                seqs[si, window],
                sat_deltas(seqs[si, window], scores[si, window, :, ti]),
                stem,
                figure_width=options.figure_width,
                gain=options.gain,
                min_limit=options.min_limit,
                title=f"{labels[si]}  target {ti}",
            )
            stems.append(stem)
    log.info("wrote %d figures to %s", len(stems), out_dir)
    return stems

"""``basenji_sat_plot.py``: figures of a saturation mutagenesis ``scores.h5``.

One figure per sequence and target, ``seq{i}_t{t}.pdf`` (``.png`` with ``--png``), as the
original names them (``i`` the sequence's row in scores.h5, ``t`` the target's index on
the file's last axis). Top to bottom: a logo of the loss (each reference base as tall as
its worst substitution's drop, plus 5% of the maximum), with ``gain`` a logo of the gain,
the loss and gain per position, and a heatmap of every substitution's change from the
reference with a labelled colour bar, over the central ``plot_len`` bp.

Differences from the original:

* ``-t`` is optional (default: every target of the file). Its ``index`` column selects
  targets of the file's last axis, as in the original; when an index is outside the file
  but the table has as many rows as the file has targets (the table basenji_sat_bed.py
  ``-t`` kept), the rows are taken in order. Figures are titled with the sequence's label
  and the target's identifier and description;
* ``-a`` works (the original parsed it and never used it): the sequences are ranked by
  their reference score (the reference slots of ``sum``/``center``: predicted activity),
  averaged over the plotted targets, and the top fraction is kept; ``-s`` then samples
  from those;
* at a reference N (no reference slot) the change is taken from the mean of the four
  mutants, where the original read past the region's bookkeeping;
* figures are written at 150 dpi (the original: 600), the heatmap has a colour bar, and a
  ``--stat`` missing from the file is an error listing the score datasets it has.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import h5py
import numpy as np
import pandas as pd

from basenji_tf import plots
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path, read_h5
from basenji_tf.scoring.outputs import read_sat_h5

log = logging.getLogger(__name__)

DPI = 150


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
        target_names: one title per entry of ``targets`` (None: ``target {t}``).
        stat: score dataset of scores.h5.
        save_png: write PNG figures instead of PDF.
    """

    activity_enrich: float = 1.0
    figure_width: float = 20
    gain: bool = False
    plot_len: int = 300
    min_limit: float = 0.05
    rng_seed: int = 1
    sample: int | None = None
    targets: tuple[int, ...] | None = None
    target_names: tuple[str, ...] | None = None
    stat: str = "sum"
    save_png: bool = False


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


def resolve_targets(
    targets: Sequence[int] | None, num_targets: int, scores_file: str, table: str = "-t"
) -> tuple[int, ...]:
    """Positions on the file's target axis of a targets table's ``index`` values.

    An index is a position on the file's last axis (the original's rule). When some index
    is outside the file but the table has exactly as many rows as the file has targets
    (scores.h5 written with that table by basenji_sat_bed.py ``-t``), row ``r`` is
    position ``r``.

    Raises:
        InputError: an index outside the file and a row count that differs.
    """
    if targets is None:
        return tuple(range(num_targets))
    targets = tuple(int(t) for t in targets)
    bad = [t for t in targets if not 0 <= t < num_targets]
    if not bad:
        return targets
    if len(targets) == num_targets:
        log.info("%s: indexes beyond the file's %d targets; using rows in order", table, len(bad))
        return tuple(range(num_targets))
    raise InputError(
        f"{table} targets table: index {bad[0]} is outside the {num_targets} targets of "
        f"{scores_file}; use indexes 0..{num_targets - 1} (or the table the file was "
        "scored with)"
    )


def target_title(table: pd.DataFrame, index: int) -> str:
    """A figure title for row ``index`` of a targets table: identifier and description."""
    row = table.loc[index]
    words = [str(row["identifier"])]
    description = row.get("description")
    if isinstance(description, str) and description and description != words[0]:
        words.append(description)
    return f"{' '.join(words)} (target {index})"


def check_stat(scores_file: str, stat: str) -> None:
    """Raise InputError naming the score datasets of ``scores_file`` if ``stat`` is not one."""
    with read_h5(scores_file, "scores file") as h5:
        if stat in h5:
            return
        present = [n for n, d in h5.items() if isinstance(d, h5py.Dataset) and d.ndim == 4]
    raise InputError(
        f"{scores_file}: no score dataset {stat!r}; it has {', '.join(present) or 'none'}: "
        "pick one with --stat"
    )


def sat_figure(
    seq_1hot: np.ndarray,
    delta: np.ndarray,
    path: str | os.PathLike,
    *,
    figure_width: float = 20,
    gain: bool = False,
    min_limit: float = 0.05,
    title: str = "",
    stat: str = "sum",
) -> None:
    """Write one sequence's and target's figure to ``path`` (.pdf or .png, atomically).

    Args:
        seq_1hot: bool [len, 4] reference bases.
        delta: [len, 4] each base's score minus the reference's (0 at the reference).
        path: output file; its extension picks the format.
        figure_width: inches.
        gain: draw the gain logo as well.
        min_limit: smallest colour-scale limit of the heatmap.
        title: figure title.
        stat: score name, for the colour bar's label.
    """
    import matplotlib.pyplot as plt  # plots set the Agg backend

    delta = np.asarray(delta, dtype=np.float32)
    loss, gains = -delta.min(axis=1), delta.max(axis=1)
    logos = [("loss", loss)] + ([("gain", gains)] if gain else [])
    rows = len(logos) + 2
    fig = plt.figure(figsize=(figure_width, 1.3 * rows + 0.6))
    grid = fig.add_gridspec(rows, 2, width_ratios=(1, 0.012), wspace=0.01)
    axes = [fig.add_subplot(grid[0, 0])]
    axes += [fig.add_subplot(grid[r, 0], sharex=axes[0]) for r in range(1, rows)]
    for ax, (name, heights) in zip(axes, logos):
        plots.draw_reference_bases(ax, seq_1hot, heights + 0.05 * max(float(heights.max()), 0))
        ax.set_ylim(0, ax.get_ylim()[1])
        ax.set_ylabel(name, fontsize=8)
    ax_lines, ax_heat = axes[-2], axes[-1]
    x = np.arange(len(delta)) + 0.5
    ax_lines.plot(x, loss, color="#3a6fb0", label="loss", linewidth=1)
    ax_lines.plot(x, gains, color="#c0392b", label="gain", linewidth=1)
    ax_lines.legend(loc="upper right", fontsize=7, frameon=False)
    limit = max(min_limit, float(np.nanmax(np.abs(delta))) if delta.size else 0.0)
    image = ax_heat.imshow(
        delta.T,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
        extent=(0, len(delta), 3.5, -0.5),
    )
    ax_heat.set_yticks(range(4), list("ACGT"))
    ax_heat.set_xlabel("position in the plotted region (bp)")
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    colorbar = fig.colorbar(image, cax=fig.add_subplot(grid[-1, 1]))
    colorbar.set_label(f"{stat} change\nfrom reference", fontsize=7)
    colorbar.ax.tick_params(labelsize=7)
    axes[0].set_title(title, fontsize=9)
    ext = os.path.splitext(os.fspath(path))[1].lstrip(".")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)


def plot_sat_scores(scores_file: str, out_dir: str, options: SatPlotOptions) -> list[str]:
    """Write the figures of ``scores_file`` into ``out_dir``.

    Returns:
        the figure files written (``out_dir/seq{i}_t{t}.pdf``, or ``.png`` with
        ``save_png``), sequence by sequence.

    Raises:
        InputError: a target index outside the file, a missing score dataset, or a bad
            option.
    """
    check_stat(scores_file, options.stat)
    seqs, scores, labels = read_sat_h5(scores_file, options.stat)
    targets = resolve_targets(options.targets, scores.shape[-1], scores_file)
    names = options.target_names
    if names is None or len(names) != len(targets):
        names = tuple(f"target {t}" for t in targets)
    window = plot_window(seqs.shape[1], options.plot_len)
    ext = "png" if options.save_png else "pdf"
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for si in choose_sequences(seqs, scores, targets, options):
        for ti, name in zip(targets, names):
            path = os.path.join(out_dir, f"seq{si}_t{ti}.{ext}")
            sat_figure(
                seqs[si, window],
                sat_deltas(seqs[si, window], scores[si, window, :, ti]),
                path,
                figure_width=options.figure_width,
                gain=options.gain,
                min_limit=options.min_limit,
                title=f"{labels[si]}  {name}",
                stat=options.stat,
            )
            written.append(path)
    log.info("wrote %d figures to %s", len(written), out_dir)
    return written

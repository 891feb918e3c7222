"""Figures, written as both PDF and PNG (matplotlib, Agg backend, no display needed).

Each function takes plain numpy arrays and an output path *stem* (no extension) and writes
``stem.pdf`` and ``stem.png`` atomically.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from basenji_tf.files import atomic_path  # noqa: E402


def save_figure(fig: plt.Figure, stem: str | os.PathLike) -> None:
    """Write ``fig`` to ``stem.pdf`` and ``stem.png`` (atomically) and close it."""
    for ext in ("pdf", "png"):
        with atomic_path(f"{os.fspath(stem)}.{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")
    plt.close(fig)


def pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two 1-D arrays; NaN when either is constant or there are under 2 values."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def scatter_correlation_label(targets: np.ndarray, preds: np.ndarray) -> str:
    """The correlations :func:`scatter_log` prints, each named by what it is computed on.

    The scatter shows log2(x+1) values, so its first r is on those; the second is on the raw
    values of the same bins, the quantity of ``acc.txt``'s ``pearsonr``. ``acc.txt`` pools
    every bin of the split, while basenji_test.py's figures get every 8th bin, so the two
    raw-value figures are close but need not be equal.

    Args:
        targets: 1-D array of one track's bins.
        preds: the predictions of the same bins.
    """
    targets, preds = np.asarray(targets, np.float64), np.asarray(preds, np.float64)
    r_log = pearson_r(np.log2(targets + 1), np.log2(preds + 1))
    r_raw = pearson_r(targets, preds)
    return (
        f"Pearson r of log2(x+1) {r_log:.3f}, of raw values {r_raw:.3f}\n"
        f"({len(targets):,} bins; acc.txt: raw values, all bins)"
    )


def scatter_log(
    targets: np.ndarray,
    preds: np.ndarray,
    stem: str | os.PathLike,
    title: str = "",
    sample: int = 500,
    seed: int = 0,
) -> None:
    """Scatter of log2(x+1) predictions against targets with a least-squares line.

    The title names both correlations (:func:`scatter_correlation_label`): Pearson r of
    log2(x+1), what the plot shows, and of the raw values, what ``acc.txt`` reports.

    Args:
        targets: 1-D array of one track's bins (e.g. every 8th bin).
        preds: the predictions of the same bins.
        stem: output path without extension (.pdf and .png are written).
        title: figure title.
        sample: points drawn at random (seeded) for the plot; the printed r uses all.
        seed: seed of the drawing.
    """
    x = np.log2(np.asarray(targets, np.float64) + 1)
    y = np.log2(np.asarray(preds, np.float64) + 1)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), size=min(sample, len(x)), replace=False)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(x[pick], y[pick], s=6, alpha=0.5, color="tab:blue", linewidths=0)
    if np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.linspace(x.min(), x.max(), 50)
        ax.plot(grid, slope * grid + intercept, color="black", linewidth=1)
    ax.set_xlabel("log2 target + 1")
    ax.set_ylabel("log2 prediction + 1")
    label = scatter_correlation_label(targets, preds)
    ax.set_title(f"{title}\n{label}" if title else label, fontsize=8)
    save_figure(fig, stem)


def violin_peaks(
    preds: np.ndarray, peaks: np.ndarray, stem: str | os.PathLike, title: str = ""
) -> None:
    """Violins of log2(prediction+1) in bins without and with a target peak."""
    y = np.log2(np.asarray(preds, np.float64) + 1)
    peaks = np.asarray(peaks, bool)
    groups = [y[~peaks], y[peaks]]
    fig, ax = plt.subplots(figsize=(3.5, 4))
    present = [i for i, g in enumerate(groups) if len(g) > 1]
    if present:
        ax.violinplot([groups[i] for i in present], positions=present, showmedians=True)
    ax.set_xticks([0, 1], [f"no peak ({len(groups[0])})", f"peak ({len(groups[1])})"])
    ax.set_ylabel("log2 prediction + 1")
    ax.set_title(title, fontsize=9)
    save_figure(fig, stem)


def roc_plot(
    peaks: np.ndarray, preds: np.ndarray, auroc: float, stem: str | os.PathLike, title: str = ""
) -> None:
    """ROC curve of predictions separating peak from non-peak bins."""
    fig, ax = plt.subplots(figsize=(4, 4))
    if np.any(peaks) and not np.all(peaks):
        fpr, tpr, _ = roc_curve(peaks, preds)
        ax.plot(fpr, tpr, color="tab:blue")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"{title}  AUROC={auroc:.3f}", fontsize=9)
    save_figure(fig, stem)


def pr_plot(
    peaks: np.ndarray, preds: np.ndarray, auprc: float, stem: str | os.PathLike, title: str = ""
) -> None:
    """Precision-recall curve of predictions for peak bins; the dashed line is the base rate."""
    fig, ax = plt.subplots(figsize=(4, 4))
    if np.any(peaks) and not np.all(peaks):
        precision, recall, _ = precision_recall_curve(peaks, preds)
        ax.plot(recall, precision, color="tab:blue")
    ax.axhline(np.mean(peaks) if len(peaks) else 0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{title}  AUPRC={auprc:.3f}", fontsize=9)
    save_figure(fig, stem)


# -- saturation mutagenesis (basenji_sat_bed.py / basenji_sat_vcf.py --plots) -------------

_BASE_COLORS = {"A": "tab:green", "C": "tab:blue", "G": "orange", "T": "tab:red"}


def draw_reference_bases(ax: plt.Axes, seq_1hot: np.ndarray, height: np.ndarray) -> None:
    """Draw each reference base as a letter ``height[i]`` tall (below the axis if < 0).

    Args:
        ax: the axes; x runs over positions 0..len(height), y is symmetric around 0.
        seq_1hot: [len, 4] reference bases (a row without a 1 is N, not drawn).
        height: [len] letter heights.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    is_ref = np.asarray(seq_1hot) == 1
    font = FontProperties(family="DejaVu Sans", weight="bold")
    for i, h in enumerate(height):
        if not is_ref[i].any() or h == 0:
            continue
        base = "ACGT"[int(np.argmax(seq_1hot[i]))]
        path = TextPath((0, 0), base, size=1, prop=font)
        box = path.get_extents()
        transform = (
            Affine2D()
            .translate(-box.x0, -box.y0)
            .scale(0.95 / box.width, abs(h) / box.height)
            .translate(i + 0.025, min(0, h))
        )
        ax.add_patch(PathPatch(transform.transform_path(path), color=_BASE_COLORS[base], lw=0))
    limit = float(np.abs(height).max()) or 1.0
    ax.set_xlim(0, len(height))
    ax.set_ylim(-limit * 1.05, limit * 1.05)
    ax.axhline(0, color="grey", linewidth=0.5)


def sat_logo(
    seq_1hot: np.ndarray, scores: np.ndarray, stem: str | os.PathLike, title: str = ""
) -> None:
    """Sequence logo of a mutagenesis, one letter per reference base.

    Each reference base is drawn as tall as the mean loss its three substitutions cause
    (below the axis when substitutions gain).

    Args:
        seq_1hot: bool/float [mut_len, 4] reference bases (a row without a 1 is N, not drawn).
        scores: [mut_len, 4] mean-centred scores of one target (reference slot = reference).
        stem: output path without extension (.pdf and .png are written).
        title: figure title.
    """
    seq_1hot = np.asarray(seq_1hot, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    is_ref = seq_1hot == 1
    mut_mean = np.where(is_ref, 0, scores).sum(axis=1) / np.maximum(1, (~is_ref).sum(axis=1))
    height = np.where(is_ref.any(axis=1), (scores * is_ref).sum(axis=1) - mut_mean, 0)
    fig, ax = plt.subplots(figsize=(max(4, len(height) / 8), 2))
    draw_reference_bases(ax, seq_1hot, height)
    ax.set_xlabel("position in the mutated region (bp)")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    save_figure(fig, stem)


def sat_heatmap(
    seq_1hot: np.ndarray, scores: np.ndarray, stem: str | os.PathLike, title: str = ""
) -> None:
    """Heatmap of mutagenesis scores [mut_len, 4] (rows A, C, G, T), reference bases dotted."""
    scores = np.asarray(scores, dtype=np.float32)
    limit = float(np.abs(scores).max()) or 1.0
    fig, ax = plt.subplots(figsize=(max(4, len(scores) / 8), 1.8))
    image = ax.imshow(
        scores.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
    )
    ref_pos, ref_base = np.nonzero(np.asarray(seq_1hot) == 1)
    ax.scatter(ref_pos, ref_base, s=4, color="black")
    ax.set_yticks(range(4), list("ACGT"))
    ax.set_xlabel("position in the mutated region (bp)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03)
    save_figure(fig, stem)


def histogram(
    values: np.ndarray, stem: str | os.PathLike, xlabel: str = "", title: str = "", bins: int = 50
) -> None:
    """Histogram of ``values`` (any shape, NaN dropped) with a log-scaled count axis."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    fig, ax = plt.subplots(figsize=(4, 3))
    if values.size:
        ax.hist(values, bins=bins, color="tab:blue", log=True)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title, fontsize=9)
    save_figure(fig, stem)


def motif_logo(pwm: np.ndarray, stem: str | os.PathLike, title: str = "") -> None:
    """Information-content logo of a position weight matrix (logomaker).

    Args:
        pwm: [width, 4] base probabilities (A, C, G, T) per position.
        stem: output path without extension (.pdf and .png are written).
        title: figure title.
    """
    import logomaker
    import pandas as pd

    probs = pd.DataFrame(np.asarray(pwm, dtype=np.float64), columns=list("ACGT"))
    info = logomaker.transform_matrix(probs, from_type="probability", to_type="information")
    fig, ax = plt.subplots(figsize=(max(2.5, 0.35 * len(probs)), 1.8))
    colors = {b: _BASE_COLORS[b] for b in "ACGT"}
    logomaker.Logo(info, ax=ax, color_scheme=colors, font_name="DejaVu Sans")
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")
    ax.set_title(title, fontsize=9)
    save_figure(fig, stem)


def weight_heatmap(weights: np.ndarray, stem: str | os.PathLike, title: str = "") -> None:
    """Heatmap of a first-layer filter's weights [width, 4] (rows A, C, G, T)."""
    weights = np.asarray(weights, dtype=np.float32)
    limit = float(np.abs(weights).max()) or 1.0
    fig, ax = plt.subplots(figsize=(max(3, 0.3 * len(weights)), 1.8))
    image = ax.imshow(weights.T, aspect="auto", cmap="PRGn", vmin=-limit, vmax=limit)
    ax.set_yticks(range(4), list("ACGT"))
    ax.set_xticks(range(len(weights)), [str(i + 1) for i in range(len(weights))], fontsize=6)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03)
    save_figure(fig, stem)


def _cluster_order(matrix: np.ndarray) -> np.ndarray:
    """Row order of average-linkage clustering (NaN as 0); as is for under three rows."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    if len(matrix) < 3:
        return np.arange(len(matrix))
    return leaves_list(linkage(np.nan_to_num(matrix), "average"))


def clustered_heatmap(
    matrix: np.ndarray,
    stem: str | os.PathLike,
    row_labels: list[str] | None = None,
    col_labels: list[str] | None = None,
    cmap: str = "viridis",
    center: bool = False,
    title: str = "",
) -> None:
    """Heatmap with rows and columns in hierarchical-clustering (average linkage) order.

    Args:
        matrix: [rows, cols] values (NaN drawn blank).
        stem: output path without extension (.pdf and .png are written).
        row_labels: one tick label per row (None: none).
        col_labels: one tick label per column (None: none).
        cmap: colour map.
        center: symmetric colour scale around 0.
        title: figure title.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    rows, cols = _cluster_order(matrix), _cluster_order(matrix.T)
    ordered = matrix[rows][:, cols]
    finite = ordered[np.isfinite(ordered)]
    if not finite.size:
        vmin, vmax = 0.0, 1.0
    elif center:
        limit = float(np.abs(finite).max()) or 1.0
        vmin, vmax = -limit, limit
    else:
        vmin, vmax = np.percentile(finite, [0.1, 99.9])
    fig, ax = plt.subplots(figsize=(6, max(3, 0.12 * len(rows))))
    image = ax.imshow(
        ordered, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
    )
    if row_labels is not None:
        ax.set_yticks(range(len(rows)), [row_labels[i] for i in rows], fontsize=4)
    else:
        ax.set_yticks([])
    if col_labels is not None:
        ax.set_xticks(range(len(cols)), [col_labels[i] for i in cols], fontsize=4, rotation=90)
    else:
        ax.set_xticks([])
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.03)
    save_figure(fig, stem)


def track_comparison(
    start_bp: int,
    bin_bp: int,
    tracks: dict[str, tuple[np.ndarray, np.ndarray]],
    stem: str | os.PathLike,
    title: str = "",
    show_r: bool = False,
) -> None:
    """Observed vs predicted coverage, one panel per track.

    Args:
        start_bp: genomic start of the first bin.
        bin_bp: bin width (bp).
        tracks: name -> (observed [bins], predicted [bins]).
        stem: output path without extension (.png and .pdf are written).
        title: figure title.
        show_r: write in each panel the Pearson R of the two curves drawn (raw values, the
            bins shown; NaN bins left out).
    """
    fig, axes = plt.subplots(
        len(tracks), 1, figsize=(9, 1.6 * len(tracks)), sharex=True, squeeze=False
    )
    for ax, (name, (observed, predicted)) in zip(axes[:, 0], tracks.items()):
        x = start_bp + bin_bp * np.arange(len(observed))
        ax.fill_between(x, observed, step="post", color="0.7", label="observed")
        ax.step(x, predicted, where="post", color="tab:blue", linewidth=1, label="predicted")
        ax.set_ylabel(name, fontsize=8)
        if show_r:
            finite = np.isfinite(observed) & np.isfinite(predicted)
            r = pearson_r(np.asarray(observed)[finite], np.asarray(predicted)[finite])
            ax.text(0.01, 0.95, f"Pearson R {r:.3f}", transform=ax.transAxes, fontsize=7, va="top")
    axes[0, 0].legend(loc="upper right", fontsize=7, frameon=False)
    axes[0, 0].set_title(title, fontsize=9)
    axes[-1, 0].set_xlabel("position (bp)")
    save_figure(fig, stem)

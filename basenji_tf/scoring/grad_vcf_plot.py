"""Figures of basenji_grad_vcf.py: REF and ALT contribution logos and their difference.

One PNG per variant (matplotlib, Agg backend): the REF and the ALT window's contributions
over ``flank`` bp each side of the variant as sequence logos (logomaker, of the ``motifs``
extra; without it, bars coloured by base), the difference ALT - REF there, and the
difference over the whole stored window; the variant's bases are shaded.
"""

from __future__ import annotations

import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from basenji_tf.files import atomic_path  # noqa: E402

FLANK = 20
"""bp drawn each side of the variant in the logos."""

_COLORS = ("tab:green", "tab:blue", "orange", "tab:red")  # A C G T


def plot_names(ids: list[str], alts: list[str]) -> list[str]:
    """One file name stem per variant: its ID with path-unsafe characters replaced.

    A repeated ID (the ALTs of a multi-allelic record) gets ``_<ALT>``, then ``_<row>``.
    """
    names, used = [], set()
    for row, (vid, alt) in enumerate(zip(ids, alts)):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", vid) or f"variant{row}"
        if name in used:
            name = f"{name}_{alt}"
        if name in used:
            name = f"{name}_{row}"
        used.add(name)
        names.append(name)
    return names


def _logo(ax: plt.Axes, values: np.ndarray, first: int) -> None:
    """Contributions [n, 4] as a logo at x = first .. first + n - 1."""
    try:
        import logomaker
        import pandas as pd
    except ImportError:
        logomaker = None
    x = np.arange(first, first + len(values))
    if logomaker is not None:
        frame = pd.DataFrame(values.astype(np.float64), index=x, columns=list("ACGT"))
        logomaker.Logo(frame, ax=ax, color_scheme="classic")
        return
    heights = values.sum(axis=1)
    base = np.where(np.abs(values).sum(axis=1) > 0, np.argmax(np.abs(values), axis=1), 0)
    ax.bar(x, heights, width=0.9, color=[_COLORS[b] for b in base])
    ax.axhline(0, color="grey", linewidth=0.5)


def variant_figure(
    ref: np.ndarray,
    alt: np.ndarray,
    diff: np.ndarray,
    center: int,
    span: int,
    title: str,
    flank: int = FLANK,
) -> plt.Figure:
    """The figure of one variant.

    Args:
        ref: REF contributions [W, 4] of the stored slice.
        alt: ALT contributions [W, 4].
        diff: [W] ALT - REF contributions summed over bases.
        center: index of the variant's first base in the slice.
        span: the variant's length (bp).
        title: figure title.
        flank: bp drawn each side in the logos.

    Returns:
        the figure; x is bp relative to the variant's first base.
    """
    lo, hi = max(0, center - flank), min(len(diff), center + span + flank)
    rel = np.arange(len(diff)) - center
    fig, axes = plt.subplots(4, 1, figsize=(9, 7.5), constrained_layout=True)
    limit = float(max(np.abs(ref[lo:hi]).sum(1).max(), np.abs(alt[lo:hi]).sum(1).max())) or 1.0
    for ax, values, label in ((axes[0], ref, "REF"), (axes[1], alt, "ALT")):
        _logo(ax, values[lo:hi], lo - center)
        ax.set_ylim(-1.1 * limit, 1.1 * limit)
        ax.set_ylabel(f"{label} contribution", fontsize=8)
    axes[2].bar(rel[lo:hi], diff[lo:hi], width=0.9, color="tab:purple")
    axes[2].set_ylabel("ALT - REF", fontsize=8)
    axes[3].plot(rel, diff, color="tab:purple", linewidth=0.6)
    axes[3].axvline(0, color="goldenrod", linewidth=0.8, linestyle="--")
    axes[3].set_ylabel("ALT - REF", fontsize=8)
    axes[3].set_xlabel("bp from the variant (stored window)")
    for ax in axes[:3]:
        ax.set_xlim(lo - center - 0.5, hi - center - 0.5)
    for ax in axes:
        ax.axvspan(-0.5, span - 0.5, color="gold", alpha=0.3, linewidth=0)
        ax.tick_params(labelsize=7)
    axes[0].set_title(title, fontsize=9)
    return fig


def write_variant_plots(
    plot_dir: str, arrays: dict[str, np.ndarray], center: int, method: str, flank: int = FLANK
) -> list[str]:
    """``plot_dir/<id>.png`` per variant of a scores.h5's datasets; returns the paths.

    Args:
        plot_dir: created if missing.
        arrays: the datasets of :func:`basenji_tf.scoring.grad_vcf.read_grad_vcf_h5`.
        center: index of the variants' first base in the stored slice (its ``center``).
        method: the attribution method, for the titles.
        flank: bp drawn each side of the variant in the logos.
    """
    os.makedirs(plot_dir, exist_ok=True)
    ids = [v.decode() for v in arrays["id"]]
    refs = [v.decode() for v in arrays["ref"]]
    alts = [v.decode() for v in arrays["alt"]]
    paths = []
    for i, name in enumerate(plot_names(ids, alts)):
        chrom, pos = arrays["chr"][i].decode(), int(arrays["pos"][i])
        title = f"{ids[i]} {chrom}:{pos} {refs[i]}>{alts[i]} ({method})"
        fig = variant_figure(
            arrays["ref_contributions"][i], arrays["alt_contributions"][i], arrays["diff"][i],
            center, len(refs[i]), title, flank,
        )  # fmt: skip
        path = os.path.join(plot_dir, f"{name}.png")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths

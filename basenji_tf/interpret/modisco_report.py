"""``basenji_modisco.py``'s report.html: each pattern's contribution logo and matches.

One table row per pattern, most seqlets first: its name, seqlet count, consensus (of the
trimmed sequence matrix), a logomaker logo of its contribution weights (``logos/<name>.png``,
linked relatively, so the folder can be moved or served as it is) and its best database
matches with their q-values.
"""

from __future__ import annotations

import html
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from basenji_tf.files import atomic_path, write_text_atomic  # noqa: E402
from basenji_tf.interpret.motifs import ORDER_SHUFFLES, TOMTOM_Q, consensus  # noqa: E402

LOGO_FLANK = 4
"""bp drawn either side of the trimmed pattern (modisco-lite's report draws 4)."""

_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


def contribution_logo(contrib: np.ndarray, path: str, title: str = "") -> None:
    """A PNG logo of contribution weights [P, 4] (letters below the axis where negative)."""
    import logomaker

    frame = pd.DataFrame(np.asarray(contrib, np.float64), columns=list("ACGT"))
    fig, ax = plt.subplots(figsize=(max(3.0, 0.3 * len(frame)), 1.6))
    logomaker.Logo(frame, ax=ax, color_scheme=_COLORS, font_name="DejaVu Sans")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_ylabel("contribution")
    ax.set_title(title, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def write_report(
    out_dir: str,
    patterns: list,
    matches: pd.DataFrame,
    top: int,
    scores_file: str,
    database: str,
) -> None:
    """``out_dir/report.html`` and its ``out_dir/logos/<pattern>.png``.

    Args:
        out_dir: output directory.
        patterns: the :class:`basenji_tf.interpret.modisco.Pattern` objects, in table order.
        matches: :func:`basenji_tf.interpret.motifs.tomtom_matches`'s table of them.
        top: matches shown per pattern.
        scores_file: the attribution file, named in the heading.
        database: the motif database, named in the heading.
    """
    with atomic_path(os.path.join(out_dir, "logos"), is_dir=True) as logo_dir:
        for pattern in patterns:
            a, b = pattern.trimmed()
            a, b = max(a - LOGO_FLANK, 0), min(b + LOGO_FLANK, len(pattern.contrib))
            path = os.path.join(logo_dir, f"{pattern.name}.png")
            contribution_logo(pattern.contrib[a:b], path, pattern.name)
    rows = []
    for pattern in patterns:
        own = matches[matches["Query_ID"] == pattern.name].head(top)
        found = "<br>".join(
            f"{html.escape(str(m['Target_ID']))} {html.escape(str(m['Target_name']))} "
            f"(q = {m['q-value']:.2g})"
            for _, m in own.iterrows()
        )
        name = html.escape(pattern.name)
        rows.append(
            f"<tr><td>{name}</td><td>{pattern.seqlets}</td>"
            f"<td><code>{consensus(pattern.pwm() - 0.25)}</code></td>"
            f'<td><img src="logos/{name}.png" alt="{name}" height="110"></td>'
            f"<td>{found or 'none'}</td></tr>"
        )
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>TF-MoDISco patterns</title>
<style>body{{font-family:sans-serif}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:middle}}</style></head>
<body><h1>TF-MoDISco patterns</h1>
<p>Attributions: {html.escape(scores_file)}. Matches: Tomtom against
{html.escape(database)} (Pearson-equivalent columns, q &lt; {TOMTOM_Q}, better than each of
{ORDER_SHUFFLES} column shuffles of the pattern); top {top} per pattern.</p>
<table><tr><th>pattern</th><th>seqlets</th><th>consensus</th><th>contributions</th>
<th>matches</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    write_text_atomic(os.path.join(out_dir, "report.html"), page)

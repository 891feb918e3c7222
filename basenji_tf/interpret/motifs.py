"""``basenji_motifs.py``: what the first convolution layer's filters have learned.

For each filter: the sites where its activation on a split's sequences passes a threshold
give a position weight matrix (PWM), written to a MEME-format file, drawn as a logo
(logomaker) and compared with a motif database by Tomtom (memelite): JASPAR CORE
vertebrates (pyjaspar, offline) by default, or a MEME file (``-m``).

Outputs in ``out_dir``: ``filters_meme.txt``, ``tomtom.tsv`` (matches with q < 0.1),
``table.txt`` (filter, consensus, annotation, ic, mean, std), ``filter{f}_heat`` (weights),
``filter{f}_logo`` (PWM), with ``-d`` ``filter{f}_dens`` (activation histogram), with
``--heat`` ``filter_seqs`` and ``filter_target_cors_{mean,max}``; figures as PDF + PNG.

Differences from the original:

* ``-c`` takes the convolution's output; without it the normalisation's (the original's
  ``~options.post_conv`` made both cases the normalisation's);
* Tomtom is memelite's (no MEME suite or weblogo install is needed), given columns that
  make its Euclidean score a function of each column pair's Pearson correlation, as the
  original's ``tomtom -dist pearson`` (:func:`tomtom_columns`): on raw probabilities a
  uniform filter column is a perfect match for every uniform database column, and every
  filter of a demo model matched the runs of uniform columns inside JASPAR's extended
  CTCF matrices (MA1929, MA1930). q-values are Benjamini-Hochberg over all filter-motif
  pairs; a match must also beat every one of ``ORDER_SHUFFLES`` column shuffles of its
  filter (a match its shuffles make as well is one of base composition, not of a motif);
* ``-v`` (parsed but unused in the original) keeps only the sites among the ``-v``
  fraction of positions whose activations vary most across filters;
* the information content's background frequencies sum to 1 (the original's GC
  background summed to 2);
* ``--heat`` draws the sequence heatmap and target correlations but not the
  original's segment heatmaps (which failed on Python 3 division).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd

from basenji_tf import plots, seqnn
from basenji_tf.dataset import SeqDataset
from basenji_tf.dna import hot1_index
from basenji_tf.errors import InputError
from basenji_tf.execute import make_executor
from basenji_tf.files import write_text_atomic
from basenji_tf.metrics import benjamini_hochberg

log = logging.getLogger(__name__)

MIN_SITES = 10
"""Filters with fewer sites get no PWM (information content 0), as in the original."""

BG_GC = 0.415  # hg19's GC content: the background of the information content
TOMTOM_Q = 0.1
"""Matches are kept below this q-value (the original's ``tomtom -thresh 0.1``)."""

ORDER_SHUFFLES = 19
"""A match must have a smaller p-value than each of this many column shuffles of its
query against the same target: a permutation p-value of 1 / (19 + 1) = 0.05. A uniformly
GC-rich (or A-rich) filter matches GC-rich motifs as well when its columns are shuffled;
that is its base composition, not a motif."""

UNIFORM_ATOL = 1e-12
"""A column within this (float round-off) of 1/4 per base is uniform: it has no direction."""


@dataclass(frozen=True)
class MotifOptions:
    """Options of ``basenji_motifs.py`` (see its ``--help``).

    Attributes:
        act_t: site threshold, as a fraction of the way from the mean to the maximum
            activation of the filter.
        post_conv: activations of the convolution instead of its normalisation.
        plot_density: draw a histogram of each filter's activations.
        plot_heats: draw the filter-by-sequence heatmap and filter-target correlations.
        seq_length_crop: use the central bp of each sequence.
        meme_db: MEME motif file to match (None: JASPAR CORE vertebrates).
        parallel_threads: processes drawing logos, and Tomtom threads.
        sample: use this many sequences drawn at random.
        trim_filters: trim positions of information content < 0.2 off the PWM ends.
        split: split label of the sequences.
        tfr_pattern: glob under ``tfrecords/`` instead of ``{split}-*.tfr``.
        high_var_pct: fraction of positions (most variable across filters) to take sites
            from.
        seed: seed of ``sample`` and of the queries' column shuffles (``ORDER_SHUFFLES``).
    """

    act_t: float = 0.5
    post_conv: bool = False
    plot_density: bool = False
    plot_heats: bool = False
    seq_length_crop: int | None = None
    meme_db: str | None = None
    parallel_threads: int = 1
    sample: int | None = None
    trim_filters: bool = False
    split: str = "test"
    tfr_pattern: str | None = None
    high_var_pct: float = 1.0
    seed: int = 1


# ---------------------------------------------------------------------------------------
# The first layer


def first_layer(model: seqnn.SeqNN, post_conv: bool = False) -> tuple[keras.Model, np.ndarray]:
    """The trunk's layers up to the first convolution (and its normalisation).

    Returns:
        (model one-hot [B, L, 4] -> activations [B, L, F] for any L, weights
        [F, width, 4]).

    Raises:
        InputError: the trunk has no Conv1D, or the layers before it are not a chain.
    """
    layers = model.model_trunk.layers[1:]
    conv_i = next((i for i, lay in enumerate(layers) if isinstance(lay, keras.layers.Conv1D)), None)
    if conv_i is None:
        raise InputError("params: the model's trunk has no Conv1D layer; nothing to analyse")
    last = conv_i
    norms = (keras.layers.BatchNormalization, keras.layers.LayerNormalization)
    if not post_conv and conv_i + 1 < len(layers) and isinstance(layers[conv_i + 1], norms):
        last = conv_i + 1
    sequence = keras.Input((None, 4), name="sequence")
    current = sequence
    for layer in layers[: last + 1]:
        current = layer(current)
    kernel = np.asarray(layers[conv_i].get_weights()[0])  # [width, 4, F]
    return keras.Model(sequence, current, name="first_layer"), kernel.transpose(2, 0, 1)


def site_mask(acts: np.ndarray, high_var_pct: float) -> np.ndarray | None:
    """Positions [N, L] among the ``high_var_pct`` most variable across filters (None: all)."""
    if not 0 < high_var_pct <= 1:
        raise InputError(f"-v {high_var_pct}: give a fraction in (0, 1]")
    if high_var_pct == 1:
        return None
    var = acts.var(axis=2)
    return var >= np.quantile(var, 1 - high_var_pct)


def filter_sites(acts_f: np.ndarray, act_t: float, mask: np.ndarray | None) -> np.ndarray:
    """(sequence, position) pairs [n, 2] where one filter's activation passes the threshold.

    The threshold is ``mean + act_t * (max - mean)`` of the filter's activations [N, L].
    """
    mean = acts_f.mean(dtype=np.float64)
    threshold = mean + act_t * (acts_f.max() - mean)
    above = acts_f > threshold
    if mask is not None:
        above &= mask
    return np.argwhere(above)


def site_pwm(codes: np.ndarray, sites: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """Base frequencies of the ``width`` bp centred on each site.

    Args:
        codes: uint8 [N, L] base codes (A0 C1 G2 T3, N4).
        sites: [n, 2] (sequence, position of the filter's output).
        width: filter width (bp); the window starts ``(width - 1) // 2`` bp before the site.

    Returns:
        (PWM [width, 4] with one pseudocount per base, an N counting 1/4 to each; n).
    """
    left = (width - 1) // 2
    padded = np.pad(codes, ((0, 0), (width, width)), constant_values=4)
    counts = np.ones((width, 4))
    if len(sites):
        cols = sites[:, 1:2] - left + width + np.arange(width)
        windows = padded[sites[:, :1], cols]  # [n, width]
        weights = np.vstack([np.eye(4), np.full(4, 0.25)])
        counts += weights[windows].sum(axis=0)
    return counts / (len(sites) + 4), len(sites)


def info_content(pwm: np.ndarray, bg_gc: float = BG_GC) -> float:
    """Information content (bits) of a PWM [width, 4] against a GC background."""
    bg = np.array([1 - bg_gc, bg_gc, bg_gc, 1 - bg_gc]) / 2
    entropy_bg = -(bg * np.log2(bg)).sum()
    return float(np.sum(entropy_bg + (pwm * np.log2(pwm + 1e-9)).sum(axis=1)))


def trim_pwm(pwm: np.ndarray, min_ic: float = 0.2) -> np.ndarray:
    """The PWM without its leading and trailing positions of information content < min_ic."""
    keep = [i for i in range(len(pwm)) if info_content(pwm[i : i + 1]) >= min_ic]
    return pwm[keep[0] : keep[-1] + 1] if keep else pwm[:0]


def consensus(weights: np.ndarray) -> str:
    """Each position's best base by weight [width, 4], N where no weight is positive."""
    best = weights.argmax(axis=1)
    return "".join("ACGT"[b] if weights[i, b] > 0 else "N" for i, b in enumerate(best))


# ---------------------------------------------------------------------------------------
# MEME files and Tomtom


def meme_text(pwms: dict[str, tuple[np.ndarray, int]], background: np.ndarray) -> str:
    """A MEME (version 4) motif file of name -> (PWM [width, 4], sites)."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", ""]
    lines += [
        "Background letter frequencies:",
        "A {:.4f} C {:.4f} G {:.4f} T {:.4f}".format(*background),
    ]
    for name, (pwm, nsites) in pwms.items():
        lines += ["", f"MOTIF {name}"]
        lines.append(f"letter-probability matrix: alength= 4 w= {len(pwm)} nsites= {nsites}")
        lines += [" ".join(f"{x:.4f}" for x in row) for row in pwm]
    return "\n".join(lines) + "\n"


def read_motif_db(
    meme_db: str | None, tax_group: str = "vertebrates"
) -> tuple[list[str], list[str], list[np.ndarray]]:
    """(ids, protein names, PWMs [4, width]) of a MEME file, or of JASPAR (None).

    JASPAR: the CORE matrices of ``tax_group`` (vertebrates, plants, insects, nematodes,
    fungi, urochordates) in pyjaspar's newest release.
    """
    if meme_db is None:
        from pyjaspar import jaspardb

        motifs = jaspardb().fetch_motifs(collection="CORE", tax_group=[tax_group])
        if not motifs:
            raise InputError(
                f"JASPAR CORE has no {tax_group!r} matrices; give a JASPAR taxonomic group "
                "(vertebrates, plants, insects, nematodes, fungi, urochordates)"
            )
        pwms = [np.array([m.counts.normalize()[b] for b in "ACGT"]) for m in motifs]
        return [m.matrix_id for m in motifs], [m.name for m in motifs], pwms
    from memelite.io import read_meme

    if not os.path.isfile(meme_db):
        raise InputError(f"{meme_db}: no such MEME file; give -m a MEME motif file")
    motifs = read_meme(meme_db)
    if not motifs:
        raise InputError(f"{meme_db}: no MOTIF found; give -m a MEME motif file")
    ids = [key.split()[0] for key in motifs]
    names = [(key.split() + [key])[1].strip("()") for key in motifs]
    pwms = [np.asarray(m, np.float64) for m in motifs.values()]
    for motif_id, pwm in zip(ids, pwms):
        if pwm.min() < 0 or not (pwm.sum(axis=0) > 0).all():
            raise InputError(
                f"{meme_db}: motif {motif_id} has a negative or all-zero column; "
                "give -m letter-probability matrices"
            )
    return ids, names, pwms


def tomtom_columns(pwm: np.ndarray, target: bool) -> np.ndarray:
    """A PWM as the columns given to memelite's tomtom, so that it scores by correlation.

    memelite scores a query column ``a`` against a target column ``b`` by ``-||a - b||``.
    With ``a = q - 1/4`` and ``b = (t - 1/4) / ||t - 1/4||`` (q, t: a column's base
    probabilities) that is ``-sqrt(||q - 1/4||^2 + 1 - 2 ||q - 1/4|| r)``, where r is the
    Pearson correlation of q and t (MEME tomtom's ``-dist pearson``, the original's): it
    grows with r, and its spread over the target columns grows with how far the query
    column is from uniform, so weak query columns count less. A uniform query column is
    ``a = 0``, the same distance from every (unit) target column: it adds nothing. A
    uniform target column is ``b = (1/2, 1/2, 1/2, 1/2)``, a unit vector orthogonal to
    every ``a``: r = 0. Reversing both axes still gives the reverse complement.

    On raw probabilities (what memelite's score is for) a uniform query column is nearest
    to uniform target columns, and Tomtom's null draws target columns independently, so a
    flat filter aligned to a run of near-uniform database columns scores as a near-perfect
    match of an improbable target: a uniform 15-column matrix matched CTCF MA1930.2 (12
    columns of < 0.25 bits in a row) at p = 5e-15.

    Args:
        pwm: [4, width] base weights (rows A, C, G, T), each column rescaled to sum to 1.
        target: a database motif (unit columns), not a query.

    Returns:
        float64 [4, width], C-contiguous.
    """
    centred = pwm / pwm.sum(axis=0, keepdims=True) - 0.25
    if not target:
        return np.ascontiguousarray(centred)
    norm = np.linalg.norm(centred, axis=0, keepdims=True)
    uniform = norm <= UNIFORM_ATOL
    unit = np.where(uniform, 0.5, centred / np.where(uniform, 1.0, norm))
    return np.ascontiguousarray(unit)


def tomtom_matches(
    queries: dict[str, np.ndarray],
    db: tuple[list[str], list[str], list[np.ndarray]],
    threads: int,
    seed: int = 1,
) -> pd.DataFrame:
    """Tomtom matches (q < TOMTOM_Q) of query PWMs [width, 4] against a motif database.

    Each pair's p-value is memelite's Tomtom p-value of correlation scores
    (:func:`tomtom_columns`) for the best offset and strand; q-values are
    Benjamini-Hochberg over all query x target pairs. A pair is kept when its q-value is
    below TOMTOM_Q and its p-value is below that of each of ``ORDER_SHUFFLES`` seeded
    column shuffles of the query against the same target. A query with no column away
    from uniform matches nothing (p = 1).

    Args:
        queries: name -> PWM [width, 4].
        db: (ids, names, PWMs [4, width]) as :func:`read_motif_db` returns.
        threads: Tomtom (numba) threads.
        seed: seed of the column shuffles.

    Returns:
        rows Query_ID, Target_ID, Target_name, Optimal_offset, p-value, q-value, Overlap,
        Orientation, sorted by query and q-value.
    """
    from memelite import tomtom

    columns = ["Query_ID", "Target_ID", "Target_name", "Optimal_offset", "p-value", "q-value"]
    columns += ["Overlap", "Orientation"]
    ids, names, targets = db
    pwms = [np.asarray(pwm, np.float64).T for pwm in queries.values()]  # [4, width]
    live = [
        i for i, pwm in enumerate(pwms) if np.abs(tomtom_columns(pwm, False)).max() > UNIFORM_ATOL
    ]
    if not live:
        return pd.DataFrame(columns=columns)
    rng = np.random.default_rng(seed)
    batch = []  # each live query, then its shuffles
    for i in live:
        batch.append(pwms[i])
        batch += [pwms[i][:, rng.permutation(pwms[i].shape[1])] for _ in range(ORDER_SHUFFLES)]
    p_all, _, offsets, overlaps, strands = tomtom(
        [tomtom_columns(pwm, False) for pwm in batch],
        [tomtom_columns(np.asarray(t, np.float64), True) for t in targets],
        n_jobs=threads,
    )
    n = ORDER_SHUFFLES + 1
    p_all = p_all.reshape(len(live), n, len(targets))
    p = np.ones((len(pwms), len(targets)))  # uniform queries: p = 1, still in the correction
    p[live] = p_all[:, 0]
    q = benjamini_hochberg(p)[live]
    keep = (q < TOMTOM_Q) & (p_all[:, :1] < p_all[:, 1:]).all(axis=1)
    names_q = list(queries)
    rows = [
        (names_q[i], ids[t], names[t], int(offsets[j * n, t]), p_all[j, 0, t], q[j, t],
         int(overlaps[j * n, t]), "-" if strands[j * n, t] else "+")
        for j, i in enumerate(live)
        for t in np.nonzero(keep[j])[0]
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["Query_ID", "q-value"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# The command


def _draw_logo(task: tuple[np.ndarray, str, str]) -> None:
    """One filter's logo (a task of the logo executor)."""
    pwm, stem, title = task
    plots.motif_logo(pwm, stem, title=title)


def _split_arrays(
    data_dir: str, options: MotifOptions, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(one-hot float32 [N, L, 4], mean targets per sequence [N, T]) of the split."""
    data = SeqDataset(
        data_dir, options.split, batch_size, mode="eval", tfr_pattern=options.tfr_pattern,
        seq_length_crop=options.seq_length_crop,
    )  # fmt: skip
    seqs, targets = data.numpy(return_inputs=True, return_outputs=True, dtype="float32")
    if options.sample is not None and options.sample < len(seqs):
        rng = np.random.default_rng(options.seed)
        pick = np.sort(rng.choice(len(seqs), size=options.sample, replace=False))
        seqs, targets = seqs[pick], targets[pick]
    if not len(seqs):
        raise InputError(f"{data_dir}: split {options.split!r} has no sequences")
    return seqs, targets.mean(axis=1)


def filter_pwms(
    acts: np.ndarray, codes: np.ndarray, width: int, options: MotifOptions
) -> dict[int, tuple[np.ndarray, int]]:
    """Filter index -> (PWM [width, 4], sites) for every filter with at least MIN_SITES."""
    mask = site_mask(acts, options.high_var_pct)
    pwms = {}
    for f in range(acts.shape[2]):
        pwm, nsites = site_pwm(codes, filter_sites(acts[..., f], options.act_t, mask), width)
        if nsites >= MIN_SITES:
            pwms[f] = (pwm, nsites)
    return pwms


def run_motifs(
    params_file: str, model_file: str, data_dir: str, out_dir: str, options: MotifOptions
) -> pd.DataFrame:
    """Analyse the first-layer filters of a model on a split of a data directory.

    Returns:
        the table written to ``out_dir/table.txt``.
    """
    motif_db = read_motif_db(options.meme_db)  # a bad -m fails before the model runs
    model = seqnn.load(params_file, model_file)
    embed, weights = first_layer(model, options.post_conv)
    batch_size = int(model.params_json.get("train", {}).get("batch_size", 4))
    seqs, seq_targets = _split_arrays(data_dir, options, batch_size)
    acts = seqnn.predict_model(embed, seqs, batch_size)  # calls of one shape
    codes = hot1_index(seqs)
    pwms = filter_pwms(acts, codes, weights.shape[1], options)
    os.makedirs(out_dir, exist_ok=True)

    counts = np.bincount(codes.ravel(), minlength=5)[:4] + 1
    meme = {
        f"filter{f}": (trim_pwm(p) if options.trim_filters else p, n) for f, (p, n) in pwms.items()
    }
    meme = {k: v for k, v in meme.items() if len(v[0]) > 1}
    write_text_atomic(
        os.path.join(out_dir, "filters_meme.txt"), meme_text(meme, counts / counts.sum())
    )
    matches = tomtom_matches(
        {k: v[0] for k, v in meme.items()}, motif_db, options.parallel_threads, options.seed
    )
    matches.to_csv(os.path.join(out_dir, "tomtom.tsv"), sep="\t", index=False, float_format="%.4g")
    best = matches.drop_duplicates("Query_ID").set_index("Query_ID")["Target_name"]

    table = pd.DataFrame(
        {
            "filter": np.arange(weights.shape[0]),
            "consensus": [consensus(w) for w in weights],
            "annotation": [best.get(f"filter{f}", ".") for f in range(weights.shape[0])],
            "ic": [info_content(pwms[f][0]) if f in pwms else 0.0 for f in range(weights.shape[0])],
            "mean": acts.mean(axis=(0, 1), dtype=np.float64),
            "std": acts.std(axis=(0, 1), dtype=np.float64),
        }
    )
    write_text_atomic(
        os.path.join(out_dir, "table.txt"), table.to_csv(sep="\t", index=False, float_format="%.4f")
    )
    _filter_figures(out_dir, weights, pwms, acts, table, options)
    if options.plot_heats:
        _heat_figures(out_dir, acts, seq_targets, table, data_dir)
    return table


def _filter_figures(
    out_dir: str,
    weights: np.ndarray,
    pwms: dict[int, tuple[np.ndarray, int]],
    acts: np.ndarray,
    table: pd.DataFrame,
    options: MotifOptions,
) -> None:
    """Per filter: weight heatmap, logo (in ``parallel_threads`` processes), density."""
    for f in range(weights.shape[0]):
        plots.weight_heatmap(weights[f], os.path.join(out_dir, f"filter{f}_heat"), f"filter {f}")
        if options.plot_density:
            plots.histogram(
                acts[..., f], os.path.join(out_dir, f"filter{f}_dens"), "activation", f"filter {f}"
            )
    tasks = [
        (pwm, os.path.join(out_dir, f"filter{f}_logo"), f"filter {f} {table['annotation'][f]}")
        for f, (pwm, _) in pwms.items()
    ]
    with make_executor(max(1, options.parallel_threads)) as executor:
        executor.map(_draw_logo, tasks, progress="logos")


def _heat_figures(
    out_dir: str, acts: np.ndarray, seq_targets: np.ndarray, table: pd.DataFrame, data_dir: str
) -> None:
    """Filter x sequence heatmap (whitened mean activations) and filter-target correlations."""
    from scipy.stats import spearmanr

    names = [
        f"f{f}_{a}" if a != "." else f"f{f}" for f, a in zip(table["filter"], table["annotation"])
    ]
    per_seq = acts.mean(axis=1)  # [N, F]
    std = per_seq.std(axis=0)
    live = std > 0
    whitened = (per_seq[:, live] - per_seq[:, live].mean(axis=0)) / std[live]
    live_names = [n for n, keep in zip(names, live) if keep]
    plots.clustered_heatmap(whitened.T, os.path.join(out_dir, "filter_seqs"), live_names)
    targets_file = os.path.join(data_dir, "targets.txt")
    target_names = (
        pd.read_csv(targets_file, sep="\t", index_col=0)["identifier"].astype(str).tolist()
        if os.path.isfile(targets_file)
        else [f"t{t}" for t in range(seq_targets.shape[1])]
    )
    for op in ("mean", "max"):
        per_seq = getattr(acts, op)(axis=1)[:, live]
        cors = np.full((per_seq.shape[1], seq_targets.shape[1]), np.nan)
        if len(per_seq) > 2:
            for fi in range(per_seq.shape[1]):
                for ti in range(seq_targets.shape[1]):
                    cors[fi, ti] = spearmanr(per_seq[:, fi], seq_targets[:, ti])[0]
        plots.clustered_heatmap(
            cors, os.path.join(out_dir, f"filter_target_cors_{op}"), live_names,
            target_names, cmap="BrBG", center=True,
        )  # fmt: skip

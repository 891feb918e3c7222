"""``basenji_modisco.py``: TF-MoDISco (modisco-lite) on the attributions of a scores.h5.

TF-MoDISco (Shrikumar et al. 2018; modisco-lite, Schreiber) cuts high-contribution
*seqlets* out of attribution tracks, clusters them and aggregates each cluster into a
*pattern*: its sequence matrix (base frequencies of its aligned seqlets), contribution
weights and hypothetical contributions. :func:`run_modisco` feeds it a
``basenji_grad_bed.py`` scores.h5 and writes, in ``out_dir``:

* ``modisco_results.h5``: modisco-lite's own format (``modiscolite.io.save_hdf5``), which
  ``modisco report``, ``modisco meme`` and ``modisco seqlet-bed`` read;
* ``patterns.meme``: each pattern's sequence matrix, trimmed as modisco-lite's report
  trims it (:func:`trim_bounds`), in MEME format, named ``pos_patterns.pattern_0`` ...;
* ``matches.tsv``: one row per pattern, most seqlets first, with its best database match;
* ``seqlets.bed``: every seqlet of every pattern at genome coordinates;
* ``report.html`` and ``logos/``: contribution logos and the top database matches
  (:mod:`.modisco_report`).

Database matches are :func:`basenji_tf.interpret.motifs.tomtom_matches`'s, the same as
``basenji_motifs.py``'s: Tomtom of Pearson-equivalent columns, Benjamini-Hochberg q < 0.1
over all pattern x motif pairs, and a p-value below each of 19 column shuffles of the
pattern. The database is JASPAR CORE (pyjaspar, offline; ``jaspar`` names the taxonomic
group) or a MEME file.

modisco-lite takes the one-hot sequences and the hypothetical contributions, and computes
the contributions as their product; a scores.h5 whose ``contributions`` are not that
(``--method saliency``'s absolute gradients) is refused. Its own randomness is seeded
inside the package (seqlet null, Leiden seeds 1..n), so a run repeats exactly; ``seed``
seeds the Tomtom shuffle control.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path, read_h5, write_text_atomic
from basenji_tf.interpret.modisco_report import write_report
from basenji_tf.interpret.motifs import meme_text, read_motif_db, tomtom_matches
from basenji_tf.progress import track

log = logging.getLogger(__name__)

INSTALL = "pip install 'basenji-tf[motifs]'"

TRIM_THRESHOLD = 0.3
"""A pattern is trimmed to the span of positions whose summed absolute contribution is at
least this fraction of its largest (modisco-lite's report and ``modisco meme``)."""

GROUPS = ("pos_patterns", "neg_patterns")
REQUIRED = ("seqs", "hypothetical", "contributions", "chr", "start", "region_start", "region_end")


@dataclass(frozen=True)
class ModiscoOptions:
    """Options of ``basenji_modisco.py`` (see its ``--help``).

    Attributes:
        window_bp: bp around each region's centre given to TF-MoDISco (modisco-lite's
            ``--window``); shifted inside the model window near its ends, and cut to the
            model window's length when longer.
        max_seqlets: seqlets per metacluster (positive, negative) kept, in input order.
        n_leiden: Leiden clusterings (seeds 1..n) per clustering step.
        seed: seed of the Tomtom column-shuffle control.
        jaspar: JASPAR CORE taxonomic group matched when ``meme_db`` is None.
        meme_db: MEME motif file to match instead of JASPAR.
        threads: numba threads of TF-MoDISco and Tomtom (None: numba's default, all cores).
        top_matches: database matches shown per pattern in report.html.
    """

    window_bp: int = 400
    max_seqlets: int = 2000
    n_leiden: int = 2
    seed: int = 1
    jaspar: str = "vertebrates"
    meme_db: str | None = None
    threads: int | None = None
    top_matches: int = 3


@dataclass
class ModiscoInputs:
    """The windows TF-MoDISco sees.

    Attributes:
        one_hot: float32 [N, W, 4] (A, C, G, T).
        hypothetical: float32 [N, W, 4] hypothetical contributions.
        chroms: [N] chromosome of each row.
        starts_bp: int64 [N] genome coordinate (0-based) of each row's first base.
        names: [N] the BED record names.
        window_bp: W.
    """

    one_hot: np.ndarray
    hypothetical: np.ndarray
    chroms: list[str]
    starts_bp: np.ndarray
    names: list[str]
    window_bp: int


@dataclass
class Pattern:
    """One TF-MoDISco pattern as modisco_results.h5 holds it.

    Attributes:
        name: ``pos_patterns.pattern_0`` style (the h5 group and its pattern).
        sequence: [P, 4] base frequencies of the aligned seqlets.
        contrib: [P, 4] mean contributions (the contribution weight matrix).
        example_idx, start, end, is_revcomp: [S] each seqlet's row of the inputs and its
            bp span in that row's window (end exclusive), and its strand.
    """

    name: str
    sequence: np.ndarray
    contrib: np.ndarray
    example_idx: np.ndarray
    start: np.ndarray
    end: np.ndarray
    is_revcomp: np.ndarray

    @property
    def seqlets(self) -> int:
        return len(self.example_idx)

    def trimmed(self) -> tuple[int, int]:
        """[a, b) of the positions kept by :func:`trim_bounds`."""
        return trim_bounds(self.contrib)

    def pwm(self) -> np.ndarray:
        """[b - a, 4] trimmed base frequencies, rows summing to 1 (all-N rows uniform)."""
        a, b = self.trimmed()
        rows = np.asarray(self.sequence[a:b], np.float64)
        sums = rows.sum(axis=1, keepdims=True)
        return np.where(sums > 0, rows / np.where(sums > 0, sums, 1), 0.25)


def trim_bounds(contrib: np.ndarray, threshold: float = TRIM_THRESHOLD) -> tuple[int, int]:
    """[a, b): the span of the positions of ``contrib`` [P, 4] worth keeping.

    They are the first to the last position whose summed absolute contribution is at least
    ``threshold`` x the largest (modisco-lite's report trim).
    """
    score = np.abs(np.asarray(contrib)).sum(axis=1)
    keep = np.nonzero(score >= score.max() * threshold)[0]
    return int(keep[0]), int(keep[-1]) + 1


def import_modiscolite():
    """modisco-lite's package, or an InputError naming the install command."""
    try:
        import modiscolite.io
        import modiscolite.precompile
        import modiscolite.tfmodisco
    except ImportError as err:
        raise InputError(f"TF-MoDISco needs modisco-lite ({err}); {INSTALL}") from err
    return modiscolite


# ---------------------------------------------------------------------------------------
# Input


def _check_layout(h5, scores_file: str) -> tuple[int, int, int]:
    """The shape [N, L, 4] of seqs, once every dataset TF-MoDISco needs is there and agrees."""
    for key in REQUIRED:
        if key not in h5:
            raise InputError(
                f"{scores_file}: no dataset {key!r}; give a scores.h5 written by "
                "basenji_grad_bed.py (seqs, contributions, hypothetical, chr, start, ...)"
            )
    shape = h5["seqs"].shape
    if len(shape) != 3 or shape[2] != 4 or shape[0] == 0:
        raise InputError(f"{scores_file}: seqs has shape {shape}, not [N > 0, L, 4]")
    for key in ("hypothetical", "contributions"):
        if h5[key].shape != shape:
            raise InputError(
                f"{scores_file}: {key} has shape {h5[key].shape}, seqs {shape}; "
                "write the file again with basenji_grad_bed.py"
            )
    for key in REQUIRED[3:]:
        if h5[key].shape != shape[:1]:
            raise InputError(
                f"{scores_file}: {key} has shape {h5[key].shape}, not [{shape[0]}] "
                "(one per row of seqs)"
            )
    return shape


def read_attributions(scores_file: str, window_bp: int) -> ModiscoInputs:
    """The ``window_bp`` around each region's centre of a ``basenji_grad_bed.py`` scores.h5.

    The crop is centred on ``(region_start + region_end) // 2``, moved inward where that
    is within ``window_bp / 2`` of a model window's end; a ``window_bp`` longer than the
    model window is cut to it.

    Raises:
        InputError: a missing dataset, shapes that disagree, non-finite attributions, or
            contributions that are not ``seqs x hypothetical``.
    """
    if not os.path.isfile(scores_file):
        raise InputError(f"{scores_file}: no such file; give a scores.h5 of basenji_grad_bed.py")
    with read_h5(scores_file, "scores.h5") as h5:
        shape = _check_layout(h5, scores_file)
        num, length_bp = shape[:2]
        if window_bp > length_bp:
            log.info("window %d bp is longer than the model window: using %d", window_bp, length_bp)
            window_bp = length_bp
        centres = (h5["region_start"][:] + h5["region_end"][:]) // 2 - h5["start"][:]
        firsts = np.clip(centres - window_bp // 2, 0, length_bp - window_bp).astype(np.int64)
        one_hot = np.zeros((num, window_bp, 4), np.float32)
        hypothetical = np.zeros((num, window_bp, 4), np.float32)
        method = h5.attrs.get("method", "?")
        for i in track(range(num), desc="reading attributions", unit="regions"):
            cut = slice(int(firsts[i]), int(firsts[i]) + window_bp)
            one_hot[i] = h5["seqs"][i, cut]
            hypothetical[i] = h5["hypothetical"][i, cut]
            contributions = h5["contributions"][i, cut]
            if not (np.isfinite(hypothetical[i]).all() and np.isfinite(contributions).all()):
                raise InputError(f"{scores_file}: row {i} has non-finite attributions")
            if not np.allclose(contributions, one_hot[i] * hypothetical[i], rtol=1e-5, atol=1e-8):
                raise InputError(
                    f"{scores_file}: row {i}: contributions are not seqs x hypothetical "
                    f"(method {method}), which TF-MoDISco needs; run basenji_grad_bed.py with "
                    "--method deepshap (or input_x_gradient, integrated_gradients, ...)"
                )
        chroms = [c.decode() if isinstance(c, bytes) else str(c) for c in h5["chr"][:]]
        names = h5["name"][:] if "name" in h5 else [b""] * num
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        starts_bp = h5["start"][:].astype(np.int64) + firsts
    return ModiscoInputs(one_hot, hypothetical, chroms, starts_bp, names, window_bp)


# ---------------------------------------------------------------------------------------
# TF-MoDISco


def discover_patterns(inputs: ModiscoInputs, options: ModiscoOptions, h5_file: str) -> None:
    """Run TF-MoDISco and write its results to ``h5_file`` (modisco-lite's format).

    The settings are modisco-lite's command line's (``modisco motifs``): seqlet cores of
    20 bp with 5 bp flanks, seqlet FDR 0.05, patterns trimmed to 30 bp plus 10 bp flanks.
    """
    modiscolite = import_modiscolite()
    import numba

    # Fork the children that compile modisco-lite's kernels into numba's cache before the
    # thread count below starts numba's threading layer: once it runs, start() may find
    # forking unsafe, and every run would compile the kernels anew (~45 s).
    modiscolite.precompile.start()
    saved = numba.get_num_threads()
    if options.threads:
        numba.set_num_threads(min(options.threads, numba.config.NUMBA_NUM_THREADS))
    try:
        pos, neg = modiscolite.tfmodisco.TFMoDISco(
            one_hot=inputs.one_hot,
            hypothetical_contribs=inputs.hypothetical,
            max_seqlets_per_metacluster=options.max_seqlets,
            sliding_window_size=20,
            flank_size=5,
            trim_to_window_size=30,
            initial_flank_to_add=10,
            final_flank_to_add=0,
            target_seqlet_fdr=0.05,
            n_leiden_runs=options.n_leiden,
        )
    finally:
        numba.set_num_threads(saved)
    with atomic_path(h5_file) as tmp:
        modiscolite.io.save_hdf5(tmp, pos, neg, inputs.window_bp)


def read_patterns(h5_file: str) -> list[Pattern]:
    """Every pattern of a modisco_results.h5, most seqlets first (then by name)."""
    patterns = []
    with read_h5(h5_file, "TF-MoDISco results file") as h5:
        for group in GROUPS:
            if group not in h5:
                continue
            for key in sorted(h5[group], key=lambda k: int(k.split("_")[-1])):
                grp = h5[group][key]
                seqlets = grp["seqlets"]
                patterns.append(
                    Pattern(
                        f"{group}.{key}", grp["sequence"][:], grp["contrib_scores"][:],
                        seqlets["example_idx"][:], seqlets["start"][:], seqlets["end"][:],
                        seqlets["is_revcomp"][:].astype(bool),
                    )
                )  # fmt: skip
    patterns.sort(key=lambda p: -p.seqlets)
    return patterns


# ---------------------------------------------------------------------------------------
# Outputs


def seqlet_bed(patterns: list[Pattern], inputs: ModiscoInputs) -> str:
    """BED8 of every seqlet of ``patterns``, in genome order.

    Columns: chrom, start, end (the seqlet), pattern name, 0, strand, thickStart, thickEnd
    (the trimmed pattern's span within the seqlet).
    """
    rows = []
    for pattern in patterns:
        a, b = pattern.trimmed()
        for idx, s0, s1, rev in zip(
            pattern.example_idx, pattern.start, pattern.end, pattern.is_revcomp
        ):
            first = int(inputs.starts_bp[idx])
            # A reverse-complement seqlet reads its window backwards: its position i is the
            # window's s1 - 1 - i.
            core = (s1 - b, s1 - a) if rev else (s0 + a, s0 + b)
            rows.append(
                (inputs.chroms[idx], first + int(s0), first + int(s1), pattern.name,
                 "-" if rev else "+", first + int(core[0]), first + int(core[1]))
            )  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    return "".join(f"{c}\t{s}\t{e}\t{n}\t0\t{st}\t{ts}\t{te}\n" for c, s, e, n, st, ts, te in rows)


def best_matches(patterns: list[Pattern], matches: pd.DataFrame) -> pd.DataFrame:
    """matches.tsv: pattern, seqlets, match_id, match_name, qvalue (empty: no match)."""
    rows = []
    for pattern in patterns:
        own = matches[matches["Query_ID"] == pattern.name]
        if len(own):
            best = own.iloc[0]
            rows.append((pattern.name, pattern.seqlets, best["Target_ID"],
                         best["Target_name"], f"{best['q-value']:.3g}"))  # fmt: skip
        else:
            rows.append((pattern.name, pattern.seqlets, "", "", ""))
    return pd.DataFrame(rows, columns=["pattern", "seqlets", "match_id", "match_name", "qvalue"])


def run_modisco(scores_file: str, out_dir: str, options: ModiscoOptions) -> pd.DataFrame:
    """TF-MoDISco on a scores.h5, its patterns matched and written (see the module doc).

    Args:
        scores_file: ``basenji_grad_bed.py``'s scores.h5.
        out_dir: output directory.
        options: see :class:`ModiscoOptions`.

    Returns:
        the matches.tsv table.
    """
    import_modiscolite()
    try:
        db = read_motif_db(options.meme_db, options.jaspar)  # a bad -m fails first
    except ImportError as err:
        raise InputError(
            f"matching patterns needs memelite and pyjaspar ({err}); {INSTALL}"
        ) from err
    inputs = read_attributions(scores_file, options.window_bp)
    log.info("TF-MoDISco on %d regions of %d bp", len(inputs.names), inputs.window_bp)
    os.makedirs(out_dir, exist_ok=True)
    h5_file = os.path.join(out_dir, "modisco_results.h5")
    discover_patterns(inputs, options, h5_file)
    patterns = read_patterns(h5_file)
    if not patterns:
        log.warning("%s: TF-MoDISco found no pattern", scores_file)
    background = inputs.one_hot.sum(axis=(0, 1), dtype=np.float64)
    background = background / background.sum() if background.sum() else np.full(4, 0.25)
    pwms = {p.name: (p.pwm(), p.seqlets) for p in patterns}
    write_text_atomic(os.path.join(out_dir, "patterns.meme"), meme_text(pwms, background))
    write_text_atomic(os.path.join(out_dir, "seqlets.bed"), seqlet_bed(patterns, inputs))
    queries = {name: pwm for name, (pwm, _) in pwms.items()}
    matches = tomtom_matches(queries, db, threads=options.threads or 1, seed=options.seed)
    table = best_matches(patterns, matches)
    write_text_atomic(os.path.join(out_dir, "matches.tsv"), table.to_csv(sep="\t", index=False))
    database = options.meme_db or f"JASPAR CORE {options.jaspar}"
    write_report(out_dir, patterns, matches, options.top_matches, scores_file, database)
    return table

"""``basenji_motifs_scan.py``: motif hits in attributed regions and the attribution they carry.

Every motif of a MEME file (``-m``: a database, or ``basenji_modisco.py``'s
``patterns.meme``) or of JASPAR CORE (``--jaspar TAXON``, pyjaspar, offline) is scanned
with memelite's FIMO over each row of an attribution ``scores.h5``
(``basenji_grad_bed.py``): over the BED region inside its model window, or with
``--window`` over the whole window. Both strands; a hit is a motif window whose FIMO
p-value is below ``--threshold`` (FIMO's default 1e-4). Each hit gets the attribution of
its bases: ``contributions`` summed over the hit's bases and the four channels (the
``attr`` dataset summed over the hit), and that sum divided by the hit's width.

Outputs in ``out_dir`` (written atomically):

* ``hits.bed``: BED6+ (:data:`HIT_COLUMNS`), one hit per line, sorted by chromosome
  (as ``sort -k1,1``), start, end, strand and motif id;
* ``motif_summary.tsv``: per motif its hits, the regions with a hit and the hits' summed
  and mean attribution (:func:`motif_summary`), largest summed attribution first.

Rows are read and scanned a chunk at a time (about :data:`CHUNK_BP` bp); only the hits
are kept in memory. FIMO's p-value of a window depends on the motif and that window
only, so hits do not depend on the chunks. memelite gives no q-values (FIMO's are
computed over every window scanned), so ``hits.bed`` has none.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import h5py
import numpy as np
import pandas as pd

from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path, read_h5, write_text_atomic
from basenji_tf.interpret.motifs import read_motif_db
from basenji_tf.progress import track

log = logging.getLogger(__name__)

SCAN_DATASETS = ("seqs", "contributions", "chr", "start", "end", "region_start", "region_end")
"""The datasets of ``scores.h5`` the scan reads (``name`` too, when present)."""

CHUNK_BP = 1 << 22
"""About this many bp (rows times the longest span of the chunk) go through one FIMO call."""

HIT_COLUMNS = (
    "chrom", "start", "end", "motif_name", "attr_sum", "strand", "motif_id", "p_value",
    "fimo_score", "attr_mean", "region", "row",
)  # fmt: skip
"""Columns of ``hits.bed``: genome bp (0-based, half-open); the motif's name; BED's score
column is the summed attribution (a float, not BED's 0-1000 integer); the strand of the
motif's match; the motif's id; FIMO's p-value and log2-odds score; the attribution per bp;
the scores.h5 record's name and row."""

JASPAR_TAXA = (
    "vertebrates", "plants", "insects", "nematodes", "fungi", "urochordates", "diatoms",
)  # fmt: skip
"""JASPAR CORE taxonomic groups ``--jaspar`` accepts (pyjaspar's ``tax_group``; those with
motifs in JASPAR2026: 1019, 927, 296, 103, 193, 94 and 1)."""


@dataclass(frozen=True)
class MotifDb:
    """The motifs scanned.

    Attributes:
        ids: motif ids (a MEME ``MOTIF`` line's first field; JASPAR matrix ids).
        names: motif names (the line's second field, or the id; JASPAR protein names).
        pwms: base probabilities [4, width] (rows A, C, G, T).
        source: where they came from (a file name, or ``JASPAR CORE <taxon>``).
    """

    ids: list[str]
    names: list[str]
    pwms: list[np.ndarray]
    source: str


@dataclass(frozen=True)
class ScanOptions:
    """Options of ``basenji_motifs_scan.py`` (see its ``--help``).

    Attributes:
        threshold: FIMO p-value below which a motif window is a hit.
        min_attribution: keep only hits whose summed attribution exceeds this (None: all).
        window: scan each row's whole model window instead of its BED region.
    """

    threshold: float = 1e-4
    min_attribution: float | None = None
    window: bool = False


# ---------------------------------------------------------------------------------------
# Motifs


def load_motifs(meme_file: str | None = None, jaspar: str = "vertebrates") -> MotifDb:
    """The motifs of a MEME file or, without one, of JASPAR CORE for a taxonomic group.

    Args:
        meme_file: a MEME motif file (any: a database, modisco's ``patterns.meme``).
        jaspar: JASPAR CORE taxonomic group (:data:`JASPAR_TAXA`), used without
            ``meme_file``.

    Both are read by :func:`basenji_tf.interpret.motifs.read_motif_db`.

    Raises:
        InputError: a missing, motif-less or unreadable MEME file, a negative or
            all-zero column, or an unknown taxon.
    """
    if meme_file is not None:
        try:
            ids, names, pwms = read_motif_db(meme_file)
        except (ValueError, AttributeError, IndexError, UnicodeDecodeError) as err:
            reason = " ".join(str(err).split()) or type(err).__name__
            raise InputError(
                f"{meme_file}: not a readable MEME motif file ({reason}); give -m a MEME file "
                "of letter-probability matrices"
            ) from None
        return MotifDb(ids, names, pwms, meme_file)
    jaspar = jaspar.lower()
    if jaspar not in JASPAR_TAXA:
        raise InputError(f"--jaspar {jaspar}: unknown taxon; give one of {', '.join(JASPAR_TAXA)}")
    ids, names, pwms = read_motif_db(None, jaspar)
    return MotifDb(ids, names, pwms, f"JASPAR CORE {jaspar}")


# ---------------------------------------------------------------------------------------
# scores.h5


def check_scores(h5: h5py.File, path: str) -> int:
    """The number of rows of an attribution ``scores.h5``, after checking its datasets.

    Raises:
        InputError: a dataset of :data:`SCAN_DATASETS` is missing or has the wrong shape.
    """
    missing = [name for name in SCAN_DATASETS if name not in h5]
    if missing:
        raise InputError(
            f"{path}: no {missing[0]} dataset; give a scores.h5 of basenji_grad_bed.py"
        )
    seqs, contributions = h5["seqs"], h5["contributions"]
    if seqs.ndim != 3 or seqs.shape[2] != 4 or contributions.shape != seqs.shape:
        raise InputError(
            f"{path}: seqs {seqs.shape} and contributions {contributions.shape} are not both "
            "[N, L, 4]; give a scores.h5 of basenji_grad_bed.py"
        )
    rows = seqs.shape[0]
    for name in SCAN_DATASETS[2:] + (("name",) if "name" in h5 else ()):
        if h5[name].shape != (rows,):
            raise InputError(
                f"{path}: {name} has shape {h5[name].shape}, not ({rows},); give a scores.h5 "
                "of basenji_grad_bed.py"
            )
    return rows


def scan_spans(h5: h5py.File, window: bool) -> np.ndarray:
    """Each row's scanned span [N, 2], window bp (half-open).

    The BED region (``region_start``, ``region_end``, genome bp) moved into its window and
    clipped to it; with ``window``, the whole window ``[0, L)``.
    """
    length = h5["seqs"].shape[1]
    rows = h5["seqs"].shape[0]
    if window:
        return np.tile(np.array([0, length], np.int64), (rows, 1))
    start = h5["start"][()].astype(np.int64)
    spans = np.stack([h5["region_start"][()] - start, h5["region_end"][()] - start], axis=1)
    return np.clip(spans.astype(np.int64), 0, length)


# ---------------------------------------------------------------------------------------
# The scan


def fimo_hits(seqs: list[np.ndarray], db: MotifDb, threshold: float) -> pd.DataFrame:
    """FIMO hits of every motif on both strands of one-hot sequences.

    Args:
        seqs: one-hot [length_i, 4] each (A, C, G, T; N rows all zero).
        db: the motifs.
        threshold: p-value threshold.

    Returns:
        rows ``seq`` (index into ``seqs``), ``start``, ``end`` (bp of that sequence,
        half-open; a hit never reaches past its sequence's end), ``strand``, ``motif``
        (index into ``db``), ``fimo_score``, ``p_value``.
    """
    from memelite import fimo

    longest = max(len(s) for s in seqs)
    batch = np.zeros((len(seqs), 4, longest), dtype=bool)  # padding is N
    for i, seq in enumerate(seqs):
        batch[i, :, : len(seq)] = np.asarray(seq).T > 0
    motifs = {str(i): np.asarray(pwm, np.float64) for i, pwm in enumerate(db.pwms)}
    tables = [t for t in fimo(motifs, batch, threshold=threshold) if len(t)]
    columns = ["seq", "start", "end", "strand", "motif", "fimo_score", "p_value"]
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    found = pd.concat(tables, ignore_index=True)
    hits = pd.DataFrame(
        {
            "seq": found["sequence_name"].to_numpy(np.int64),
            "start": found["start"].to_numpy(np.int64),
            "end": found["end"].to_numpy(np.int64),
            "strand": found["strand"].astype(str).to_numpy(),
            "motif": found["motif_idx"].to_numpy(np.int64),
            "fimo_score": found["score"].to_numpy(np.float64),
            "p_value": found["p-value"].to_numpy(np.float64),
        }
    )
    # A window running into the N padding of a shorter sequence is not in that sequence.
    lengths = np.array([len(s) for s in seqs])
    return hits[hits["end"].to_numpy() <= lengths[hits["seq"].to_numpy()]]


def hit_attribution(per_bp: list[np.ndarray], hits: pd.DataFrame) -> np.ndarray:
    """Summed attribution of each hit: float64 [hits].

    Args:
        per_bp: per sequence, the contributions summed over the four channels [length_i].
        hits: ``seq``, ``start``, ``end`` as :func:`fimo_hits` returns.
    """
    sums = np.zeros(len(hits))
    seq_i = hits["seq"].to_numpy()
    for i in np.unique(seq_i):
        cumsum = np.concatenate([[0.0], np.cumsum(per_bp[i], dtype=np.float64)])
        pick = seq_i == i
        sums[pick] = cumsum[hits["end"].to_numpy()[pick]] - cumsum[hits["start"].to_numpy()[pick]]
    return sums


def _chunks(spans: np.ndarray, chunk_bp: int) -> list[tuple[int, int]]:
    """Consecutive row ranges whose rows times longest span stay near ``chunk_bp``."""
    chunks, first, longest = [], 0, 0
    for row, (start, end) in enumerate(spans):
        longest_with = max(longest, int(end - start))
        if row > first and longest_with * (row + 1 - first) > chunk_bp:
            chunks.append((first, row))
            first, longest_with = row, int(end - start)
        longest = longest_with
    if len(spans):
        chunks.append((first, len(spans)))
    return chunks


def scan_scores(
    scores_file: str, db: MotifDb, options: ScanOptions, chunk_bp: int = CHUNK_BP
) -> pd.DataFrame:
    """Motif hits of every row of an attribution ``scores.h5``, at genome coordinates.

    Args:
        scores_file: ``basenji_grad_bed.py``'s scores.h5.
        db: the motifs (:func:`load_motifs`).
        options: threshold, minimum attribution, window or region.
        chunk_bp: bp per FIMO call (a chunk's rows times its longest span).

    Returns:
        the hits, columns :data:`HIT_COLUMNS`, sorted by genome position.

    Raises:
        InputError: not an attribution scores.h5 (:func:`check_scores`).
    """
    parts = []
    with read_h5(scores_file, "attribution scores file") as h5:
        rows = check_scores(h5, scores_file)
        spans = scan_spans(h5, options.window)
        chroms = h5["chr"][()].astype(str)
        starts = h5["start"][()].astype(np.int64)
        names = (
            h5["name"][()].astype(str)
            if "name" in h5
            else np.array([f"row{i}" for i in range(rows)])
        )
        seqs_h5, contributions_h5 = h5["seqs"], h5["contributions"]
        for first, last in track(_chunks(spans, chunk_bp), desc="motif scan", unit="chunk"):
            kept = [r for r in range(first, last) if spans[r, 1] > spans[r, 0]]
            if not kept:
                continue
            seqs = [seqs_h5[r, spans[r, 0] : spans[r, 1]] for r in kept]
            per_bp = [
                contributions_h5[r, spans[r, 0] : spans[r, 1]].sum(axis=1, dtype=np.float64)
                for r in kept
            ]
            hits = fimo_hits(seqs, db, options.threshold)
            if not len(hits):
                continue
            attr_sum = hit_attribution(per_bp, hits)
            row = np.asarray(kept)[hits["seq"].to_numpy()]
            offset = starts[row] + spans[row, 0]
            part = pd.DataFrame(
                {
                    "chrom": chroms[row],
                    "start": offset + hits["start"].to_numpy(),
                    "end": offset + hits["end"].to_numpy(),
                    "motif_name": np.asarray(db.names, dtype=object)[hits["motif"].to_numpy()],
                    "attr_sum": attr_sum,
                    "strand": hits["strand"].to_numpy(),
                    "motif_id": np.asarray(db.ids, dtype=object)[hits["motif"].to_numpy()],
                    "p_value": hits["p_value"].to_numpy(),
                    "fimo_score": hits["fimo_score"].to_numpy(),
                    "attr_mean": attr_sum / (hits["end"] - hits["start"]).to_numpy(),
                    "region": names[row],
                    "row": row,
                }
            )
            if options.min_attribution is not None:
                part = part[part["attr_sum"] > options.min_attribution]
            parts.append(part)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HIT_COLUMNS})
    hits = pd.concat(parts, ignore_index=True)
    order = ["chrom", "start", "end", "strand", "motif_id", "row"]
    return hits.sort_values(order, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Outputs


def motif_summary(hits: pd.DataFrame, db: MotifDb) -> pd.DataFrame:
    """Per motif of ``db``: its hits and their attribution.

    Columns: ``motif_id``, ``motif_name``, ``hits``, ``regions`` (rows with a hit),
    ``attr_sum`` (summed attribution of its hits), ``attr_mean`` (per hit; NaN without
    hits), ``attr_share`` (``attr_sum`` over the sum of every motif's ``attr_sum``: bases
    in the hits of several motifs count for each). Sorted by ``attr_sum``, largest first,
    then by hits and id; motifs without hits are listed too.
    """
    table = pd.DataFrame({"motif_id": db.ids, "motif_name": db.names})
    index = pd.MultiIndex.from_frame(table)
    if len(hits):
        grouped = hits.groupby(["motif_id", "motif_name"], sort=False)
        stats = pd.DataFrame(
            {
                "hits": grouped.size(),
                "regions": grouped["row"].nunique(),
                "attr_sum": grouped["attr_sum"].sum(),
            }
        ).reindex(index)
    else:
        stats = pd.DataFrame(index=index, columns=["hits", "regions", "attr_sum"], dtype=float)
    stats = stats.reset_index()
    stats[["hits", "regions"]] = stats[["hits", "regions"]].fillna(0).astype(np.int64)
    stats["attr_sum"] = stats["attr_sum"].fillna(0.0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats["attr_mean"] = np.where(stats["hits"] > 0, stats["attr_sum"] / stats["hits"], np.nan)
    total = stats["attr_sum"].sum()
    stats["attr_share"] = stats["attr_sum"] / total if total != 0 else np.nan
    stats = stats.sort_values(
        ["attr_sum", "hits", "motif_id"], ascending=[False, False, True], kind="stable"
    )
    return stats.reset_index(drop=True)


def write_hits_bed(path: str, hits: pd.DataFrame) -> None:
    """``hits.bed``: a ``#`` header of :data:`HIT_COLUMNS`, then one hit per line."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as handle:
            handle.write("#" + "\t".join(HIT_COLUMNS) + "\n")
            hits.loc[:, list(HIT_COLUMNS)].to_csv(
                handle, sep="\t", header=False, index=False, float_format="%.6g"
            )


def run_scan(
    scores_file: str,
    out_dir: str,
    meme_file: str | None = None,
    jaspar: str = "vertebrates",
    options: ScanOptions = ScanOptions(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scan an attribution ``scores.h5``; write ``hits.bed`` and ``motif_summary.tsv``.

    Args:
        scores_file: ``basenji_grad_bed.py``'s scores.h5.
        out_dir: output directory.
        meme_file: MEME motif file (None: JASPAR CORE ``jaspar``).
        jaspar: JASPAR taxonomic group, without ``meme_file``.
        options: the scan's options.

    Returns:
        (hits, summary) as written.
    """
    if not os.path.isfile(scores_file):
        raise InputError(f"{scores_file}: no such file; give a scores.h5 of basenji_grad_bed.py")
    with read_h5(scores_file, "attribution scores file") as h5:
        check_scores(h5, scores_file)  # a wrong file fails before the motifs load
    db = load_motifs(meme_file, jaspar)
    log.info("scanning %d motifs of %s", len(db.ids), db.source)
    hits = scan_scores(scores_file, db, options)
    summary = motif_summary(hits, db)
    os.makedirs(out_dir, exist_ok=True)
    write_hits_bed(os.path.join(out_dir, "hits.bed"), hits)
    write_text_atomic(
        os.path.join(out_dir, "motif_summary.tsv"),
        summary.to_csv(sep="\t", index=False, float_format="%.6g", na_rep="nan"),
    )
    log.info("%d hits of %d motifs", len(hits), int((summary["hits"] > 0).sum()))
    return hits, summary

"""The demo's scorecard: how well a model trained on simulated data recovers the truth.

Reads the outputs of the pipeline steps (``acc.txt`` of basenji_test.py, ``sad.h5`` of
basenji_sad.py) and the simulator's ground truth (``variant_effects.tsv``) and reduces
them to the numbers of ``summary.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from scipy import stats

from basenji_tf import plots
from basenji_tf.evaluate import assay_summary
from basenji_tf.files import write_text_atomic
from basenji_tf.genome import read_gtf_tss
from basenji_tf.tfrecords import read_sequences_bed, read_statistics

def pearsonr_by_assay(acc_file: str | os.PathLike) -> dict[str, float]:
    """Mean test Pearson R per assay (description prefix) from basenji_test.py's acc.txt."""
    acc = pd.read_csv(acc_file, sep="\t")
    return {assay: round(mean, 4) for assay, (_, mean) in assay_summary(acc).items()}


def sad_vs_truth(sad_file: str | os.PathLike, effects_file: str | os.PathLike,
                 targets_file: str | os.PathLike) -> dict:
    """Spearman correlation of predicted SAD with the simulator's true effects.

    Rows are matched by variant id and columns by target identifier: sad.h5 ``target_ids``
    are identifiers when basenji_sad.py had a targets table, else ``t{i}`` = output
    channel i = the targets-table row with index i.

    Returns:
        ``per_track`` {identifier: rho}, ``mean`` (over tracks) and ``pooled`` (all variant
        x track pairs, ranks within track so scales do not dominate).
    """
    truth = pd.read_csv(effects_file, sep="\t", index_col="id")
    with h5py.File(sad_file, "r") as handle:
        snps = [s.decode() for s in handle["snp"][:]]
        sad = handle["SAD"][:].astype(np.float32)
        target_ids = [t.decode() for t in handle["target_ids"][:]]
    identifiers = pd.read_csv(targets_file, sep="\t", index_col=0)["identifier"]
    columns = [identifiers.loc[int(t[1:])] if t.startswith("t") and t[1:].isdigit() else t
               for t in target_ids]
    predicted = pd.DataFrame(sad, index=snps, columns=columns)
    predicted = predicted[~predicted.index.duplicated()]
    shared = truth.index.intersection(predicted.index)
    per_track, ranks_true, ranks_pred = {}, [], []
    for track in columns:
        if track not in truth.columns:
            continue
        true_effect = truth.loc[shared, track].to_numpy(float)
        pred_effect = predicted.loc[shared, track].to_numpy(float)
        per_track[track] = round(float(stats.spearmanr(pred_effect, true_effect)[0]), 4)
        ranks_true.append(stats.rankdata(true_effect) / len(shared))
        ranks_pred.append(stats.rankdata(pred_effect) / len(shared))
    pooled = stats.spearmanr(np.concatenate(ranks_pred), np.concatenate(ranks_true))[0]
    return {
        "variants": len(shared),
        "per_track": per_track,
        "mean": round(float(np.mean(list(per_track.values()))), 4),
        "pooled": round(float(pooled), 4),
    }


def test_regions_bed(gtf_file: str | os.PathLike, chroms: list[str], out_bed: str | os.PathLike,
                     max_regions: int = 8) -> int:
    """Write a BED of gene TSS positions on ``chroms`` (the held-out chromosomes).

    Returns:
        the number of regions written (the first ``max_regions`` genes in GTF order).
    """
    genes = [g for g in read_gtf_tss(gtf_file) if g["chrom"] in chroms][:max_regions]
    lines = [f"{g['chrom']}\t{g['tss']}\t{g['tss'] + 1}\t{g['gene_name']}\n" for g in genes]
    write_text_atomic(out_bed, "".join(lines))
    return len(lines)


def plot_test_example(test_dir: str | os.PathLike, data_dir: str | os.PathLike,
                      track_indexes: list[int], stem: str | os.PathLike) -> str:
    """Plot observed vs predicted coverage of the held-out sequence with the most signal.

    Uses ``preds.h5`` / ``targets.h5`` of ``basenji_test.py --save`` and the test rows of
    sequences.bed for coordinates.

    Returns:
        the PNG path.
    """
    with h5py.File(Path(test_dir) / "preds.h5", "r") as handle:
        preds = handle["preds"][:].astype(np.float32)
    with h5py.File(Path(test_dir) / "targets.h5", "r") as handle:
        targets = handle["targets"][:].astype(np.float32)
    seqs = read_sequences_bed(data_dir, "test")
    pool_width = read_statistics(data_dir)["pool_width"]
    table = pd.read_csv(Path(data_dir) / "targets.txt", sep="\t", index_col=0)
    best = int(np.argmax(targets[:, :, track_indexes].sum(axis=(1, 2))))
    row = seqs.iloc[best]
    tracks = {table["identifier"].iloc[t]: (targets[best, :, t], preds[best, :, t])
              for t in track_indexes}
    plots.track_comparison(int(row["start"]), pool_width, tracks, stem,
                           title=f"held-out {row['chrom']}:{row['start']}-{row['end']}")
    return f"{os.fspath(stem)}.png"


def write_summary(out_dir: str | os.PathLike, summary: dict) -> Path:
    """Write ``summary.json`` in ``out_dir``."""
    path = Path(out_dir) / "summary.json"
    write_text_atomic(path, json.dumps(summary, indent=2) + "\n")
    return path

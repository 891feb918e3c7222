"""The demo: the whole pipeline on simulated data, ending with a scorecard.

:func:`run_demo` runs, into one folder, the same commands a user would chain in a shell:

1. basenji_sim.py          simulated human-like genome, tracks, variants with true effects
2. basenji_data.py         TFRecords, held-out chromosomes for valid / test
3. basenji_train.py        a small dilated CNN (models/params_demo.json)
4. basenji_test.py         per-track test accuracy, plots, saved predictions
5. basenji_sad.py          variant scores for the simulated VCF
6. basenji_predict_bed.py  predicted tracks as BigWig around held-out genes

and reduces the outputs of the steps (``acc.txt`` of basenji_test.py, ``sad.h5`` of
basenji_sad.py) and the simulator's ground truth (``variant_effects.tsv``) to the numbers
of ``summary.json``. The commands themselves are run by the caller's ``run_step`` (the
``basenji_demo.py`` command passes their ``main`` functions), so the library names no
command-line module.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from collections.abc import Callable
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

STEPS = (
    "basenji_sim.py",
    "basenji_data.py",
    "basenji_train.py",
    "basenji_test.py",
    "basenji_sad.py",
    "basenji_predict_bed.py",
)
"""The demo's commands, in the order they run."""

RunStep = Callable[[str, list[str]], None]
"""Runs one command of :data:`STEPS` with its arguments; raises if it fails."""

# Window geometry of the demo data, matching models/params_demo.json: 32,768 bp inputs,
# 128 bp bins, 8,192 bp cropped each side -> 128 target bins (16,384 bp).
DATA_OPTIONS = ["-l", "32768", "-w", "128", "--crop", "8192", "--stride", "4096",
                "--stride_test", "16384", "-p", "2"]  # fmt: skip


def demo_params_file() -> Path:
    """models/params_demo.json, shipped inside the package (a checkout or an install)."""
    path = importlib.resources.files("basenji_tf") / "models" / "params_demo.json"
    return Path(str(path)).resolve()


def run_demo(
    out_dir: str | os.PathLike,
    seed: int,
    size: str,
    params_file: str | os.PathLike,
    run_step: RunStep,
) -> dict:
    """Run the pipeline into ``out_dir`` and write its scorecard, ``summary.json``.

    Args:
        out_dir: output folder; a step whose output exists (simulation, data) is kept.
        seed: seed of every step.
        size: simulated genome size ('default', 'small' or 'tiny').
        params_file: params JSON of the model.
        run_step: runs each command (see :data:`RunStep`).

    Returns:
        the summary: test Pearson R per assay, Spearman of SAD with the true variant
        effects, and the paths of the outputs.
    """
    out_dir, params_file = Path(out_dir), Path(params_file)
    if not params_file.is_file():
        raise FileNotFoundError(f"{params_file}: params file not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    sim, data, train = out_dir / "sim", out_dir / "data_human", out_dir / "train"
    test, sad, predict = out_dir / "test", out_dir / "sad", out_dir / "predict"
    human = sim / "human"
    model_file = train / "model_best.h5"
    params, genome = str(params_file), str(human / "genome.fa")

    run_step("basenji_sim.py", ["-o", str(sim), "--seed", str(seed), "--size", size])
    info = json.loads((sim / "sim.json").read_text())["species"]["human"]
    valid, test_chroms = ",".join(info["valid_chroms"]), ",".join(info["test_chroms"])
    if not (data / "statistics.json").exists():
        run_step("basenji_data.py", DATA_OPTIONS + [
            "--seed", str(seed), "-v", valid, "-t", test_chroms, "-g", str(human / "gaps.bed"),
            "-o", str(data), genome, str(human / "targets.txt")])  # fmt: skip
    run_step("basenji_train.py", ["--seed", str(seed), "-o", str(train), params, str(data)])
    run_step(
        "basenji_test.py",
        ["--rc", "--save", "--ai", "0,3,6", "-o", str(test), params, str(model_file), str(data)],
    )
    run_step("basenji_sad.py", ["-f", genome, "--rc", "-o", str(sad), params, str(model_file),
                                str(human / "variants.vcf")])  # fmt: skip
    regions = out_dir / "test_genes.bed"
    test_regions_bed(human / "genes.gtf", info["test_chroms"], regions)
    run_step(
        "basenji_predict_bed.py",
        ["-f", genome, "-b", "0,3", "-o", str(predict), params, str(model_file), str(regions)],
    )
    summary = _summary(out_dir, data, human, model_file)
    write_summary(out_dir, summary)
    return summary


def _summary(out_dir: Path, data: Path, human: Path, model_file: Path) -> dict:
    """The scorecard of a finished run (the folders as :func:`run_demo` names them)."""
    test, sad, predict = out_dir / "test", out_dir / "sad", out_dir / "predict"
    figure = plot_test_example(test, data, [0, 3, 6], out_dir / "tracks_observed_vs_predicted")
    agreement = sad_vs_truth(sad / "sad.h5", human / "variant_effects.tsv", data / "targets.txt")
    return {
        "test_pearsonr_by_assay": pearsonr_by_assay(test / "acc.txt"),
        "sad_true_effect_spearman": agreement["mean"],
        "sad_true_effect_spearman_pooled": agreement["pooled"],
        "sad_true_effect_spearman_per_track": agreement["per_track"],
        "outputs": {
            "acc": str(test / "acc.txt"),
            "figure": figure,
            "plots": sorted(str(p) for p in test.rglob("*.png")),
            "bigwigs": sorted(str(p) for p in predict.rglob("*.bw")),
            "sad": str(sad / "sad.h5"),
            "model": str(model_file),
        },
    }


def pearsonr_by_assay(acc_file: str | os.PathLike) -> dict[str, float]:
    """Mean test Pearson R per assay (description prefix) from basenji_test.py's acc.txt."""
    acc = pd.read_csv(acc_file, sep="\t")
    return {assay: round(mean, 4) for assay, (_, mean) in assay_summary(acc).items()}


def sad_vs_truth(
    sad_file: str | os.PathLike, effects_file: str | os.PathLike, targets_file: str | os.PathLike
) -> dict:
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
    columns = [
        identifiers.loc[int(t[1:])] if t.startswith("t") and t[1:].isdigit() else t
        for t in target_ids
    ]
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


def test_regions_bed(
    gtf_file: str | os.PathLike, chroms: list[str], out_bed: str | os.PathLike, max_regions: int = 8
) -> int:
    """Write a BED of gene TSS positions on ``chroms`` (the held-out chromosomes).

    Returns:
        the number of regions written (the first ``max_regions`` genes in GTF order).
    """
    genes = [g for g in read_gtf_tss(gtf_file) if g["chrom"] in chroms][:max_regions]
    lines = [f"{g['chrom']}\t{g['tss']}\t{g['tss'] + 1}\t{g['gene_name']}\n" for g in genes]
    write_text_atomic(out_bed, "".join(lines))
    return len(lines)


def plot_test_example(
    test_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    track_indexes: list[int],
    stem: str | os.PathLike,
) -> str:
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
    tracks = {
        table["identifier"].iloc[t]: (targets[best, :, t], preds[best, :, t]) for t in track_indexes
    }
    plots.track_comparison(
        int(row["start"]),
        pool_width,
        tracks,
        stem,
        title=f"held-out {row['chrom']}:{row['start']}-{row['end']}",
    )
    return f"{os.fspath(stem)}.png"


def write_summary(out_dir: str | os.PathLike, summary: dict) -> Path:
    """Write ``summary.json`` in ``out_dir``."""
    path = Path(out_dir) / "summary.json"
    write_text_atomic(path, json.dumps(summary, indent=2) + "\n")
    return path

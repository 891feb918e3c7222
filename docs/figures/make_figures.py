"""Regenerate the figures in docs/figures/ that come from a run, and print what the docs quote.

* ``demo_tracks.png`` (README, "What the demo does"): the figure ``make demo`` draws itself,
  ``demo_out/tracks_observed_vs_predicted.png`` (``basenji_tf.demo.plot_test_example``:
  observed vs predicted coverage of the held-out sequence with the most signal).
* ``genome_tracks.png`` (README and docs/genome_tracks.md): 192 kb of the demo's held-out
  chr4, the simulated coverage binned to 128 bp with each track's ``sum_stat`` against the
  BigWigs of the ``basenji_predict_genome.py --untransform`` command docs/genome_tracks.md
  shows, with the Pearson R of each panel (raw values of the bins drawn).

Usage, from the repository root::

    python docs/figures/make_figures.py              # the demo runs in a temporary folder
    python docs/figures/make_figures.py -w fig_run   # keep the runs in fig_run/
    python docs/figures/make_figures.py -w fig_run --figures /tmp/figs   # leave docs/ alone

The demo (6-12 min on 2 cores) runs as ``bin/basenji_demo.py -o WORK/demo``; a finished one
there (its ``summary.json`` exists) is reused. The commands run as subprocesses, as a user
would type them. The numbers are printed as ``name: value`` lines and written to
``WORK/figures.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig

from basenji_tf import plots
from basenji_tf.demo import demo_params_file
from basenji_tf.files import atomic_path

REPO = Path(__file__).resolve().parents[2]
FIGURES = Path(__file__).resolve().parent
BIN_BP = 128
GENOME_TRACKS_REGION = ("chr4", 458_752, 655_360)  # windows 28-39 of chr4 (16,384 bp each)
GENOME_TRACKS_TARGETS = (0, 3, 6)  # DNASE_ery, CAGE_ery, CHIP_CTCF_ery


def say(text: str = "") -> None:
    """Print one line at once (a script's output, which the library rule against print spares)."""
    print(text, flush=True)  # noqa: T201


def run(command: list[str]) -> float:
    """Run one command from the repository root (its output passes through); wall seconds."""
    say("+ " + " ".join(command))
    start = time.perf_counter()
    subprocess.run([sys.executable, *command], cwd=REPO, check=True)
    return time.perf_counter() - start


def binned(values: np.ndarray, sum_stat: str) -> np.ndarray:
    """Per-base values [n * BIN_BP] -> [n] bins: the sum for ``sum*`` statistics, else the mean."""
    bins = np.asarray(values, np.float64).reshape(-1, BIN_BP)
    return bins.sum(axis=1) if sum_stat.startswith("sum") else bins.mean(axis=1)


def bigwig_bins(path: Path, chrom: str, start: int, end: int, sum_stat: str) -> np.ndarray:
    """The bins of ``[start, end)`` of a BigWig (bases without data count as NaN)."""
    with pyBigWig.open(str(path)) as bw:
        values = bw.values(chrom, start, end, numpy=True)
    return binned(values, sum_stat)


def demo_numbers(demo: Path) -> dict:
    """What the README quotes about the demo run: its summary.json scorecard."""
    summary = json.loads((demo / "summary.json").read_text())
    numbers = {f"demo test Pearson R {a}": r for a, r in summary["test_pearsonr_by_assay"].items()}
    numbers["demo SAD vs true effect Spearman (mean over tracks)"] = summary[
        "sad_true_effect_spearman"
    ]
    return numbers


def genome_tracks(demo: Path, work: Path, figures: Path) -> dict:
    """Run docs/genome_tracks.md's command, draw genome_tracks.png, return its numbers."""
    pg = work / "pg"
    if pg.exists():
        shutil.rmtree(pg)
    ti = ",".join(str(t) for t in GENOME_TRACKS_TARGETS)
    seconds = run(
        ["bin/basenji_predict_genome.py", "-o", str(pg), "--chroms", "chr4", "--rc",
         "--ti", ti, "-t", str(demo / "data_human" / "targets.txt"), "--untransform",
         str(demo_params_file()), str(demo / "train" / "model_best.h5"),
         str(demo / "sim" / "human" / "genome.fa")]
    )  # fmt: skip
    chrom, start, end = GENOME_TRACKS_REGION
    sim = demo / "sim" / "human"
    table = pd.read_csv(sim / "targets.txt", sep="\t", index_col=0)
    fai = pd.read_csv(sim / "genome.fa.fai", sep="\t", header=None, index_col=0)[1]
    stats = json.loads((demo / "data_human" / "statistics.json").read_text())
    span = stats["target_length"] * stats["pool_width"]  # bp predicted per window
    tracks, numbers = {}, {}
    for t in GENOME_TRACKS_TARGETS:
        row = table.loc[t]
        observed = bigwig_bins(sim / row["file"], chrom, start, end, row["sum_stat"])
        predicted = bigwig_bins(pg / "bigwig" / f"t{t}.bw", chrom, start, end, "mean")
        tracks[row["identifier"]] = (observed, predicted)
        finite = np.isfinite(observed) & np.isfinite(predicted)
        numbers[f"genome_tracks Pearson R {row['identifier']}"] = round(
            plots.pearson_r(observed[finite], predicted[finite]), 3
        )
    stem = work / "genome_tracks"
    plots.track_comparison(
        start,
        BIN_BP,
        tracks,
        stem,
        title=f"held-out {chrom}:{start:,}-{end:,} (demo genome), "
        "predicted genome-wide with basenji_predict_genome.py",
        show_r=True,
    )
    install(stem.with_suffix(".png"), figures / "genome_tracks.png")
    numbers["genome_tracks region"] = f"{chrom}:{start:,}-{end:,} ({(end - start) // 1024} kb)"
    numbers["genome_tracks chr4 length (bp)"] = int(fai.loc[chrom])
    numbers["genome_tracks windows on chr4"] = math.ceil(int(fai.loc[chrom]) / span)
    numbers["genome_tracks basenji_predict_genome.py wall seconds (with start-up)"] = round(
        seconds, 1
    )
    return numbers


def install(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically (the folder is created)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    say(f"wrote {target}")


def main(argv: list[str] | None = None) -> int:
    """Run (or reuse) the demo, regenerate the figures, print their numbers; exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", dest="work", type=Path, help="run folder (default: temporary)")
    parser.add_argument(
        "--figures", type=Path, default=FIGURES, help="where the PNGs go (default: docs/figures)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="make_figures_") as tmp:
        work = (args.work or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        demo = work / "demo"
        numbers: dict = {}
        if not (demo / "summary.json").exists():
            seconds = run(["bin/basenji_demo.py", "-o", str(demo)])
            # a step whose output is there (simulation, data, finished training) is kept
            numbers["basenji_demo.py wall seconds (this call)"] = round(seconds, 1)
        install(demo / "tracks_observed_vs_predicted.png", args.figures / "demo_tracks.png")
        numbers.update(demo_numbers(demo))
        numbers.update(genome_tracks(demo, work, args.figures))
        with atomic_path(work / "figures.json") as path, open(path, "w") as handle:
            json.dump(numbers, handle, indent=2)
        say()
        for name, value in numbers.items():
            say(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

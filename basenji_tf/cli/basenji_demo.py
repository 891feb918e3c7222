"""basenji_demo.py: the whole pipeline on simulated data, ending with a scorecard.

Runs, in one process, the same commands a user would chain in a shell (each step prints
its command line, so it can be replayed by hand):

1. basenji_sim.py        simulated human-like genome, tracks, variants with true effects
2. basenji_data.py       TFRecords, held-out chromosomes for valid / test
3. basenji_train.py      a small dilated CNN (models/params_demo.json)
4. basenji_test.py       per-track test accuracy, plots, saved predictions
5. basenji_sad.py        variant scores for the simulated VCF
6. basenji_predict_bed.py  predicted tracks as BigWig around held-out genes

and writes ``summary.json``: test Pearson R per assay, Spearman of SAD with the true
variant effects, and the paths of the plots and BigWigs.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from basenji_tf.cli import (basenji_data, basenji_predict_bed, basenji_sad, basenji_sim,
                            basenji_test, basenji_train)
from basenji_tf.cli._common import make_parser, parse_args, run_main
from basenji_tf.errors import InputError

PROG = "basenji_demo.py"
REPO = Path(__file__).resolve().parents[2]
DEMO_PARAMS = REPO / "models" / "params_demo.json"

# Window geometry of the demo data, matching models/params_demo.json: 32,768 bp inputs,
# 128 bp bins, 8,192 bp cropped each side -> 128 target bins (16,384 bp).
DATA_OPTIONS = ["-l", "32768", "-w", "128", "--crop", "8192", "--stride", "4096",
                "--stride_test", "16384", "-p", "2"]


def step(number: int, total: int, main: Callable, args: list[str]) -> None:
    """Run one pipeline command, showing its shell form, failing on a non-zero status."""
    name = main.__module__.rsplit(".", 1)[-1] + ".py"
    print(f"\n[{number}/{total}] {name} {shlex.join(args)}", flush=True)
    start = time.perf_counter()
    status = main(args)
    if status:
        raise InputError(f"step {number} ({name}) failed with status {status}; see above")
    print(f"[{number}/{total}] done in {time.perf_counter() - start:.0f} s", flush=True)


def run_demo(out_dir: Path, seed: int, size: str, params_file: Path) -> dict:
    """Run the pipeline into ``out_dir`` and return the summary (also summary.json)."""
    from basenji_tf import demo

    if not params_file.is_file():
        raise FileNotFoundError(f"{params_file}: params file not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    sim, data, train = out_dir / "sim", out_dir / "data_human", out_dir / "train"
    test, sad, predict = out_dir / "test", out_dir / "sad", out_dir / "predict"
    human = sim / "human"
    model_file = train / "model_best.h5"
    total = 6

    step(1, total, basenji_sim.main, ["-o", str(sim), "--seed", str(seed), "--size", size])
    info = json.loads((sim / "sim.json").read_text())["species"]["human"]
    valid, test_chroms = ",".join(info["valid_chroms"]), ",".join(info["test_chroms"])
    if not (data / "statistics.json").exists():
        step(2, total, basenji_data.main, DATA_OPTIONS + [
            "--seed", str(seed), "-v", valid, "-t", test_chroms, "-g", str(human / "gaps.bed"),
            "-o", str(data), str(human / "genome.fa"), str(human / "targets.txt")])
    step(3, total, basenji_train.main,
         ["--seed", str(seed), "-o", str(train), str(params_file), str(data)])
    step(4, total, basenji_test.main,
         ["--rc", "--save", "--ai", "0,3,6", "-o", str(test), str(params_file),
          str(model_file), str(data)])
    step(5, total, basenji_sad.main,
         ["-f", str(human / "genome.fa"), "--rc", "-o", str(sad), str(params_file),
          str(model_file), str(human / "variants.vcf")])
    regions = out_dir / "test_genes.bed"
    demo.test_regions_bed(human / "genes.gtf", info["test_chroms"], regions)
    step(6, total, basenji_predict_bed.main,
         ["-f", str(human / "genome.fa"), "-b", "0,3", "-o", str(predict), str(params_file),
          str(model_file), str(regions)])

    figure = demo.plot_test_example(test, data, [0, 3, 6], out_dir / "tracks_observed_vs_predicted")
    targets_file = data / "targets.txt"
    agreement = demo.sad_vs_truth(sad / "sad.h5", human / "variant_effects.tsv", targets_file)
    summary = {
        "test_pearsonr_by_assay": demo.pearsonr_by_assay(test / "acc.txt"),
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
    demo.write_summary(out_dir, summary)
    return summary


def print_summary(summary: dict, out_dir: Path) -> None:
    print("\n== basenji demo summary ==")
    for assay, r in summary["test_pearsonr_by_assay"].items():
        print(f"test Pearson R, {assay:<6} {r:.3f}")
    print(f"SAD vs true effect, Spearman (mean over tracks) "
          f"{summary['sad_true_effect_spearman']:.3f}")
    print(f"figure:  {summary['outputs']['figure']}")
    print(f"plots:   {len(summary['outputs']['plots'])} under {out_dir / 'test'}")
    print(f"bigwigs: {', '.join(summary['outputs']['bigwigs'])}")
    print(f"summary: {out_dir / 'summary.json'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser(PROG, "Run simulate -> data -> train -> test -> SAD -> predict on "
                               "simulated data and summarise against the ground truth.")
    parser.add_argument("-o", dest="out_dir", default="demo_out", help="output folder")
    parser.add_argument("--seed", type=int, default=1, help="seed of every step")
    parser.add_argument("--size", default="default", choices=["default", "small", "tiny"],
                        help="simulated genome size")
    parser.add_argument("--params", dest="params_file", default=str(DEMO_PARAMS),
                        help="params JSON of the model")
    args = parse_args(parser, argv)

    def body():
        out_dir = Path(args.out_dir)
        summary = run_demo(out_dir, args.seed, args.size, Path(args.params_file))
        print_summary(summary, out_dir)

    return run_main(PROG, body)

"""Genome-wide prediction throughput (basenji_predict_genome.py) on this machine, as JSON.

Runs :func:`basenji_tf.scoring.genome_tracks.predict_genome` with the full Basenji2 human
architecture (131,072 bp inputs, 896 bins of 128 bp, 5,313 targets; random weights: speed
does not depend on the values) on the first ``--mb`` of hg38 (default 1 Mb: 9 windows of
114,688 bp). bench/_harness.py times the whole call (5 runs after a warm-up, each into a
new folder, model loaded once) and this script its two phases in each timed run (medians;
the peak memory includes the model):

* ``predict``: windows/s and bp/s (sequence fetch, one-hot, model, float32 chunk files);
* ``bigwig``: bins/s written into the 5,313 BigWigs (one target's bins count once each).

and projects them onto hg38 (``human.hg38.genome``: 27,168 windows; 24.2 M bins per
target): one such machine, measured, and N GPUs on paper. The paper figure assumes a GPU
sustains ``GPU_SUSTAINED_TFLOPS`` (30% of an A100's 19.5 FP32 TFLOPS, a typical efficiency
for large convolutions; an assumption, not a measurement) over the model's FLOPs per
window, counted here from its layers; BigWig writing is CPU work and is projected
separately, per CPU process.

Usage: python bench/predict_genome.py [--mb 1]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import pysam  # noqa: E402
from _harness import emit, forward_gflops, fraction_of_roof, roofs, timed  # noqa: E402

from basenji_tf import seqnn  # noqa: E402
from basenji_tf.genome import read_chrom_sizes  # noqa: E402
from basenji_tf.scoring import genome_tracks as G  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "models" / "params_basenji2_human.json"
FASTA = REPO / "data" / "baskerville_tiny" / "hg38_1m.fa.gz"
HG38_SIZES = REPO / "tests" / "data" / "reference" / "basenji_published" / "human.hg38.genome"
GPU_SUSTAINED_TFLOPS = 0.3 * 19.5
GPUS = (1, 8, 64)
BATCH = 2


def write_region(out: Path, bp: int) -> str:
    """The first ``bp`` of the hg38 FASTA's one chromosome as a plain indexed FASTA."""
    with pysam.FastaFile(str(FASTA)) as fasta:
        chrom = fasta.references[0]
        seq = fasta.fetch(chrom, 0, bp)
    path = out / "region.fa"
    with open(path, "w") as handle:
        handle.write(f">{chrom}\n")
        for i in range(0, len(seq), 60):
            handle.write(seq[i : i + 60] + "\n")
    pysam.faidx(str(path))
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="Mb of hg38 chr1 to predict")
    args = parser.parse_args()
    bp = int(args.mb * 1_000_000)
    roof = roofs(("float32",))["float32"]
    with tempfile.TemporaryDirectory() as tmp:
        fasta = write_region(Path(tmp), bp)
        model = seqnn.load(PARAMS)
        gflops = forward_gflops(model.head.model)
        model_file = str(Path(tmp) / "model.h5")
        model.save(model_file)
        spec = G.HeadSpec(str(PARAMS), model_file, batch_size=BATCH)
        head = G.load_head(spec.params_file, spec.model_file, 0)
        head.predict(np.zeros((BATCH, head.seq_length, 4), np.float32), batch_size=BATCH)
        tiling = G.head_tiling(head)

        runs: list[dict[str, float]] = []
        original = {"predict": G.predict_chunk, "bigwig": G.merge_chunks}

        def phase(name):
            def run(task):
                start = time.perf_counter()
                original[name](task)
                runs[-1][name] = runs[-1].get(name, 0.0) + time.perf_counter() - start

            return run

        def predict() -> None:
            out = Path(tmp) / "out"
            shutil.rmtree(out, ignore_errors=True)
            runs.append({})
            G.predict_genome(fasta, spec, str(out), chunk_windows=4)

        G.predict_chunk, G.merge_chunks = phase("predict"), phase("bigwig")
        timing = timed(predict)
    phases = {k: statistics.median(r[k] for r in runs[1:]) for k in original}
    report(bp, head, tiling, gflops, timing, phases, roof)


def report(bp: int, head, tiling, gflops: float, timing: dict, phases: dict, roof: dict) -> None:
    """Emit the line: the phases' rates, their roofs and their projections onto hg38.

    The sustained prediction rate is a fraction of the measured conv roof and of the
    arithmetic one (bench/_harness.py); above a roof it is flagged, not printed.
    """
    windows = -(-bp // tiling.span)
    bins = math.ceil(bp / tiling.stride) * head.num_targets
    windows_per_s = windows / phases["predict"]
    bins_per_s = bins / phases["bigwig"]
    hg38 = read_chrom_sizes(HG38_SIZES)
    hg38_windows = sum(tiling.num_windows(n) for n in hg38.values())
    hg38_bins = sum(math.ceil(n / tiling.stride) for n in hg38.values()) * head.num_targets
    gpu_windows_per_s = GPU_SUSTAINED_TFLOPS * 1e3 / gflops
    config = {"model": "basenji2_human", "targets": head.num_targets,
              "seq_length": head.seq_length, "window_bp": tiling.span, "batch": BATCH,
              "region_bp": bp, "windows": windows}  # fmt: skip
    emit(
        "predict_genome",
        config,
        timing,
        predict_s=round(phases["predict"], 3),
        bigwig_s=round(phases["bigwig"], 3),
        predict_windows_per_s=round(windows_per_s, 4),
        predict_bp_per_s=round(windows_per_s * tiling.span),
        model_gflops_per_window=round(gflops, 1),
        cpu_sustained_gflops=round(gflops * windows_per_s, 1),
        **fraction_of_roof(
            gflops * windows,
            phases["predict"],
            roof["measured"]["gflops"],
            roof["measured"]["roof"],
        ),
        **fraction_of_roof(
            gflops * windows,
            phases["predict"],
            roof["arithmetic"]["gflops"],
            roof["arithmetic"]["roof"],
            label="arithmetic_roof",
        ),
        bigwig_bins_per_s=round(bins_per_s),
        hg38_windows=hg38_windows,
        hg38_predict_hours_this_machine=round(hg38_windows / windows_per_s / 3600, 1),
        hg38_bigwig_hours_per_cpu_process=round(hg38_bins / bins_per_s / 3600, 1),
        gpu_assumed_sustained_tflops=GPU_SUSTAINED_TFLOPS,
        gpu_windows_per_s_on_paper=round(gpu_windows_per_s, 1),
        hg38_predict_hours_on_n_gpus_on_paper={
            str(n): round(hg38_windows / (n * gpu_windows_per_s) / 3600, 3) for n in GPUS
        },
    )


if __name__ == "__main__":
    main()

"""Genome-wide prediction throughput (basenji_predict_genome.py) on this machine, as JSON.

Runs :func:`basenji_tf.scoring.genome_tracks.predict_genome` with the full Basenji2 human
architecture (131,072 bp inputs, 896 bins of 128 bp, 5,313 targets; random weights: speed
does not depend on the values) on the first 1 Mb of hg38 (9 windows of 114,688 bp) and
times its two phases after a warm-up call (the 1-minute load average before and after is
recorded: other work on the machine slows both; so is the peak memory, model included):

* ``predict``: windows/s and bp/s (sequence fetch, one-hot, model, float32 chunk files);
* ``bigwig``: bins/s written into the 5,313 BigWigs (one target's bins count once each).

and projects them onto hg38 (``human.hg38.genome``: 27,168 windows; 24.2 M bins per
target): one such machine, measured, and N GPUs on paper. The paper figure assumes a GPU
sustains ``GPU_SUSTAINED_TFLOPS`` (30% of an A100's 19.5 FP32 TFLOPS, a typical efficiency
for large convolutions; an assumption, not a measurement) over the model's FLOPs per
window, counted here from its layers; BigWig writing is CPU work and is projected
separately, per CPU process.

Usage: python bench/predict_genome.py
"""

from __future__ import annotations

import json
import math
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

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


def model_gflops(model: keras.Model) -> float:
    """Multiply-adds x 2 of the Conv1D and Dense layers for one input sequence, in GFLOPs."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            flops += model_gflops(layer) * 1e9
        elif isinstance(layer, (keras.layers.Conv1D, keras.layers.Dense)):
            kernel = layer.kernel.shape  # [width, in, out] or [in, out]
            positions = int(np.prod(layer.output.shape[1:-1]))
            flops += 2 * positions * int(np.prod(kernel))
    return flops / 1e9


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        model = seqnn.load(PARAMS)
        gflops = model_gflops(model.head.model)
        model_file = str(Path(tmp) / "model.h5")
        model.save(model_file)
        spec = G.HeadSpec(str(PARAMS), model_file, batch_size=BATCH)
        head = G.load_head(spec.params_file, spec.model_file, 0)
        head.predict(np.zeros((BATCH, head.seq_length, 4), np.float32), batch_size=BATCH)
        tiling = G.head_tiling(head)

        phases = {}
        original = {"predict": G.predict_chunk, "bigwig": G.merge_chunks}

        def timed(name):
            def run(task):
                start = time.perf_counter()
                original[name](task)
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - start

            return run

        G.predict_chunk, G.merge_chunks = timed("predict"), timed("bigwig")
        G.predict_genome(str(FASTA), spec, str(Path(tmp) / "out"), chunk_windows=4)

    windows = -(-1_000_000 // tiling.span)
    bins = math.ceil(1_000_000 / tiling.stride) * head.num_targets
    windows_per_s = windows / phases["predict"]
    bins_per_s = bins / phases["bigwig"]
    hg38 = read_chrom_sizes(HG38_SIZES)
    hg38_windows = sum(tiling.num_windows(n) for n in hg38.values())
    hg38_bins = sum(math.ceil(n / tiling.stride) for n in hg38.values()) * head.num_targets
    gpu_windows_per_s = GPU_SUSTAINED_TFLOPS * 1e3 / gflops
    print(
        json.dumps(
            {
                "bench": "predict_genome",
                "model": "basenji2_human",
                "targets": head.num_targets,
                "seq_length": head.seq_length,
                "window_bp": tiling.span,
                "batch": BATCH,
                "windows": windows,
                "cpu_threads": os.cpu_count(),
                "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "predict_windows_per_s": round(windows_per_s, 4),
                "predict_bp_per_s": round(windows_per_s * tiling.span),
                "model_gflops_per_window": round(gflops, 1),
                "cpu_sustained_gflops": round(gflops * windows_per_s, 1),
                "bigwig_bins_per_s": round(bins_per_s),
                "hg38_windows": hg38_windows,
                "hg38_predict_hours_this_machine": round(hg38_windows / windows_per_s / 3600, 1),
                "hg38_bigwig_hours_per_cpu_process": round(hg38_bins / bins_per_s / 3600, 1),
                "gpu_assumed_sustained_tflops": GPU_SUSTAINED_TFLOPS,
                "gpu_windows_per_s_on_paper": round(gpu_windows_per_s, 1),
                "hg38_predict_hours_on_n_gpus_on_paper": {
                    str(n): round(hg38_windows / (n * gpu_windows_per_s) / 3600, 3) for n in GPUS
                },
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

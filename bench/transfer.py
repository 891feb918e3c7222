"""Step time and peak memory of each transfer mode on the full Basenji2, as JSON lines.

For each mode (``full``, ``linear``, ``lora``, ``ia3``, ``locon``, ``houlsby``,
``houlsby_se``) a fresh process builds the Basenji2 human model (models/
params_basenji2_human.json: 131,072 bp, 5,313 targets; random weights stand in for the
pretrained ones, which changes no timing), applies the transfer section as
``basenji_train.py --restore`` does (``basenji_tf.transfer.apply_transfer``), and times
training steps of the custom loop (``basenji_tf.train.Trainer``) at batch 2 on random
sequences and Poisson targets held in memory, float32. One process per mode, so
``peak_rss_mb`` is that mode's alone. Each line has the median step seconds, the
trainable and total parameters, and ``ratio_vs_full``: the mode's median step time over
full fine-tuning's (below 1: faster); ``ratio_vs_full_cpu`` the same of CPU seconds,
steadier when other jobs share the cores (compare ``load_average_1min``).

A full-size step takes seconds on a CPU, so each timed run is one step, and the number
of timed runs is ``--runs`` (default 5, bench/_harness.py's minimum) after one warm-up
step that traces the step function; ``--runs 3`` or 4, for steps of tens of seconds on a
shared CPU, times that many and says so in the line (``fewer_runs``).
``trainable_head_params``: the new head's share of ``trainable_params`` (1,536 x 5,313
weights + biases on Basenji2; the adapters are the rest). ``--quick``: the same model at 32,768 bp.

Usage: python bench/transfer.py [--quick] [--runs 5] [--modes full,lora]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

REPO = Path(__file__).resolve().parents[1]
FULL = REPO / "models" / "params_basenji2_human.json"
QUICK_SEQ_LENGTH = 32_768
MODES = {
    "full": {"mode": "full"},
    "linear": {"mode": "linear"},
    "lora": {"mode": "adapter", "adapter": "lora"},
    "ia3": {"mode": "adapter", "adapter": "ia3"},
    "locon": {"mode": "adapter", "adapter": "locon"},
    "houlsby": {"mode": "adapter", "adapter": "houlsby"},
    "houlsby_se": {"mode": "adapter", "adapter": "houlsby_se"},
}
BATCH = 2


def bench_params(mode: str, seq_length: int | None) -> dict:
    """The Basenji2 human params with ``mode``'s transfer section (and ``seq_length`` bp)."""
    params = json.loads(FULL.read_text())
    params["transfer"] = dict(MODES[mode])
    if seq_length is not None:
        # Cropping takes 64 bins a side: 32,768 bp give 128 output bins.
        params["model"]["seq_length"] = seq_length
        params["model"]["target_length"] = seq_length // 128
    return params


def few_runs(fn, runs: int, warmup: int = 1) -> dict:
    """:func:`_harness.timed`'s figures from fewer timed runs than its minimum (>= 3).

    For steps too slow for 5 runs on a shared CPU; the line says so (``fewer_runs``).
    """
    import statistics

    if runs < 3:
        raise SystemExit(f"--runs {runs}: at least 3")
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "median_s": round(statistics.median(wall), 4),
        "min_s": round(min(wall), 4),
        "max_s": round(max(wall), 4),
        "cpu_median_s": round(statistics.median(cpu), 4),
        "runs": runs,
        "fewer_runs": f"{runs} timed steps after {warmup} warm-up, fewer than the harness' 5",
    }


def measure(
    mode: str, seq_length: int | None, runs: int, full_median: tuple[float, float] | None
) -> None:
    """Time ``mode``'s training step in this process and print its JSON line."""
    import keras
    import numpy as np
    from _harness import MIN_RUNS, emit, timed

    from basenji_tf import seqnn, train, train_data, transfer
    from basenji_tf.params import parse_train_params, parse_transfer_params

    params = bench_params(mode, seq_length)
    params_file = Path(tempfile.mkdtemp(prefix="bench_transfer_")) / "params.json"
    params_file.write_text(json.dumps(params))
    keras.utils.set_random_seed(0)
    build_start = time.perf_counter()
    model = seqnn.load(params_file, augment=True)
    settings = parse_transfer_params(params, str(params_file))
    tuned = transfer.apply_transfer(model, settings, params, str(params_file))
    counts = transfer.parameter_counts(tuned.model)
    build_s = time.perf_counter() - build_start
    head = tuned.model.head
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (BATCH, head.seq_length), dtype=np.uint8)
    x = np.eye(4, dtype=np.float32)[codes]
    y = rng.poisson(1.0, (BATCH, head.target_length, head.num_targets)).astype(np.float32)
    train_settings = parse_train_params({**params["train"], "batch_size": BATCH})
    data = train_data.array_data_source(x, y, x, y, BATCH, seed=0)
    trainer = train.Trainer(
        tuned.model.models[:1],
        [data],
        train_settings,
        tempfile.mkdtemp(prefix="bench_transfer_out_"),
        save_model=lambda path, i: None,
        seed=0,
    )
    epoch = iter(range(10**6))
    step = lambda: trainer.train_epoch(next(epoch))  # noqa: E731
    timing = timed(step, runs=runs) if runs >= MIN_RUNS else few_runs(step, runs)
    config = {
        "model": "basenji2_human",
        "mode": settings.mode,
        "adapter": settings.adapter,
        "seq_length": head.seq_length,
        "batch": BATCH,
        "precision": "float32",
        "steps_per_run": 1,
    }
    head_groups = [c for c in counts if c.group.startswith("head")]
    figures = {
        "step_s": timing["median_s"],
        "trainable_params": sum(c.trainable for c in counts),
        "trainable_head_params": sum(c.trainable for c in head_groups),
        "total_params": sum(c.total for c in counts),
        "build_s": round(build_s, 1),
    }
    if full_median is not None:
        full_wall, full_cpu = full_median
        figures["ratio_vs_full"] = round(timing["median_s"] / full_wall, 3)
        figures["ratio_vs_full_cpu"] = round(timing["cpu_median_s"] / full_cpu, 3)
    emit("transfer", {"label": mode, **config}, timing, **figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SEQ_LENGTH:,} bp")
    parser.add_argument(
        "--runs", type=int, default=5, help="timed steps per mode (5; 3 or 4 for slow steps)"
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--full_median", help=argparse.SUPPRESS)  # "wall,cpu" seconds
    args = parser.parse_args()
    seq_length = QUICK_SEQ_LENGTH if args.quick else None
    if args.mode:
        full = tuple(map(float, args.full_median.split(","))) if args.full_median else None
        measure(args.mode, seq_length, args.runs, full)
        return
    modes = args.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"--modes: unknown {sorted(unknown)}; choose from {', '.join(MODES)}")
    # full first: every other line's ratio_vs_full needs its median
    full_median = None
    for mode in sorted(modes, key=lambda m: m != "full"):
        command = [sys.executable, __file__, "--mode", mode, "--runs", str(args.runs)]
        command += ["--quick"] if args.quick else []
        if full_median is not None:
            command += ["--full_median", ",".join(map(str, full_median))]
        done = subprocess.run(command, capture_output=True, text=True)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode or not lines:
            error = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
            print(json.dumps({"name": "transfer", "config": {"label": mode}, "error": error}))
            continue
        print(lines[-1], flush=True)
        if mode == "full":
            full = json.loads(lines[-1])
            full_median = (full["median_s"], full["cpu_median_s"])


if __name__ == "__main__":
    main()

"""The shared timing and machine facts of every bench/*.py script.

Each benchmark prints one JSON line (:func:`emit`) with ``name``, ``config``, the wall and
CPU time of at least 5 timed runs after a warm-up (:func:`timed`: median, min, max), the
peak resident memory of the process and its children, and the machine (CPU model and the
SIMD flags of ``/proc/cpuinfo``). CPU time counts this process's threads only: on a machine
shared with other jobs it moves less than wall time, so figures derived from it
(``*_cpu``) are the steadier ones there.

``fraction_of_matmul_peak`` compares a model's FLOP rate with a large matmul's measured in
the same process (:func:`matmul_peak`); model FLOPs are counted from the layers' kernels
(:func:`forward_gflops`), training as 3x the forward pass.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from functools import cache

MIN_RUNS = 5
_FLAG_PREFIXES = ("avx", "fma", "amx", "sse4", "f16c")


@cache
def machine() -> dict:
    """CPU model, logical CPUs, SIMD flags, load average and library versions."""
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = sorted(f for f in value.split() if f.startswith(_FLAG_PREFIXES))
                    break
    except OSError:
        pass
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "cpu_flags": flags}


def _versions() -> dict:
    out = {}
    for name in ("tensorflow", "keras"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = module.__version__
    return out


def peak_rss_mb() -> float:
    """Largest resident set of this process and of its largest waited-for child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def timed(fn: Callable[[], object], runs: int = MIN_RUNS, warmup: int = 1) -> dict:
    """Wall and CPU seconds of ``runs`` calls of ``fn`` after ``warmup`` untimed calls.

    Returns:
        ``median_s``, ``min_s``, ``max_s`` (wall), ``cpu_median_s`` (this process's CPU
        time, children included) and ``runs``.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(max(runs, MIN_RUNS)):
        c0, t0 = _cpu_seconds(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(_cpu_seconds() - c0)
    return {
        "median_s": round(statistics.median(wall), 4),
        "min_s": round(min(wall), 4),
        "max_s": round(max(wall), 4),
        "cpu_median_s": round(statistics.median(cpu), 4),
        "runs": len(wall),
    }


def _cpu_seconds() -> float:
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def emit(name: str, config: dict, timing: dict | None = None, **figures) -> dict:
    """Print one benchmark's JSON line (and return it)."""
    line = {
        "name": name,
        "config": config,
        **(timing or {}),
        **figures,
        "peak_rss_mb": peak_rss_mb(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "machine": {**machine(), **_versions()},
    }
    print(json.dumps(line), flush=True)
    return line


def matmul_peak(n: int = 4096) -> dict[str, dict]:
    """GFLOP/s of an n x n x n matmul in float32 and bfloat16, by wall and by CPU time.

    Returns:
        per dtype: ``gflops`` (2 n^3 / median wall s), ``gflops_cpu`` (per CPU-second) and
        the timing.
    """
    import tensorflow as tf

    out = {}
    for dtype in ("float32", "bfloat16"):
        a = tf.random.normal([n, n], dtype=tf.float32, seed=0)
        a = tf.cast(a, dtype)
        matmul = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)))

        def run(matmul=matmul, a=a):
            return float(matmul(a))

        timing = timed(run, runs=7, warmup=2)
        flops = 2 * n**3 / 1e9
        out[dtype] = {
            "gflops": round(flops / timing["median_s"], 1),
            "gflops_cpu": round(flops / timing["cpu_median_s"], 1),
            **timing,
        }
    return out


def forward_gflops(model) -> float:
    """Multiply-adds x 2 of the Conv1D and Dense layers for one input sequence, in GFLOPs.

    Counted from each layer's kernel shape and output positions (nested models included);
    the other layers (norms, activations, pooling) are a few percent of these.
    """
    import keras
    import numpy as np

    flops = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            flops += forward_gflops(layer) * 1e9
        elif isinstance(layer, (keras.layers.Conv1D, keras.layers.Dense)):
            positions = int(np.prod(layer.output.shape[1:-1]))
            flops += 2 * positions * int(np.prod(layer.kernel.shape))
    return flops / 1e9


def fraction_of_peak(gflops: float, seconds: float, peak_gflops: float) -> float:
    """``gflops`` of work done in ``seconds`` as a fraction of ``peak_gflops`` per second."""
    return round(gflops / seconds / peak_gflops, 3)

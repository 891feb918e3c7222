"""The shared timing and machine facts of every bench/*.py script.

Each benchmark prints one JSON line (:func:`emit`) with ``name``, ``config``, the wall and
CPU time of at least 5 timed runs after a warm-up (:func:`timed`: median, min, max), the
peak resident memory of the process and its children, and the machine (CPU model and the
SIMD flags of ``/proc/cpuinfo``). CPU time counts this process's threads only: on a machine
shared with other jobs it moves less than wall time, so figures derived from it
(``*_cpu``) are the steadier ones there.

Roofs. A fraction of a peak is only comparable across machines if the peak is, so every
benchmark that prints one names its roof (:func:`roof_fields`):

* ``conv1d_<dtype>_measured`` (:func:`conv_roof`): a large oneDNN 1-D convolution, the
  kernel Basenji2's tower spends its time in, measured in the same process. It is what
  this TensorFlow build reaches on this CPU, not the machine's limit: a 4096^3
  ``tf.linalg.matmul``, the roof used before, ran at 58 GFLOP/s on an AVX2-only EPYC
  where the model's convolutions reached 86 (:func:`matmul_peak` stays, for reference).
* ``arithmetic_<dtype>`` (:func:`arithmetic_roof`): cores x FMA lanes per vector (from
  the CPU flags) x FMA units per core (assumed 2) x 2 FLOPs x clock. Null when the clock
  or the lanes cannot be read; never guessed.

A fraction above 1 means the roof is wrong: :func:`fraction_of_roof` then prints null
and says so (``above_roof``, ``roof_error``) instead of a number. Model FLOPs are counted
from the layers' kernels (:func:`forward_gflops`), training as 3x the forward pass.
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

from basenji_tf import hardware

MIN_RUNS = 5
# FMA units per core assumed by the arithmetic roof: 2 on Intel since Haswell and AMD
# since Zen 2; AMD Zen 4 executes a 512-bit FMA as two 256-bit halves, so there the
# AVX-512 roof is twice the true one (fractions of it are then lower bounds).
FMA_UNITS_PER_CORE = 2
# The measured roof: Conv1D of [1, 16384, 512] with a 5 x 512 x 512 kernel, no padding
# (the shape of a Basenji2 tower convolution: kernel 5, 288-768 channels, 16k-65k positions).
CONV_SHAPE = {"batch": 1, "length": 16384, "channels": 512, "filters": 512, "kernel": 5}
_FLAG_PREFIXES = ("avx", "fma", "amx", "sse4", "f16c")


@cache
def machine() -> dict:
    """CPU model, logical CPUs, SIMD flags, the oneDNN ISA cap and native bfloat16."""
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
    return {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "cpu_flags": flags,
        "onednn_max_cpu_isa": hardware.isa_cap(),
        "native_bfloat16": hardware.native_bfloat16(),
    }


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


def interleaved(fns: dict[str, Callable[[], object]], rounds: int = MIN_RUNS) -> dict[str, dict]:
    """:func:`timed` figures of several functions measured in alternating rounds.

    Each function is called once untimed, then the rounds run A B C, A B C, ...: on a
    machine shared with other jobs a burst of load then slows every candidate of a round,
    not one candidate's whole series, so ratios between them are steadier than between
    separate :func:`timed` series.

    Returns:
        per name: ``median_s``, ``min_s``, ``max_s``, ``cpu_median_s``, ``runs``.
    """
    for fn in fns.values():
        fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(max(rounds, MIN_RUNS)):
        for name, fn in fns.items():
            c0, t0 = _cpu_seconds(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(_cpu_seconds() - c0)
    return {
        name: {
            "median_s": round(statistics.median(wall[name]), 4),
            "min_s": round(min(wall[name]), 4),
            "max_s": round(max(wall[name]), 4),
            "cpu_median_s": round(statistics.median(cpu[name]), 4),
            "runs": len(wall[name]),
        }
        for name in fns
    }


def plain_traced(model, batch: int, jit_compile: bool = False) -> Callable[[object], object]:
    """The baseline of every inference speed figure: what the original runs.

    The plain Keras model of the same params (its own layers, BatchNormalization unfused)
    called through one ``tf.function`` with a fixed input signature [batch, L_bp, 4]
    float32. Returns a callable taking a batch and returning a numpy array.
    """
    import numpy as np
    import tensorflow as tf

    spec = tf.TensorSpec([batch, *model.input.shape[1:]], tf.float32)
    function = tf.function(
        lambda x: model(x, training=False),
        input_signature=[spec],
        autograph=False,
        jit_compile=jit_compile,
    )
    return lambda x: np.asarray(function(x))


def ratio_vs_plain(ours: dict, plain: dict) -> dict:
    """The speed of ``ours`` against the plain traced model, from two timings.

    ``ratio_vs_plain``: plain median wall s / ours (above 1: faster than the plain traced
    model); ``ratio_vs_plain_cpu``: the same by CPU time.
    """
    return {
        "ratio_vs_plain": round(plain["median_s"] / ours["median_s"], 3),
        "ratio_vs_plain_cpu": round(plain["cpu_median_s"] / ours["cpu_median_s"], 3),
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

    bfloat16 is left out when ``ONEDNN_MAX_CPU_ISA`` hides the CPU's bfloat16.

    Returns:
        per dtype: ``gflops`` (2 n^3 / median wall s), ``gflops_cpu`` (per CPU-second) and
        the timing.
    """
    import tensorflow as tf

    out = {}
    for dtype in ("float32", "bfloat16"):
        if dtype == "bfloat16" and hardware.bfloat16_hidden():
            continue  # oneDNN would abort the process (hardware.bfloat16_hidden)
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


def conv_flops(batch: int, length: int, channels: int, filters: int, kernel: int) -> int:
    """Exact FLOPs of a 'valid' Conv1D: 2 x batch x (length - kernel + 1) x kernel x in x out."""
    return 2 * batch * (length - kernel + 1) * kernel * channels * filters


def conv_roof(dtype: str = "float32", shape: dict | None = None) -> dict:
    """The measured roof: GFLOP/s of one large 'valid' Conv1D (oneDNN) in ``dtype``.

    Args:
        dtype: "float32" or "bfloat16" (only measured where the CPU has native bfloat16:
            under ``ONEDNN_MAX_CPU_ISA=AVX2`` oneDNN cannot even create the convolution).
        shape: ``batch``, ``length`` (positions), ``channels``, ``filters``, ``kernel``;
            default :data:`CONV_SHAPE`.

    Returns:
        ``roof`` (its name), ``gflops`` (exact FLOPs / median wall s), ``gflops_cpu`` (per
        CPU-second), ``shape`` and the timing; or ``gflops`` None and ``roof_unavailable``.
    """
    shape = dict(shape or CONV_SHAPE)
    name = f"conv1d_{dtype}_measured"
    if dtype == "bfloat16" and not hardware.native_bfloat16():
        return {
            "roof": name,
            "gflops": None,
            "gflops_cpu": None,
            "shape": shape,
            "roof_unavailable": "no native bfloat16 on this CPU (or under this oneDNN ISA)",
        }
    import tensorflow as tf

    x = tf.cast(
        tf.random.normal([shape["batch"], shape["length"], shape["channels"]], seed=0), dtype
    )
    w = tf.cast(
        tf.random.normal([shape["kernel"], shape["channels"], shape["filters"]], seed=1) * 0.05,
        dtype,
    )
    conv = tf.function(
        lambda x, w: tf.reduce_sum(tf.cast(tf.nn.conv1d(x, w, 1, "VALID"), tf.float32))
    )
    timing = timed(lambda: float(conv(x, w)), runs=7, warmup=2)
    gflop = conv_flops(**shape) / 1e9
    return {
        "roof": name,
        "gflops": round(gflop / timing["median_s"], 1),
        "gflops_cpu": round(gflop / timing["cpu_median_s"], 1),
        "shape": shape,
        **timing,
    }


def arithmetic_roof(dtype: str = "float32") -> dict:
    """The arithmetic limit: cores x FMA lanes x FMA units x 2 FLOPs x clock, in GFLOP/s.

    Lanes from the CPU flags (:func:`basenji_tf.hardware.fma_lanes`: float32 16 with
    avx512f, 8 with avx2+fma; bfloat16 32 with avx512_bf16), :data:`FMA_UNITS_PER_CORE`
    assumed, physical cores of this process's affinity, the clock read by
    :func:`basenji_tf.hardware.clock_mhz`. ``gflops`` is None when any of them is unknown.
    """
    cores, lanes = hardware.physical_cores(), hardware.fma_lanes(dtype)
    mhz, clock_source = hardware.clock_mhz()
    known = None not in (cores, lanes, mhz)
    basis = (
        f"{cores} cores x {lanes} {dtype} lanes x {FMA_UNITS_PER_CORE} FMA units (assumed) "
        f"x 2 FLOPs x {mhz} MHz ({clock_source})"
    )
    return {
        "basis": basis,
        "roof": f"arithmetic_{dtype}",
        "gflops": round(cores * lanes * FMA_UNITS_PER_CORE * 2 * mhz / 1000, 1) if known else None,
        "cores": cores,
        "fma_lanes": lanes,
        "fma_units_per_core_assumed": FMA_UNITS_PER_CORE,
        "clock_mhz": mhz,
        "clock_source": clock_source,
        "onednn_max_cpu_isa": hardware.isa_cap(),
    }


def fraction_of_roof(
    work_gflops: float,
    seconds: float,
    roof_gflops: float | None,
    roof: str,
    label: str = "roof",
) -> dict:
    """``work_gflops`` done in ``seconds`` as a fraction of a roof, as JSON fields.

    Args:
        work_gflops: GFLOPs of the work timed.
        seconds: its time.
        roof_gflops: the roof's GFLOP/s (None: unknown).
        roof: the roof's name, printed beside the fraction.
        label: field names: ``fraction_of_<label>`` and ``<label>``.

    Returns:
        ``{fraction_of_<label>: fraction, <label>: roof}``. The fraction is None when the
        roof is unknown, and when the rate is above the roof (a fraction > 1 means the roof
        is wrong, not that the benchmark is fast): then ``<label>_exceeded`` (the ratio)
        and ``<label>_error`` say so.
    """
    out = {f"fraction_of_{label}": None, label: roof}
    if not roof_gflops or seconds <= 0:
        return out
    ratio = work_gflops / seconds / roof_gflops
    if ratio > 1:
        out[f"{label}_exceeded"] = round(ratio, 3)
        out[f"{label}_error"] = f"{ratio:.2f}x the {roof} roof: the roof is wrong, not a fraction"
        return out
    out[f"fraction_of_{label}"] = round(ratio, 3)
    return out


def roofs(dtypes: tuple[str, ...] = ("float32",)) -> dict[str, dict]:
    """Per dtype: ``measured`` (:func:`conv_roof`) and ``arithmetic`` (:func:`arithmetic_roof`)."""
    return {d: {"measured": conv_roof(d), "arithmetic": arithmetic_roof(d)} for d in dtypes}


def roof_fields(work_gflops: float, timing: dict, roof: dict) -> dict:
    """The fraction fields of one measurement against one dtype's roofs (:func:`roofs`).

    ``fraction_of_roof`` (wall time) and ``fraction_of_roof_cpu`` (CPU time) against the
    measured conv roof, ``fraction_of_arithmetic_roof`` against the arithmetic one, each
    with the roof it used, and both roofs' GFLOP/s.
    """
    measured, arithmetic = roof["measured"], roof["arithmetic"]
    name = measured["roof"]
    return {
        **fraction_of_roof(work_gflops, timing["median_s"], measured["gflops"], name),
        **fraction_of_roof(
            work_gflops,
            timing["cpu_median_s"],
            measured["gflops_cpu"],
            f"{name}_per_cpu_s",
            label="roof_cpu",
        ),
        **fraction_of_roof(
            work_gflops,
            timing["median_s"],
            arithmetic["gflops"],
            arithmetic["roof"],
            label="arithmetic_roof",
        ),
        "roof_gflops": measured["gflops"],
        "arithmetic_roof_gflops": arithmetic["gflops"],
        "arithmetic_roof_basis": arithmetic["basis"],
    }


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

"""What this machine computes natively: CPU flags, cores, clock, GPUs; no TensorFlow import.

The reduced precisions are fast only where the hardware has them: bfloat16 on CPUs with
AVX-512 BF16 or AMX BF16, float16 on GPUs (and CPUs with AVX-512 FP16 or AMX FP16).
Elsewhere oneDNN converts to float32 and back around every layer, and a bfloat16 model
runs slower than the float32 one (an AVX2-only EPYC: ``-m`` training 4.4x slower,
docs/precision.md). :func:`precision_warning` says so before such a run, and
:func:`training_policy` picks what ``basenji_train.py -m`` trains in.

Readers are plain functions of files (``/proc/cpuinfo``, ``/sys``) so tests can replace
:func:`cpu_flags` to simulate another CPU.
"""

from __future__ import annotations

import logging
import os
import sys
from functools import cache

log = logging.getLogger(__name__)

CPUINFO = "/proc/cpuinfo"
CPUFREQ = "/sys/devices/system/cpu/cpu0/cpufreq"

BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
FLOAT16_FLAGS = ("avx512_fp16", "amx_fp16")

# ONEDNN_MAX_CPU_ISA values below AVX512_CORE_BF16: oneDNN then has no bfloat16 kernels
# whatever the flags say (it cannot even create a bfloat16 convolution under AVX2).
_ISA_CAPS_BELOW_AVX512 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"})
_ISA_CAPS_WITHOUT_BF16 = _ISA_CAPS_BELOW_AVX512 | {"AVX512_CORE", "AVX512_CORE_VNNI"}


def _cpuinfo_records() -> list[dict[str, str]]:
    """:data:`CPUINFO` as one dict per logical CPU (empty when unreadable)."""
    records, current = [], {}
    try:
        with open(CPUINFO) as handle:
            for line in handle:
                key, sep, value = line.partition(":")
                if not sep:
                    if current:
                        records.append(current)
                    current = {}
                    continue
                current[key.strip()] = value.strip()
    except OSError:
        return []
    if current:
        records.append(current)
    return records


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (of its first CPU; empty if unreadable)."""
    records = _cpuinfo_records()
    return frozenset(records[0].get("flags", "").split()) if records else frozenset()


def isa_cap() -> str | None:
    """``ONEDNN_MAX_CPU_ISA`` upper-cased, or None when unset."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return cap or None


def bfloat16_hidden() -> bool:
    """Whether the CPU has bfloat16 but ``ONEDNN_MAX_CPU_ISA`` hides it from oneDNN.

    TensorFlow still sees the flag and asks oneDNN for bfloat16 kernels, which it then
    cannot create: a bfloat16 matmul or convolution aborts the process.
    """
    present = any(flag in cpu_flags() for flag in BFLOAT16_FLAGS)
    return present and isa_cap() in _ISA_CAPS_WITHOUT_BF16


def _onednn_off() -> bool:
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false")


def native_bfloat16() -> bool:
    """Whether this CPU runs bfloat16 matmuls and convolutions natively.

    True with an AVX-512 BF16 or AMX BF16 flag, unless ``ONEDNN_MAX_CPU_ISA`` caps oneDNN
    below AVX512_CORE_BF16 or ``TF_ENABLE_ONEDNN_OPTS=0`` turns oneDNN off (Eigen has no
    bfloat16 kernels of its own).
    """
    if _onednn_off() or isa_cap() in _ISA_CAPS_WITHOUT_BF16:
        return False
    return any(flag in cpu_flags() for flag in BFLOAT16_FLAGS)


def native_float16_cpu() -> bool:
    """Whether this CPU has float16 arithmetic (AVX-512 FP16 or AMX FP16) for oneDNN."""
    if _onednn_off() or isa_cap() in _ISA_CAPS_WITHOUT_BF16 | {"AVX512_CORE_BF16"}:
        return False
    return any(flag in cpu_flags() for flag in FLOAT16_FLAGS)


def gpu_visible() -> bool | None:
    """Whether TensorFlow sees a GPU; None when TensorFlow is not loaded (not asked then).

    Never imports TensorFlow: only a process that already loaded it can answer cheaply.
    """
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    return bool(tf.config.list_logical_devices("GPU"))


def precision_warning(precision: str) -> str | None:
    """Why ``precision`` will likely run slower than float32 here (one line), or None.

    Args:
        precision: "float32", "bfloat16" or "float16" (``--precision``).

    Returns:
        None for float32, for bfloat16 on a CPU with native bfloat16 and for either reduced
        type with a GPU; otherwise the warning. The choice stays the user's: this only
        explains it.
    """
    if precision == "float32" or gpu_visible():
        return None
    if precision == "bfloat16" and not native_bfloat16():
        return (
            "--precision bfloat16 will likely be slower than float32: this CPU has no "
            f"native bfloat16 ({_missing(BFLOAT16_FLAGS)}), so every layer converts to "
            "float32 and back (docs/precision.md)"
        )
    if precision == "float16" and not native_float16_cpu():
        return (
            "--precision float16 will likely be slower than float32: no GPU is visible and "
            f"this CPU has no native float16 ({_missing(FLOAT16_FLAGS)}) (docs/precision.md)"
        )
    return None


_warned: set[str] = set()


def warn_precision(precision: str) -> bool:
    """Log :func:`precision_warning` (one warning line), once per process and precision.

    Returns:
        True if the line was logged by this call.
    """
    if precision in _warned:
        return False
    message = precision_warning(precision)
    if not message:
        return False
    _warned.add(precision)
    log.warning("warning: %s", message)
    return True


def training_policy(gpu: bool) -> str:
    """The Keras policy ``-m`` (mixed precision) trains under, warning when it is float32.

    Args:
        gpu: whether training runs on GPUs.

    Returns:
        "mixed_float16" with GPUs (tensor cores), "mixed_bfloat16" on a CPU with native
        bfloat16, else "float32" with one warning line: emulated bfloat16 trains several
        times slower than float32 (4.4x on an AVX2-only EPYC), which is not what ``-m`` is
        asked for.
    """
    if gpu:
        return "mixed_float16"
    if native_bfloat16():
        return "mixed_bfloat16"
    log.warning(
        "warning: -m: training in float32, not mixed_bfloat16: this CPU has no native "
        "bfloat16 (%s), and emulated bfloat16 trains several times slower (docs/precision.md)",
        _missing(BFLOAT16_FLAGS),
    )
    return "float32"


def _missing(flags: tuple[str, ...]) -> str:
    """Which of ``flags`` are absent, or which setting hides them."""
    if _onednn_off():
        return "TF_ENABLE_ONEDNN_OPTS=0 turns oneDNN off"
    cap = isa_cap()
    present = [f for f in flags if f in cpu_flags()]
    if cap in _ISA_CAPS_WITHOUT_BF16 and present:
        return f"ONEDNN_MAX_CPU_ISA={cap} hides its {'/'.join(present)}"
    return f"no {' or '.join(flags)} flag in {CPUINFO}"


# ---------------------------------------------------------------------------------------
# the arithmetic limit of benchmarks (bench/_harness.py)


def physical_cores() -> int | None:
    """Physical cores among the CPUs this process may run on (None: unknown).

    Counts distinct (``physical id``, ``core id``) pairs of ``/proc/cpuinfo`` over the
    process's CPU affinity; without those fields, the affinity's CPU count.
    """
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores = set()
    for record in _cpuinfo_records():
        cpu = record.get("processor")
        if allowed is not None and cpu is not None and int(cpu) not in allowed:
            continue
        if "core id" not in record:
            return len(allowed) if allowed is not None else os.cpu_count()
        cores.add((record.get("physical id", "0"), record["core id"]))
    if cores:
        return len(cores)
    return len(allowed) if allowed is not None else os.cpu_count()


def clock_mhz() -> tuple[float | None, str]:
    """The CPU clock in MHz and where it was read; (None, why) when it cannot be read.

    ``cpufreq/cpuinfo_max_freq`` (kHz) when readable, else the largest ``cpu MHz`` of
    ``/proc/cpuinfo`` (the current clock; on a VM the host's nominal one).
    """
    try:
        with open(os.path.join(CPUFREQ, "cpuinfo_max_freq")) as handle:
            return round(int(handle.read().strip()) / 1000, 1), f"{CPUFREQ}/cpuinfo_max_freq"
    except (OSError, ValueError):
        pass
    speeds = []
    for record in _cpuinfo_records():
        try:
            speeds.append(float(record["cpu MHz"]))
        except (KeyError, ValueError):
            continue
    if speeds:
        return round(max(speeds), 1), f"{CPUINFO} cpu MHz"
    return None, f"neither {CPUFREQ} nor 'cpu MHz' in {CPUINFO} is readable"


def fma_lanes(dtype: str = "float32") -> int | None:
    """Multiply-adds of ``dtype`` per FMA instruction from the flags (None: no FMA).

    float32: 16 with avx512f, 8 with avx2 and fma. bfloat16: 32 with avx512_bf16
    (``vdpbf16ps`` takes pairs), None otherwise (AMX tiles are not modelled).
    """
    flags = cpu_flags()
    if dtype == "bfloat16":
        if "amx_bf16" in flags:
            return None
        return 32 if "avx512_bf16" in flags and native_bfloat16() else None
    if "avx512f" in flags and isa_cap() not in _ISA_CAPS_BELOW_AVX512:
        return 16
    if "avx2" in flags and "fma" in flags and isa_cap() not in {"SSE41", "AVX"}:
        return 8
    return None

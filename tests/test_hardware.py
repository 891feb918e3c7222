"""basenji_tf.hardware: native bfloat16 from the CPU flags, the --precision warning, -m's policy.

Other CPUs are simulated by writing a /proc/cpuinfo-like file and pointing the reader at it.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import keras
import pytest

from basenji_tf import hardware

AVX2_ONLY = "fpu sse sse2 sse4_1 sse4_2 avx avx2 fma f16c"
AVX512_BF16 = AVX2_ONLY + " avx512f avx512bw avx512vl avx512_bf16"
SAPPHIRE = AVX512_BF16 + " amx_bf16 amx_tile avx512_fp16 amx_fp16"


def cpuinfo_text(flags: str, cpus: int = 2, mhz: str | None = "2596.144", cores=None) -> str:
    records = []
    for cpu in range(cpus):
        lines = [f"processor\t: {cpu}", "model name\t: Test CPU"]
        if mhz is not None:
            lines.append(f"cpu MHz\t\t: {mhz}")
        if cores is not None:
            lines += ["physical id\t: 0", f"core id\t\t: {cores[cpu]}"]
        lines.append(f"flags\t\t: {flags}")
        records.append("\n".join(lines))
    return "\n\n".join(records) + "\n"


@pytest.fixture
def simulate(tmp_path, monkeypatch):
    """A function of (flags, cpuinfo_text options) after which this process reads that CPU."""
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.setattr(hardware, "CPUFREQ", str(tmp_path / "no_cpufreq"))
    monkeypatch.setattr(hardware, "_warned", set())
    monkeypatch.setattr(hardware, "gpu_visible", lambda: False)

    def make(flags: str, **options) -> None:
        path = tmp_path / "cpuinfo"
        path.write_text(cpuinfo_text(flags, **options))
        monkeypatch.setattr(hardware, "CPUINFO", str(path))
        hardware.cpu_flags.cache_clear()

    yield make
    hardware.cpu_flags.cache_clear()


def test_native_bfloat16_from_the_flags(simulate, monkeypatch):
    simulate(AVX2_ONLY)
    assert "avx2" in hardware.cpu_flags() and not hardware.native_bfloat16()
    simulate(AVX512_BF16)
    assert hardware.native_bfloat16() and not hardware.native_float16_cpu()
    simulate(SAPPHIRE)
    assert hardware.native_bfloat16() and hardware.native_float16_cpu()
    # oneDNN capped below AVX512_CORE_BF16, or off: the flags are there, the kernels not
    assert not hardware.bfloat16_hidden()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert not hardware.native_bfloat16() and not hardware.native_float16_cpu()
    assert hardware.bfloat16_hidden()  # TensorFlow would still ask oneDNN for bfloat16
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert hardware.native_bfloat16() and not hardware.native_float16_cpu()
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert not hardware.native_bfloat16()


def test_unreadable_cpuinfo_means_no_flags(simulate, monkeypatch, tmp_path):
    monkeypatch.setattr(hardware, "CPUINFO", str(tmp_path / "missing"))
    hardware.cpu_flags.cache_clear()
    assert hardware.cpu_flags() == frozenset() and not hardware.native_bfloat16()
    assert hardware.clock_mhz()[0] is None


def test_precision_warning_only_without_native_support(simulate, monkeypatch):
    simulate(AVX2_ONLY)
    assert hardware.precision_warning("float32") is None
    message = hardware.precision_warning("bfloat16")
    assert "slower than float32" in message and "avx512_bf16" in message
    assert "\n" not in message
    assert "no GPU" in hardware.precision_warning("float16")
    simulate(AVX512_BF16)
    assert hardware.precision_warning("bfloat16") is None
    assert hardware.precision_warning("float16") is not None
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert "ONEDNN_MAX_CPU_ISA=AVX2 hides its avx512_bf16)" in hardware.precision_warning(
        "bfloat16"
    )
    monkeypatch.setattr(hardware, "gpu_visible", lambda: True)
    assert hardware.precision_warning("float16") is None


def test_warn_precision_logs_one_line_once(simulate, caplog):
    simulate(AVX2_ONLY)
    with caplog.at_level(logging.WARNING, logger="basenji_tf.hardware"):
        assert hardware.warn_precision("bfloat16")
        assert not hardware.warn_precision("bfloat16")
        assert not hardware.warn_precision("float32")
    assert len(caplog.records) == 1 and "slower" in caplog.records[0].getMessage()


def test_training_policy(simulate, caplog):
    simulate(AVX2_ONLY)
    assert hardware.training_policy(gpu=True) == "mixed_float16"
    with caplog.at_level(logging.WARNING, logger="basenji_tf.hardware"):
        assert hardware.training_policy(gpu=False) == "float32"
    (record,) = caplog.records
    assert "training in float32" in record.getMessage() and "\n" not in record.getMessage()
    caplog.clear()
    simulate(AVX512_BF16)
    with caplog.at_level(logging.WARNING, logger="basenji_tf.hardware"):
        assert hardware.training_policy(gpu=False) == "mixed_bfloat16"
    assert not caplog.records


def test_mixed_precision_policy_follows_the_cpu(simulate, caplog):
    from basenji_tf import distribute

    simulate(AVX2_ONLY)
    with caplog.at_level(logging.WARNING, logger="basenji_tf.hardware"):
        assert distribute.mixed_precision_policy() == "float32"
    assert len(caplog.records) == 1
    simulate(SAPPHIRE)
    assert distribute.mixed_precision_policy() == "mixed_bfloat16"


@pytest.mark.slow
def test_train_m_without_native_bfloat16_trains_float32(simulate, tmp_path, monkeypatch, caplog):
    """``-m`` on an AVX2-only CPU: a float32 model, one warning, the policy restored."""
    from test_train import write_data_dir, write_params

    from basenji_tf import seqnn, train

    simulate(AVX2_ONLY)
    built = []
    load = seqnn.load
    monkeypatch.setattr(seqnn, "load", lambda *a, **k: built.append(load(*a, **k)) or built[-1])
    data = write_data_dir(tmp_path / "data")
    params = write_params(tmp_path / "params.json", train_epochs_max=1)
    with caplog.at_level(logging.WARNING, logger="basenji_tf.hardware"):
        train.train_model(params, [data], tmp_path / "out", mixed_precision=True, seed=1)
    assert built[0].precision == "float32"
    conv = next(layer for layer in built[0].model.layers if "conv" in layer.name)
    assert conv.compute_dtype == "float32"
    assert [r.getMessage().count("training in float32") for r in caplog.records] == [1]
    assert keras.mixed_precision.global_policy().name == "float32"


def test_seqnn_warns_for_emulated_bfloat16(simulate, caplog):
    from test_train import TINY_PARAMS

    from basenji_tf import seqnn

    simulate(AVX2_ONLY)
    with caplog.at_level(logging.WARNING, logger="basenji_tf.hardware"):
        model = seqnn.SeqNN(TINY_PARAMS["model"], augment=False, precision="bfloat16")
        seqnn.SeqNN(TINY_PARAMS["model"], augment=False, precision="bfloat16")
    assert model.precision == "bfloat16"  # kept: the user asked for it
    assert len(caplog.records) == 1 and "--precision bfloat16" in caplog.records[0].getMessage()


def test_cores_and_clock(simulate):
    simulate(AVX512_BF16, cpus=2, cores=[0, 0])  # two hyperthreads of one core
    assert hardware.physical_cores() == 1
    assert hardware.clock_mhz() == (2596.1, f"{hardware.CPUINFO} cpu MHz")
    assert hardware.fma_lanes("float32") == 16 and hardware.fma_lanes("bfloat16") == 32
    simulate(AVX2_ONLY, mhz=None)
    assert hardware.clock_mhz()[0] is None
    assert hardware.fma_lanes("float32") == 8 and hardware.fma_lanes("bfloat16") is None
    simulate("sse sse2")
    assert hardware.fma_lanes("float32") is None


@pytest.mark.subprocess
def test_no_tensorflow_import():
    code = "import sys, basenji_tf.hardware as h; h.native_bfloat16(); h.gpu_visible(); "
    code += "sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

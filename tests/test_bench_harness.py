"""bench/_harness.py: fractions name their roof and are never above 1; the roofs' arithmetic."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from basenji_tf import hardware

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import _harness  # noqa: E402


def test_fraction_names_its_roof():
    fields = _harness.fraction_of_roof(30.0, 2.0, 60.0, "conv1d_float32_measured")
    assert fields == {"fraction_of_roof": 0.25, "roof": "conv1d_float32_measured"}
    fields = _harness.fraction_of_roof(30.0, 1.0, 60.0, "arithmetic_float32", "arithmetic_roof")
    assert fields == {"fraction_of_arithmetic_roof": 0.5, "arithmetic_roof": "arithmetic_float32"}


def test_fraction_above_one_is_flagged_not_printed():
    """0.37 seqs/s x 233 GFLOP against a 58 GFLOP/s matmul: 1.49x, the roof is wrong."""
    fields = _harness.fraction_of_roof(233.0, 1 / 0.37, 58.0, "matmul_float32")
    assert fields["fraction_of_roof"] is None
    assert fields["roof"] == "matmul_float32"
    assert fields["roof_exceeded"] == pytest.approx(233 * 0.37 / 58, abs=1e-3)
    assert "roof is wrong" in fields["roof_error"]
    # exactly at the roof is still a fraction
    assert _harness.fraction_of_roof(10.0, 1.0, 10.0, "r")["fraction_of_roof"] == 1.0


def test_unknown_roof_gives_no_fraction():
    assert _harness.fraction_of_roof(10.0, 1.0, None, "arithmetic_float32") == {
        "fraction_of_roof": None,
        "roof": "arithmetic_float32",
    }


def test_roof_fields_flag_each_roof_separately():
    roof = {
        "measured": {"roof": "conv1d_float32_measured", "gflops": 50.0, "gflops_cpu": 100.0},
        "arithmetic": {"roof": "arithmetic_float32", "gflops": 200.0, "basis": "2 cores x ..."},
    }
    timing = {"median_s": 1.0, "cpu_median_s": 2.0}
    fields = _harness.roof_fields(80.0, timing, roof)
    assert fields["fraction_of_roof"] is None and fields["roof_exceeded"] == 1.6
    assert fields["fraction_of_roof_cpu"] == 0.4
    assert fields["roof_cpu"] == "conv1d_float32_measured_per_cpu_s"
    assert fields["fraction_of_arithmetic_roof"] == 0.4
    assert fields["arithmetic_roof"] == "arithmetic_float32"
    assert fields["arithmetic_roof_basis"] == "2 cores x ..."


def test_conv_flops_are_exact():
    # 'valid': 3 output positions x kernel 3 x 2 in x 4 out multiply-adds
    assert _harness.conv_flops(1, 5, 2, 4, 3) == 2 * 3 * 3 * 2 * 4
    assert _harness.conv_flops(**_harness.CONV_SHAPE) == 2 * 16380 * 5 * 512 * 512


def test_arithmetic_roof(monkeypatch):
    monkeypatch.setattr(hardware, "physical_cores", lambda: 2)
    monkeypatch.setattr(hardware, "clock_mhz", lambda: (2500.0, "test"))
    monkeypatch.setattr(hardware, "fma_lanes", lambda dtype: 16)
    roof = _harness.arithmetic_roof("float32")
    assert roof["gflops"] == 2 * 16 * _harness.FMA_UNITS_PER_CORE * 2 * 2.5
    assert roof["roof"] == "arithmetic_float32" and "assumed" in roof["basis"]
    monkeypatch.setattr(hardware, "clock_mhz", lambda: (None, "unreadable"))
    assert _harness.arithmetic_roof("float32")["gflops"] is None  # never guessed


def test_no_bfloat16_conv_roof_without_native_support(monkeypatch):
    monkeypatch.setattr(hardware, "native_bfloat16", lambda: False)
    roof = _harness.conv_roof("bfloat16")
    assert roof["gflops"] is None and "native" in roof["roof_unavailable"]


@pytest.mark.slow
def test_conv_roof_measures_a_convolution():
    shape = {"batch": 1, "length": 256, "channels": 16, "filters": 8, "kernel": 3}
    roof = _harness.conv_roof("float32", shape)
    assert roof["roof"] == "conv1d_float32_measured" and roof["runs"] >= _harness.MIN_RUNS
    expected = _harness.conv_flops(**shape) / 1e9 / roof["median_s"]
    assert roof["gflops"] == pytest.approx(expected, rel=0.01, abs=0.05)

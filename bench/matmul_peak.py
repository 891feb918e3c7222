"""The roofs the other benchmarks' fractions use: measured conv, arithmetic, and matmul.

Prints one JSON line per roof and dtype:

* ``roof`` ``conv1d_<dtype>_measured``: a large oneDNN Conv1D (the kernel Basenji2's tower
  runs; shape and exact FLOPs in ``config``), float32, and bfloat16 where the CPU has it
  natively; with its fraction of the arithmetic roof (flagged if above 1);
* ``roof`` ``arithmetic_<dtype>``: cores x FMA lanes x FMA units (assumed) x 2 x clock,
  with every term and where the clock was read (null when it cannot be read);
* ``matmul_peak``: a 4096^3 ``tf.linalg.matmul`` in float32 and bfloat16, the roof used
  before (on an AVX2-only EPYC it was below the model's own rate: not a roof).

Usage: python bench/matmul_peak.py [--n 4096]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import (  # noqa: E402
    arithmetic_roof,
    conv_flops,
    conv_roof,
    emit,
    fraction_of_roof,
    matmul_peak,
)

TIMING_KEYS = ("median_s", "min_s", "max_s", "cpu_median_s", "runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="matmul matrix side")
    args = parser.parse_args()
    for dtype in ("float32", "bfloat16"):
        arithmetic = arithmetic_roof(dtype)
        emit("roof", {"roof": arithmetic["roof"], "dtype": dtype}, **arithmetic)
        conv = conv_roof(dtype)
        timing = {k: conv.pop(k) for k in TIMING_KEYS if k in conv}
        shape = conv.pop("shape")
        gflop = conv_flops(**shape) / 1e9
        figures = dict(conv)
        if timing:
            figures.update(
                fraction_of_roof(
                    gflop,
                    timing["median_s"],
                    arithmetic["gflops"],
                    arithmetic["roof"],
                    label="arithmetic_roof",
                )
            )
        emit("roof", {"dtype": dtype, "conv1d_valid": shape, "gflop": gflop}, timing, **figures)
    for dtype, peak in matmul_peak(args.n).items():
        timing = {k: v for k, v in peak.items() if k in TIMING_KEYS}
        emit(
            "matmul_peak",
            {"dtype": dtype, "n": args.n},
            timing,
            gflops=peak["gflops"],
            gflops_cpu=peak["gflops_cpu"],
        )


if __name__ == "__main__":
    main()

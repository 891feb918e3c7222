"""The machine's large-matmul GFLOP/s in float32 and bfloat16 (the peak the others use).

Usage: python bench/matmul_peak.py [--n 4096]
Prints one JSON line per dtype.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import emit, matmul_peak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="matrix side")
    args = parser.parse_args()
    for dtype, peak in matmul_peak(args.n).items():
        timing = {k: v for k, v in peak.items() if k.endswith("_s") or k == "runs"}
        emit(
            "matmul_peak",
            {"dtype": dtype, "n": args.n},
            timing,
            gflops=peak["gflops"],
            gflops_cpu=peak["gflops_cpu"],
        )


if __name__ == "__main__":
    main()

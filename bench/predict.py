"""Prediction throughput of SeqNN on this machine (CPU), printed as JSON lines.

For the full Basenji2 architecture (131,072 bp, random weights: speed does not depend on
the values) and the small two-head reference model, measures sequences per second for
plain prediction and for the RC + 3-shift ensemble, run two ways:

* ``members_one_batch``: ours, the six members stacked into one model call;
* ``members_separately``: the original's way, one model call per member, then averaged.

Each line has the harness's timing of the plain call (5 runs after a warm-up), the
ensemble's speed-up, and ``fraction_of_matmul_peak`` of the plain call (forward FLOPs
against the same run's float32 matmul; ``_cpu``: per CPU-second).

Usage: python bench/predict.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _harness import emit, forward_gflops, matmul_peak, timed  # noqa: E402

from basenji_tf import dna, seqnn  # noqa: E402

MODELS = {
    "basenji2_human": "models/params_basenji2_human.json",
    "basenji2_small": "tests/data/reference/basenji2_small/params.json",
}
SHIFTS = (0, 1, -1)


def separate_members(head: seqnn.Head, x: np.ndarray) -> np.ndarray:
    """The ensemble the original's way: one call of the plain model per member."""
    total = 0
    for shift in SHIFTS:
        shifted = dna.hot1_shift(x, shift)
        total = total + head.predict(shifted, batch_size=len(x))
        total = total + head.predict(dna.hot1_rc(shifted), batch_size=len(x))[:, ::-1]
    return total / (2 * len(SHIFTS))


def bench(name: str, params_file: str, batch: int, peak: dict) -> None:
    head = seqnn.load(params_file).head
    rng = np.random.default_rng(0)
    x = dna.index_1hot(rng.integers(0, 4, (batch, head.seq_length)))
    plain = timed(lambda: head.predict(x, batch_size=batch))
    one_batch = timed(lambda: head.predict(x, batch_size=batch, rc=True, shifts=SHIFTS))
    separately = timed(lambda: separate_members(head, x))
    assert np.allclose(
        head.predict(x, batch_size=batch, rc=True, shifts=SHIFTS),
        separate_members(head, x),
        atol=1e-3,
        rtol=1e-3,
    )
    gflops = forward_gflops(head.model) * batch
    emit(
        "predict",
        {"model": name, "seq_length": head.seq_length, "batch": batch, "precision": "float32"},
        plain,
        plain_seqs_per_s=round(batch / plain["median_s"], 3),
        ensemble6_one_batch_seqs_per_s=round(batch / one_batch["median_s"], 3),
        ensemble6_separately_seqs_per_s=round(batch / separately["median_s"], 3),
        ensemble_speedup=round(separately["median_s"] / one_batch["median_s"], 2),
        fraction_of_matmul_peak=round(gflops / plain["median_s"] / peak["gflops"], 3),
        fraction_of_matmul_peak_cpu=round(gflops / plain["cpu_median_s"] / peak["gflops_cpu"], 3),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model only")
    args = parser.parse_args()
    peak = matmul_peak()["float32"]
    for name, params_file in MODELS.items():
        if args.quick and name == "basenji2_human":
            continue
        bench(name, params_file, 1 if name == "basenji2_human" else 8, peak)


if __name__ == "__main__":
    main()

"""Prediction throughput of SeqNN on this machine (CPU), printed as JSON lines.

For the full Basenji2 architecture (131,072 bp, random weights: speed does not depend on
the values) and the small two-head reference model, measures sequences per second for
plain prediction and for the RC + 3-shift ensemble, run two ways:

* ``members_one_batch``: ours, the six members stacked into one model call;
* ``members_separately``: the original's way, one model call per member, then averaged.

Each line has the harness's timing of the plain call (5 runs after a warm-up), the
ensemble's speed-up (``ensemble_speedup``: member by member time / one-batch time; below
1 the one batch is slower), and the plain call's forward FLOP rate as fractions of the
roofs it names (``roof``: the same run's large float32 Conv1D; ``arithmetic_roof``: cores
x lanes x FMA units x clock; ``_cpu``: per CPU-second; see bench/_harness.py).

Run it under ``ONEDNN_MAX_CPU_ISA=AVX2`` too to see an AVX2-only CPU's kernels (the
``machine`` field records the cap).

Usage: python bench/predict.py [--quick] [--models small,full] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _harness import emit, forward_gflops, roof_fields, roofs, timed  # noqa: E402

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


def bench(name: str, params_file: str, batch: int, roof: dict, runs: int) -> None:
    head = seqnn.load(params_file).head
    rng = np.random.default_rng(0)
    x = dna.index_1hot(rng.integers(0, 4, (batch, head.seq_length)))
    plain = timed(lambda: head.predict(x, batch_size=batch), runs=runs)
    one_batch = timed(lambda: head.predict(x, batch_size=batch, rc=True, shifts=SHIFTS), runs=runs)
    separately = timed(lambda: separate_members(head, x), runs=runs)
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
        ensemble_speedup_cpu=round(separately["cpu_median_s"] / one_batch["cpu_median_s"], 2),
        ensemble6_one_batch=one_batch,
        ensemble6_separately=separately,
        forward_gflops_per_seq=round(gflops / batch, 2),
        **roof_fields(gflops, plain, roof),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model only")
    parser.add_argument(
        "--models", default="small,full", help="comma-separated: small, full (Basenji2)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs (at least 5)")
    args = parser.parse_args()
    wanted = {"small": "basenji2_small", "full": "basenji2_human"}
    names = {wanted[m.strip()] for m in args.models.split(",")}
    if args.quick:
        names.discard("basenji2_human")
    roof = roofs(("float32",))["float32"]
    for name, params_file in MODELS.items():
        if name in names:
            bench(name, params_file, 1 if name == "basenji2_human" else 8, roof, args.runs)


if __name__ == "__main__":
    main()

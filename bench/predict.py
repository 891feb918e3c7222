"""Prediction throughput of SeqNN on this machine (CPU), printed as JSON lines.

For the full Basenji2 architecture (131,072 bp, random weights: speed does not depend on
the values; batch 1 and 4) and the small two-head reference model (batch 8), measures
sequences per second of:

* ``plain_traced``: the baseline of every figure, what the original runs: the plain Keras
  model of the same params (BatchNormalization unfused) in one ``tf.function`` with a
  fixed input signature (``_harness.plain_traced``);
* ``seqnn``: ours, ``Head.predict`` (``seqnn.predict_model``: padded fixed-shape calls);
* ``folded``: ``Head.predict`` of ``seqnn.load(..., fold=True)`` (batch normalisation
  folded into the convolutions, ``basenji_tf/fold.py``);
* ``folded_xla``: the folded model in a fixed-signature ``tf.function(jit_compile=True)``,
  the XLA candidate (measured, not used by the library unless it wins: docs/precision.md);

timed in the same process in interleaved rounds (A B C D, A B C D, ...; the machine is
shared), each with ``ratio_vs_plain`` (plain median wall s / its own; above 1 is faster)
and ``ratio_vs_plain_cpu`` (by CPU time, the steadier one under other jobs' load). The
folded outputs' largest difference from the plain model, relative to its largest output,
is ``folded_max_rel_diff`` (BatchNormalization statistics randomised so the fold is not
an identity).

At the first batch size of each model the line also has the RC + 3-shift ensemble run two
ways (``members_one_batch``: ours, the six members stacked into one model call;
``members_separately``: the original's way, one call per member, then averaged) and
``ensemble_speedup`` (member by member time / one-batch time). ``seqnn``'s forward FLOP
rate is printed as fractions of the roofs it names (``roof``: the same run's large float32
Conv1D; ``arithmetic_roof``: cores x lanes x FMA units x clock; ``_cpu``: per CPU-second;
see bench/_harness.py); the plain model's as ``plain_fraction_of_roof``.

Run it under ``ONEDNN_MAX_CPU_ISA=AVX2`` too to see an AVX2-only CPU's kernels (the
``machine`` field records the cap).

Usage: python bench/predict.py [--quick] [--models small,full] [--runs N] [--batches 1,4]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _harness import (  # noqa: E402
    emit,
    forward_gflops,
    interleaved,
    plain_traced,
    ratio_vs_plain,
    roof_fields,
    roofs,
    timed,
)

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


def randomize_norms(net: seqnn.SeqNN, seed: int = 0) -> None:
    """Random BatchNormalization gamma, beta and statistics (a fold that changes weights)."""
    rng = np.random.default_rng(seed)
    for layer in net.model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            gamma, beta = rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n)
            mean, var = rng.normal(0, 0.1, n), rng.uniform(0.5, 2.0, n)
            layer.set_weights([np.float32(v) for v in (gamma, beta, mean, var)])


def bench(name: str, params_file: str, batches: list[int], roof: dict, runs: int) -> None:
    net = seqnn.load(params_file)
    randomize_norms(net)
    head = net.head
    folded_net = seqnn.load(params_file)
    for layer in net.model.layers:  # the same weights
        if layer.weights:
            folded_net.model.get_layer(layer.name).set_weights(layer.get_weights())
    folded_net.fold_batch_norm()
    folded = folded_net.head
    rng = np.random.default_rng(0)
    for bi, batch in enumerate(batches):
        x = dna.index_1hot(rng.integers(0, 4, (batch, head.seq_length)))
        bench_batch(name, head, folded, x, roof, runs, ensemble=bi == 0)


def bench_batch(
    name: str,
    head: seqnn.Head,
    folded: seqnn.Head,
    x: np.ndarray,
    roof: dict,
    runs: int,
    ensemble: bool,
) -> None:
    """One JSON line: the four ways (module docstring) at batch ``len(x)``."""
    batch = len(x)
    plain_fn = plain_traced(head.model, batch)
    xla_fn = plain_traced(folded.model, batch, jit_compile=True)
    reference = plain_fn(x)
    diffs = {
        key: float(np.abs(out - reference).max() / np.abs(reference).max())
        for key, out in (
            ("seqnn", head.predict(x, batch_size=batch)),
            ("folded", folded.predict(x, batch_size=batch)),
            ("folded_xla", xla_fn(x)),
        )
    }
    timings = interleaved(
        {
            "plain_traced": lambda: plain_fn(x),
            "seqnn": lambda: head.predict(x, batch_size=batch),
            "folded": lambda: folded.predict(x, batch_size=batch),
            "folded_xla": lambda: xla_fn(x),
        },
        rounds=runs,
    )
    plain = timings["plain_traced"]
    figures = {}
    for key, timing in timings.items():
        figures[f"{key}_seqs_per_s"] = round(batch / timing["median_s"], 3)
        if key != "plain_traced":
            ratios = ratio_vs_plain(timing, plain)
            figures[f"{key}_ratio_vs_plain"] = ratios["ratio_vs_plain"]
            figures[f"{key}_ratio_vs_plain_cpu"] = ratios["ratio_vs_plain_cpu"]
    figures.update({f"{key}_max_rel_diff": float(f"{d:.3g}") for key, d in diffs.items()})
    if ensemble:
        one_batch = timed(
            lambda: head.predict(x, batch_size=batch, rc=True, shifts=SHIFTS), runs=runs
        )
        separately = timed(lambda: separate_members(head, x), runs=runs)
        assert np.allclose(
            head.predict(x, batch_size=batch, rc=True, shifts=SHIFTS),
            separate_members(head, x),
            atol=1e-3,
            rtol=1e-3,
        )
        figures.update(
            ensemble6_one_batch_seqs_per_s=round(batch / one_batch["median_s"], 3),
            ensemble6_separately_seqs_per_s=round(batch / separately["median_s"], 3),
            ensemble_speedup=round(separately["median_s"] / one_batch["median_s"], 2),
            ensemble_speedup_cpu=round(separately["cpu_median_s"] / one_batch["cpu_median_s"], 2),
            ensemble6_one_batch=one_batch,
            ensemble6_separately=separately,
        )
    gflops = forward_gflops(head.model) * batch
    plain_roof = roof_fields(gflops, plain, roof)
    emit(
        "predict",
        {"model": name, "seq_length": head.seq_length, "batch": batch, "precision": "float32"},
        timings["seqnn"],
        **figures,
        timings=timings,
        forward_gflops_per_seq=round(gflops / batch, 2),
        plain_fraction_of_roof=plain_roof["fraction_of_roof"],
        plain_fraction_of_roof_cpu=plain_roof["fraction_of_roof_cpu"],
        **roof_fields(gflops, timings["seqnn"], roof),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model only")
    parser.add_argument(
        "--models", default="small,full", help="comma-separated: small, full (Basenji2)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (at least 5)")
    parser.add_argument(
        "--batches", default="1,4", help="comma-separated batch sizes of the full model"
    )
    args = parser.parse_args()
    wanted = {"small": "basenji2_small", "full": "basenji2_human"}
    names = {wanted[m.strip()] for m in args.models.split(",")}
    if args.quick:
        names.discard("basenji2_human")
    full_batches = [int(b) for b in args.batches.split(",")]
    roof = roofs(("float32",))["float32"]
    for name, params_file in MODELS.items():
        if name in names:
            batches = full_batches if name == "basenji2_human" else [8]
            bench(name, params_file, batches, roof, args.runs)


if __name__ == "__main__":
    main()

"""Attribution throughput on this machine (CPU), printed as JSON lines (``attribution``).

For the demo architecture (``models/params_demo.json``: 32,768 bp, 7 targets) and the
full Basenji2 architecture (``models/params_basenji2_human.json``: 131,072 bp, 5,313
targets), both with random weights (speed does not depend on the values), measures
attributions per second of each method of ``basenji_tf.interpret.attribution.attribute``
on random sequences (``rows`` per call; the objective: every target over the two central
output bins, forward strand), and of saturation mutagenesis
(``basenji_tf.scoring.sat.sat_mutagenesis``, ``center`` statistic, cone splicing) of a
central span of the same sequence.

Integrated gradients, expected gradients and DeepSHAP cost one model call (DeepSHAP: of
twice the rows) per step or reference, so they run here with fewer steps and references
than the experiment's (``config`` says how many). Each of their lines also carries
``extrapolated_s_per_attribution_at_<count>``: the measured time scaled linearly in model
calls to the experiment's 50 steps / 20 references, a labelled extrapolation, not a
measurement. Saturation mutagenesis covers ``span_bp`` bases; its line carries the
measured seconds per mutated bp and ``extrapolated_window_s``, that rate times the
window (every base of the window mutated), extrapolated the same way.

Every figure is timed by bench/_harness.py (5 runs after a warm-up, except where
``warmup`` in ``config`` is 0).

Usage: python bench/attribution.py [--quick] [--models demo,full]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _harness import emit, timed  # noqa: E402

from basenji_tf import seqnn  # noqa: E402
from basenji_tf.interpret import METHODS  # noqa: E402
from basenji_tf.interpret.attribution import attribute  # noqa: E402
from basenji_tf.scoring.cone import ConeSplice  # noqa: E402
from basenji_tf.scoring.ensemble import EnsemblePredictor  # noqa: E402
from basenji_tf.scoring.sat import sat_mutagenesis  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMS = {
    "demo": os.path.join(REPO, "models", "params_demo.json"),
    "full": os.path.join(REPO, "models", "params_basenji2_human.json"),
}
# The experiment's counts (experiments/attribution.py), the extrapolation targets.
FULL_COUNTS = {"integrated_gradients": 50, "expected_gradients": 20, "deepshap": 20}
# Per model (and --quick): rows per call, steps / references, mutated bp.
CONFIGS = {
    "demo": {"rows": 4, "steps": 10, "references": 5, "span_bp": 100},
    "full": {"rows": 1, "steps": 2, "references": 2, "span_bp": 4},
}
QUICK = {
    "demo": {"rows": 4, "steps": 2, "references": 2, "span_bp": 20},
    "full": {"rows": 1, "steps": 1, "references": 1, "span_bp": 2},
}


def centre_bins(target_length: int) -> tuple[int, int]:
    """sat_mutagenesis's ``center`` bins, half-open."""
    c0 = target_length // 2
    return c0, c0 + (2 if target_length % 2 == 0 else 1)


def count_of(method: str, config: dict) -> int | None:
    """Steps (IG) or references (EG, DeepSHAP) of a method in this run; None: neither."""
    if method == "integrated_gradients":
        return config["steps"]
    if method in ("expected_gradients", "deepshap"):
        return config["references"]
    return None


def calls_per_attribution(method: str, count: int | None) -> int:
    """Model calls (of one shape) per attribution batch: steps + 1, or references."""
    if method == "integrated_gradients":
        return count + 1
    return count or 1


def bench_model(name: str, config: dict, seed: int = 0) -> None:
    head = seqnn.load(PARAMS[name], None, augment=False).head
    rng = np.random.default_rng(seed)
    rows = config["rows"]
    seqs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (rows, head.seq_length))]
    bins = centre_bins(head.target_length)
    base = {"model": name, "seq_length": head.seq_length, "targets": head.num_targets}
    base |= {"rows": rows, "objective": f"all targets, bins {bins[0]}:{bins[1]}", "rc": False}
    for method in METHODS:
        count = count_of(method, config)

        def run(method=method):
            attribute(
                head.model, seqs, method, bins=bins, rows=rows, steps=config["steps"],
                references=config["references"], seed=seed,
            )  # fmt: skip

        # the first call pays oneDNN's kernel creation; the costly methods reuse its shapes
        warmup = 1 if method in ("saliency", "deepshap") else 0
        timing = timed(run, warmup=warmup)
        per = timing["median_s"] / rows
        figures = {
            "attributions_per_s": round(1 / per, 4),
            "attributions_per_cpu_s": round(rows / timing["cpu_median_s"], 4),
            "s_per_attribution": round(per, 3),
        }
        if count is not None:
            full = FULL_COUNTS[method]
            scale = calls_per_attribution(method, full) / calls_per_attribution(method, count)
            figures[f"extrapolated_s_per_attribution_at_{full}"] = round(per * scale, 2)
        key = "steps" if method == "integrated_gradients" else "references"
        extra = {key: count} if count is not None else {}
        emit(
            "attribution",
            {**base, "method": method, **extra, "warmup": warmup},
            timing,
            **figures,
        )
    predictor = EnsemblePredictor(head.model, batch_size=8, splice=ConeSplice(head.model))
    span = config["span_bp"]
    first = (head.crop + bins[0]) * head.stride + head.stride - span // 2
    timing = timed(lambda: sat_mutagenesis(predictor, seqs[0], first, span, ("center",)))
    per_bp = timing["median_s"] / span
    emit(
        "attribution",
        {**base, "method": "saturation_mutagenesis", "span_bp": span, "mutants": 3 * span,
         "splice": "ConeSplice", "batch_size": 8, "warmup": 1},
        timing,
        regions_per_s=round(1 / timing["median_s"], 4),
        s_per_mutated_bp=round(per_bp, 4),
        extrapolated_window_s=round(per_bp * head.seq_length, 1),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="demo,full", help="demo, full or both")
    parser.add_argument("--quick", action="store_true", help="fewer steps, references, bp")
    args = parser.parse_args()
    for name in args.models.split(","):
        if name not in PARAMS:
            parser.error(f"--models: unknown model {name!r}; choose from demo, full")
        bench_model(name, (QUICK if args.quick else CONFIGS)[name])


if __name__ == "__main__":
    main()

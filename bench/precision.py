"""Speed and accuracy of --precision bfloat16 / float16 against float32, as JSON lines.

For each model and precision: the harness's timing of one prediction call (5 runs after a
warm-up), ``ratio_vs_float32`` (float32 median / this median), and the accuracy against
the same model in float32: ``max_rel_error`` (max |difference| / max |float32
prediction|) on random sequences, and on SNVs scored with cone splicing (the SAD path,
``sad_stats``): ``sad_spearman`` over all (variant, target) SAD values and
``sad_top1pct_overlap`` (the share of the float32 top 1% by |SAD| also in this
precision's top 1%).

Models: the small Basenji2 reference model (its trained weights; 16,384 bp), the demo
architecture (models/params_demo.json, random weights) and, without ``--quick``, the
full Basenji2 (131,072 bp, random weights: speed only, no SAD).

Usage: python bench/precision.py [--quick] [--variants N]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _harness import emit, timed  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from basenji_tf import dna, seqnn  # noqa: E402
from basenji_tf.scoring.cone import ConeSplice  # noqa: E402
from basenji_tf.scoring.ensemble import EnsemblePredictor  # noqa: E402
from basenji_tf.scoring.sad import sad_stats  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = os.path.join(REPO, "tests/data/reference/basenji2_small")
MODELS = {
    "basenji2_small": (os.path.join(SMALL, "params.json"), os.path.join(SMALL, "model0_best.h5")),
    "demo": (os.path.join(REPO, "models/params_demo.json"), None),
    "basenji2_human": (os.path.join(REPO, "models/params_basenji2_human.json"), None),
}
PRECISIONS = ("float32", "bfloat16", "float16")


def snvs(rng: np.random.Generator, num: int, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """``num`` random REF windows and one ALT per window (an SNV near the centre)."""
    refs = dna.index_1hot(rng.integers(0, 4, (num, seq_length)))
    alts = refs.copy()
    pos = seq_length // 2 + rng.integers(-64, 64, num)
    alts[np.arange(num), pos] = np.roll(refs[np.arange(num), pos], 1 + rng.integers(0, 3), axis=-1)
    return refs, alts


def sad_scores(model, refs: np.ndarray, alts: np.ndarray) -> np.ndarray:
    """SAD [variants, targets] with the RC ensemble and cone splicing, as basenji_sad."""
    predictor = EnsemblePredictor(model, rc=True, splice=ConeSplice(model))
    ref, alt = predictor.predict_pairs(refs, alts, np.arange(len(refs)))
    return sad_stats(ref, alt, ["SAD"])["SAD"].astype(np.float64)


def top_overlap(a: np.ndarray, b: np.ndarray, fraction: float = 0.01) -> float:
    """Share of the top ``fraction`` of |a| also in the top ``fraction`` of |b|."""
    k = max(1, int(round(fraction * a.size)))
    top_a = set(np.argsort(-np.abs(a.ravel()))[:k])
    top_b = set(np.argsort(-np.abs(b.ravel()))[:k])
    return round(len(top_a & top_b) / k, 3)


def bench(name: str, batch: int, variants: int) -> None:
    params_file, model_file = MODELS[name]
    if model_file is None:  # random weights, saved once so every precision loads them
        model_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench_precision_{name}.h5")
        seqnn.load(params_file).save(model_file)
    rng = np.random.default_rng(0)
    heads = {p: seqnn.load(params_file, model_file, augment=False, precision=p).head
             for p in PRECISIONS}  # fmt: skip
    x = dna.index_1hot(rng.integers(0, 4, (batch, heads["float32"].seq_length)))
    preds, sads, timings = {}, {}, {}
    score_sad = name != "basenji2_human"
    refs, alts = snvs(rng, variants, heads["float32"].seq_length)
    for precision, head in heads.items():
        timings[precision] = timed(lambda head=head: head.predict(x, batch_size=batch))
        preds[precision] = head.predict(x, batch_size=batch)
        if score_sad:
            sads[precision] = sad_scores(head.model, refs, alts)
    for precision in PRECISIONS:
        figures = {
            "seqs_per_s": round(batch / timings[precision]["median_s"], 3),
            "ratio_vs_float32": round(
                timings["float32"]["median_s"] / timings[precision]["median_s"], 3
            ),
            "ratio_vs_float32_cpu": round(
                timings["float32"]["cpu_median_s"] / timings[precision]["cpu_median_s"], 3
            ),
            "max_rel_error": float(
                np.abs(preds[precision] - preds["float32"]).max() / np.abs(preds["float32"]).max()
            ),
        }
        if score_sad:
            a, b = sads["float32"].ravel(), sads[precision].ravel()
            figures["sad_spearman"] = round(float(spearmanr(a, b).statistic), 4)
            figures["sad_top1pct_overlap"] = top_overlap(a, b)
        config = {"model": name, "precision": precision, "batch": batch,
                  "seq_length": heads[precision].seq_length, "variants": variants}  # fmt: skip
        emit("precision", config, timings[precision], **figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the full Basenji2")
    parser.add_argument("--variants", type=int, default=200, help="SNVs scored per model")
    args = parser.parse_args()
    bench("basenji2_small", 8, args.variants)
    bench("demo", 8, args.variants)
    if not args.quick:
        bench("basenji2_human", 1, 0)


if __name__ == "__main__":
    main()

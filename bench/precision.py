"""Speed and accuracy of --precision bfloat16 / float16 against float32, as JSON lines.

For each model and precision: the harness's timing of one prediction call (5 runs after a
warm-up), ``ratio_vs_float32`` (float32 median / this median), and the accuracy against
the same model in float32: ``max_rel_error`` (max |difference| / max |float32
prediction|) on random sequences, and SAD scored as ``basenji_sad.py --rc`` does (cone
splicing): ``sad_spearman`` over all (variant, target) SAD values and
``sad_top1pct_overlap`` (the share of the float32 top 1% by |SAD| also in this
precision's top 1%).

Models:
* ``basenji2_small``: the small Basenji2 reference model (its trained weights; 16,384
  bp), SAD of random SNVs near the window centre;
* ``demo``: the demo model trained by ``basenji_demo.py --size small`` (run here first,
  about a minute, unless ``--demo_dir`` names a finished demo folder), SAD of the
  demo's simulated variants (its ``sim/human/variants.vcf``);
* ``basenji2_human``: the full Basenji2 (131,072 bp, 5,313 targets, random weights),
  batch 1: speed and ``max_rel_error`` only.

Usage: python bench/precision.py [--quick] [--variants N] [--demo_dir DIR]
(--quick: batch 1 only for the full model; without it, batch 2 as well)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from _harness import emit, timed  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from basenji_tf import dna, seqnn  # noqa: E402
from basenji_tf.genome import Genome  # noqa: E402
from basenji_tf.scoring.cone import ConeSplice  # noqa: E402
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor  # noqa: E402
from basenji_tf.scoring.sad import SadOptions, sad_stats, score_vcf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = os.path.join(REPO, "tests/data/reference/basenji2_small")
MODELS = {
    "basenji2_small": (os.path.join(SMALL, "params.json"), os.path.join(SMALL, "model0_best.h5")),
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


def random_snv_sad(params_file: str, model_file: str, variants: int):
    """SAD of ``variants`` random SNVs per precision, by a model loaded at that precision."""
    refs = alts = None

    def score(precision: str) -> np.ndarray:
        nonlocal refs, alts
        head = seqnn.load(params_file, model_file, augment=False, precision=precision).head
        if refs is None:
            refs, alts = snvs(np.random.default_rng(1), variants, head.seq_length)
        return sad_scores(head.model, refs, alts)

    return score


def demo_run(work: str, demo_dir: str | None) -> str:
    """A finished demo folder: ``demo_dir``, or a new ``--size small`` run under ``work``."""
    if demo_dir is None:
        demo_dir = os.path.join(work, "demo")
        argv = [sys.executable, "-m", "basenji_tf.cli.basenji_demo", "-o", demo_dir,
                "--size", "small", "--seed", "1"]  # fmt: skip
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return demo_dir


def demo_variant_sad(demo_dir: str, work: str):
    """SAD of the demo's simulated variants per precision, as ``basenji_sad.py --rc``."""
    human = os.path.join(demo_dir, "sim", "human")
    genome = Genome(os.path.join(human, "genome.fa"))
    params_file, model_file = demo_model(demo_dir)

    def score(precision: str) -> np.ndarray:
        _, predictor, targets = load_predictor(
            ModelSpec(params_file, model_file, rc=True, precision=precision)
        )
        out = os.path.join(work, f"demo_sad_{precision}.h5")
        vcf = os.path.join(human, "variants.vcf")
        score_vcf(predictor, genome, vcf, out, targets, SadOptions(stats=("SAD",)))
        with h5py.File(out) as h5:
            return h5["SAD"][:].astype(np.float64)

    return score


def demo_model(demo_dir: str) -> tuple[str, str]:
    """(params file, trained weights) of a demo folder."""
    train = os.path.join(demo_dir, "train")
    return os.path.join(train, "params.json"), os.path.join(train, "model_best.h5")


def bench(name, params_file, model_file, batch, sad_of=None, sad_config=None) -> None:
    """Emit one line per precision: speed, prediction error and (with ``sad_of``) SAD figures."""
    if model_file is None:  # random weights, saved once so every precision loads them
        model_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench_precision_{name}.h5")
        seqnn.load(params_file).save(model_file)
    heads = {p: seqnn.load(params_file, model_file, augment=False, precision=p).head
             for p in PRECISIONS}  # fmt: skip
    rng = np.random.default_rng(0)
    x = dna.index_1hot(rng.integers(0, 4, (batch, heads["float32"].seq_length)))
    preds, sads, timings = {}, {}, {}
    for precision, head in heads.items():
        timings[precision] = timed(lambda head=head: head.predict(x, batch_size=batch))
        preds[precision] = head.predict(x, batch_size=batch)
        if sad_of is not None:
            sads[precision] = sad_of(precision)
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
        if sad_of is not None:
            a, b = sads["float32"].ravel(), sads[precision].ravel()
            figures["sad_spearman"] = round(float(spearmanr(a, b).statistic), 4)
            figures["sad_top1pct_overlap"] = top_overlap(a, b)
        config = {"model": name, "precision": precision, "batch": batch,
                  "seq_length": heads[precision].seq_length, **(sad_config or {})}  # fmt: skip
        emit("precision", config, timings[precision], **figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the full Basenji2 at batch 1 only")
    parser.add_argument("--variants", type=int, default=200, help="random SNVs (small model)")
    parser.add_argument("--demo_dir", help="a finished basenji_demo.py folder to use")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        small = MODELS["basenji2_small"]
        bench("basenji2_small", *small, 8, random_snv_sad(*small, args.variants),
              {"variants": args.variants, "variant_set": "random SNVs"})  # fmt: skip
        demo_dir = demo_run(work, args.demo_dir)
        bench("demo", *demo_model(demo_dir), 8, demo_variant_sad(demo_dir, work),
              {"variant_set": "demo sim/human/variants.vcf"})  # fmt: skip
        for batch in (1,) if args.quick else (1, 2):
            bench("basenji2_human", *MODELS["basenji2_human"], batch)


if __name__ == "__main__":
    main()

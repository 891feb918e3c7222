"""Variant scoring throughput on this machine (CPU), printed as JSON lines (``variants``).

For the small Basenji2 reference model (16,384 bp, its trained weights) and the full
Basenji2 architecture (131,072 bp, 5,313 targets, random weights: speed does not depend on
the values), with the reverse-complement ensemble (``--rc``), measures variants per second:

* ``naive``: the original's loop, one variant per call, REF and ALT predicted separately
  through ``SeqNN.build_ensemble(True, [0])``;
* ``exact``: ``score_vcf`` with centred windows, many variants per call and each ALT
  recomputed only inside its receptive cone (``basenji_tf.scoring.cone.ConeSplice``), on SNVs
  spread over the genome (about one per window: little to share);
* ``exact_dense``: the same on SNVs about 2 kb apart (the density of a VCF of 1.5 M
  variants genome-wide), where overlapping REF windows share their tower
  (``basenji_tf.scoring.shared_tower.SharedTower``);
* ``exact_no_splice``: batching alone;
* ``cluster``: ``--cluster`` with variants every ~40 bp, one shared reference per window;
* ``sad_multi`` (small model only): ``basenji_sad.py -p 1`` and ``-p 2`` wall time on the
  same VCF of 2,000 SNVs, process start-up included;
* ``startup`` (full model only): ``startup_s``, the wall time of a ``basenji_sad.py`` run
  on one SNV (no ensemble) minus its model calls (the same scoring repeated warm in this
  process), and that run's peak memory. Run it with ``PYTHONPATH=<old checkout>`` to
  measure older code.

Every mode is timed by bench/_harness.py (5 runs after a warm-up; a run scores the whole
VCF). Each exact/cluster line carries ``ratio_vs_naive`` (variants/s over the naive loop's)
and ``cpu_ratio_vs_naive`` (the same from this process's CPU time, steadier when other jobs
share the machine).
Inputs are synthetic and seeded: a random 2 Mb genome and random SNVs (sorted VCF).

Usage: python bench/variants.py [--models small,full] [--naive N] [--variants N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _harness import emit, timed  # noqa: E402

from basenji_tf import seqnn  # noqa: E402
from basenji_tf.genome import Genome  # noqa: E402
from basenji_tf.params import read_params  # noqa: E402
from basenji_tf.scoring.ensemble import ModelSpec, load_predictor  # noqa: E402
from basenji_tf.scoring.sad import SadOptions, sad_stats, score_vcf  # noqa: E402
from basenji_tf.scoring.vcf import read_vcf, variant_windows  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = os.path.join(REPO, "tests/data/reference/basenji2_small")
MODELS = {
    "small": (os.path.join(SMALL, "params.json"), os.path.join(SMALL, "model0_best.h5")),
    "full": (os.path.join(REPO, "models/params_basenji2_human.json"), None),
}
GENOME_BP = 2_000_000
# sad_multi VCF size: enough variants that each worker's start-up (TensorFlow import,
# model build, tracing: ~10 s) is not most of the run
MULTI = 2000


def write_inputs(out_dir: str, seed: int = 0) -> tuple[str, str]:
    """A random one-chromosome genome (FASTA + index) and its base sequence."""
    rng = np.random.default_rng(seed)
    seq = "".join(np.array(list("ACGT"))[rng.integers(0, 4, GENOME_BP)])
    fasta = os.path.join(out_dir, "genome.fa")
    with open(fasta, "w") as handle:
        handle.write(">chrB\n")
        for i in range(0, len(seq), 60):
            handle.write(seq[i : i + 60] + "\n")
    return fasta, seq


def write_vcf(path: str, seq: str, positions: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n")
        for i, pos in enumerate(sorted(positions)):
            ref = seq[pos - 1]
            alt = "ACGT".replace(ref, "")[rng.integers(0, 3)]
            handle.write(f"chrB\t{pos}\tv{i}\t{ref}\t{alt}\n")


def make_model(name: str, work: str) -> tuple[str, str]:
    """(params file, weights file): the full architecture gets seeded random weights."""
    import keras

    params_file, model_file = MODELS[name]
    if model_file is None:
        keras.utils.set_random_seed(0)
        model = seqnn.SeqNN(read_params(params_file)["model"])
        model_file = os.path.join(work, f"{name}_model.h5")
        model.save(model_file)
    return params_file, model_file


def naive(params_file, model_file, genome, vcf, limit) -> tuple[dict, int]:
    """Timing of the original's loop over the first ``limit`` variants, and their number."""
    model = seqnn.load(params_file, model_file, augment=True)
    model.build_ensemble(True, [0])
    rows = list(read_vcf(vcf, genome))[:limit]
    windows = [variant_windows(genome, v, model.seq_length) for v in rows]

    def loop() -> None:
        for ref, alt in windows:
            ref_p = model.predict(ref[None], batch_size=1)
            alt_p = model.predict(alt[None], batch_size=1)
            sad_stats(ref_p, alt_p, ["SAD"])

    return timed(loop), len(windows)


def ours(params_file, model_file, genome, vcf, out, splice, cluster_bp, batch_size):
    """Timing of score_vcf over the VCF (warmed up on its first 10 variants), and the rows."""
    spec = ModelSpec(params_file, model_file, rc=True, batch_size=batch_size, splice=splice)
    _, predictor, targets = load_predictor(spec)
    options = SadOptions(stats=("SAD",), batch_variants=32, cluster_bp=cluster_bp)
    warm = out + ".warm.vcf"
    with open(vcf) as src, open(warm, "w") as dst:
        dst.writelines(src.readlines()[:10])
    score_vcf(predictor, genome, warm, out + ".warm.h5", targets, options)
    rows = []
    timing = timed(
        lambda: rows.append(score_vcf(predictor, genome, vcf, out, targets, options).rows),
        warmup=0,
    )
    return timing, rows[-1]


def sad_multi(params_file, model_file, fasta, vcf, out_dir, processes) -> dict:
    """Timing of ``basenji_sad.py -p processes`` on the VCF, process start-up included."""
    argv = [sys.executable, "-m", "basenji_tf.cli.basenji_sad", "-f", fasta, "--rc",
            "-p", str(processes), "-o", out_dir, params_file, model_file, vcf]  # fmt: skip
    return timed(lambda: subprocess.run(argv, check=True, stderr=subprocess.DEVNULL))


def startup(params_file, model_file, fasta, genome, seq, work) -> tuple[dict, dict]:
    """Timing and figures (``startup_s``) of a one-SNV basenji_sad.py run (module docstring)."""
    vcf = os.path.join(work, "one.vcf")
    write_vcf(vcf, seq, np.array([GENOME_BP // 2]), 6)
    out_dir = os.path.join(work, "startup")
    argv = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "basenji_tf.cli.basenji_sad",
            "-f", fasta, "-o", out_dir, params_file, model_file, vcf]  # fmt: skip
    peaks_kb = []

    def run() -> None:
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        peaks_kb.append(int(done.stderr.split()[-1]))

    run_timing = timed(run)
    _, predictor, targets = load_predictor(ModelSpec(params_file, model_file))
    options, out = SadOptions(stats=("SAD",)), os.path.join(work, "startup_warm.h5")
    model_timing = timed(lambda: score_vcf(predictor, genome, vcf, out, targets, options))
    return run_timing, {
        "model_calls_s": model_timing["median_s"],
        "startup_s": round(run_timing["median_s"] - model_timing["median_s"], 2),
        "run_peak_rss_mb": round(max(peaks_kb) / 1024, 1),
    }


def per_variant(timing: dict, n: int) -> dict:
    """variants/s (wall) and CPU seconds per variant from a timing of ``n`` variants."""
    return {
        "variants_per_s": round(n / timing["median_s"], 3),
        "cpu_s_per_variant": round(timing["cpu_median_s"] / n, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="small,full")
    parser.add_argument(
        "--naive",
        type=int,
        default=0,
        help="variants in the naive loop (default: 24 small, 3 full)",
    )
    parser.add_argument(
        "--variants",
        type=int,
        default=0,
        help="variants for ours (default: 96 small, 16 full; twice as many with --cluster)",
    )
    parser.add_argument(
        "--modes", default="exact,exact_dense,exact_no_splice,cluster,sad_multi,startup"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        fasta, seq = write_inputs(work)
        genome = Genome(fasta)
        rng = np.random.default_rng(1)
        for name in args.models.split(","):
            params_file, model_file = make_model(name, work)
            n_naive = args.naive or (24 if name == "small" else 3)
            n_ours = args.variants or (96 if name == "small" else 16)
            spread = rng.integers(100_000, GENOME_BP - 100_000, n_ours)
            spread_vcf = os.path.join(work, f"{name}_spread.vcf")
            write_vcf(spread_vcf, seq, spread, 2)
            # own generator: the other VCFs stay those of earlier measurements
            gaps = np.random.default_rng(5).integers(1_000, 3_000, n_ours)
            near = 500_000 + np.cumsum(gaps)
            near_vcf = os.path.join(work, f"{name}_near.vcf")
            write_vcf(near_vcf, seq, near, 5)
            n_dense = 2 * n_ours
            dense = 1_000_000 + 40 * np.arange(n_dense) + rng.integers(0, 20, n_dense)
            dense_vcf = os.path.join(work, f"{name}_dense.vcf")
            write_vcf(dense_vcf, seq, dense, 3)
            modes = args.modes.split(",")
            if name == "full" and "startup" in modes:
                timing, figures = startup(params_file, model_file, fasta, genome, seq, work)
                emit("variants", {"model": name, "rc": False, "mode": "startup",
                                  "variants": 1}, timing, **figures)  # fmt: skip
            if args.modes == "startup":
                continue
            t_naive, n = naive(params_file, model_file, genome, spread_vcf, n_naive)
            config = {"model": name, "rc": True}
            naive_s = t_naive["median_s"] / n, t_naive["cpu_median_s"] / n
            emit("variants", {**config, "mode": "naive", "variants": n}, t_naive,
                 **per_variant(t_naive, n))  # fmt: skip
            batch = 8 if name == "small" else 2
            runs = [
                ("exact", spread_vcf, True, 0),
                ("exact_dense", near_vcf, True, 0),
                ("exact_no_splice", spread_vcf, False, 0),
                ("cluster", dense_vcf, True, 2000),
            ]
            for mode, vcf, splice, cluster_bp in runs:
                if mode not in modes:
                    continue
                out = os.path.join(work, f"{name}_{mode}.h5")
                timing, n = ours(
                    params_file, model_file, genome, vcf, out, splice, cluster_bp, batch
                )
                emit(
                    "variants",
                    {**config, "mode": mode, "variants": n},
                    timing,
                    **per_variant(timing, n),
                    ratio_vs_naive=round(naive_s[0] / (timing["median_s"] / n), 2),
                    cpu_ratio_vs_naive=round(naive_s[1] / (timing["cpu_median_s"] / n), 2),
                )
            if name == "small" and "sad_multi" in modes:
                multi_vcf = os.path.join(work, "multi.vcf")
                write_vcf(multi_vcf, seq, rng.integers(100_000, GENOME_BP - 100_000, MULTI), 4)
                for p in (1, 2):
                    out_dir = os.path.join(work, f"multi{p}")
                    timing = sad_multi(params_file, model_file, fasta, multi_vcf, out_dir, p)
                    emit("variants", {**config, "mode": "sad_multi", "processes": p,
                                      "variants": MULTI}, timing,
                         variants_per_s=round(MULTI / timing["median_s"], 2))  # fmt: skip


if __name__ == "__main__":
    main()

"""Variant scoring throughput on this machine (CPU), printed as JSON lines.

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

Each exact/cluster line carries ``ratio_vs_naive`` (variants/s over the naive loop's) and
``cpu_ratio_vs_naive`` (the same from this process's CPU time, steadier when other jobs
share the machine).
Inputs are synthetic and seeded: a random 2 Mb genome and random SNVs (sorted VCF).

Usage: python bench/variants.py [--models small,full] [--naive N] [--variants N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

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


def clock() -> tuple[float, float]:
    """(wall, CPU of this process) seconds; CPU time is steadier on a shared machine."""
    return time.perf_counter(), time.process_time()


def per_variant(start: tuple[float, float], n: int) -> tuple[float, float]:
    wall, cpu = clock()
    return (wall - start[0]) / n, (cpu - start[1]) / n


def naive(params_file, model_file, genome, vcf, limit) -> tuple[float, float]:
    """(wall, CPU) seconds per variant of the original's loop."""
    model = seqnn.load(params_file, model_file, augment=True)
    model.build_ensemble(True, [0])
    rows = list(read_vcf(vcf, genome))[:limit]
    windows = [variant_windows(genome, v, model.seq_length) for v in rows]
    model.predict(windows[0][0][None], batch_size=1)  # warm-up: graph tracing
    start = clock()
    for ref, alt in windows:
        ref_p = model.predict(ref[None], batch_size=1)
        alt_p = model.predict(alt[None], batch_size=1)
        sad_stats(ref_p, alt_p, ["SAD"])
    return per_variant(start, len(windows))


def ours(params_file, model_file, genome, vcf, out, splice, cluster_bp, batch_size):
    """(wall, CPU) seconds per variant of score_vcf (after a warm-up on a first batch)."""
    spec = ModelSpec(params_file, model_file, rc=True, batch_size=batch_size, splice=splice)
    _, predictor, targets = load_predictor(spec)
    options = SadOptions(stats=("SAD",), batch_variants=32, cluster_bp=cluster_bp)
    warm = out + ".warm.vcf"
    with open(vcf) as src, open(warm, "w") as dst:
        dst.writelines(src.readlines()[:10])
    score_vcf(predictor, genome, warm, out + ".warm.h5", targets, options)
    start = clock()
    counts = score_vcf(predictor, genome, vcf, out, targets, options)
    return per_variant(start, counts.rows)


def sad_multi_seconds(params_file, model_file, fasta, vcf, out_dir, processes) -> float:
    argv = [sys.executable, "-m", "basenji_tf.cli.basenji_sad", "-f", fasta, "--rc",
            "-p", str(processes), "-o", out_dir, params_file, model_file, vcf]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def startup(params_file, model_file, fasta, genome, seq, work) -> dict:
    """``startup_s`` of a one-SNV basenji_sad.py run (see the module docstring)."""
    vcf = os.path.join(work, "one.vcf")
    write_vcf(vcf, seq, np.array([GENOME_BP // 2]), 6)
    out_dir = os.path.join(work, "startup")
    argv = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "basenji_tf.cli.basenji_sad",
            "-f", fasta, "-o", out_dir, params_file, model_file, vcf]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, capture_output=True, text=True)
    run_s = time.perf_counter() - start
    _, predictor, targets = load_predictor(ModelSpec(params_file, model_file))
    options, out = SadOptions(stats=("SAD",)), os.path.join(work, "startup_warm.h5")
    score_vcf(predictor, genome, vcf, out, targets, options)
    start = time.perf_counter()
    score_vcf(predictor, genome, vcf, out, targets, options)
    model_s = time.perf_counter() - start
    return {
        "mode": "startup",
        "run_s": round(run_s, 2),
        "model_calls_s": round(model_s, 2),
        "startup_s": round(run_s - model_s, 2),
        "run_peak_rss_mb": round(int(done.stderr.split()[-1]) / 1024, 1),
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
            base = {"model": name, "rc": True}
            if name == "full" and "startup" in args.modes.split(","):
                line = startup(params_file, model_file, fasta, genome, seq, work)
                print(json.dumps({"model": name, "rc": False, **line}), flush=True)
            if args.modes == "startup":
                continue
            t_naive, cpu_naive = naive(params_file, model_file, genome, spread_vcf, n_naive)
            print(
                json.dumps(
                    {
                        **base,
                        "mode": "naive",
                        "variants": n_naive,
                        "variants_per_s": round(1 / t_naive, 3),
                        "cpu_s_per_variant": round(cpu_naive, 3),
                    }
                ),
                flush=True,
            )
            batch = 8 if name == "small" else 2
            runs = [
                ("exact", spread_vcf, True, 0),
                ("exact_dense", near_vcf, True, 0),
                ("exact_no_splice", spread_vcf, False, 0),
                ("cluster", dense_vcf, True, 2000),
            ]
            for mode, vcf, splice, cluster_bp in runs:
                if mode not in args.modes.split(","):
                    continue
                out = os.path.join(work, f"{name}_{mode}.h5")
                t, cpu = ours(params_file, model_file, genome, vcf, out, splice, cluster_bp, batch)
                print(
                    json.dumps(
                        {
                            **base,
                            "mode": mode,
                            "variants": n_dense if mode == "cluster" else n_ours,
                            "variants_per_s": round(1 / t, 3),
                            "cpu_s_per_variant": round(cpu, 3),
                            "ratio_vs_naive": round(t_naive / t, 2),
                            "cpu_ratio_vs_naive": round(cpu_naive / cpu, 2),
                        }
                    ),
                    flush=True,
                )
            if name == "small" and "sad_multi" in args.modes.split(","):
                multi_vcf = os.path.join(work, "multi.vcf")
                write_vcf(multi_vcf, seq, rng.integers(100_000, GENOME_BP - 100_000, MULTI), 4)
                for p in (1, 2):
                    secs = sad_multi_seconds(
                        params_file,
                        model_file,
                        fasta,
                        multi_vcf,
                        os.path.join(work, f"multi{p}"),
                        p,
                    )
                    print(
                        json.dumps(
                            {
                                **base,
                                "mode": "sad_multi",
                                "processes": p,
                                "variants": MULTI,
                                "seconds": round(secs, 1),
                                "variants_per_s": round(MULTI / secs, 2),
                            }
                        ),
                        flush=True,
                    )


if __name__ == "__main__":
    main()

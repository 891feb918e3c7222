"""The same SAD job on 1 and 2 Dask workers, printed as JSON lines.

A Dask LocalCluster (worker processes, one thread each) on this machine scores a VCF of
random SNVs on the 131 kb GATA4 locus with the small Basenji2-shaped reference model
(16,384 bp inputs, ``--rc``), through ``basenji_sad.py --scheduler`` with one shard per
worker. Each configuration is warmed up once (TensorFlow import and model load in the
workers), then timed ``--repeats`` (at least 5) times by bench/_harness.py; the line adds
variants/s and, for 2 workers, ``ratio_vs_1_worker``.

On a 2-core machine the ratio stays well under 2: one TensorFlow process already spreads
its convolutions over both cores, so a second worker mostly adds a second model's start-up
and competes for the same cores. The gain is for machines (or clusters) with a core budget
or a GPU per worker.

Usage: python bench/scale_out.py [--variants N] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import pysam  # noqa: E402
from _harness import emit, timed  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from basenji_tf.cli import basenji_sad  # noqa: E402

REF = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference"


def write_vcf(path: Path, fasta: Path, n: int, seed: int = 1) -> None:
    """``n`` random SNVs (sorted) between 10 kb and 120 kb of chrG, REF from the genome."""
    rng = np.random.default_rng(seed)
    with pysam.FastaFile(str(fasta)) as genome:
        seq = genome.fetch("chrG")
    positions = np.sort(rng.choice(np.arange(10_000, 120_000), n, replace=False))
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for i, pos in enumerate(positions):
        ref = seq[pos - 1].upper()
        alt = rng.choice([b for b in "ACGT" if b != ref])
        lines.append(f"chrG\t{pos}\tv{i}\t{ref}\t{alt}\t.\t.\t.")
    path.write_text("\n".join(lines) + "\n")


def time_run(address: str, vcf: Path, out: Path) -> float:
    small, sad = REF / "basenji2_small", REF / "sad_small"
    argv = [
        "-f",
        str(sad / "gata4_locus.fa"),
        "-o",
        str(out),
        "--rc",
        "--scheduler",
        address,
        str(small / "params.json"),
        str(small / "model0_best.h5"),
        str(vcf),
    ]
    start = time.perf_counter()
    if basenji_sad.main(argv) != 0:
        raise SystemExit("basenji_sad.py failed")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="scale_out_"))
    vcf = tmp / "snvs.vcf"
    write_vcf(vcf, REF / "sad_small" / "gata4_locus.fa", args.variants)
    medians = {}
    for workers in (1, 2):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            address = cluster.scheduler_address
            outs = (tmp / f"w{workers}_{r}" for r in range(10**6))
            timing = timed(
                lambda address=address, outs=outs: time_run(address, vcf, next(outs)),
                runs=args.repeats,
            )
            client.close()
        medians[workers] = timing["median_s"]
        figures = {"variants_per_s": round(args.variants / medians[workers], 1)}
        if workers == 2:
            figures["ratio_vs_1_worker"] = round(medians[1] / medians[2], 2)
        emit("scale_out", {"workers": workers, "variants": args.variants}, timing, **figures)


if __name__ == "__main__":
    main()

"""Benchmark the simulator: generation time, output size, and the noise ceiling.

The noise ceiling is the Pearson R, over 128-bp bins of the test chromosome, between the
observed (noisy) BigWig coverage and the noise-free expected coverage of the same track:
the best any model could reach on that track at that resolution.

The generation is timed by bench/_harness.py (5 runs after a warm-up, each into a new
folder); the noise ceiling is computed once, on the last run's output.

    python bench/sim.py [--size default] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import pyBigWig  # noqa: E402
from _harness import emit, timed  # noqa: E402

from basenji_tf.dna import dna_index  # noqa: E402
from basenji_tf.genome import Genome  # noqa: E402
from basenji_tf.sim.config import SIZES, SPECIES_TRACKS  # noqa: E402
from basenji_tf.sim.pipeline import simulate  # noqa: E402
from basenji_tf.sim.true_model import TrueModel  # noqa: E402

BIN_BP = 128


def _binned(values: np.ndarray, sum_stat: str) -> np.ndarray:
    bins = values[: len(values) // BIN_BP * BIN_BP].reshape(-1, BIN_BP)
    return bins.mean(axis=1) if sum_stat == "mean" else bins.sum(axis=1)


def noise_ceiling(folder: Path, species: str, chrom: str) -> dict[str, float]:
    """Pearson R of observed vs expected binned coverage per track on ``chrom``."""
    model = TrueModel(SPECIES_TRACKS[species])
    with Genome(folder / "genome.fa") as genome:
        index = dna_index(genome.fetch(chrom, 0, genome.sizes[chrom]))
    expected = model.expected(model.scan(index))
    out = {}
    for ti, track in enumerate(model.tracks):
        with pyBigWig.open(str(folder / "tracks" / f"{track.identifier}.bw")) as bw:
            observed = bw.values(chrom, 0, len(index), numpy=True)
        obs, exp = _binned(observed, track.sum_stat), _binned(expected[:, ti], track.sum_stat)
        out[track.identifier] = round(float(np.corrcoef(obs, exp)[0, 1]), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim"
        infos = []

        def run() -> None:
            shutil.rmtree(out, ignore_errors=True)
            infos.append(simulate(out, seed=args.seed, size=args.size))

        timing = timed(run)
        info = infos[-1]
        written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        species = {
            name: {
                "genome_bp": entry["genome_bp"],
                "genes": entry["genes"],
                "variants": entry["variant_classes"],
                "noise_ceiling_pearsonr_128bp": noise_ceiling(
                    out / name, name, entry["test_chroms"][0]
                ),
            }
            for name, entry in info["species"].items()
        }
    emit(
        "sim",
        {"size": args.size, "seed": args.seed},
        timing,
        bytes_written=written,
        fills=info["alignment"]["fills"],
        species=species,
    )


if __name__ == "__main__":
    main()

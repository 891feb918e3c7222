"""Benchmark of basenji_data.py on a generated genome with 8 BigWig tracks, as JSON lines.

    python bench/data_pipeline.py [--genome_mb 20] [--tracks 8] [--split_chroms] [--out DIR]

Each run is a separate ``bin/basenji_data.py`` process (wall time includes starting
Python), timed by bench/_harness.py (5 runs after a warm-up; CPU time counts the command
and its workers: the work, whatever else runs); ``command_peak_rss_mb`` is the largest
resident set of the command and of any of its worker processes. Lines (``data_pipeline``):
the whole genome with ``-p 1`` and ``-p 2`` (``p1_p2_identical_tfrecords``), and half the
genome with ``-p 1``, which shows whether memory grows with the genome and gives
``marginal_sequences_per_cpu_second`` (the extra sequences of the whole genome over the
half per extra CPU second: the pipeline's own rate, free of start-up costs). The
``tfrecord_zlib`` lines time writing the same records at ZLIB level 1 and the default 6.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import pyBigWig  # noqa: E402
import pysam  # noqa: E402
from _harness import emit, timed  # noqa: E402

from basenji_tf.dataset import decode_file  # noqa: E402
from basenji_tf.tfrecords import write_tfrecords  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHROMS = 4  # the genome is cut into this many chromosomes
SEQ_LENGTH, CROP, POOL = 131072, 8192, 128
TIMING = ("median_s", "min_s", "max_s", "cpu_median_s", "runs")  # the keys of timed()


def make_inputs(out: Path, genome_mb: float, tracks: int, seed: int = 0) -> tuple[str, str]:
    """A random genome FASTA and ``tracks`` BigWigs of smooth, peaky coverage at 16 bp."""
    rng = np.random.default_rng(seed)
    size = int(genome_mb * 1e6 / CHROMS)
    sizes = {f"chr{i + 1}": size for i in range(CHROMS)}
    fasta = out / "genome.fa"
    with open(fasta, "w") as handle:
        for chrom in sizes:
            handle.write(f">{chrom}\n")
            codes = rng.integers(0, 4, size, dtype=np.uint8)
            dna = np.frombuffer(b"ACGT", np.uint8)[codes].tobytes().decode()
            for i in range(0, size, 60):
                handle.write(dna[i : i + 60] + "\n")
    pysam.faidx(str(fasta))
    rows = ["index\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tdescription"]
    stats = ["sum", "mean", "sum_sqrt", "max"]
    for ti in range(tracks):
        bw_file = out / f"t{ti}.bw"
        bw = pyBigWig.open(str(bw_file), "w")
        bw.addHeader(list(sizes.items()))
        for chrom in sizes:
            steps = size // 16
            values = (
                rng.gamma(0.5, 2, steps)
                + np.repeat(rng.gamma(0.3, 20, steps // 64 + 1), 64)[:steps]
            )
            bw.addEntries(chrom, 0, values=values.astype(np.float32).tolist(), span=16, step=16)
        bw.close()
        rows.append(f"{ti}\tT{ti}\t{bw_file}\t384\t64\t1\t{stats[ti % 4]}\tsimulated")
    table = out / "targets.txt"
    table.write_text("\n".join(rows) + "\n")
    return str(fasta), str(table)


def run_pipeline(fasta: str, table: str, out_dir: Path, processes: int, split_chroms: bool) -> dict:
    """Time ``basenji_data.py`` over the inputs (harness: 5 runs after a warm-up).

    Returns:
        the timing plus ``sequences``, ``sequences_per_s``, ``record_MB_per_s``,
        ``tfrecord_MB`` and ``command_peak_rss_mb`` (the largest of the runs).
    """
    cmd = [
        sys.executable,
        str(REPO / "bin" / "basenji_data.py"),
        "-l",
        str(SEQ_LENGTH),
        "-w",
        str(POOL),
        "--crop",
        str(CROP),
        "--stride",
        "0.125",
        "-r",
        "64",
        "--break",
        "262144",
        "-t",
        "chr4" if split_chroms else "0.1",
        "-v",
        "chr3" if split_chroms else "0.1",
        "-p",
        str(processes),
        "-o",
        str(out_dir),
        fasta,
        table,
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", BASENJI_LOG_LEVEL="WARNING")
    # peak RSS from a wrapper process, so each run's children are counted alone
    wrapper = (
        "import resource, subprocess, sys; "
        "quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "rc = subprocess.run(sys.argv[1:], **quiet).returncode; "
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    peaks = []

    def run() -> None:
        shutil.rmtree(out_dir, ignore_errors=True)
        result = subprocess.run(
            [sys.executable, "-c", wrapper, *cmd],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        rc, max_rss_kb = result.stdout.split()
        if rc != "0":
            raise SystemExit(f"basenji_data.py failed: {' '.join(cmd)}")
        peaks.append(int(max_rss_kb))

    timing = timed(run)
    stats = json.loads((out_dir / "statistics.json").read_text())
    seqs = sum(v for k, v in stats.items() if k.endswith("_seqs"))
    tfr_bytes = sum(f.stat().st_size for f in (out_dir / "tfrecords").iterdir())
    payload = seqs * (SEQ_LENGTH + stats["target_length"] * stats["num_targets"] * 2)
    seconds = timing["median_s"]
    return {
        **timing,
        "sequences": seqs,
        "sequences_per_s": round(seqs / seconds, 2),
        "record_MB_per_s": round(payload / seconds / 1e6, 2),
        "tfrecord_MB": round(tfr_bytes / 1e6, 1),
        "command_peak_rss_mb": round(max(peaks) / 1024, 1),
    }


def zlib_levels(data_dir: Path, config: dict) -> None:
    """Write the records of one TFRecord file again at ZLIB levels 1 and 6; one line each."""
    first = sorted((data_dir / "tfrecords").glob("train-*.tfr"))[0]
    codes, targets = decode_file(first, SEQ_LENGTH)
    targets = targets.reshape(len(codes), (SEQ_LENGTH - 2 * CROP) // POOL, -1)
    payload = codes.nbytes + targets.nbytes
    for level in (1, 6):
        path = data_dir / f"level{level}.tfr"
        timing = timed(
            lambda path=path, level=level: write_tfrecords(
                path, list(codes), targets, compression_level=level
            )
        )
        emit(
            "tfrecord_zlib",
            {**config, "level": level, "records": len(codes)},
            timing,
            write_MB_per_s=round(payload / timing["median_s"] / 1e6, 1),
            file_MB=round(path.stat().st_size / 1e6, 2),
        )
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome_mb", type=float, default=20)
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument(
        "--split_chroms",
        action="store_true",
        help="valid chr3, test chr4 instead of 10%% each: a small genome (under ~20 Mb) has "
        "no contig short enough for the fraction split",
    )
    parser.add_argument("--out", help="work folder (default: a new temporary folder)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_data_pipeline_"))
    shutil.rmtree(out, ignore_errors=True)
    config = {
        "tracks": args.tracks,
        "seq_length": SEQ_LENGTH,
        "crop_bp": CROP,
        "pool_width": POOL,
        "stride": 0.125,
        "seqs_per_tfr": 64,
        "valid_test": "chr3,chr4" if args.split_chroms else "0.1,0.1",
    }
    results = {}
    for mb, key in ((args.genome_mb, "full"), (args.genome_mb / 2, "half")):
        inputs = out / f"inputs_{key}"
        inputs.mkdir(parents=True)
        fasta, table = make_inputs(inputs, mb, args.tracks)
        for p in (1, 2) if key == "full" else (1,):
            result = results[key, p] = run_pipeline(
                fasta, table, out / f"data_{key}_p{p}", p, args.split_chroms
            )
            timing = {k: v for k, v in result.items() if k in TIMING}
            figures = {k: v for k, v in result.items() if k not in timing}
            if (key, p) == ("full", 2):
                figures["p1_p2_identical_tfrecords"] = identical(
                    out / "data_full_p1", out / "data_full_p2"
                )
            if key == "half":
                big = results["full", 1]
                figures["marginal_sequences_per_cpu_second"] = round(
                    (big["sequences"] - result["sequences"])
                    / max(big["cpu_median_s"] - result["cpu_median_s"], 1e-9),
                    1,
                )
            emit("data_pipeline", {**config, "genome_MB": mb, "processes": p}, timing, **figures)
    zlib_levels(out / "data_full_p1", config)


def identical(first: Path, second: Path) -> bool:
    """Whether every TFRecord file of ``second`` has the same bytes in ``first``."""
    return all(
        (first / "tfrecords" / f.name).read_bytes() == f.read_bytes()
        for f in (second / "tfrecords").iterdir()
    )


if __name__ == "__main__":
    main()

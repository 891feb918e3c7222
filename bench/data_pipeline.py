"""Benchmark of basenji_data.py on a generated genome with 8 BigWig tracks; prints JSON.

    python bench/data_pipeline.py [--genome_mb 20] [--tracks 8] [--out DIR]

Each run is a separate ``bin/basenji_data.py`` process (wall time includes starting
Python); peak memory is the largest resident set of the command and of any of
its worker processes. A run on half the genome shows whether memory grows with the
genome. The ZLIB section times writing the same records at level 1 and the default 6.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyBigWig
import pysam

from basenji_tf.dataset import decode_file
from basenji_tf.tfrecords import write_tfrecords

REPO = Path(__file__).resolve().parents[1]
CHROMS = 4  # the genome is cut into this many chromosomes
SEQ_LENGTH, CROP, POOL = 131072, 8192, 128


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


def run_pipeline(fasta: str, table: str, out_dir: Path, processes: int) -> dict:
    shutil.rmtree(out_dir, ignore_errors=True)
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
        "0.1",
        "-v",
        "0.1",
        "-p",
        str(processes),
        "-o",
        str(out_dir),
        fasta,
        table,
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", BASENJI_LOG_LEVEL="WARNING")
    # time and peak RSS from a wrapper process, so each run's children are counted alone
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "rc = subprocess.run(sys.argv[1:], **quiet).returncode; "
        "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(rc, time.perf_counter() - t, r.ru_maxrss, r.ru_utime + r.ru_stime)"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], env=env, capture_output=True, text=True, check=True
    )
    rc, seconds, max_rss_kb, cpu_seconds = result.stdout.split()
    if rc != "0":
        raise SystemExit(f"basenji_data.py failed: {' '.join(cmd)}")
    stats = json.loads((out_dir / "statistics.json").read_text())
    seqs = sum(v for k, v in stats.items() if k.endswith("_seqs"))
    tfr_bytes = sum(f.stat().st_size for f in (out_dir / "tfrecords").iterdir())
    payload = seqs * (SEQ_LENGTH + stats["target_length"] * stats["num_targets"] * 2)
    seconds = float(seconds)
    return {
        "processes": processes,
        "sequences": seqs,
        "seconds": round(seconds, 1),
        # CPU time of the command and its workers: the work, whatever else runs
        "cpu_seconds": round(float(cpu_seconds), 1),
        "sequences_per_s": round(seqs / seconds, 2),
        "record_MB_per_s": round(payload / seconds / 1e6, 2),
        "tfrecord_MB": round(tfr_bytes / 1e6, 1),
        "peak_rss_MB": round(int(max_rss_kb) / 1024, 1),
    }


def zlib_levels(data_dir: Path) -> dict:
    """Write the records of one data directory again at several ZLIB levels."""
    codes, targets = [], []
    for f in sorted((data_dir / "tfrecords").glob("train-*.tfr"))[:1]:
        c, t = decode_file(f, SEQ_LENGTH)
        codes.append(c)
        targets.append(t)
    codes, targets = np.concatenate(codes), np.concatenate(targets)
    targets = targets.reshape(len(codes), (SEQ_LENGTH - 2 * CROP) // POOL, -1)
    payload = codes.nbytes + targets.nbytes
    out = {}
    for level in (1, 6):
        path = data_dir / f"level{level}.tfr"
        start = time.perf_counter()
        write_tfrecords(path, list(codes), targets, compression_level=level)
        seconds = time.perf_counter() - start
        out[f"level_{level}"] = {
            "write_MB_per_s": round(payload / seconds / 1e6, 1),
            "file_MB": round(path.stat().st_size / 1e6, 2),
        }
        path.unlink()
    out["records"] = len(codes)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome_mb", type=float, default=20)
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--out", help="work folder (default: a new temporary folder)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_data_pipeline_"))
    shutil.rmtree(out, ignore_errors=True)
    report = {
        "genome_MB": args.genome_mb,
        "tracks": args.tracks,
        "seq_length": SEQ_LENGTH,
        "crop_bp": CROP,
        "pool_width": POOL,
        "stride": 0.125,
        "seqs_per_tfr": 64,
        "cpus": os.cpu_count(),
    }
    for mb, key in ((args.genome_mb, "full"), (args.genome_mb / 2, "half")):
        inputs = out / f"inputs_{key}"
        inputs.mkdir(parents=True)
        fasta, table = make_inputs(inputs, mb, args.tracks)
        procs = (1, 2) if key == "full" else (1,)
        report[f"{key}_genome"] = [
            run_pipeline(fasta, table, out / f"data_{key}_p{p}", p) for p in procs
        ]
    # the extra sequences of the full genome over the half, per extra CPU second: the
    # pipeline's own rate, free of start-up costs and of other load on the machine
    big, small = report["full_genome"][0], report["half_genome"][0]
    report["marginal_sequences_per_cpu_second"] = round(
        (big["sequences"] - small["sequences"])
        / max(big["cpu_seconds"] - small["cpu_seconds"], 1e-9),
        1,
    )
    full = [out / "data_full_p1", out / "data_full_p2"]
    report["p1_p2_identical_tfrecords"] = all(
        (full[0] / "tfrecords" / f.name).read_bytes() == f.read_bytes()
        for f in (full[1] / "tfrecords").iterdir()
    )
    report["zlib"] = zlib_levels(full[0])
    # other users of the machine make the timings noisy; this says how busy it was
    report["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    report["bench_peak_rss_MB"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""Transfer learning on the simulator: pretrain on two cell types, adapt to a third.

Pretrains the demo model on the simulated human genome's erythroid and myeloid tracks
(DNASE, CAGE and CTCF ChIP: 5 tracks), then fits the held-out hepatic cell type's DNASE and
CAGE tracks (2 tracks) from 5%, 20% and 100% of the training windows with: training from
scratch, the transfer modes ``linear``, ``lora``, ``ia3``, ``locon``, ``houlsby``,
``full`` (``basenji_train.py --restore model_best.h5 --trunk`` with a transfer section),
and ``basenji_train_head.py`` (a ridge head on the frozen trunk). Every run is tested
by ``basenji_test.py`` from the ``params.json`` and ``model_best.h5`` it wrote, on the
same held-out test chromosome.

How the data are made: ``basenji_data.py`` runs twice on the same genome with the same
splits and seed, once per targets table (the pretraining cell types' tracks, the held-out
cell type's tracks); the windows (sequences.bed) are checked to be identical. A fraction
is a data directory whose ``train-0.tfr`` holds a seeded random subset of the held-out
directory's training records (copied byte for byte, TensorFlow-free) with its
sequences.bed rows and ``train_seqs``; valid and test records are the full ones.

Epochs: the 100% runs train ``--epochs`` epochs, the 20% runs twice and the 5% runs four
times as many (fixed counts: ``train_epochs_min`` = ``train_epochs_max``); the best
validation epoch's model is tested. Fine-tuning batches hold 4 windows (fewer if the
subset has fewer); Adam at 2e-3, 5e-4 for ``full`` (it moves the pretrained weights),
with the transfer runs' warm-up over their first epoch; the ridge head uses alpha 1 and
fits on the subset's train windows plus the valid windows, as basenji_train_head.py does.
Each run is a separate process, so its peak memory
(``VmHWM``, training and testing) is its own. Seconds per step: the median epoch time
after the first epoch (which traces the step) of the 100% run over its steps per epoch,
validation of the held-out valid split included.

Usage: python experiments/transfer.py [-o experiments_out/transfer] [--seed 1]
    [--size small] [--epochs 3] [--pretrain_epochs 8] [--modes lora,full] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from _pipeline import DEMO_PARAMS, GEOMETRY, run

from basenji_tf.files import atomic_path
from basenji_tf.tfrecords import (
    read_sequences_bed,
    read_statistics,
    record_bytes,
    split_files,
    write_statistics,
)

HELD_OUT = "hepatic"
FRACTIONS = (0.05, 0.2, 1.0)
EPOCH_FACTOR = {0.05: 4, 0.2: 2, 1.0: 1}
ASSAYS = ("DNASE", "CAGE")
# mode name -> transfer section (None: no pretrained model; "head": basenji_train_head.py)
MODES: dict[str, dict | str | None] = {
    "scratch": None,
    "linear": {"mode": "linear"},
    "lora": {"mode": "adapter", "adapter": "lora"},
    "ia3": {"mode": "adapter", "adapter": "ia3"},
    "locon": {"mode": "adapter", "adapter": "locon"},
    "houlsby": {"mode": "adapter", "adapter": "houlsby"},
    "full": {"mode": "full"},
    "train_head": "head",
}
# Adam learning rates: full fine-tuning moves pretrained weights, so it gets a smaller one.
LEARNING_RATE = {"full": 5e-4}
DEFAULT_LEARNING_RATE = 2e-3
FINE_TUNE_BATCH = 4


# -- data --------------------------------------------------------------------------------


def split_targets(targets_file: Path, held_out: str, out_dir: Path) -> tuple[Path, Path]:
    """Write the pretraining (other cell types) and held-out cell type's targets tables.

    A track belongs to a cell type when its description ends with ``{cell type}-like``
    (the simulator's descriptions, e.g. ``DNASE:hepatic-like``). Coverage paths become
    absolute and each table is indexed 0..n-1.

    Returns:
        (pretrain targets file, held-out targets file).
    """
    table = pd.read_csv(targets_file, sep="\t")
    table["file"] = [str((targets_file.parent / f).resolve()) for f in table["file"]]
    held = table["description"].str.endswith(f"{held_out}-like")
    if not held.any() or held.all():
        raise SystemExit(f"{targets_file}: no tracks of cell type {held_out}, or only those")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for name, rows in (
        ("targets_pretrain.txt", table[~held]),
        ("targets_heldout.txt", table[held]),
    ):
        rows = rows.copy()
        rows["index"] = range(len(rows))
        path = out_dir / name
        rows.to_csv(path, sep="\t", index=False)
        files.append(path)
    return files[0], files[1]


def read_records(path: str | Path) -> list[bytes]:
    """The serialized examples of one ZLIB TFRecord file, in file order (no CRC check)."""
    data = zlib.decompress(Path(path).read_bytes())
    records, at = [], 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 8], "little")
        at += 12  # length and its masked CRC
        records.append(data[at : at + length])
        at += length + 4  # data and its masked CRC
    return records


def write_records(path: Path, records: list[bytes]) -> None:
    """A ZLIB TFRecord file of serialized examples (atomically)."""
    compressor = zlib.compressobj(1)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        for record in records:
            handle.write(compressor.compress(record_bytes(record)))
        handle.write(compressor.flush())


def subset_data_dir(src: Path, dst: Path, fraction: float, seed: int) -> int:
    """Copy data directory ``src`` to ``dst`` keeping a seeded ``fraction`` of its train records.

    The kept records (at least one; in their original order) go to ``train-0.tfr`` with
    their sequences.bed rows; valid and test records, targets.txt and the other
    statistics are copied unchanged.

    Returns:
        the number of training records kept.
    """
    bed = read_sequences_bed(src)
    train_rows = np.flatnonzero(bed["split"].to_numpy() == "train")
    records = [r for f in split_files(src, "train") for r in read_records(f)]
    if len(records) != len(train_rows):
        raise SystemExit(f"{src}: {len(records)} train records but {len(train_rows)} bed rows")
    keep_n = max(1, round(fraction * len(records)))
    keep = np.sort(np.random.default_rng(seed).choice(len(records), keep_n, replace=False))
    (dst / "tfrecords").mkdir(parents=True, exist_ok=True)
    write_records(dst / "tfrecords" / "train-0.tfr", [records[i] for i in keep])
    for split in ("valid", "test"):
        for f in split_files(src, split):
            shutil.copyfile(f, dst / "tfrecords" / Path(f).name)
    drop = set(train_rows.tolist()) - set(train_rows[keep].tolist())
    bed = bed.drop(index=sorted(drop))
    bed.to_csv(dst / "sequences.bed", sep="\t", header=False, index=False)
    shutil.copyfile(src / "targets.txt", dst / "targets.txt")
    stats = read_statistics(src)
    stats["train_seqs"] = keep_n
    write_statistics(dst, stats)
    return keep_n


def make_data(out: Path, sim: Path, seed: int) -> tuple[Path, Path]:
    """basenji_data.py on the pretraining and the held-out targets tables (same windows)."""
    from basenji_tf.cli import basenji_data

    info = json.loads((sim / "sim.json").read_text())["species"]["human"]
    pre_targets, held_targets = split_targets(
        sim / "human" / "targets.txt", HELD_OUT, out / "targets"
    )
    dirs = []
    for name, targets in (("data_pretrain", pre_targets), ("data_heldout", held_targets)):
        data = out / name
        if not (data / "statistics.json").exists():
            run(
                basenji_data.main,
                GEOMETRY
                + ["--seed", seed, "-v", ",".join(info["valid_chroms"])]
                + ["-t", ",".join(info["test_chroms"]), "-g", sim / "human" / "gaps.bed"]
                + ["-o", data, sim / "human" / "genome.fa", targets],
            )
        dirs.append(data)
    if not read_sequences_bed(dirs[0]).equals(read_sequences_bed(dirs[1])):
        raise SystemExit(f"{dirs[0]} and {dirs[1]}: different windows")
    return dirs[0], dirs[1]


# -- params ------------------------------------------------------------------------------


def run_params(
    units: int, epochs: int, mode: str | None = None, batch_size: int | None = None
) -> dict:
    """The demo params with a head of ``units`` tracks, ``epochs`` epochs, ``mode``'s transfer.

    ``batch_size``: instead of the demo's 8 (fine-tuning runs: 4, or fewer when the data
    have fewer training windows).
    """
    params = copy.deepcopy(json.loads(DEMO_PARAMS.read_text()))
    train = params["train"]
    if batch_size is not None:
        train["batch_size"] = batch_size
    train["train_epochs_min"] = train["train_epochs_max"] = epochs
    train["learning_rate"] = LEARNING_RATE.get(mode, DEFAULT_LEARNING_RATE)
    (head_key,) = [k for k in params["model"] if k.startswith("head")]
    params["model"][head_key]["units"] = units
    section = MODES.get(mode)
    if isinstance(section, dict):
        params["transfer"] = dict(section)
    return params


# -- one run, in its own process ---------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB): ``VmHWM`` of /proc/self/status.

    Not ``ru_maxrss``: Linux carries that over from the parent across fork and exec, so a
    run started by a large parent would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_one(spec: dict) -> dict:
    """Train (or fit the ridge head), test from the written files; the run's figures.

    spec: ``mode``, ``out`` (directory), ``data`` (held-out data dir of this fraction),
    ``test_data``, ``params`` (the params to train), ``pretrained`` (params file, model
    file) and ``seed``.
    """
    from basenji_tf import seqnn, transfer
    from basenji_tf.cli import basenji_test, basenji_train
    from basenji_tf.demo import pearsonr_by_assay
    from basenji_tf.train_head import train_head

    out = Path(spec["out"])
    train_dir = out / "train"
    start = time.time()
    mode = spec["mode"]
    step_seconds = None
    if mode == "train_head":
        pre_params, pre_model = spec["pretrained"]
        fit = train_head(pre_params, pre_model, spec["data"], train_dir)
        trainable = int(fit["weights"].size + fit["intercept"].size)
    else:
        params_file = out / "params_in.json"
        params_file.write_text(json.dumps(spec["params"], indent=4))
        restore = [] if mode == "scratch" else ["--restore", spec["pretrained"][1], "--trunk"]
        run(
            basenji_train.main,
            ["--seed", spec["seed"], "-o", train_dir, *restore, params_file, spec["data"]],
        )
        if mode == "scratch":
            counts = transfer.parameter_counts(seqnn.load(params_file, augment=True))
        else:
            counts = transfer.transfer_counts(params_file, spec["pretrained"][1], trunk=True)
        trainable = sum(c.trainable for c in counts)
        history = pd.read_csv(train_dir / "history.tsv", sep="\t")
        steps = read_statistics(spec["data"])["train_seqs"] // spec["params"]["train"]["batch_size"]
        seconds = history["seconds"].tolist()
        step_seconds = statistics.median(seconds[1:] or seconds) / max(steps, 1)
    run(
        basenji_test.main,
        [
            "-o",
            out / "test",
            train_dir / "params.json",
            train_dir / "model_best.h5",
            spec["test_data"],
        ],
    )
    return {
        "mode": mode,
        "fraction": spec["fraction"],
        "train_seqs": read_statistics(spec["data"])["train_seqs"],
        "pearsonr": pearsonr_by_assay(out / "test" / "acc.txt"),
        "trainable_params": trainable,
        "seconds_per_step": step_seconds,
        "run_seconds": round(time.time() - start, 1),
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_source": "VmHWM",
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def run_isolated(spec: dict) -> dict | None:
    """:func:`run_one` in a new Python process (its own peak memory); cached in result.json.

    Returns None (after saying so) when the run fails, so the other runs go on.
    """
    out = Path(spec["out"])
    result = out / "result.json"
    if result.exists():
        return json.loads(result.read_text())
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(json.dumps(spec, indent=2, default=str))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--run_one", str(out / "spec.json")]
    )
    if done.returncode or not result.exists():
        print(f"transfer.py: {out}: failed (status {done.returncode}); left out", flush=True)
        return None
    return json.loads(result.read_text())


# -- the table ---------------------------------------------------------------------------


def table(results: list[dict]) -> pd.DataFrame:
    """One row per mode: test R per assay and fraction, trainable params, speed, memory."""
    rows = []
    for mode in dict.fromkeys(r["mode"] for r in results):
        runs = {r["fraction"]: r for r in results if r["mode"] == mode}
        row: dict = {"mode": mode}
        for assay in ASSAYS:
            for fraction in FRACTIONS:
                if fraction in runs:
                    r = runs[fraction]["pearsonr"].get(assay, math.nan)
                    row[f"{assay}_R_{fraction:.0%}"] = round(r, 3)
        row["trainable_params"] = max(r["trainable_params"] for r in runs.values())
        full = runs.get(max(runs))
        sps = full["seconds_per_step"]
        row["s_per_step"] = math.nan if sps is None else round(sps, 3)
        row["run_s_largest"] = full["run_seconds"]
        row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs.values())
        row["load_1min"] = full.get("load_average_1min", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    """The table as Markdown (NaN as a dash)."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for _, row in frame.iterrows():
        cells = [
            "-"
            if isinstance(v, float) and math.isnan(v)
            else f"{v:,}"
            if isinstance(v, int)
            else str(v)
            for v in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", dest="out", type=Path, default=Path("experiments_out/transfer"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", choices=("default", "small", "tiny"), default="small")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the 100%% runs")
    parser.add_argument("--pretrain_epochs", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument(
        "--quick", action="store_true", help="tiny genome, 2 pretraining epochs, 1 epoch"
    )
    parser.add_argument("--run_one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.epochs, args.pretrain_epochs = "tiny", 1, 2
    unknown = set(args.modes.split(",")) - set(MODES)
    if unknown:
        parser.error(f"--modes: unknown {sorted(unknown)}; choose from {', '.join(MODES)}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.run_one:
        spec = json.loads(args.run_one.read_text())
        result = run_one(spec)
        (Path(spec["out"]) / "result.json").write_text(json.dumps(result, indent=2))
        return
    from basenji_tf.cli import basenji_sim, basenji_train

    out = args.out
    sim = out / "sim"
    if not (sim / "sim.json").exists():
        run(basenji_sim.main, ["-o", sim, "--seed", args.seed, "--size", args.size])
    data_pre, data_held = make_data(out, sim, args.seed)

    start = time.time()
    n_pre = read_statistics(data_pre)["num_targets"]
    pre_dir = out / "pretrain"
    pre_params = out / "params_pretrain.json"
    pre_params.write_text(json.dumps(run_params(n_pre, args.pretrain_epochs), indent=4))
    if not (pre_dir / "model_best.h5").exists():
        run(basenji_train.main, ["--seed", args.seed, "-o", pre_dir, pre_params, data_pre])
    pretrained = [str(pre_dir / "params.json"), str(pre_dir / "model_best.h5")]

    n_held = read_statistics(data_held)["num_targets"]
    fraction_data = {1.0: data_held}
    for fraction in FRACTIONS[:-1]:
        fraction_data[fraction] = out / f"data_heldout_{fraction:.0%}"
        if not (fraction_data[fraction] / "statistics.json").exists():
            subset_data_dir(data_held, fraction_data[fraction], fraction, args.seed)
    results = []
    for mode in args.modes.split(","):
        for fraction in FRACTIONS:
            data = fraction_data[fraction]
            spec = {
                "mode": mode,
                "fraction": fraction,
                "out": str(out / "runs" / f"{mode}_{fraction:.0%}"),
                "data": str(data),
                "test_data": str(data_held),
                "params": run_params(
                    n_held,
                    args.epochs * EPOCH_FACTOR[fraction],
                    mode,
                    min(FINE_TUNE_BATCH, read_statistics(data)["train_seqs"]),
                ),
                "pretrained": pretrained,
                "seed": args.seed,
            }
            result = run_isolated(spec)
            if result is not None:
                print(f"transfer.py: {mode} {fraction:.0%}: {json.dumps(result)}", flush=True)
                results.append(result)

    frame = table(results)
    frame.to_csv(out / "transfer.tsv", sep="\t", index=False)
    (out / "transfer.json").write_text(json.dumps(results, indent=2))
    print(
        f"\nHeld-out cell type {HELD_OUT}: test Pearson R per assay by fraction of its "
        f"{read_statistics(data_held)['train_seqs']} training windows (size {args.size}, "
        f"seed {args.seed}; {time.time() - start:.0f} s after the data)"
    )
    print(markdown(frame))


if __name__ == "__main__":
    main()

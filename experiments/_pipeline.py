"""Shared steps of the experiments: simulate once, make data, train, test, read acc.txt."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from basenji_tf.cli import (
    basenji_data,
    basenji_data_align,
    basenji_sim,
    basenji_test,
    basenji_train,
)
from basenji_tf.demo import pearsonr_by_assay

REPO = Path(__file__).resolve().parents[1]
DEMO_PARAMS = REPO / "models" / "params_demo.json"
GEOMETRY = [
    "-l",
    "32768",
    "-w",
    "128",
    "--crop",
    "8192",
    "--stride",
    "4096",
    "--stride_test",
    "16384",
    "-p",
    "2",
]


def parse_args(doc: str) -> argparse.Namespace:
    """The options every experiment takes: -o, --seed, --epochs."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("-o", dest="out", type=Path, default=Path("experiments_out"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=6)
    return parser.parse_args()


def run(main, args: list[str]) -> None:
    status = main([str(a) for a in args])
    if status:
        raise SystemExit(f"{main.__module__} failed with status {status}")


def simulate(out: Path, seed: int) -> Path:
    sim = out / "sim"
    if not (sim / "sim.json").exists():
        run(basenji_sim.main, ["-o", sim, "--seed", seed])
    return sim


def human_data(out: Path, sim: Path, seed: int) -> Path:
    """Human data split by chromosome, as in the demo."""
    data = out / "data_human"
    if not (data / "statistics.json").exists():
        info = json.loads((sim / "sim.json").read_text())["species"]["human"]
        run(
            basenji_data.main,
            GEOMETRY
            + [
                "--seed",
                seed,
                "-v",
                ",".join(info["valid_chroms"]),
                "-t",
                ",".join(info["test_chroms"]),
                "-g",
                sim / "human" / "gaps.bed",
                "-o",
                data,
                sim / "human" / "genome.fa",
                sim / "human" / "targets.txt",
            ],
        )
    return data


def aligned_data(out: Path, sim: Path, seed: int) -> tuple[Path, Path]:
    """Human and mouse data whose splits respect the alignment (Basenji2's recipe)."""
    data = out / "data_aligned"
    if not (data / "mouse" / "statistics.json").exists():
        run(
            basenji_data_align.main,
            GEOMETRY
            + [
                "--seed",
                seed,
                "-t",
                "0.2",
                "-v",
                "0.2",
                "--break",
                "50000",
                "-a",
                "human,mouse",
                "-o",
                data,
                sim / "human.mouse.net",
                f"{sim / 'human' / 'genome.fa'},{sim / 'mouse' / 'genome.fa'}",
                f"{sim / 'human' / 'targets.txt'},{sim / 'mouse' / 'targets.txt'}",
            ],
        )
    return data / "human", data / "mouse"


def params_variant(out_file: Path, edit, epochs: int) -> Path:
    """Write a copy of the demo params edited by ``edit(params)`` with a fixed epoch count."""
    params = copy.deepcopy(json.loads(DEMO_PARAMS.read_text()))
    params["train"]["train_epochs_min"] = params["train"]["train_epochs_max"] = epochs
    edit(params)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(params, indent=4))
    return out_file


def train_and_test(
    params_file: Path, data_dirs: list[Path], out: Path, seed: int, head_i: int = 0
) -> dict:
    """Train, then test head ``head_i`` on data_dirs[head_i]; mean Pearson R per assay."""
    run(basenji_train.main, ["--seed", seed, "-o", out / "train", params_file, *data_dirs])
    model = out / "train" / ("model_best.h5" if len(data_dirs) == 1 else f"model{head_i}_best.h5")
    run(
        basenji_test.main,
        ["--head", head_i, "-o", out / "test", params_file, model, data_dirs[head_i]],
    )
    return pearsonr_by_assay(out / "test" / "acc.txt")


def print_table(title: str, rows: dict[str, dict]) -> None:
    """rows: model name -> {assay: R}."""
    assays = sorted({a for r in rows.values() for a in r})
    print(f"\n{title}")
    print("| model | " + " | ".join(f"{a} R" for a in assays) + " |")
    print("|---|" + "---|" * len(assays))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row.get(a, float('nan')):.3f}" for a in assays) + " |")

"""demo: the order and arguments of the steps, the shipped params, and the scorecard."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from basenji_tf import demo


@pytest.fixture
def scored(tmp_path):
    targets = tmp_path / "targets.txt"
    pd.DataFrame(
        {
            "index": [0, 1],
            "identifier": ["D", "C"],
            "file": ["d.bw", "c.bw"],
            "description": ["DNASE:x", "CAGE:x"],
        }
    ).to_csv(targets, sep="\t", index=False)
    ids = [f"v{i}" for i in range(6)]
    truth = pd.DataFrame(
        {
            "id": ids,
            "chrom": "chr1",
            "pos": range(6),
            "ref": "A",
            "alt": "C",
            "class": "neutral",
            "D": [1, 2, 3, 4, 5, 6],
            "C": [6, 5, 4, 3, 2, 1],
        }
    )
    effects = tmp_path / "effects.tsv"
    truth.to_csv(effects, sep="\t", index=False)
    sad = tmp_path / "sad.h5"
    predicted = np.array([[10, 1], [20, 2], [30, 3], [40, 4], [60, 5], [50, 6]], np.float16)
    order = [5, 4, 3, 2, 1, 0]  # rows in another order than the truth table
    with h5py.File(sad, "w") as handle:
        handle["snp"] = np.array([ids[i] for i in order], dtype="S")
        handle["SAD"] = predicted[order]
        handle["target_ids"] = np.array([b"t0", b"t1"])
    return sad, effects, targets


def test_sad_vs_truth_matches_rows_and_tracks(scored):
    agreement = demo.sad_vs_truth(*scored)
    assert agreement["variants"] == 6
    assert agreement["per_track"]["D"] == pytest.approx(0.9429, abs=1e-4)  # one swapped pair
    assert agreement["per_track"]["C"] == pytest.approx(-1.0)
    assert agreement["mean"] == pytest.approx((0.9429 - 1.0) / 2, abs=1e-4)


def test_pearsonr_by_assay(tmp_path):
    acc = tmp_path / "acc.txt"
    acc.write_text(
        "index\tpearsonr\tr2\tidentifier\tdescription\n"
        "0\t0.5\t0.2\tD\tDNASE:x\n1\t0.7\t0.4\tC\tCAGE:x\n"
    )
    assert demo.pearsonr_by_assay(acc) == {"CAGE": 0.7, "DNASE": 0.5}


def test_params_file_ships_with_the_package(repo):
    shipped = demo.demo_params_file()
    assert shipped.read_bytes() == (repo / "models" / "params_demo.json").read_bytes()


class _Stop(Exception):
    pass


def test_run_demo_runs_the_commands_in_order(tmp_path):
    """The commands and their key arguments, up to the variant scores (a fake runner)."""
    calls = []

    def run_step(command, args):
        calls.append((command, args))
        if command == "basenji_sim.py":
            info = {"species": {"human": {"valid_chroms": ["chr3"], "test_chroms": ["chr4"]}}}
            (tmp_path / "sim").mkdir()
            (tmp_path / "sim" / "sim.json").write_text(json.dumps(info))
        if command == "basenji_sad.py":
            raise _Stop

    params = tmp_path / "params.json"
    params.write_text("{}")
    with pytest.raises(_Stop):
        demo.run_demo(tmp_path, 3, "tiny", params, run_step)
    assert [c for c, _ in calls] == list(demo.STEPS[:5])
    assert calls[0][1] == ["-o", str(tmp_path / "sim"), "--seed", "3", "--size", "tiny"]
    data_args = calls[1][1]
    assert data_args[: len(demo.DATA_OPTIONS)] == demo.DATA_OPTIONS
    assert data_args[data_args.index("-v") + 1] == "chr3"
    assert data_args[data_args.index("-t") + 1] == "chr4"
    assert all(str(params) in args for command, args in calls[2:])


def test_missing_params_file_fails_before_any_step(tmp_path):
    with pytest.raises(FileNotFoundError, match="params file not found"):
        demo.run_demo(tmp_path, 1, "tiny", tmp_path / "none.json", None)

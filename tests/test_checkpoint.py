"""The files of a training run: model files, history.tsv, summaries, resume.h5.

Kill-and-resume: SIGKILL basenji_train.py mid-run, rerun the same command, and get the
run an uninterrupted process produces (same epochs, same numbers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from test_train import write_data_dir, write_params

from basenji_tf.checkpoint import HISTORY_COLUMNS, Checkpointer, output_names
from basenji_tf.errors import InputError

TIMEOUT_S = 240
EPOCHS = 3


def _command(repo: Path, params: Path, data: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        str(repo / "bin" / "basenji_train.py"),
        "--seed",
        "11",
        "-o",
        str(out),
        str(params),
        str(data),
    ]


def _env() -> dict:
    # The test follows the INFO log: epoch lines and the resume message.
    return dict(
        os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", BASENJI_LOG_LEVEL="INFO"
    )


def _row(epoch: int, best: bool) -> dict:
    return {
        "epoch": epoch,
        "data": 0,
        "seconds": 1.5,
        "train_loss": 0.5,
        "train_r": 0.1,
        "train_r2": 0.01,
        "valid_loss": 0.6,
        "valid_r": 0.2,
        "valid_r2": 0.02,
        "best": best,
    }


def test_output_names():
    assert output_names(1) == [{"check": "model_check.h5", "best": "model_best.h5"}]
    assert output_names(2)[1] == {"check": "model1_check.h5", "best": "model1_best.h5"}


def test_save_epoch_writes_check_best_and_summaries(tmp_path):
    saved = []

    def save_model(path, i):
        saved.append((Path(path).name, i))
        Path(path).write_text(f"model {i}")

    checkpoints = Checkpointer(tmp_path / "out", 2, save_model)
    checkpoints.open()
    checkpoints.save_epoch(1, _row(0, best=True))
    checkpoints.save_epoch(1, _row(1, best=False))
    assert (tmp_path / "out" / "model1_best.h5").read_text() == "model 1"
    assert sorted(p.name for p in (tmp_path / "out").glob("*.h5")) == [
        "model1_best.h5",
        "model1_check.h5",
    ]
    assert [i for _, i in saved] == [1, 1, 1]
    assert list((tmp_path / "out" / "logs" / "data1").glob("events.out.tfevents.*"))


def test_state_round_trip_and_history(tmp_path):
    model_vars = [keras.Variable(np.arange(6.0).reshape(2, 3)), keras.Variable(2.0)]
    optimizer_vars = [keras.Variable(7, dtype="int64")]
    checkpoints = Checkpointer(tmp_path, 1, lambda path, i: None)
    assert checkpoints.load_state(model_vars, optimizer_vars) is None
    state = {
        "epoch": 2,
        "best": [0.3],
        "unimproved": [1],
        "seed": 5,
        "history": [_row(0, True), _row(1, False)],
    }
    checkpoints.save_state(model_vars, optimizer_vars, state)
    lines = (tmp_path / "history.tsv").read_text().splitlines()
    assert lines[0].split("\t") == list(HISTORY_COLUMNS)
    assert lines[2] == "1\t0\t1.5\t0.5\t0.1\t0.01\t0.6\t0.2\t0.02\tFalse"

    fresh = [keras.Variable(np.zeros((2, 3))), keras.Variable(0.0)]
    fresh_optimizer = [keras.Variable(0, dtype="int64")]
    assert checkpoints.load_state(fresh, fresh_optimizer) == state
    np.testing.assert_array_equal(fresh[0].numpy(), model_vars[0].numpy())
    assert float(fresh[1].numpy()) == 2.0 and int(fresh_optimizer[0].numpy()) == 7
    with h5py.File(tmp_path / "resume.h5") as h5:
        assert len(h5["model"]) == 2 and len(h5["optimizer"]) == 1

    with pytest.raises(InputError, match="holds 2 model variables but this run has 1"):
        checkpoints.load_state(fresh[:1], fresh_optimizer)
    with pytest.raises(InputError, match=r"model variable 0 .*shape \(2, 3\).*\(3, 2\)"):
        checkpoints.load_state([keras.Variable(np.zeros((3, 2))), fresh[1]], fresh_optimizer)


def test_only_the_chief_writes(tmp_path):
    checkpoints = Checkpointer(
        tmp_path / "out", 1, lambda path, i: Path(path).write_text("m"), chief=False
    )
    checkpoints.open()
    checkpoints.save_epoch(0, _row(0, best=True))
    checkpoints.save_state([keras.Variable(1.0)], [], {"history": [_row(0, True)]})
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.slow
@pytest.mark.subprocess
def test_sigkill_then_rerun_continues(tmp_path, repo):
    data = write_data_dir(tmp_path / "data")
    params = write_params(tmp_path / "params.json", train_epochs_max=EPOCHS, patience=50)
    reference = subprocess.Popen(
        _command(repo, params, data, tmp_path / "reference"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    victim = subprocess.Popen(
        _command(repo, params, data, tmp_path / "out"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + TIMEOUT_S
        # Kill as soon as epoch 1 is logged: during its model saves or early in epoch 2.
        for line in victim.stderr:
            if "Epoch 1 -" in line or time.time() > deadline:
                break
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        resumed = subprocess.run(
            _command(repo, params, data, tmp_path / "out"),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        reference.wait(timeout=TIMEOUT_S)
    finally:
        for proc in (reference, victim):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert reference.returncode == 0
    assert "resuming from" in resumed.stderr
    first_epoch = int(resumed.stderr.split("after epoch ")[1].split()[0]) + 1
    assert first_epoch in (1, 2) and "Epoch 2 -" in resumed.stderr
    assert f"Epoch {first_epoch - 1} -" not in resumed.stderr  # finished epochs are not redone

    rows = (tmp_path / "out" / "history.tsv").read_text().splitlines()[1:]
    assert [int(r.split("\t")[0]) for r in rows] == list(range(EPOCHS))
    got = np.loadtxt(tmp_path / "out" / "history.tsv", skiprows=1, usecols=range(3, 9))
    want = np.loadtxt(tmp_path / "reference" / "history.tsv", skiprows=1, usecols=range(3, 9))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    for name in ("model_best.h5", "model_check.h5", "resume.h5"):
        assert (tmp_path / "out" / name).is_file()

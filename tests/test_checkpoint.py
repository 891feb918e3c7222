"""Kill-and-resume: SIGKILL basenji_train.py mid-run, rerun the same command, and get the
run an uninterrupted process produces (same epochs, same numbers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from test_train import write_data_dir, write_params

TRAIN_SCRIPT = Path(__file__).resolve().parents[1] / "bin" / "basenji_train.py"
TIMEOUT_S = 240
EPOCHS = 3


def _command(params: Path, data: Path, out: Path) -> list[str]:
    return [sys.executable, str(TRAIN_SCRIPT), "--seed", "11", "-o", str(out), str(params),
            str(data)]


def _env() -> dict:
    # The test follows the INFO log: epoch lines and the resume message.
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
                BASENJI_LOG_LEVEL="INFO")


def test_sigkill_then_rerun_continues(tmp_path):
    data = write_data_dir(tmp_path / "data")
    params = write_params(tmp_path / "params.json", train_epochs_max=EPOCHS, patience=50)
    reference = subprocess.Popen(_command(params, data, tmp_path / "reference"), env=_env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    victim = subprocess.Popen(_command(params, data, tmp_path / "out"), env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + TIMEOUT_S
        # Kill as soon as epoch 1 is logged: during its model saves or early in epoch 2.
        for line in victim.stderr:
            if "Epoch 1 -" in line or time.time() > deadline:
                break
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        resumed = subprocess.run(_command(params, data, tmp_path / "out"), env=_env(),
                                 capture_output=True, text=True, timeout=TIMEOUT_S)
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

"""tf.distribute: Mirrored (2 logical CPUs) and MultiWorkerMirrored (2 local processes).

Both must reproduce single-device training: same seed, same global batch (each
replica takes a consecutive slice), synchronized batch norm, gradients all-reduced before
clipping. Tolerance on per-epoch losses, r and R2: relative 1e-5 plus absolute 5e-6
(measured: at most 8e-7 absolute, from float summation order only).

Each configuration runs in subprocesses: logical devices and TF_CONFIG must be set before
TensorFlow initializes, and the rest of the suite keeps one CPU device.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_train import TINY_PARAMS, write_data_dir

RTOL, ATOL = 1e-5, 5e-6
TIMEOUT_S = 240

# Every test trains in processes of its own (tens of seconds on 2 cores).
pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

MIRRORED_SCRIPT = """
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from basenji_tf.cli import basenji_train

params, data, root = sys.argv[1:]
for strategy in ("default", "mirrored"):
    argv = ["--seed", "7", "--strategy", strategy, "-o", f"{root}/{strategy}", params, data]
    assert basenji_train.main(argv) == 0
"""


def _history(out: Path) -> np.ndarray:
    """Epoch rows x (train_loss, train_r, train_r2, valid_loss, valid_r, valid_r2)."""
    return np.loadtxt(out / "history.tsv", skiprows=1, usecols=range(3, 9), ndmin=2)


def _env() -> dict:
    # INFO logging shows TensorFlow's collective set-up lines the tests look for.
    env = dict(
        os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", BASENJI_LOG_LEVEL="INFO"
    )
    for name in [n for n in env if n == "TF_CONFIG" or n.startswith("SLURM_")]:
        env.pop(name)
    return env


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Data, params and the single-device and mirrored runs.

    Params: no augmentation or dropout, synchronized BN, clipping.
    """
    root = tmp_path_factory.mktemp("distribute")
    data = write_data_dir(root / "data")
    params = json.loads(json.dumps(TINY_PARAMS))
    params["model"].update(norm_type="batch-sync", augment_rc=False, augment_shift=0)
    params["train"] = {
        "batch_size": 4,
        "optimizer": "sgd",
        "learning_rate": 0.02,
        "momentum": 0.9,
        "clip_norm": 1.0,
        "train_epochs_max": 2,
    }
    params_file = root / "params.json"
    params_file.write_text(json.dumps(params))
    script = root / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    run = subprocess.run(
        [sys.executable, str(script), str(params_file), str(data), str(root)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return root, params_file, data, run.stderr


def test_mirrored_two_cpus_matches_single_device(setup):
    root, _, _, stderr = setup
    assert "num_devices = 2" in stderr  # the collective ran over two replicas
    single, mirrored = _history(root / "default"), _history(root / "mirrored")
    assert single.shape == (2, 6)
    np.testing.assert_allclose(mirrored, single, rtol=RTOL, atol=ATOL)
    assert (root / "mirrored" / "model_best.h5").is_file()


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _tf_config_env(index: int, ports: list[int]) -> tuple[dict, list[str]]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    env = dict(
        _env(),
        TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
    )
    return env, []


def _slurm_env(index: int, ports: list[int]) -> tuple[dict, list[str]]:
    """What srun sets for task ``index`` of a two-task step on one node (no GPUs)."""
    env = dict(
        _env(),
        SLURM_PROCID=str(index),
        SLURM_STEP_NUM_TASKS="2",
        SLURM_STEP_NODELIST="localhost",
        SLURM_STEP_TASKS_PER_NODE="2",
        SLURM_JOB_ID="1",
    )
    return env, ["--port_base", str(ports[0])]


def _consecutive_free_ports() -> list[int]:
    for _ in range(50):
        port = _free_ports(1)[0]
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return [port, port + 1]
    raise RuntimeError("no two consecutive free ports")


@pytest.mark.parametrize("cluster_from", [_tf_config_env, _slurm_env], ids=["tf_config", "slurm"])
def test_multiworker_two_processes_matches_single_device(setup, cluster_from, repo):
    root, params_file, data, _ = setup
    ports = _consecutive_free_ports()
    out = root / f"multiworker_{cluster_from.__name__}"
    workers = []
    for index in range(2):
        env, extra = cluster_from(index, ports)
        argv = [
            sys.executable,
            str(repo / "bin" / "basenji_train.py"),
            "--seed",
            "7",
            *extra,
            "--strategy",
            "multiworker",
            "-o",
            str(out),
            str(params_file),
            str(data),
        ]
        workers.append(
            subprocess.Popen(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
        )
    try:
        logs = [w.communicate(timeout=TIMEOUT_S)[1] for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    for w, log in zip(workers, logs):
        assert w.returncode == 0, log[-3000:]
        assert "num_workers = 2" in log
    np.testing.assert_allclose(_history(out), _history(root / "default"), rtol=RTOL, atol=ATOL)
    assert (out / "model_best.h5").is_file()

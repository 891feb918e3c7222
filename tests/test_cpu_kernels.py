"""The fixed-shape promises hold on an AVX2 machine's kernels too.

oneDNN picks kernels by instruction set and shape: on an AVX2-only CPU a window's conv
tower differs in the last bit between a call of one sequence and a call of three, which
an AVX-512 CPU does not show. ``ONEDNN_MAX_CPU_ISA=AVX2`` holds oneDNN to the AVX2
kernels, so this machine runs the tests marked ``fixed_shape`` (batch, shard and
neighbour independence) again as an AVX2 machine would. (bfloat16 cannot run under that
cap: TensorFlow still sees the CPU's AVX512_BF16 and asks oneDNN for kernels it then
refuses; no ``fixed_shape`` test uses it.)
"""

import os
import subprocess
import sys

import pytest

from basenji_tf import hardware

CAP = "AVX2"


def _capped_env() -> dict[str, str]:
    return {**os.environ, "ONEDNN_MAX_CPU_ISA": CAP, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def wider_than_avx2():
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):
        pytest.skip("this run is already held to ONEDNN_MAX_CPU_ISA: it is the check")
    if not any(
        flag.startswith("avx512") or flag.startswith("amx") for flag in hardware.cpu_flags()
    ):
        pytest.skip("no AVX-512 or AMX here: the suite already ran on AVX2 kernels")


@pytest.mark.subprocess
def test_the_cap_makes_onednn_run_avx2_convolutions(wider_than_avx2):
    """Else the run below would test nothing new."""
    script = (
        "import numpy as np, keras\n"
        "keras.layers.Conv1D(64, 5, padding='same')(np.zeros((2, 4096, 32), 'float32'))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env={**_capped_env(), "ONEDNN_VERBOSE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    convs = [line for line in run.stdout.splitlines() if ",exec," in line and "convolution" in line]
    assert convs, run.stdout[-2000:]
    assert all(":avx2" in line for line in convs), convs


@pytest.mark.slow
@pytest.mark.subprocess
def test_fixed_shape_tests_pass_on_avx2_kernels(wider_than_avx2, repo):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "fixed_shape"],
        cwd=repo,
        env=_capped_env(),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in summary and "skipped" not in summary, summary

"""Shared test settings and the fixtures through which tests open repository files.

Tests never open a path relative to the working directory: they build it from `repo` (the
checkout's root) or from one of the data folders below, so `pytest` runs from anywhere.
"""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test that takes `model_params_file` once per models/*.json.

    Module scope, so a module-scoped fixture built from it (a model) is built once per file.
    All but params_tiny.json are marked slow: Basenji2's 30 M weights take 5-30 s per
    test to save and load on 2 cores, even at a short input.
    """
    if "model_params_file" in metafunc.fixturenames:
        files = sorted((REPO / "models").glob("*.json"))
        params = [
            pytest.param(
                f,
                id=f.stem.removeprefix("params_"),
                marks=() if f.stem == "params_tiny" else pytest.mark.slow,
            )
            for f in files
        ]
        metafunc.parametrize("model_params_file", params, scope="module")


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root: `repo / "models" / "params_tiny.json"`, `repo / "bin"`, ..."""
    return REPO


@pytest.fixture(scope="session")
def reference_dir(repo: Path) -> Path:
    """Outputs of the original implementation (see tests/data/reference/PROVENANCE.md)."""
    return repo / "tests" / "data" / "reference"


@pytest.fixture(scope="session")
def baskerville_dir(repo: Path) -> Path:
    """Real hg38 / mm10 TFRecords (see data/baskerville_tiny/PROVENANCE.md)."""
    return repo / "data" / "baskerville_tiny"


@pytest.fixture(scope="session")
def small_model(reference_dir) -> dict[str, str]:
    """The small Basenji2-shaped reference model (written by the original) and its genome."""
    small = reference_dir / "basenji2_small"
    return {
        "fasta": str(reference_dir / "sad_small" / "gata4_locus.fa"),
        "params": str(small / "params.json"),
        "model": str(small / "model0_best.h5"),
    }


@pytest.fixture(scope="session")
def predictor(small_model):
    """An EnsemblePredictor of the small reference model's head 0 (no ensemble)."""
    from basenji_tf import seqnn
    from basenji_tf.scoring.ensemble import EnsemblePredictor

    return EnsemblePredictor(seqnn.load(small_model["params"], small_model["model"]).head.model)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A Dask scheduler and two workers in processes of their own on 127.0.0.1."""
    pytest.importorskip("distributed")
    from dask_cluster import LocalDaskCluster

    cluster = LocalDaskCluster(tmp_path_factory.mktemp("dask"), n_workers=2)
    yield cluster
    cluster.close()

"""Shared test settings and fixture paths."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "data" / "reference"
BASKERVILLE = REPO / "data" / "baskerville_tiny"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Outputs of the original implementation (see tests/data/reference/PROVENANCE.md)."""
    return REFERENCE


@pytest.fixture(scope="session")
def baskerville_dir() -> Path:
    """Real hg38 / mm10 TFRecords (see data/baskerville_tiny/PROVENANCE.md)."""
    return BASKERVILLE

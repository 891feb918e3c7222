"""docs/pipeline.md's pipeline (the original's command lines) runs as written."""

from __future__ import annotations

import os
import re
import subprocess

import h5py
import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def pipeline_script(repo) -> str:
    """The page's one bash block."""
    text = (repo / "docs" / "pipeline.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "docs/pipeline.md must hold exactly one bash block"
    return blocks[0]


def test_original_pipeline_runs_unchanged(repo, tmp_path):
    env = dict(os.environ, REPO=str(repo), TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        ["bash", "-c", pipeline_script(repo)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for path in ("data_out/statistics.json", "train_out/model_best.h5", "test_out/acc.txt"):
        assert (tmp_path / path).is_file(), path
    with h5py.File(tmp_path / "sad_out" / "sad.h5") as h5:
        assert h5["SAD"].shape == (3, 3)
        snps = [s.decode() for s in h5["snp"][:]]
    table = pd.read_csv(tmp_path / "sad_table.tsv", sep="\t")
    assert len(table) == 9  # long form: 3 variants x 3 targets
    assert list(table["SNP"].unique()) == snps
    assert list(table["TargetID"][:3]) == ["T0SMOOTH", "T1PEAKS", "T2LARGE"]
    assert "Traceback" not in done.stderr

"""basenji_sad_table.py: sad.h5 (the original's and ours) -> TSV."""

import io
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from basenji_tf.cli import basenji_sad_table
from basenji_tf.files import atomic_path
from basenji_tf.scoring.outputs import PERCENTILES, SadWriter
from basenji_tf.scoring.vcf import Variant


@pytest.fixture(scope="module")
def original_sad(reference_dir):
    return str(reference_dir / "sad_small" / "sad_out" / "sad.h5")


def write_our_sad(path, num_variants: int, num_targets: int = 3) -> None:
    """A sad.h5 as basenji_sad.py writes it, with seeded scores."""
    rng = np.random.default_rng(0)
    variants = [
        Variant("chr1", 100 + i, f"rs{i}", "A", "G", ("G",), i + 1) for i in range(num_variants)
    ]
    scores = {
        "SAD": rng.normal(size=(num_variants, num_targets)).astype(np.float16),
        "D1": rng.random((num_variants, num_targets)).astype(np.float16),
    }
    with atomic_path(path) as tmp:
        writer = SadWriter(tmp, ["SAD", "D1"], ["a", "b", "c"], ["A", "B", "C"], 4)
        writer.append(variants, scores)
        writer.close()


def run_table(argv, capsys) -> pd.DataFrame:
    assert basenji_sad_table.main(argv) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out), sep="\t", keep_default_na=False)


def expected_quantile(score: float, table: np.ndarray) -> float:
    """The first tabulated percentile whose value is not below ``score``."""
    above = np.nonzero(table >= score)[0]
    return PERCENTILES[above[0]] if len(above) else PERCENTILES[-1]


def test_long_form_of_original_sad(original_sad, capsys):
    table = run_table([original_sad], capsys)
    with h5py.File(original_sad, "r") as h5:
        sad, pct = h5["SAD"][:], h5["SAD_pct"][:]
        snps = [s.decode() for s in h5["snp"][:]]
        d2 = h5["D2"][:]
    num_snps, num_targets = sad.shape
    assert len(table) == num_snps * num_targets
    assert table["SNP"].tolist() == list(np.repeat(snps, num_targets))
    assert table["TargetID"].tolist()[:num_targets] == [f"t{i}" for i in range(num_targets)]
    # %.6g round-trips float16 exactly
    assert np.array_equal(table["SAD"].to_numpy().astype(np.float16), sad.reshape(-1))
    assert np.array_equal(table["D2"].to_numpy().astype(np.float16), d2.reshape(-1))
    row = 5 * num_targets + 3
    assert table["Quantile"][row] == pytest.approx(expected_quantile(sad[5, 3], pct[3]))
    assert "REF" not in table and "ALT" not in table


def test_wide_form_and_output_file(original_sad, tmp_path):
    out = tmp_path / "sad.tsv"
    assert basenji_sad_table.main([original_sad, "--wide", "-o", str(out)]) == 0
    table = pd.read_csv(out, sep="\t")
    with h5py.File(original_sad, "r") as h5:
        sad = h5["SAD"][:]
    assert len(table) == sad.shape[0]
    assert np.array_equal(table["SAD_t7"].to_numpy().astype(np.float16), sad[:, 7])
    assert "Quantile_t0" in table


def test_our_sad_with_quantiles_of_another_file(tmp_path, capsys):
    ours, background = tmp_path / "ours.h5", tmp_path / "background.h5"
    write_our_sad(ours, 4)
    write_our_sad(background, 50)
    table = run_table([str(ours), "-q", str(background)], capsys)
    with h5py.File(background, "r") as h5:
        pct = h5["SAD_pct"][:]
    with h5py.File(ours, "r") as h5:
        sad = h5["SAD"][:]
    assert table.columns.tolist()[-3:] == ["SAD", "D1", "Quantile"]
    assert table["TargetLabel"].tolist()[:3] == ["A", "B", "C"]
    assert table["Quantile"][4] == pytest.approx(expected_quantile(sad[1, 1], pct[1]))


def test_quantile_file_with_other_targets_is_one_line(original_sad, reference_dir, capsys):
    other = str(reference_dir / "sad_small" / "sad_targets_out" / "sad.h5")
    assert basenji_sad_table.main([original_sad, "-q", other]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "4 targets" in err and "same targets" in err


@pytest.mark.subprocess
def test_head_ends_quietly(tmp_path):
    big = tmp_path / "big.h5"
    write_our_sad(big, 20000)
    proc = subprocess.run(
        f"{sys.executable} -m basenji_tf.cli.basenji_sad_table {big} | head -n 2",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.count("\n") == 2
    assert proc.stderr == ""

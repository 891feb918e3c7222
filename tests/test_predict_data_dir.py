"""basenji_predict.py on the original's data directory.

preds.h5, normalization.txt and BigWigs stitched along the test split's (overlapping)
sequences.bed rows.
"""

import h5py
import numpy as np
import pyBigWig
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import basenji_predict
from basenji_tf.dataset import SeqDataset


@pytest.fixture(scope="module")
def paths(reference_dir):
    small = reference_dir / "basenji2_small"
    data = reference_dir / "basenji_data_small"
    return {
        "params": str(small / "params.json"),
        "model": str(small / "model0_best.h5"),
        "data": str(data / "data_out"),
        "sizes": str(data / "inputs" / "genome.fa.fai"),
    }


def test_predict_writes_preds_and_stitched_bigwigs(tmp_path, paths):
    out = tmp_path / "pred"
    argv = ["-o", str(out), "-g", paths["sizes"], "--ti", "1,5", "--rc",
            paths["params"], paths["model"], paths["data"]]  # fmt: skip
    assert basenji_predict.main(argv) == 0
    head = seqnn.load(paths["params"], paths["model"]).head
    data = SeqDataset(paths["data"], "test", 4, mode="eval")
    x = np.concatenate([batch.numpy() for batch, _ in data.dataset])
    x = np.concatenate([x, np.zeros((1, *x.shape[1:]), np.float32)])  # one batch of four
    expect = head.predict(x, batch_size=4, rc=True)[:3].astype(np.float16)
    with h5py.File(out / "preds.h5") as h5:
        preds = h5["preds"][:]
    assert preds.dtype == np.float16 and preds.shape == (3, 112, 8)
    np.testing.assert_array_equal(preds, expect)
    means = preds.astype(np.float64).mean(axis=(0, 1))
    lines = (out / "normalization.txt").read_text().splitlines()
    assert len(lines) == 8 and lines[5].split()[0] == "5"
    assert float(lines[5].split()[1]) == pytest.approx(means[5], rel=1e-12)
    assert float(lines[5].split()[2]) == pytest.approx(np.median(means) / means[5], rel=1e-12)
    assert sorted(p.name for p in (out / "tracks").iterdir()) == ["t1_preds.bw", "t5_preds.bw"]
    # test rows, in file order: chrC 8192-22528, 16384-30720, 0-14336 (crops equal: bins
    # start at the row start); overlaps keep the earlier window in genome order
    with pyBigWig.open(str(out / "tracks" / "t5_preds.bw")) as bw:
        assert bw.chroms() == {"chrA": 65536, "chrB": 32768, "chrC": 32768}
        got = {s: v for s, _, v in bw.intervals("chrC")}
        assert bw.intervals("chrA") is None
    starts = {2: 0, 0: 8192, 1: 16384}
    expected = {}
    for row in (2, 0, 1):
        for j in range(112):
            expected.setdefault(starts[row] + 128 * j, float(preds[row, j, 5]))
    assert got == expected


def test_predict_without_bigwigs_and_bad_options(tmp_path, paths, capsys):
    out = tmp_path / "p"
    table = tmp_path / "t.txt"
    table.write_text("index\tidentifier\tfile\n2\ta\tx\n6\tb\tx\n")
    argv = ["-o", str(out), "-t", str(table), "-g", paths["sizes"],
            paths["params"], paths["model"], paths["data"]]  # fmt: skip
    assert basenji_predict.main(argv) == 0
    assert not (out / "tracks").exists()
    with h5py.File(out / "preds.h5") as h5:
        assert h5["preds"].shape == (3, 112, 2)
    lines = (out / "normalization.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["2", "6"]
    with pytest.raises(SystemExit) as exit_info:  # -g is required, as in the original
        basenji_predict.main(argv[:4] + argv[6:])
    assert exit_info.value.code == 2
    assert "the following arguments are required: -g" in capsys.readouterr().err
    assert basenji_predict.main(["--ti", "1"] + argv) == 1
    assert "--ti 1: not a predicted output" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        basenji_predict.main(["--help"])
    assert exit_info.value.code == 0

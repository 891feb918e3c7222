"""basenji_predict_tfr.py on the original's data directory and small model."""

import h5py
import numpy as np
import pytest

from basenji_tf.cli import basenji_predict, basenji_predict_tfr


@pytest.fixture(scope="module")
def paths(reference_dir):
    small = reference_dir / "basenji2_small"
    data = reference_dir / "basenji_data_small"
    return {
        "params": str(small / "params.json"),
        "model": str(small / "model0_best.h5"),
        "data": str(data / "data_out"),
        "sizes": str(data / "inputs" / "genome.fa.fai"),
        "decoded": data / "decoded_tfrecords.npz",
    }


def _bedgraph(path):
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    return [(c, int(s), int(e)) for c, s, e, _ in rows], [v for *_, v in rows]


@pytest.mark.slow
def test_predict_tfr_matches_basenji_predict_and_writes_bedgraphs(tmp_path, paths):
    out, other = tmp_path / "tfr", tmp_path / "predict"
    model_args = ["--rc", paths["params"], paths["model"], paths["data"]]
    assert basenji_predict_tfr.main(["-o", str(out), "--bi", "0,2"] + model_args) == 0
    assert basenji_predict.main(["-o", str(other), "-g", paths["sizes"]] + model_args) == 0
    with h5py.File(out / "preds.h5") as a, h5py.File(other / "preds.h5") as b:
        preds = a["preds"][()]
        np.testing.assert_array_equal(preds, b["preds"][()])
    assert preds.dtype == np.float16 and preds.shape == (3, 112, 8)  # every model output
    with h5py.File(out / "targets.h5") as h5:
        targets = h5["targets"][()]
    assert targets.dtype == np.float16
    # the original's own decoding of its test TFRecords
    np.testing.assert_array_equal(targets, np.load(paths["decoded"])["test_targets"])
    assert sorted(p.name for p in out.glob("*.bedgraph")) == [
        "preds_t0.bedgraph",
        "preds_t2.bedgraph",
        "targets_t0.bedgraph",
        "targets_t2.bedgraph",
    ]
    # test rows of sequences.bed, in record order; the model's bins are the data's bins
    starts = {"chrC": [8192, 16384, 0]}
    expected_bins = [
        ("chrC", s + 128 * j, s + 128 * (j + 1)) for s in starts["chrC"] for j in range(112)
    ]
    for ti in (0, 2):
        for name, array in (("preds", preds), ("targets", targets)):
            bins, values = _bedgraph(out / f"{name}_t{ti}.bedgraph")
            assert bins == expected_bins
            assert values == [str(v) for v in array[:, :, ti].ravel()]  # the original's str()
            np.testing.assert_array_equal(
                np.array(values, float).astype(np.float16), array[:, :, ti].ravel()
            )
    first = (out / "preds_t2.bedgraph").read_text().splitlines()[0]
    assert first == "chrC\t8192\t8320\t" + str(preds[0, 0, 2])


@pytest.mark.slow
def test_predict_tfr_options_and_errors(tmp_path, paths, capsys):
    out = tmp_path / "sub"
    table = tmp_path / "t.txt"
    table.write_text("index\tidentifier\tfile\n2\ta\tx\n1\tb\tx\n")
    model_args = [paths["params"], paths["model"], paths["data"]]
    assert (
        basenji_predict_tfr.main(["-o", str(out), "-t", str(table), "--bi", "1"] + model_args) == 0
    )
    with h5py.File(out / "preds.h5") as p, h5py.File(out / "targets.h5") as t:
        assert p["preds"].shape == t["targets"].shape == (3, 112, 2)
        targets = t["targets"][()]
    decoded = np.load(paths["decoded"])["test_targets"]
    np.testing.assert_array_equal(targets, decoded[..., [2, 1]])
    _, values = _bedgraph(out / "targets_t1.bedgraph")
    assert values == [str(v) for v in decoded[:, :, 1].ravel()]
    capsys.readouterr()
    # output 5 exists in the model (8 outputs) but the data has 3 targets
    assert basenji_predict_tfr.main(["-o", str(tmp_path / "b"), "--bi", "5"] + model_args) == 1
    assert "--bi 5: not a kept output with data targets" in capsys.readouterr().err
    table.write_text("index\tidentifier\tfile\n6\ta\tx\n")
    assert basenji_predict_tfr.main(["-o", str(tmp_path / "c"), "-t", str(table)] + model_args) == 1
    assert "index 6 is not a target of the data" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        basenji_predict_tfr.main(["--help"])
    assert exit_info.value.code == 0


# option, dest, default of the original (original_cli_more.tsv)
ORIGINAL_OPTIONS = [
    ("--bi", "bedgraph_indexes", []),  # the original's None: no bedGraphs
    ("--head", "head_i", 0),
    ("-o", "out_dir", "preds_out"),
    ("--rc", "rc", False),
    ("--shifts", "shifts", [0]),  # the original's '0', parsed
    ("-t", "targets_file", None),
    ("--split", "split_label", "test"),
    ("--tfr", "tfr_pattern", None),
]


@pytest.mark.parametrize(("option", "dest", "default"), ORIGINAL_OPTIONS)
def test_the_original_options(option, dest, default):
    parser = basenji_predict_tfr.build_parser()
    action = parser._option_string_actions[option]
    assert (action.dest, action.default) == (dest, default)
    assert parser.parse_args(["--bi", "0,3", "p", "m", "d"]).bedgraph_indexes == [0, 3]

"""basenji_train_head.py: the streamed ridge fit, the saved head model, the command's files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sstats
from sklearn.linear_model import Ridge
from sklearn.metrics import explained_variance_score

from basenji_tf import seqnn, train_head
from basenji_tf.cli import basenji_train_head
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError


def _regression(seed=0, n=500, features=12, targets=3):
    rng = np.random.default_rng(seed)
    # features far from zero mean: the centring of the sums must not lose digits
    x = rng.normal(50.0, 2.0, (n, features)) + rng.normal(size=(n, 1))
    w = rng.normal(size=(features, targets))
    y = x @ w + 7.0 + rng.normal(0, 0.5, (n, targets))
    return x, y


@pytest.mark.parametrize("alpha", [0.5, 10.0])
def test_streamed_ridge_equals_sklearn(alpha):
    x, y = _regression()
    chunks = [(x[i : i + 64], y[i : i + 64]) for i in range(0, len(x), 64)]
    weights, intercept = train_head.fit_ridge(chunks, alpha)
    ridge = Ridge(alpha=alpha).fit(x, y)
    np.testing.assert_allclose(weights, ridge.coef_.T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(intercept, ridge.intercept_, rtol=1e-8, atol=1e-8)
    # the penalty moves the solution: a fit that ignored alpha would fail above
    assert not np.allclose(weights, train_head.fit_ridge(chunks, 1000 * alpha)[0], rtol=1e-3)


def test_ridge_alpha_zero_is_least_squares_with_intercept():
    x, y = _regression(seed=1, n=200, features=5)
    weights, intercept = train_head.fit_ridge([(x[:150], y[:150]), (x[150:], y[150:])], 0.0)
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(weights, solution[:-1], rtol=1e-7)
    np.testing.assert_allclose(intercept, solution[-1], rtol=1e-7)


def test_ridge_needs_rows_and_nonnegative_alpha():
    with pytest.raises(InputError, match="no rows"):
        train_head.fit_ridge([], 1.0)
    x, y = _regression(n=20)
    with pytest.raises(InputError, match="alpha must be >= 0"):
        train_head.fit_ridge([(x, y)], -1.0)


def test_accuracy_matches_scipy_and_sklearn():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(30, 4))
    yh = y + rng.normal(0, 0.7, y.shape)
    tissue = train_head.accuracy(y, yh, axis=0)
    gene = train_head.accuracy(y, yh, axis=1)
    for ti in range(4):
        assert tissue["pearsonr"][ti] == pytest.approx(sstats.pearsonr(y[:, ti], yh[:, ti])[0])
        assert tissue["spearmanr"][ti] == pytest.approx(sstats.spearmanr(y[:, ti], yh[:, ti])[0])
        assert tissue["r2"][ti] == pytest.approx(explained_variance_score(y[:, ti], yh[:, ti]))
    assert gene["pearsonr"][5] == pytest.approx(sstats.pearsonr(y[5], yh[5])[0])
    assert gene["r2"][5] == pytest.approx(explained_variance_score(y[5], yh[5]))
    constant = train_head.accuracy(np.ones((5, 1)), np.ones((5, 1)), axis=0)
    assert np.isnan(constant["pearsonr"][0]) and constant["r2"][0] == 1.0


def test_head_params_one_linear_final_head():
    params = {
        "train": {"batch_size": 2},
        "model": {
            "seq_length": 64,
            "trunk": [],
            "strand_pair": [[1, 0]],
            "head_b": {"name": "final", "units": 2, "activation": "softplus"},
            "head_a": [{"name": "final", "units": 5, "activation": "softplus"}],
        },
    }
    new = train_head.head_params(params, 3)
    assert new["model"]["head_a"] == {"name": "final", "units": 3, "activation": "linear"}
    assert "head_b" not in new["model"] and "strand_pair" not in new["model"]
    assert params["model"]["head_a"][0]["units"] == 5  # the input is not changed
    params["model"]["head_a"] = [{"name": "Cropping1D", "cropping": 2}, {"name": "final"}]
    with pytest.raises(InputError, match="one 'final' block"):
        train_head.head_params(params, 3)


@pytest.fixture(scope="module")
def small(reference_dir):
    root = reference_dir / "basenji2_small"
    return {
        "params": str(root / "params.json"),
        "trunk": str(root / "model_trunk.h5"),
        "data": str(reference_dir / "basenji_data_small" / "data_out"),
    }


@pytest.fixture(scope="module")
def head_run(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("head_out")
    argv = ["-a", "2", "-g", "-q", "-o", str(out), small["params"], small["trunk"], small["data"]]
    assert basenji_train_head.main(argv) == 0
    return out


@pytest.mark.slow
def test_command_writes_the_original_files(head_run, small):
    names = sorted(p.name for p in head_run.iterdir() if not p.name.startswith("."))
    assert names == [
        "acc_gene.txt",
        "acc_tissue.txt",
        "gene_expr.tsv",
        "gene_preds.tsv",
        "model_best.h5",
        "params.json",
        "preds.h5",
        "targets.h5",
    ]
    with h5py.File(head_run / "preds.h5") as preds, h5py.File(head_run / "targets.h5") as tgts:
        # 9/3/3 sequences x 112 bins; 64 trunk features, 3 targets
        assert {s: preds[s].shape for s in preds} == {
            "train": (1008, 64),
            "valid": (336, 64),
            "test": (336, 64),
        }
        assert tgts["test"].shape == (336, 3)
        y = np.concatenate([tgts[s][()] for s in ("train", "valid", "test")])
    # targets.h5 holds the data directory's targets, row = sequence * 112 + bin
    data_targets = SeqDataset(small["data"], "valid", 4).numpy(dtype="float32")
    np.testing.assert_array_equal(y[1008:1344], data_targets.reshape(-1, 3))
    tissue = (head_run / "acc_tissue.txt").read_text().splitlines()
    assert len(tissue) == 3 and all(len(line.split("\t")) == 4 for line in tissue)
    assert tissue[0].startswith("0\t")
    assert len((head_run / "acc_gene.txt").read_text().splitlines()) == 336
    expr = pd.read_csv(head_run / "gene_expr.tsv", sep="\t", index_col=0)
    assert list(expr.columns) == ["T0SMOOTH", "T1PEAKS", "T2LARGE"]
    assert expr.index[0] == "chrA:32768-32896" and len(expr) == 1680
    np.testing.assert_allclose(expr.to_numpy(), y, rtol=1e-6)
    params = json.loads((head_run / "params.json").read_text())
    head = params["model"]["head_human"]
    assert head == {"name": "final", "units": 3, "activation": "linear"}
    assert "head_mouse" not in params["model"]


@pytest.mark.slow
def test_fit_equals_sklearn_and_saved_model_predicts_it(head_run, small):
    with h5py.File(head_run / "preds.h5") as preds, h5py.File(head_run / "targets.h5") as tgts:
        x = np.concatenate([preds["train"][()], preds["valid"][()]]).astype(np.float64)
        y = np.concatenate([tgts["train"][()], tgts["valid"][()]]).astype(np.float64)
        x_test = preds["test"][()]
    ridge = Ridge(alpha=2.0).fit(x, y)
    model = seqnn.load(head_run / "params.json", head_run / "model_best.h5")
    kernel, bias = train_head.final_dense(model).get_weights()
    np.testing.assert_allclose(kernel, ridge.coef_.T, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bias, ridge.intercept_, rtol=1e-4, atol=1e-5)
    # the saved model's predictions on the test sequences are the embeddings @ W + b
    seqs, _ = SeqDataset(small["data"], "test", 4).numpy(return_inputs=True, dtype="float32")
    predicted = model.predict(seqs, batch_size=4).reshape(-1, 3)
    np.testing.assert_allclose(predicted, x_test @ kernel + bias, rtol=1e-4, atol=1e-3)
    # the embeddings are the trunk's output of the restored trunk
    trunk = seqnn.load(small["params"], small["trunk"], trunk=True)
    embeddings = seqnn.predict_model(trunk.model_trunk, seqs[:2], batch_size=4)
    np.testing.assert_array_equal(embeddings.reshape(-1, 64), x_test[:224])
    # gene_preds.tsv holds the same fit's predictions of every row
    preds_tsv = pd.read_csv(head_run / "gene_preds.tsv", sep="\t", index_col=0).to_numpy()
    np.testing.assert_allclose(preds_tsv[1344:], x_test @ kernel + bias, rtol=1e-4, atol=1e-3)


@pytest.mark.slow
def test_second_run_reuses_embeddings_of_the_same_model(head_run, small, tmp_path):
    out = tmp_path / "again"
    out.mkdir()
    for name in ("preds.h5", "targets.h5"):
        (out / name).write_bytes((head_run / name).read_bytes())
    with h5py.File(out / "preds.h5", "a") as h5:
        h5["test"][0] = 0.0  # a reused file keeps this row; a recomputed one does not
    argv = ["-m", "-o", str(out), small["params"], small["trunk"], small["data"]]
    assert basenji_train_head.main(argv) == 0
    with h5py.File(out / "preds.h5") as h5:
        assert not h5["test"][0].any()
    assert not (out / "model_best.h5").exists()  # -m
    assert basenji_train_head.main(["--rc"] + argv) == 0  # another ensemble: recomputed
    with h5py.File(out / "preds.h5") as h5:
        assert h5["test"][0].any()

"""basenji_test_specificity.py: the original's specificity transform and the command."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from test_train import BINS, SPLITS, TINY_PARAMS, write_data_dir, write_params

from basenji_tf import evaluate_specificity as spec
from basenji_tf.errors import InputError


def direct_qnorm(matrix):
    """The original's qnorm.quantile_normalize (axis=1), written out rank by rank."""
    matrix = np.asarray(matrix, np.float64)
    n, t = matrix.shape
    order = np.argsort(matrix, axis=0, kind="stable")
    ranked = np.take_along_axis(matrix, order, axis=0)
    mean_of_rank = ranked.mean(axis=1)
    out = np.zeros_like(matrix)
    for j in range(t):
        i = 0
        while i < n:
            k = i
            while k < n and ranked[k, j] == ranked[i, j]:
                k += 1
            out[order[i:k, j], j] = mean_of_rank[i:k].mean()
            i = k
    return out


def direct_pearsonr(x, y):
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()))


def direct_class_r(preds, targets, high_var_pct):
    """One class as the original computes it: [positions, targets] -> r per target."""
    if high_var_pct < 1:
        var = targets.var(axis=1)
        keep = var >= np.percentile(var, 100 * (1 - high_var_pct))
        preds, targets = preds[keep], targets[keep]
    p = direct_qnorm(preds)
    y = direct_qnorm(targets)
    p -= p.mean(axis=-1, keepdims=True)
    y -= y.mean(axis=-1, keepdims=True)
    return np.array([direct_pearsonr(p[:, t], y[:, t]) for t in range(p.shape[1])])


def test_quantile_normalize_textbook_example_with_ties():
    # columns A, B, C; B holds a tie (4, 4) at ranks 3 and 4
    matrix = np.array([[5, 4, 3], [2, 1, 4], [3, 4, 6], [4, 2, 8]], float)
    m = [2.0, 3.0, 14 / 3, 17 / 3]  # mean over columns of the sorted values
    tie = (m[2] + m[3]) / 2
    expected = np.array(
        [[m[3], tie, m[0]], [m[0], m[0], m[1]], [m[1], tie, m[2]], [m[2], m[1], m[3]]]
    )
    np.testing.assert_allclose(spec.quantile_normalize(matrix), expected, rtol=1e-12)
    np.testing.assert_allclose(direct_qnorm(matrix), expected, rtol=1e-12)


def test_quantile_normalize_matches_the_direct_formula():
    rng = np.random.default_rng(0)
    matrix = rng.poisson(2.0, (200, 7)).astype(np.float32)  # many ties
    np.testing.assert_allclose(spec.quantile_normalize(matrix), direct_qnorm(matrix), rtol=1e-12)
    normed = spec.specificity_normalize(matrix)
    np.testing.assert_allclose(normed.mean(axis=1), 0, atol=1e-12)
    expected = direct_qnorm(matrix)
    np.testing.assert_allclose(normed, expected - expected.mean(axis=1, keepdims=True), atol=1e-12)


def test_target_classes():
    assert [
        spec.target_class(d) for d in ("CAGE:liver", "CHIP:CTCF:K562", "DNASE", "ChIP:x:y")
    ] == [
        "CAGE",
        "CHIP/CTCF",
        "*",
        "ChIP",
    ]


def _table(descriptions, strand_pair=None, index=None):
    index = list(range(len(descriptions))) if index is None else index
    table = pd.DataFrame(
        {"identifier": [f"T{i}" for i in index], "description": descriptions},
        index=pd.Index(index, name="index"),
    )
    if strand_pair is not None:
        table["strand_pair"] = strand_pair
    return table


@pytest.mark.parametrize("high_var_pct", [1.0, 0.3])
def test_specificity_pearsonr_matches_the_original_formula(high_var_pct):
    rng = np.random.default_rng(1)
    truth = rng.gamma(1.0, 2.0, (5, 40, 1)) * rng.gamma(2.0, 0.5, (5, 40, 6))
    targets = rng.poisson(3 * truth).astype(np.float16)
    preds = (truth + rng.gamma(1, 0.2, truth.shape)).astype(np.float32)
    table = _table(["DNASE:a", "CAGE:b", "DNASE:c", "DNASE:d", "CAGE:e", "CHIP:CTCF:f"])
    r, classes = spec.specificity_pearsonr(
        preds, targets, table, class_min=2, high_var_pct=high_var_pct
    )
    dnase, cage = [0, 2, 3], [1, 4]
    flat_p = preds.reshape(-1, 6).astype(np.float32)
    flat_t = targets.reshape(-1, 6).astype(np.float32)
    np.testing.assert_allclose(
        r[dnase], direct_class_r(flat_p[:, dnase], flat_t[:, dnase], high_var_pct), rtol=1e-9
    )
    np.testing.assert_allclose(
        r[cage], direct_class_r(flat_p[:, cage], flat_t[:, cage], high_var_pct), rtol=1e-9
    )
    assert np.isnan(r[5])  # CHIP/CTCF has one target < class_min
    assert list(classes) == ["CAGE", "CHIP/CTCF", "DNASE"]
    assert classes["DNASE"] == (3, pytest.approx(r[dnase].mean()))
    assert classes["CHIP/CTCF"][0] == 1 and np.isnan(classes["CHIP/CTCF"][1])
    # a centred 2-target class: the columns are each other's negatives, so r agrees
    assert r[1] == pytest.approx(r[4])
    # not a tautology: predictions unrelated to the targets score near 0
    shuffled = rng.permuted(preds.reshape(-1, 6), axis=0).reshape(preds.shape)
    r_bad, _ = spec.specificity_pearsonr(shuffled, targets, table, class_min=2)
    assert np.nanmax(np.abs(r_bad)) < 0.25 < np.nanmin(r)


def test_stranded_class_pools_each_pair():
    rng = np.random.default_rng(2)
    targets = rng.poisson(3.0, (3, 20, 4)).astype(np.float16)
    preds = (targets + rng.normal(0, 1.5, targets.shape)).astype(np.float32)
    # block layout (+ + - -): the original's reshape pairs 0 with 2 and 1 with 3, as here
    table = _table(["CAGE:a+", "CAGE:b+", "CAGE:a-", "CAGE:b-"], strand_pair=[2, 3, 0, 1])
    r, _ = spec.specificity_pearsonr(preds, targets, table, class_min=2)
    flat_p = preds.reshape(-1, 4).astype(np.float32).reshape(-1, 2)  # the original's reshape
    flat_t = targets.reshape(-1, 4).astype(np.float32).reshape(-1, 2)
    expected = direct_class_r(flat_p, flat_t, 1.0)
    np.testing.assert_allclose(r, [expected[0], expected[1], expected[0], expected[1]], rtol=1e-9)
    # adjacent layout (+ - + -): pairs (0, 1) and (2, 3)
    table = _table(["CAGE:a+", "CAGE:a-", "CAGE:b+", "CAGE:b-"], strand_pair=[1, 0, 3, 2])
    r, _ = spec.specificity_pearsonr(preds, targets, table, class_min=2)
    fp, ft = preds.reshape(-1, 4), targets.reshape(-1, 4).astype(np.float32)
    expected = direct_class_r(
        np.concatenate([fp[:, [0, 2]], fp[:, [1, 3]]]),
        np.concatenate([ft[:, [0, 2]], ft[:, [1, 3]]]),
        1.0,
    )
    np.testing.assert_allclose(r, [expected[0], expected[0], expected[1], expected[1]], rtol=1e-9)
    table = _table(["CAGE:a+", "CAGE:a-", "DNASE:b+", "DNASE:b-"], strand_pair=[1, 2, 3, 0])
    with pytest.raises(InputError, match="not a target of the same class"):
        spec.specificity_pearsonr(preds, targets, table, class_min=2)


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    """A randomly initialised tiny SeqNN (3 outputs) saved to .h5 and a synthetic data dir."""
    from basenji_tf import seqnn

    root = tmp_path_factory.mktemp("specificity")
    data = write_data_dir(root / "data")
    params = write_params(root / "params.json")
    seqnn.SeqNN(TINY_PARAMS["model"]).save(root / "model.h5", head_i=0)
    return root, str(params), str(root / "model.h5"), str(data)


@pytest.mark.slow
def test_command_writes_acc_from_the_saved_arrays(model_and_data, capsys):
    from basenji_tf.cli import basenji_test_specificity

    root, params, model, data = model_and_data
    table = root / "classes.txt"
    table.write_text(
        "index\tidentifier\tfile\tdescription\n"
        "0\tA\ta.bw\tDNASE:one\n1\tB\tb.bw\tDNASE:two\n2\tC\tc.bw\tCAGE:three\n"
    )
    out = root / "spec"
    argv = ["-o", str(out), "-t", str(table), "-c", "2", "-s", "2", "-v", "0.5", "--rc",
            "--shifts", "0,1", "--save", params, model, data]  # fmt: skip
    assert basenji_test_specificity.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"{'DNASE':<15}     2  PearsonR" in printed and f"{'CAGE':<15}     1\n" in printed
    lines = (out / "acc.txt").read_text().splitlines()
    assert lines[0] == "index\tpearsonr\tidentifier\tdescription"
    assert lines[3] == "2\t\tC\tCAGE:three"  # a class below -c: an empty cell, as the original
    with h5py.File(out / "preds.h5") as p, h5py.File(out / "targets.h5") as t:
        preds, targets = p["preds"][()], t["targets"][()]
    assert preds.shape == targets.shape == (SPLITS["test"], BINS // 2, 3)
    flat_p = preds.reshape(-1, 3)[:, :2].astype(np.float32)
    flat_t = targets.reshape(-1, 3)[:, :2].astype(np.float32)
    expected = direct_class_r(flat_p, flat_t, 0.5)
    acc = pd.read_csv(out / "acc.txt", sep="\t")
    # preds.h5 is float16, the command correlated float32 predictions
    np.testing.assert_allclose(acc["pearsonr"][:2], expected, atol=2e-3)
    assert np.isnan(acc["pearsonr"][2])


def test_command_errors(model_and_data, capsys):
    from basenji_tf.cli import basenji_test_specificity

    root, params, model, data = model_and_data
    out = str(root / "bad")
    with pytest.raises(SystemExit) as exit_info:
        basenji_test_specificity.main(["-o", out, "-v", "0", params, model, data])
    assert exit_info.value.code == 2
    table = root / "far.txt"
    table.write_text("index\tidentifier\tfile\tdescription\n7\tA\ta.bw\tDNASE:x\n")
    capsys.readouterr()
    assert basenji_test_specificity.main(["-o", out, "-t", str(table), params, model, data]) == 1
    assert "index 7 is not an output of head 0" in capsys.readouterr().err


# script, option, dest, default of the original (original_cli_more.tsv)
ORIGINAL_OPTIONS = [
    ("-c", "class_min", 100),
    ("--head", "head_i", 0),
    ("-o", "out_dir", "test_out"),
    ("--rc", "rc", False),
    ("-s", "step", 1),
    ("--step", "step", 1),
    ("--save", "save", False),
    ("--shifts", "shifts", [0]),  # the original's '0', parsed
    ("-t", "targets_file", None),
    ("--split", "split_label", "test"),
    ("--tfr", "tfr_pattern", None),
    ("-v", "high_var_pct", 1.0),
]


@pytest.mark.parametrize(("option", "dest", "default"), ORIGINAL_OPTIONS)
def test_the_original_options(option, dest, default):
    from basenji_tf.cli import basenji_test_specificity

    parser = basenji_test_specificity.build_parser()
    action = parser._option_string_actions[option]
    assert (action.dest, action.default) == (dest, default)
    args = parser.parse_args(["p.json", "m.h5", "data"])
    assert (args.params_file, args.model_file, args.data_dir) == ("p.json", "m.h5", "data")

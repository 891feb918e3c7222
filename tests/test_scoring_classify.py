"""basenji_bench_classify.py and basenji_tf.scoring.classify on synthetic sad.h5 files."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

from basenji_tf.cli import basenji_bench_classify
from basenji_tf.errors import InputError
from basenji_tf.scoring.classify import (
    FOLDS,
    ClassifyOptions,
    cross_validate,
    feature_matrix,
    run_classify,
)


def write_sad(path, sad, ref=None, alt=None, ids=None, stat="SAD"):
    """A minimal sad.h5: ``stat`` [N, T] float16, alleles and target ids."""
    n, t = sad.shape
    ref = ref or ["A"] * n
    alt = alt or ["G"] * n
    ids = ids or [f"t{i}" for i in range(t)]
    with h5py.File(path, "w") as h5:
        h5.create_dataset(stat, data=sad.astype(np.float16))
        h5.create_dataset("ref_allele", data=np.array(ref, dtype="S"))
        h5.create_dataset("alt_allele", data=np.array(alt, dtype="S"))
        h5.create_dataset("target_ids", data=np.array(ids, dtype="S"))
    return str(path)


def pair(tmp_path, shift, n=64, t=4, seed=0, sign_flip=False):
    """Positives N(shift, 1) (signs flipped at random with ``sign_flip``), negatives N(0, 1)."""
    rng = np.random.default_rng(seed)
    pos = rng.normal(shift, 1, (n, t))
    if sign_flip:
        pos *= rng.choice([-1, 1], size=(n, 1))
    neg = rng.normal(0, 1, (n, t))
    return write_sad(tmp_path / "p.h5", pos), write_sad(tmp_path / "n.h5", neg)


def test_separates_shifted_positives_and_not_identical_ones(tmp_path):
    sadp, sadn = pair(tmp_path, shift=1.5)
    x, y = feature_matrix(sadp, sadn, ClassifyOptions())
    assert x.shape == (128, 4) and y.sum() == 64
    good = cross_validate(x, y, seed=7, trees=10)
    assert good.aurocs.shape == (FOLDS,) and good.auprcs.shape == (FOLDS,)
    assert good.aurocs.mean() > 0.9 and good.auprcs.mean() > 0.9
    same_p, same_n = pair(tmp_path, shift=0.0, seed=1)
    null = cross_validate(*feature_matrix(same_p, same_n, ClassifyOptions()), seed=7, trees=10)
    assert abs(null.aurocs.mean() - 0.5) < 0.1
    assert abs(null.auprcs.mean() - 0.5) < 0.12


def test_seed_makes_runs_equal_and_other_seeds_differ(tmp_path):
    x, y = feature_matrix(*pair(tmp_path, shift=0.5), ClassifyOptions())
    one = cross_validate(x, y, seed=3, trees=5)
    two = cross_validate(x, y, seed=3, trees=5)
    other = cross_validate(x, y, seed=4, trees=5)
    np.testing.assert_array_equal(one.aurocs, two.aurocs)
    np.testing.assert_array_equal(one.preds, two.preds)
    assert not np.array_equal(one.aurocs, other.aurocs)


def test_abs_value_finds_effects_of_either_sign(tmp_path):
    # one feature: scored as is, so the signs cancel unless -a drops them
    sadp, sadn = pair(tmp_path, shift=4.0, t=1, sign_flip=True)
    plain = cross_validate(*feature_matrix(sadp, sadn, ClassifyOptions()), seed=1)
    absolute = cross_validate(*feature_matrix(sadp, sadn, ClassifyOptions(abs_value=True)), seed=1)
    assert abs(plain.aurocs.mean() - 0.5) < 0.15
    assert absolute.aurocs.mean() > 0.95
    # a single feature is its own score: preds are the features
    x, _ = feature_matrix(sadp, sadn, ClassifyOptions(abs_value=True))
    np.testing.assert_allclose(absolute.preds[:, 0], x[:, 0])


def test_log_targets_and_indel_features(tmp_path):
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0, 1, (16, 3)), rng.normal(0, 1, (16, 3))
    ref = ["A"] * 15 + ["ACGT"]
    sadp = write_sad(tmp_path / "p.h5", pos, ref=ref, ids=["a", "b", "c"])
    sadn = write_sad(tmp_path / "n.h5", neg, alt=["GT"] + ["G"] * 15, ids=["a", "b", "c"])
    x16p = pos.astype(np.float16).astype(np.float32)
    x16n = neg.astype(np.float16).astype(np.float32)
    x, y = feature_matrix(sadp, sadn, ClassifyOptions(indel_scale=1))
    np.testing.assert_array_equal(x[:16], x16p)
    # --iscale: each file's own indel rows are scaled (positives' row 15, negatives' row 0)
    x, _ = feature_matrix(sadp, sadn, ClassifyOptions())
    np.testing.assert_allclose(x[15], 0.1 * x16p[15], rtol=1e-6)
    np.testing.assert_allclose(x[16], 0.1 * x16n[0], rtol=1e-6)
    np.testing.assert_array_equal(x[17:], x16n[1:])
    # --indel: the size as a last column
    x, _ = feature_matrix(sadp, sadn, ClassifyOptions(indel=True))
    assert x.shape == (32, 4) and x[15, 3] == 3 and x[16, 3] == 1 and x[:15, 3].sum() == 0
    # -l: arcsinh; -t by identifier picks and orders columns
    table = tmp_path / "targets.txt"
    table.write_text("index\tidentifier\tdescription\n0\tc\tC\n1\ta\tA\n")
    x, _ = feature_matrix(
        sadp, sadn, ClassifyOptions(log=True, targets_file=str(table), indel_scale=1)
    )
    np.testing.assert_allclose(x[:16], np.arcsinh(x16p[:, [2, 0]]), rtol=1e-6)


def test_bad_inputs_are_one_line_input_errors(tmp_path):
    sadp, sadn = pair(tmp_path, shift=1.0)
    with pytest.raises(InputError, match="no dataset 'logSAD'"):
        feature_matrix(sadp, sadn, ClassifyOptions(stat="logSAD"))
    few = write_sad(tmp_path / "few.h5", np.zeros((5, 4)))
    with pytest.raises(InputError, match="needs at least 8"):
        feature_matrix(sadp, few, ClassifyOptions())
    other = write_sad(tmp_path / "other.h5", np.zeros((20, 3)))
    with pytest.raises(InputError, match="targets differ"):
        feature_matrix(sadp, other, ClassifyOptions())
    table = tmp_path / "t.txt"
    table.write_text("index\tdescription\n9\tx\n")
    with pytest.raises(InputError, match="target index 9"):
        feature_matrix(sadp, sadn, ClassifyOptions(targets_file=str(table)))


@pytest.mark.slow
def test_command_writes_the_originals_files_and_more(tmp_path, capsys):
    sadp, sadn = pair(tmp_path, shift=1.5)
    out = tmp_path / "class"
    argv = ["-r", "44", "-i", "1", "-s", "-p", "2", "-o", str(out), sadp, sadn]
    assert basenji_bench_classify.main(argv) == 0
    names = ("stats.txt", "aurocs.npy", "auprcs.npy", "fpr_mean.npy", "tpr_mean.npy",
             "preds.npy", "model.pkl", "folds.tsv", "roc.pdf", "roc.png", "pr.pdf")  # fmt: skip
    for name in names:
        assert (out / name).is_file(), name
    aurocs = np.load(out / "aurocs.npy")
    assert aurocs.shape == (FOLDS,) and np.load(out / "preds.npy").shape == (128, 1)
    lines = (out / "stats.txt").read_text().splitlines()
    sem = aurocs.std() / np.sqrt(len(aurocs))
    assert lines[0] == f"AUROC: {aurocs.mean():.4f} ({sem:.4f})"
    assert lines[1].startswith("AUPRC: ")
    # the same seed, the same numbers
    again = run_classify(sadp, sadn, str(tmp_path / "again"), ClassifyOptions(seed=44))
    assert again["auroc"] == pytest.approx(aurocs.mean(), abs=0)
    with pytest.raises(SystemExit):
        basenji_bench_classify.main(["-o", str(out), "-x", sadp, sadn])
    assert "unrecognized arguments: -x" in capsys.readouterr().err


def test_dimension_reduction_model(tmp_path):
    import joblib
    from sklearn.decomposition import PCA

    sadp, sadn = pair(tmp_path, shift=1.5)
    x, _ = feature_matrix(sadp, sadn, ClassifyOptions())
    joblib.dump(PCA(n_components=2).fit(x), tmp_path / "pca.pkl")
    reduced, _ = feature_matrix(sadp, sadn, ClassifyOptions(model_pkl=str(tmp_path / "pca.pkl")))
    assert reduced.shape == (128, 2)


# The original's options (tests/data/reference layout of original_cli_more.tsv):
# option -> (dest, default).
ORIGINAL = {
    "-a": ("abs_value", False), "-i": ("iterations", 1), "--indel": ("indel", False),
    "--iscale": ("indel_scale", 0.1), "-l": ("log", False), "-m": ("model_pkl", None),
    "--msl": ("msl", 1), "-o": ("out_dir", "class_out"), "-p": ("parallel_threads", 1),
    "-r": ("random_seed", None), "-s": ("save_preds", False), "--stat": ("sad_stat", "SAD"),
    "-t": ("targets_file", None),
}  # fmt: skip


def test_every_original_option_parses_with_its_default():
    parser = basenji_bench_classify.build_parser()
    args = parser.parse_args(["p.h5", "n.h5"])
    by_option = {s: a for a in parser._actions for s in a.option_strings}
    for option, (dest, default) in ORIGINAL.items():
        assert by_option[option].dest == dest, option
        assert getattr(args, dest) == default, option


def test_help_imports_no_sklearn_or_matplotlib():
    code = (
        "import sys\nfrom basenji_tf.cli import basenji_bench_classify as m\n"
        "try:\n    m.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "bad = [x for x in ('sklearn', 'matplotlib', 'tensorflow') if x in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)

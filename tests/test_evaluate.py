"""basenji_test.py and basenji_test_genes.py: accuracy tables, peaks, bedgraphs, plots."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from test_train import (
    BINS,
    CROP_BP,
    POOL_BP,
    SEQ_BP,
    SPLITS,
    TINY_PARAMS,
    write_data_dir,
    write_params,
)

from basenji_tf import evaluate, evaluate_genes, metrics


def _fake_split(seed=0, n=10, bins=12, targets=4):
    rng = np.random.default_rng(seed)
    y = rng.poisson(3.0, (n, bins, targets)).astype(np.float32)
    x = rng.normal(size=(n, 8, 4)).astype(np.float32)
    return x, y


def _predict_fn(x):
    """A deterministic 'model': per-sequence scale of a fixed bin profile."""
    profile = np.linspace(1, 3, 12)[:, None] * np.array([1.0, 0.5, 2.0, 1.5])
    return (np.abs(x.sum(axis=(1, 2)))[:, None, None] + 1) * profile


def test_predict_split_pools_all_bins_and_selects_channels():
    x, y = _fake_split()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(3)  # partial last batch
    result = evaluate.predict_split(
        _predict_fn, dataset, [2, 0], loss_fn=metrics.poisson_loss, keep=True, step=5
    )
    pred = _predict_fn(x)[..., [2, 0]]
    target = y[..., [2, 0]]
    for ti in range(2):
        r = np.corrcoef(target[..., ti].ravel(), pred[..., ti].ravel())[0, 1]
        assert result.stats.pearsonr()[ti] == pytest.approx(r, rel=1e-6)  # float32 preds
    expected_loss = np.mean(pred - target * np.log(pred + 1e-7), axis=(1, 2)).mean()
    assert result.loss == pytest.approx(expected_loss, rel=1e-5)
    assert result.num_seqs == 10
    assert result.preds.shape == (10, 3, 2) and result.preds.dtype == np.float16
    np.testing.assert_allclose(result.targets, target[:, ::5], rtol=1e-3)


def test_accuracy_table_and_assay_summary(tmp_path):
    targets_df = pd.DataFrame(
        {
            "identifier": ["a", "b", "c", "d"],
            "description": ["CAGE:liver", "DNASE:x", "cage:y", "no prefix"],
        },
        index=pd.Index([0, 1, 2, 5], name="index"),
    )
    table = evaluate.accuracy_table(
        targets_df, np.array([0.5, 0.25, 0.75, 0.1]), np.array([0.1, 0.2, 0.3, 0.4])
    )
    evaluate.write_table(table, tmp_path / "acc.txt")
    lines = (tmp_path / "acc.txt").read_text().splitlines()
    assert lines[0] == "index\tpearsonr\tr2\tidentifier\tdescription"
    assert lines[4] == "5\t0.10000\t0.40000\td\tno prefix"
    summary = evaluate.assay_summary(table)
    assert summary["CAGE"] == (2, pytest.approx(0.625)) and summary["OTHER"][0] == 1
    assert list(summary) == ["CAGE", "DNASE", "OTHER"]
    assert evaluate.assay_of("ChIP:CTCF") == "CHIP" and evaluate.assay_of("RNA3:x") == "RNA3"


def test_binary_accuracy_table():
    rng = np.random.default_rng(3)
    targets = (rng.random((4, 20, 2)) > 0.8).astype(np.float32)
    preds = np.stack([targets[..., 0] * 0.8 + 0.1, rng.random((4, 20))], -1)
    targets_df = pd.DataFrame({"identifier": ["a", "b"]}, index=pd.Index([0, 1], name="index"))
    table = evaluate.binary_accuracy_table(targets_df, preds, targets)
    assert list(table.columns) == ["index", "auroc", "auprc", "identifier", "description"]
    assert table["auroc"][0] == 1.0 and table["auprc"][0] == 1.0
    assert table["description"].tolist() == ["a", "b"]
    assert 0.2 < table["auroc"][1] < 0.8


def test_peaks_table_and_file(tmp_path):
    rng = np.random.default_rng(1)
    targets = rng.poisson(1.0, (6, 80, 2)).astype(np.float32)
    targets[:, ::16, 0] = 30  # peaks on the bins the every-8th subsample keeps
    preds = targets + rng.normal(0, 0.5, targets.shape)
    table, calls = evaluate.peaks_accuracy(preds, targets)
    assert table.loc[0, "npeaks"] == 6 * 5 and table.loc[0, "auroc"] > 0.99
    assert calls[0].shape == (6 * 10,)
    evaluate.write_peaks(table, tmp_path / "peaks.txt")
    first = (tmp_path / "peaks.txt").read_text().splitlines()[0]
    assert first == f"   0      30  {table.loc[0, 'auroc']:.5f}  {table.loc[0, 'auprc']:.5f}"


def test_bedgraph_coordinates(tmp_path):
    bed = pd.DataFrame(
        {
            "chrom": ["chr2", "chr3"],
            "start": [1000, 5000],
            "end": [1064, 5064],
            "split": ["test", "test"],
        }
    )
    preds = np.arange(2 * 2 * 1, dtype=np.float32).reshape(2, 2, 1)
    evaluate.write_bedgraphs(tmp_path, bed, preds, preds + 100, [0], pool_width=16, step=2)
    lines = (tmp_path / "bedgraph" / "preds_t0.bedgraph").read_text().splitlines()
    assert lines == [
        "chr2\t1000\t1016\t0.0000",
        "chr2\t1032\t1048\t1.0000",
        "chr3\t5000\t5016\t2.0000",
        "chr3\t5032\t5048\t3.0000",
    ]
    assert (
        (tmp_path / "bedgraph" / "targets_t0.bedgraph")
        .read_text()
        .startswith("chr2\t1000\t1016\t100.0000")
    )


def test_gene_bins_dedup_overlap_and_names():
    bed = pd.DataFrame(
        {"chrom": ["chr1", "chr1", "chr2"], "start": [100, 132, 0], "end": [164, 196, 64]}
    )
    tss = [
        {"gene_id": "g1", "chrom": "1", "tss": 140},  # in seqs 0 and 1: first wins
        {"gene_id": "g1", "chrom": "chr1", "tss": 145},  # same genomic bin: counted once
        {"gene_id": "g1", "chrom": "chr1", "tss": 190},  # only in seq 1
        {"gene_id": "g2", "chrom": "chr2", "tss": 63},
        {"gene_id": "g3", "chrom": "chr2", "tss": 64},  # just outside
        {"gene_id": "g4", "chrom": "chrX", "tss": 5},
    ]
    bins = evaluate_genes.gene_bins(tss, bed, pool_width=16, target_length=4)
    assert bins == {"g1": [(0, 2), (1, 3)], "g2": [(2, 3)]}


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    """A randomly initialised tiny SeqNN saved to .h5 and a synthetic data dir."""
    from basenji_tf import seqnn

    root = tmp_path_factory.mktemp("evaluate")
    data = write_data_dir(root / "data")
    params = write_params(root / "params.json")
    model = seqnn.SeqNN(TINY_PARAMS["model"])
    model.save(root / "model.h5", head_i=0)
    return root, params, data


def test_basenji_test_options(model_and_data, capsys):
    from basenji_tf.cli import basenji_test

    root, params, data = model_and_data
    out = root / "test_all"
    argv = [
        "-o",
        str(out),
        "--rc",
        "--shifts",
        "0,1",
        "--save",
        "--peaks",
        "--rank",
        "--ai",
        "1",
        "--bi",
        "0",
        "--step",
        "2",
        str(params),
        str(root / "model.h5"),
        str(data),
    ]
    assert basenji_test.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Test PearsonR" in printed and "CAGE" in printed and "Test AUROC" in printed
    acc = pd.read_csv(out / "acc.txt", sep="\t")
    assert list(acc.columns) == [
        "index",
        "pearsonr",
        "spearmanr",
        "r2",
        "identifier",
        "description",
    ]
    with h5py.File(out / "preds.h5") as p, h5py.File(out / "targets.h5") as t:
        preds, targets = p["preds"][()], t["targets"][()]
    assert preds.shape == (SPLITS["test"], BINS // 2, 3) and preds.dtype == np.float16
    np.testing.assert_allclose(acc["spearmanr"], metrics.spearmanr(targets, preds), atol=6e-6)
    for kind in ("scatter", "violin", "roc", "pr"):
        assert (out / kind / "t1.pdf").is_file() and (out / kind / "t1.png").is_file()
    assert len((out / "peaks.txt").read_text().splitlines()) == 3
    lines = (out / "bedgraph" / "preds_t0.bedgraph").read_text().splitlines()
    assert len(lines) == SPLITS["test"] * BINS // 2
    first_test_start = (SPLITS["train"] + SPLITS["valid"]) * SEQ_BP + CROP_BP
    assert lines[1].split("\t")[:3] == [
        "chr1",
        str(first_test_start + 2 * POOL_BP),
        str(first_test_start + 3 * POOL_BP),
    ]


@pytest.mark.slow
def test_basenji_test_target_subset_and_errors(model_and_data, capsys):
    from basenji_tf.cli import basenji_test

    root, params, data = model_and_data
    table = pd.read_csv(data / "targets.txt", sep="\t", index_col=0)
    table.loc[[2]].to_csv(root / "t2.txt", sep="\t")
    full, sub = root / "full", root / "sub"
    model = str(root / "model.h5")
    assert basenji_test.main(["-o", str(full), str(params), model, str(data)]) == 0
    assert (
        basenji_test.main(
            ["-o", str(sub), "-t", str(root / "t2.txt"), str(params), model, str(data)]
        )
        == 0
    )
    acc_full = pd.read_csv(full / "acc.txt", sep="\t")
    acc_sub = pd.read_csv(sub / "acc.txt", sep="\t")
    assert acc_sub["index"].tolist() == [2]
    assert acc_sub["pearsonr"][0] == pytest.approx(acc_full["pearsonr"][2], abs=1e-5)
    capsys.readouterr()
    assert basenji_test.main(["-o", str(sub), "--ai", "7", str(params), model, str(data)]) == 1
    assert "--ai [7]" in capsys.readouterr().err
    other = write_data_dir(root / "data2", num_targets=2)
    assert basenji_test.main(["-o", str(sub), str(params), model, str(other)]) == 1


@pytest.mark.slow
def test_basenji_test_genes_matches_hand_sums(model_and_data):
    from basenji_tf.cli import basenji_test, basenji_test_genes

    root, params, data = model_and_data
    test_start = (SPLITS["train"] + SPLITS["valid"]) * SEQ_BP + CROP_BP
    # gene k: TSS in test sequence k, bin k (plus a second TSS bin for gene 0 on '-')
    gtf = []
    for k in range(6):
        pos = test_start + k * SEQ_BP + k * POOL_BP + 3
        gtf.append(f'chr1\tsim\tgene\t{pos + 1}\t{pos + 500}\t.\t+\t.\tgene_id "G{k}";')
    extra = test_start + 5 * POOL_BP
    gtf.append(f'chr1\tsim\tgene\t{extra - 100}\t{extra + 1}\t.\t-\t.\tgene_id "G0";')
    (root / "genes.gtf").write_text("\n".join(gtf) + "\n")
    out = root / "genes_out"
    assert (
        basenji_test_genes.main(
            [
                "-o",
                str(out),
                str(params),
                str(root / "model.h5"),
                str(data),
                str(root / "genes.gtf"),
            ]
        )
        == 0
    )
    acc = pd.read_csv(out / "acc_genes.txt", sep="\t")
    assert acc["index"].tolist() == [0]  # the only CAGE track

    saved = root / "saved"
    assert (
        basenji_test.main(
            ["-o", str(saved), "--save", str(params), str(root / "model.h5"), str(data)]
        )
        == 0
    )
    with h5py.File(saved / "preds.h5") as p, h5py.File(saved / "targets.h5") as t:
        preds, targets = p["preds"][()].astype(float), t["targets"][()].astype(float)
    gene_pred = np.array([preds[k, k, 0] for k in range(6)])
    gene_target = np.array([targets[k, k, 0] for k in range(6)])
    gene_pred[0] += preds[0, 5, 0]
    gene_target[0] += targets[0, 5, 0]
    expected = np.corrcoef(np.log2(gene_target + 1), np.log2(gene_pred + 1))[0, 1]
    assert acc["pearsonr"][0] == pytest.approx(expected, abs=2e-3)
    with h5py.File(out / "genes.h5") as h5:
        assert [g.decode() for g in h5["genes"][()]] == [f"G{k}" for k in range(6)]
        np.testing.assert_allclose(h5["targets"][()][:, 0], gene_target, rtol=1e-3)

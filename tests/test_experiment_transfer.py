"""experiments/transfer.py's pieces: targets split, TFRecord subsets, the result table."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_train

from basenji_tf.tfrecords import read_sequences_bed, read_statistics, split_files

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="module")
def experiment():
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        spec = importlib.util.spec_from_file_location(
            "experiment_transfer", EXPERIMENTS / "transfer.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(EXPERIMENTS))


def test_split_targets_holds_out_one_cell_type(experiment, tmp_path):
    (tmp_path / "tracks").mkdir()
    rows = ["index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription"]
    for i, (ident, desc) in enumerate(
        [("D_ery", "DNASE:erythroid-like"), ("D_hep", "DNASE:hepatic-like"),
         ("C_ery", "CAGE:erythroid-like"), ("C_hep", "CAGE:hepatic-like")]
    ):  # fmt: skip
        rows.append(f"{i}\t{ident}\ttracks/{ident}.bw\t32\t1\tmean\t{desc}")
    (tmp_path / "targets.txt").write_text("\n".join(rows) + "\n")
    pre, held = experiment.split_targets(tmp_path / "targets.txt", "hepatic", tmp_path / "o")
    pre, held = pd.read_csv(pre, sep="\t"), pd.read_csv(held, sep="\t")
    assert pre["identifier"].tolist() == ["D_ery", "C_ery"]
    assert held["identifier"].tolist() == ["D_hep", "C_hep"]
    assert held["index"].tolist() == [0, 1]
    assert held["file"].tolist() == [
        str(tmp_path / "tracks" / f"{i}.bw") for i in ("D_hep", "C_hep")
    ]
    with pytest.raises(SystemExit, match="no tracks of cell type"):
        experiment.split_targets(tmp_path / "targets.txt", "neural", tmp_path / "o")


def _parsed(files: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(sequence, target) arrays of every record of these files, read by TensorFlow."""
    import tensorflow as tf

    out = []
    for record in tf.data.TFRecordDataset(files, compression_type="ZLIB"):
        example = tf.train.Example.FromString(record.numpy())
        feature = example.features.feature
        out.append(
            (
                np.frombuffer(feature["sequence"].bytes_list.value[0], np.uint8),
                np.frombuffer(feature["target"].bytes_list.value[0], np.float16),
            )
        )
    return out


def test_subset_data_dir_keeps_a_seeded_fraction_of_train_records(experiment, tmp_path):
    src = test_train.write_data_dir(tmp_path / "src", num_targets=2, seed=3)
    dst = tmp_path / "dst"
    kept = experiment.subset_data_dir(src, dst, 0.25, seed=1)
    assert kept == round(0.25 * test_train.SPLITS["train"]) == read_statistics(dst)["train_seqs"]
    full_bed, bed = read_sequences_bed(src), read_sequences_bed(dst)
    assert (bed["split"] == "train").sum() == kept
    assert (
        bed[bed["split"] != "train"]
        .reset_index(drop=True)
        .equals(full_bed[full_bed["split"] != "train"].reset_index(drop=True))
    )
    # the kept records are the records of the kept bed rows, byte for byte
    train_full = full_bed[full_bed["split"] == "train"].reset_index(drop=True)
    rows = [
        int(np.flatnonzero((train_full["start"] == s).to_numpy())[0])
        for s in bed[bed["split"] == "train"]["start"]
    ]
    assert rows == sorted(rows) and len(set(rows)) == kept
    source = _parsed(split_files(src, "train"))
    subset = _parsed(split_files(dst, "train"))
    for row, (seq, target) in zip(rows, subset, strict=True):
        assert np.array_equal(seq, source[row][0]) and np.array_equal(target, source[row][1])
    assert (
        _parsed(split_files(dst, "test"))[0][0].tolist()
        == _parsed(split_files(src, "test"))[0][0].tolist()
    )
    # the same seed picks the same records; another seed others
    again = experiment.subset_data_dir(src, tmp_path / "again", 0.25, seed=1)
    other = experiment.subset_data_dir(src, tmp_path / "other", 0.25, seed=2)
    assert again == other == kept
    assert read_sequences_bed(tmp_path / "again").equals(bed)
    assert not read_sequences_bed(tmp_path / "other").equals(bed)


def test_table_rows_per_mode(experiment):
    def result(mode, fraction, r, sps):
        return {
            "mode": mode,
            "fraction": fraction,
            "pearsonr": {"DNASE": r, "CAGE": r / 2},
            "trainable_params": 10,
            "seconds_per_step": sps,
            "run_seconds": 5.0,
            "peak_rss_mb": 100.0 * fraction,
        }

    results = [result("lora", f, f, 0.1 * f) for f in experiment.FRACTIONS]
    results += [result("train_head", f, 0.5, None) for f in experiment.FRACTIONS]
    frame = experiment.table(results)
    assert frame["mode"].tolist() == ["lora", "train_head"]
    lora = frame.iloc[0]
    assert lora["DNASE_R_5%"] == 0.05 and lora["CAGE_R_100%"] == 0.5
    assert lora["s_per_step"] == 0.1 and lora["peak_rss_mb"] == 100.0
    assert math.isnan(frame.iloc[1]["s_per_step"])
    text = experiment.markdown(frame)
    assert text.splitlines()[0].startswith("| mode | DNASE_R_5% |")
    assert "| train_head |" in text and "| - |" in text

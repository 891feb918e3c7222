"""The 2018 formats: TF1 params.txt -> params JSON, training HDF5 -> data directory."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import tensorflow as tf

from basenji_tf import legacy_data, legacy_params, seqnn
from basenji_tf.cli import basenji_hdf5_tfr, basenji_params_convert
from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.train import train_model

PUBLISHED = "basenji_published/genome_research2018_params.txt"


@pytest.fixture(scope="module")
def published(reference_dir: Path) -> Path:
    return reference_dir / PUBLISHED


def write_txt(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------
# params.txt


def test_published_params_match_the_shipped_json_plus_the_batch_buffer(published, repo):
    """The converter gives models/params_basenji2018.json, batch_buffer crop included.

    The 2018 code cut ``batch_buffer`` (4096 bp = 32 bins) from each end of the predictions
    and targets (basenji/seqnn.py, build_representation / build_loss): a final Cropping1D.
    """
    converted = legacy_params.convert_params_txt(published)
    expected = json.loads((repo / "models" / "params_basenji2018.json").read_text())
    assert converted == expected
    assert expected["model"]["trunk"][-1] == {"name": "Cropping1D", "cropping": 32}


def test_published_params_build_at_full_length(published):
    params = legacy_params.convert_params_txt(published)
    model = seqnn.SeqNN(params["model"])
    assert model.model.output.shape[1:] == (960, 4229)
    assert model.model_strides == [128]
    # six dense layers of 108 filters on top of 717 channels feed the last conv
    concat = model.model_trunk.get_layer("trunk6_dilated_dense_r5_concat")
    assert concat.output.shape[-1] == 717 + 6 * 108
    # 13 convolutions, each with batch norm, as the 13 layers of the text file
    convs = [layer for layer in model.model.layers if layer.name.endswith("_conv")]
    assert len(convs) == 13
    assert [c.dilation_rate[0] for c in convs[6:12]] == [2, 4, 8, 16, 32, 64]


def test_published_params_predict_at_a_short_length(published):
    params = legacy_params.convert_params_txt(published, seq_length=16384, num_targets=5)
    model = seqnn.SeqNN(params["model"])
    rng = np.random.default_rng(0)
    seqs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (1, 16384))]
    preds = model.predict(seqs)
    assert preds.shape == (1, 16384 // 128 - 64, 5)
    assert np.all(preds > 0)  # exp_linear link


def test_cli_writes_the_json(published, tmp_path, capsys):
    out = tmp_path / "params.json"
    assert basenji_params_convert.main([str(published), str(out)]) == 0
    assert json.loads(out.read_text()) == legacy_params.convert_params_txt(published)
    assert "960 bins x 4229 targets" in capsys.readouterr().out


def test_unknown_key_is_a_one_line_error(tmp_path, capsys):
    path = write_txt(tmp_path / "params.txt", "seq_length\t1024\n\ncnn_filter_size\t3\n")
    with pytest.raises(InputError, match=r"line 3: unknown key 'cnn_filter_size'; valid keys"):
        legacy_params.convert_params_txt(path)
    assert basenji_params_convert.main([str(path), str(tmp_path / "p.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "params.txt: line 3: unknown key" in err
    assert not (tmp_path / "p.json").exists()


LAYERS = "num_targets 3\nseq_length 1024\nbatch_buffer 64\ncnn_filters 8\ncnn_pool 16\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("cnn_dense 2\n", "cnn_dense is 2; it must be 0 or 1"),
        ("batch_size 2.0\n", "batch_size is 2.0; it must be an integer"),
        ("seq_length 2048\n", "seq_length is given 2 times; give it once"),
        ("cnn_dropout 0.1\ncnn_dropout 0.1\n", "2 values for 1 layers"),
        ("link softmax\n", "link 'softmax' is not supported"),
        ("optimizer nadam\n", "optimizer 'nadam' is not supported"),
        ("loss negative_binomial\n", "loss 'negative_binomial' is not supported"),
        ("architecture dilated_residual\n", "architecture 'dilated_residual' is not supported"),
        ("cnn_skip 1\n", "cnn_skip (residual) layers are not supported"),
        ("target_classes 4\n", "target_classes 4 is not supported"),
        ("target_pool 128\n", "target_pool 128 disagrees with the layers' total pooling 16"),
        ("optimizer adam\noptimization adam\n", "'optimization' repeats 'optimizer'"),
        ("cnn_filter_sizes 3 5\n", "expected 'key value', got 3 fields"),
    ],
)
def test_bad_values_name_the_line(tmp_path, extra, message):
    path = write_txt(tmp_path / "params.txt", LAYERS + extra)
    with pytest.raises(InputError, match="line [0-9]+") as err:
        legacy_params.convert_params_txt(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cnn_filters 8\ncnn_pool 16\n", "no seq_length line; add 'seq_length N' or pass"),
        (
            "seq_length 1024\nnum_targets 3\ncnn_filters 8\ncnn_pool 128\n",
            "batch_buffer 64 bp (the original's default is 64) must be a multiple of the 128 bp",
        ),
        (
            "seq_length 1000\nnum_targets 3\ncnn_filters 8\ncnn_pool 16\n",
            "seq_length 1000 is not a multiple of the layers' total pooling 16 bp",
        ),
        ("seq_length 1024\nnum_targets 3\n", "no cnn_filters lines"),
    ],
)
def test_inconsistent_files_are_errors(tmp_path, text, message):
    path = write_txt(tmp_path / "params.txt", text)
    with pytest.raises(InputError) as err:
        legacy_params.convert_params_txt(path)
    assert message in str(err.value)


def test_dense_layer_with_pooling_is_an_error(tmp_path):
    path = write_txt(tmp_path / "params.txt", LAYERS + "cnn_dense 1\n")
    with pytest.raises(InputError, match="layer 0 .*cnn_dense layer with pooling"):
        legacy_params.convert_params_txt(path)


def test_layers_extend_and_dense_runs_group(tmp_path):
    """Per-layer keys extend as in the original; dense layers group into blocks.

    A key given once covers every layer and a shorter list ends with the default (the
    original's layer_extend); dense layers group while dilations grow geometrically.
    """
    text = (
        "seq_length 1024\nnum_targets 2\nbatch_buffer 0\nnonlinearity gelu\nlink softplus\n"
        "loss gaussian\noptimizer momentum\nmomentum 0.9\ngrad_clip 2\ncnn_l2_scale 2e-6\n"
        "final_l1_scale 1e-6\nlearning_decay_steps 1000\n"
        + "".join(f"cnn_filters {f}\n" for f in (8, 4, 4, 4, 4, 6))
        + "".join(f"cnn_filter_sizes {k}\n" for k in (5, 3, 3, 3, 3, 1))
        + "".join(f"cnn_dilation {d}\n" for d in (1, 1, 2, 4, 3, 1))
        + "".join(f"cnn_dense {d}\n" for d in (0, 1, 1, 1, 1))
        + "cnn_pool 4\ncnn_pool 1\n"
        + "".join(f"cnn_dropout {d}\n" for d in (0.2, 0.1, 0.1, 0.1, 0.1))
    )
    params = legacy_params.convert_params_txt(write_txt(tmp_path / "params.txt", text))
    assert params["train"] == {
        "batch_size": 64,
        "optimizer": "sgd",
        "learning_rate": 0.001,
        "momentum": 0.9,
        "global_clipnorm": 2,
        "loss": "mse",
    }
    model = params["model"]
    assert model["activation"] == "gelu_sigmoid" and model["l2_scale"] == 1e-6
    assert model["head"] == {
        "name": "final",
        "units": 2,
        "activation": "softplus",
        "l2_scale": 0,
        "l1_scale": 1e-6,
    }
    assert model["trunk"] == [
        {"name": "conv_block", "filters": 8, "kernel_size": 5, "pool_size": 4, "dropout": 0.2},
        {
            "name": "dilated_dense",
            "filters": 4,
            "kernel_size": 3,
            "rate_init": 1,
            "rate_mult": 2,
            "repeat": 3,
            "dropout": 0.1,
        },
        {
            "name": "dilated_dense",
            "filters": 4,
            "kernel_size": 3,
            "rate_init": 3,
            "repeat": 1,
            "dropout": 0.1,
        },
        {"name": "conv_block", "filters": 6, "kernel_size": 1},
    ]
    built = seqnn.SeqNN(model)
    assert built.model.output.shape[1:] == (1024 // 4, 2)


def test_dropped_keys_warn(tmp_path, caplog):
    path = write_txt(tmp_path / "params.txt", LAYERS + "adam_eps 1e-8\n")
    legacy_params.convert_params_txt(path)
    assert "line 6: adam_eps: dropped (Adam uses Keras' epsilon 1e-7)" in caplog.text


# ---------------------------------------------------------------------------------------
# HDF5 training data

SEQ_BP, POOL_BP, NUM_TARGETS = 256, 16, 3
COUNTS = {"train": 5, "valid": 3, "test": 2}


def write_2018_hdf5(path: Path, counts: dict = COUNTS, seed: int = 1) -> dict:
    """A small HDF5 in the layout of the 2018 data scripts (basenji_hdf5_*.py)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    with h5py.File(path, "w") as h5:
        h5.create_dataset("pool_width", data=POOL_BP, dtype="int")
        h5.create_dataset("target_ids", data=np.array([b"CNhs1", b"ENCFF2", b"ENCFF3"]))
        h5.create_dataset("target_labels", data=np.array([b"CAGE:liver", b"DNASE:x", b"H3K4"]))
        for split, n in counts.items():
            seqs = np.eye(4, dtype=bool)[rng.integers(0, 4, (n, SEQ_BP))]
            seqs[:, 10:14] = False  # N
            targets = rng.gamma(1.0, 4.0, (n, SEQ_BP // POOL_BP, NUM_TARGETS)).astype("f2")
            na = rng.random((n, SEQ_BP // POOL_BP)) < 0.2
            for part, data in (("in", seqs), ("out", targets), ("na", na)):
                h5.create_dataset(f"{split}_{part}", data=data, compression="gzip")
                arrays[f"{split}_{part}"] = data
    return arrays


def write_bed(path: Path, counts: dict = COUNTS) -> Path:
    lines = [
        f"chr1\t{1000 * i}\t{1000 * i + SEQ_BP}\t{split}"
        for i, split in enumerate(s for s, n in counts.items() for _ in range(n))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def decoded_umap(files: list[str]) -> np.ndarray:
    rows = []
    for path in files:
        for raw in tf.data.TFRecordDataset(path, compression_type="ZLIB"):
            example = tf.train.Example.FromString(raw.numpy())
            rows.append(
                np.frombuffer(example.features.feature["umap"].bytes_list.value[0], dtype=bool)
            )
    return np.array(rows)


@pytest.mark.parametrize("encoding", ["index", "onehot"])
def test_hdf5_converts_to_records_equal_to_the_arrays(tmp_path, encoding):
    arrays = write_2018_hdf5(tmp_path / "data.h5")
    out = tmp_path / "data"
    stats = legacy_data.hdf5_to_data_dir(
        tmp_path / "data.h5",
        out,
        crop_bp=2 * POOL_BP,
        seqs_per_tfr=2,
        bed_file=write_bed(tmp_path / "seqs.bed"),
        encoding=encoding,
    )
    bins = SEQ_BP // POOL_BP - 4
    assert stats == json.loads((out / "statistics.json").read_text())
    assert stats == {
        "num_targets": 3,
        "seq_length": SEQ_BP,
        **({"seq_1hot": True} if encoding == "index" else {}),
        "pool_width": POOL_BP,
        "crop_bp": 32,
        "target_length": bins,
        "train_seqs": 5,
        "valid_seqs": 3,
        "test_seqs": 2,
    }
    for split, n in COUNTS.items():
        data = SeqDataset(out, split, batch_size=4, mode="eval")
        assert len(data.files) == -(-n // 2) and data.encoding == encoding
        seqs, targets = (
            np.concatenate(a) for a in zip(*[(x.numpy(), y.numpy()) for x, y in data.dataset])
        )
        np.testing.assert_array_equal(seqs, arrays[f"{split}_in"].astype(np.float32))
        np.testing.assert_array_equal(targets, arrays[f"{split}_out"][:, 2:-2].astype(np.float32))
        np.testing.assert_array_equal(decoded_umap(data.files), arrays[f"{split}_na"][:, 2:-2])
    bed = (out / "sequences.bed").read_text().splitlines()
    assert bed[0] == "chr1\t32\t224\ttrain" and bed[-1] == "chr1\t9032\t9224\ttest"
    assert (out / "targets.txt").read_text().splitlines() == [
        "index\tidentifier\tfile\tdescription",
        "0\tCNhs1\tdata.h5\tCAGE:liver",
        "1\tENCFF2\tdata.h5\tDNASE:x",
        "2\tENCFF3\tdata.h5\tH3K4",
    ]


def test_onehot_codes_accept_uniform_n_and_reject_other_rows():
    seqs = np.array([[[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]]], dtype=bool)
    np.testing.assert_array_equal(legacy_data.onehot_codes(seqs, "x"), [[0, 3, 4, 4]])
    quarter = np.full((1, 1, 4), 0.25, dtype=np.float16)
    np.testing.assert_array_equal(legacy_data.onehot_codes(quarter, "x"), [[4]])
    with pytest.raises(InputError, match=r"x: record 7 position 1 is \[True, True, False"):
        legacy_data.onehot_codes(np.array([[[1, 0, 0, 0], [1, 1, 0, 0]]], dtype=bool), "x", first=7)


def test_hdf5_cli_and_its_errors(tmp_path, capsys):
    write_2018_hdf5(tmp_path / "data.h5")
    out = tmp_path / "data"
    assert basenji_hdf5_tfr.main([str(tmp_path / "data.h5"), str(out)]) == 0
    assert "5 train, 3 valid, 2 test sequences" in capsys.readouterr().out
    assert not (out / "sequences.bed").exists()
    # an existing output, a BED of another HDF5, a crop that is not whole bins
    bed = write_bed(tmp_path / "other.bed", {"train": 5, "valid": 2, "test": 3})
    for args, message in (
        ([str(out)], "already exists; remove it"),
        ([str(tmp_path / "o2"), "--bed", str(bed)], "line 8: test 256 bp, but record 7 is valid"),
        ([str(tmp_path / "o3"), "--crop", "20"], "crop 20 bp must be a non-negative multiple"),
    ):
        assert basenji_hdf5_tfr.main([str(tmp_path / "data.h5"), *args]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_hdf5_layout_errors(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("train_in", data=np.zeros((2, 64, 4), bool))
        h5.create_dataset("train_out", data=np.zeros((3, 4, 2), "f2"))
    with pytest.raises(InputError, match="train_in has 2 records but train_out 3"):
        legacy_data.hdf5_to_data_dir(path, tmp_path / "out")
    with h5py.File(path, "w") as h5:
        h5.create_dataset("train_in", data=np.zeros((2, 64, 4), bool))
    with pytest.raises(InputError, match="train_out is missing"):
        legacy_data.hdf5_to_data_dir(path, tmp_path / "out")
    with h5py.File(path, "w") as h5:
        h5.create_dataset("train_in", data=np.zeros((1, 64, 4), bool))
        h5.create_dataset("train_out", data=np.full((1, 4, 2), np.inf, "f2"))
    with pytest.raises(InputError, match="train_out record 0 has NaN or inf targets"):
        legacy_data.hdf5_to_data_dir(path, tmp_path / "out")
    seqs = np.zeros((40, 64, 4), bool)
    seqs[37, 5, :2] = True
    with h5py.File(path, "w") as h5:
        h5.create_dataset("train_in", data=seqs)
        h5.create_dataset("train_out", data=np.zeros((40, 4, 2), "f2"))
    with pytest.raises(InputError, match=r"bad.h5: train_in: record 37 position 5 is"):
        legacy_data.hdf5_to_data_dir(path, tmp_path / "out", seqs_per_tfr=16)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------
# The whole path of a 2018 user


@pytest.mark.slow
def test_converted_params_train_on_converted_data(tmp_path):
    """A 2018 user's whole path: both conversions, then one epoch of training.

    The data are cropped by the params' batch_buffer, so they fit the converted model.
    """
    text = (
        "seq_length 256\nbatch_size 4\nbatch_buffer 32\nlearning_rate 0.01\n"
        "cnn_filters 8\ncnn_filters 8\ncnn_filters 4\ncnn_filters 4\n"
        "cnn_filter_sizes 5\ncnn_filter_sizes 3\ncnn_filter_sizes 3\ncnn_filter_sizes 3\n"
        "cnn_pool 4\ncnn_pool 4\ncnn_pool 1\ncnn_pool 1\n"
        "cnn_dense 0\ncnn_dense 0\ncnn_dense 1\ncnn_dense 1\n"
        "cnn_dilation 1\ncnn_dilation 1\ncnn_dilation 2\ncnn_dilation 4\n"
    )
    params = legacy_params.convert_params_txt(
        write_txt(tmp_path / "params.txt", text), num_targets=NUM_TARGETS
    )
    params["train"]["train_epochs_max"] = 1
    legacy_params.write_params_json(params, tmp_path / "params.json")
    write_2018_hdf5(tmp_path / "data.h5", {"train": 8, "valid": 4})
    legacy_data.hdf5_to_data_dir(tmp_path / "data.h5", tmp_path / "data", crop_bp=32)
    history = train_model(
        tmp_path / "params.json", [tmp_path / "data"], out_dir=tmp_path / "train", seed=1
    )
    assert len(history) == 1 and np.isfinite(history[0]["valid_loss"])

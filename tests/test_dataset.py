"""dataset: SeqDataset reading the original's files, real data, and our writer's files."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from basenji_tf.dataset import SeqDataset, decode_file
from basenji_tf.dna import dna_1hot, dna_index
from basenji_tf.errors import InputError
from basenji_tf.tfrecords import write_statistics, write_tfrecords


@pytest.fixture(scope="module")
def small_out(reference_dir):
    return reference_dir / "basenji_data_small" / "data_out"


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_reader_matches_original_decoding(reference_dir, small_out, split):
    ref = np.load(reference_dir / "basenji_data_small" / "decoded_tfrecords.npz")
    data = SeqDataset(small_out, split, batch_size=2)
    assert data.encoding == "index"
    seqs, targets = data.numpy(return_inputs=True, dtype="float32")
    np.testing.assert_array_equal(seqs, ref[f"{split}_sequence_onehot"])
    np.testing.assert_array_equal(targets, ref[f"{split}_targets"].astype(np.float32))
    batches = list(data.dataset)
    # eval mode keeps the last partial batch
    n = len(seqs)
    assert [b[0].shape[0] for b in batches] == [2] * (n // 2) + [n % 2] * (n % 2)
    assert data.num_seqs == len(seqs)


@pytest.mark.parametrize("genome,num_targets", [("hg38", 74), ("mm10", 32)])
def test_reads_baskerville_real_data(baskerville_dir, genome, num_targets):
    data = SeqDataset(baskerville_dir / "tiny" / genome, "valid", batch_size=4)
    seqs, targets = data.numpy(return_inputs=True, dtype="float32")
    assert seqs.shape == (data.num_seqs, 131072, 4)
    assert targets.shape == (data.num_seqs, 2048, num_targets)
    # real DNA: one base per position except rare N runs, GC content of a mammal
    assert seqs.sum(axis=-1).mean() > 0.99
    gc = seqs[..., 1:3].sum() / seqs.sum()
    assert 0.3 < gc < 0.6
    assert np.isfinite(targets).all() and targets.min() >= 0 and targets.max() > 1


@pytest.mark.slow
def test_train_mode_repeats_and_shuffles(baskerville_dir):
    data = SeqDataset(baskerville_dir / "tiny" / "mm10", "train", 4, mode="train", seed=7)
    assert data.batches_per_epoch() == 28 // 4
    firsts = _first_bases(data.dataset, 9)
    assert len(firsts) == 9  # more batches than one epoch holds: repeated
    again = SeqDataset(baskerville_dir / "tiny" / "mm10", "train", 4, mode="train", seed=7)
    assert firsts[:3] == _first_bases(again.dataset, 3)
    eval_first = SeqDataset(baskerville_dir / "tiny" / "mm10", "train", 4).dataset
    assert firsts[:3] != _first_bases(eval_first, 3)


def _first_bases(dataset: tf.data.Dataset, batches: int) -> list[bytes]:
    """64 bases from the middle of each sequence of the first batches, as bytes."""
    return [x.numpy()[:, 65536:65600].argmax(-1).tobytes() for x, _ in dataset.take(batches)]


def _write_dir(tmp_path, encoding, seqs, targets, seq_1hot_key=True):
    tfr = tmp_path / "tfrecords"
    tfr.mkdir(parents=True)
    write_tfrecords(tfr / "train-0.tfr", seqs[:3], targets[:3], encoding=encoding)
    write_tfrecords(tfr / "train-1.tfr", seqs[3:], targets[3:], encoding=encoding)
    stats = {
        "num_targets": 2,
        "seq_length": 64,
        "pool_width": 8,
        "crop_bp": 0,
        "target_length": 8,
        "train_seqs": len(seqs),
    }
    if seq_1hot_key:
        stats["seq_1hot"] = encoding == "index"
    write_statistics(tmp_path, stats)
    return stats


@pytest.mark.parametrize("encoding,key", [("index", True), ("onehot", False), ("onehot", True)])
def test_write_read_roundtrip_both_encodings(tmp_path, encoding, key):
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTN"), 64)) for _ in range(5)]
    targets = rng.gamma(2, 3, size=(5, 8, 2)).astype(np.float32)
    _write_dir(tmp_path, encoding, seqs, targets, seq_1hot_key=key)
    data = SeqDataset(tmp_path, "train", batch_size=2, seq_length_crop=32)
    assert data.encoding == encoding and data.seq_length == 32
    x, y = data.numpy(return_inputs=True, dtype="float32")
    expected = np.stack([dna_1hot(s) for s in seqs])[:, 16:48]
    np.testing.assert_array_equal(x, expected)  # N -> all-zero rows
    np.testing.assert_array_equal(y, targets.astype(np.float16).astype(np.float32))
    codes, _ = decode_file(tmp_path / "tfrecords" / "train-0.tfr", 64)
    np.testing.assert_array_equal(codes, np.stack([dna_index(s) for s in seqs[:3]]))


def test_record_size_mismatch_names_the_file(tmp_path):
    seqs = ["ACGT" * 16] * 5
    _write_dir(tmp_path, "index", seqs, np.ones((5, 8, 2)))
    stats = json.loads((tmp_path / "statistics.json").read_text())
    stats["seq_length"] = 128
    (tmp_path / "statistics.json").write_text(json.dumps(stats))
    with pytest.raises(InputError, match=r"train-0\.tfr: record sequence has 64 bytes"):
        SeqDataset(tmp_path, "train", 2)
    stats["seq_length"], stats["target_length"] = 64, 16
    (tmp_path / "statistics.json").write_text(json.dumps(stats))
    with pytest.raises(tf.errors.InvalidArgumentError, match="train-0.tfr: target size"):
        list(SeqDataset(tmp_path, "train", 2).dataset)


def test_seq_1hot_flag_contradicting_records(tmp_path):
    _write_dir(tmp_path, "onehot", ["ACGT" * 16] * 5, np.ones((5, 8, 2)), seq_1hot_key=False)
    stats = json.loads((tmp_path / "statistics.json").read_text())
    stats["seq_1hot"] = True
    (tmp_path / "statistics.json").write_text(json.dumps(stats))
    with pytest.raises(InputError, match="onehot-encoded but .* seq_1hot true"):
        SeqDataset(tmp_path, "train", 2)


def test_missing_split_and_dir(tmp_path, small_out):
    with pytest.raises(InputError, match="no TFRecord files for split 'fold0'"):
        SeqDataset(small_out, "fold0", 2)
    with pytest.raises(FileNotFoundError, match="statistics.json not found"):
        SeqDataset(tmp_path, "train", 2)


def test_empty_trailing_file_and_natural_order(tmp_path, small_out):
    shutil.copytree(small_out, tmp_path / "d")
    tfr = tmp_path / "d" / "tfrecords"
    write_tfrecords(tfr / "train-2.tfr", [], np.zeros((0, 112, 3)))
    shutil.copy(tfr / "train-1.tfr", tfr / "train-10.tfr")
    data = SeqDataset(tmp_path / "d", "train", 4, tfr_pattern="train-*.tfr")
    assert data.files[-2:] == [str(tfr / "train-2.tfr"), str(tfr / "train-10.tfr")]
    assert data.num_seqs == 10


def test_numpy_step_and_distribute(small_out):
    data = SeqDataset(small_out, "valid", batch_size=2)
    full = data.numpy()
    stepped = data.numpy(step=4, dtype="float32")
    assert full.dtype == np.float16 and stepped.shape == (3, 28, 3)
    np.testing.assert_array_equal(stepped, full[:, ::4].astype(np.float32))
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    batches = list(data.distribute(strategy))
    assert [b[0].shape[0] for b in batches] == [2, 1]


def test_train_pipeline_is_seeded_and_decodes_every_record(tmp_path):
    """A seeded train pipeline repeats its batches exactly; rows are the split's records.

    Decoding runs in parallel after the shuffle, so this checks it keeps the order.
    """
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, (12, 64)).astype(np.uint8)
    targets = rng.random((12, 8, 2)).astype(np.float16)
    _write_dir(tmp_path, "index", codes, targets)

    def batches(seed, n=9):
        data = SeqDataset(tmp_path, "train", 4, shuffle_buffer=5, mode="train", seed=seed)
        return [(x.numpy(), y.numpy()) for x, y in data.dataset.take(n)]

    first, again, other = batches(11), batches(11), batches(12)
    for (x1, y1), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other))
    rows = {c.tobytes(): t for c, t in zip(codes, targets)}
    seen = set()
    for x, y in first:
        for seq, tgt in zip(x, y):
            key = seq.argmax(-1).astype(np.uint8).tobytes()
            np.testing.assert_array_equal(tgt, rows[key].astype(np.float32))
            seen.add(key)
    assert seen == set(rows)  # 36 rows drawn from a repeated 12-record split

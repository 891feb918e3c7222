"""tfrecords: the TensorFlow-free writer against TensorFlow, the text files, no TF import."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from basenji_tf.tfrecords import (
    crc32c,
    example_bytes,
    read_sequences_bed,
    read_statistics,
    write_tfrecords,
)


@pytest.fixture(scope="module")
def small_out(reference_dir):
    return reference_dir / "basenji_data_small" / "data_out"


def test_sequences_bed_and_statistics(small_out):
    stats = read_statistics(small_out)
    assert stats["target_length"] == 112 and stats["seq_1hot"] is True
    bed = read_sequences_bed(small_out)
    assert list(bed.columns) == ["chrom", "start", "end", "split"]
    assert len(bed) == 15 and (bed.end - bed.start == 14336).all()
    valid = read_sequences_bed(small_out, "valid")
    assert valid.start.tolist() == [8192, 16384, 0]


def test_legacy_onehot_bytes_follow_the_format(tmp_path):
    """A legacy record's sequence is 4 uint8 bytes per base in A, C, G, T order."""
    write_tfrecords(tmp_path / "x.tfr", ["ACGTN"], np.zeros((1, 1, 1)), encoding="onehot")
    raw = next(iter(tf.data.TFRecordDataset(str(tmp_path / "x.tfr"), "ZLIB"))).numpy()
    seq = tf.train.Example.FromString(raw).features.feature["sequence"].bytes_list.value[0]
    assert seq == bytes([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    assert (tmp_path / "x.tfr").read_bytes()[:2] == b"\x78\x01"  # zlib stream, level 1


def test_our_encoding_equals_tensorflows(tmp_path):
    """Hand-made Example bytes and CRCs: TensorFlow's own serialization, and its reader."""
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, 1000, dtype=np.uint8)
    targets = rng.random((10, 3)).astype(np.float16)
    umap = rng.random(10) > 0.5
    ours = example_bytes(codes, targets, umap=umap)
    feature = {
        "sequence": tf.train.Feature(bytes_list=tf.train.BytesList(value=[codes.tobytes()])),
        "target": tf.train.Feature(bytes_list=tf.train.BytesList(value=[targets.tobytes()])),
        "umap": tf.train.Feature(bytes_list=tf.train.BytesList(value=[umap.tobytes()])),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    assert ours == example.SerializeToString(deterministic=True)
    # every record length from 0 to past several CRC lanes; TF's reader checks each CRC
    seqs = [rng.integers(0, 5, n, dtype=np.uint8) for n in (0, 1, 255, 256, 257, 3000)]
    write_tfrecords(tmp_path / "x.tfr", seqs, np.zeros((6, 1, 1)))
    raws = list(tf.data.TFRecordDataset(str(tmp_path / "x.tfr"), "ZLIB"))
    got = [
        tf.train.Example.FromString(r.numpy()).features.feature["sequence"].bytes_list.value[0]
        for r in raws
    ]
    assert got == [s.tobytes() for s in seqs]
    write_tfrecords(tmp_path / "empty.tfr", [], np.zeros((0, 1, 1)))
    assert (tmp_path / "empty.tfr").stat().st_size == 8  # as TensorFlow's empty file


@pytest.mark.subprocess
def test_writer_and_data_pipeline_never_import_tensorflow():
    """basenji_data.py and its workers (which re-import the command) never load TensorFlow.

    Importing it takes seconds and ~500 MB per process.
    """
    modules = [
        "basenji_tf.data",
        "basenji_tf.data_align",
        "basenji_tf.data_write",
        "basenji_tf.tfrecords",
        "basenji_tf.cli.basenji_data",
        "basenji_tf.cli.basenji_data_align",
        "basenji_tf.cli.basenji_data_read",
        "basenji_tf.cli.basenji_data_write",
    ]
    code = f"import sys, {', '.join(modules)}; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

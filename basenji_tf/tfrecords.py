"""The data-directory contract: TFRecords, statistics.json, sequences.bed; write and read.

A data directory (written by ``basenji_data.py``) holds:

* ``statistics.json``: ``seq_length`` (bp, full input), ``pool_width`` (bp per bin),
  ``crop_bp``, ``target_length`` (bins), ``num_targets``, ``seq_1hot`` (true = sequences
  stored as base indexes; the name is inverted, kept for compatibility; absent in pre-2022
  data, which stores one-hot bytes) and ``<split>_seqs`` per split label.
* ``sequences.bed``: ``chrom start end split`` of each record's *target* region (the DNA
  extends ``crop_bp`` further on each side), in TFRecord order.
* ``tfrecords/{split}-{i}.tfr``: ZLIB-compressed TFRecord files in natural order; each
  record a ``tf.train.Example`` with bytes features ``sequence`` (uint8 [seq_length] codes
  A0 C1 G2 T3 N4, or legacy uint8 one-hot [seq_length, 4] with N all zero) and ``target``
  (float16 [target_length, num_targets], row-major, little-endian); optional ``umap``
  (bool [target_length]).

Writing::

    write_tfrecords("out/tfrecords/train-0.tfr", seqs_index, targets)  # index encoding
    write_tfrecords(path, seqs_index, targets, encoding="onehot")       # legacy encoding

``seqs_index`` is uint8 [n, seq_length] (or a list of DNA strings), ``targets`` float
[n, target_length, num_targets]; ``compression_level`` trades speed for size (see
docs/data.md for measurements). ``write_statistics`` writes statistics.json. Writing
needs no TensorFlow (the framing, CRC32C and protobuf encoding are done here).

Reading: :class:`SeqDataset` builds the tf.data pipeline of one split.

Differences from the original: the writer's zlib stream is Python's, so a file's
compressed bytes differ from TensorFlow's for the same records; the decompressed
records (and TensorFlow's reading of them) are the same.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import google_crc32c
import numpy as np
import pandas as pd
from natsort import natsorted

from basenji_tf.dna import dna_index, hot1_index, index_1hot
from basenji_tf.errors import InputError
from basenji_tf.files import atomic_path

log = logging.getLogger(__name__)


class _LazyTensorFlow:
    """``tensorflow``, imported on first use.

    Importing TensorFlow takes seconds and ~500 MB; only the reader needs it, so
    basenji_data.py and its workers (which only write) never load it.
    """

    def __getattr__(self, name: str):
        import tensorflow

        return getattr(tensorflow, name)


tf = _LazyTensorFlow()

# zlib level 1 writes ~5x faster than the default level 6 for files ~9% larger
# (measurements in docs/data.md); decompression speed is the same.
DEFAULT_COMPRESSION_LEVEL = 1
ENCODINGS = ("index", "onehot")


# ---------------------------------------------------------------------------------------
# Writing, without TensorFlow: the record framing and the two-field protobuf are simple
# enough to write here (CRC-32C comes from google-crc32c), and then writer processes start
# in a second instead of importing TensorFlow (seconds and ~500 MB each). The reader is
# TensorFlow's, which checks every CRC, so the tests prove the files.


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, the checksum of TFRecord framing."""
    return google_crc32c.value(data)


def _masked_crc(data: bytes) -> bytes:
    crc = crc32c(data)
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    return struct.pack("<I", masked)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def example_bytes(
    seq_index: np.ndarray, targets: np.ndarray, encoding: str = "index", umap=None
) -> bytes:
    """Serialize one record as a ``tf.train.Example``.

    Args:
        seq_index: uint8 [seq_length] codes 0-4.
        targets: [target_length, num_targets]; stored as float16.
        encoding: "index" (current) or "onehot" (pre-2022 data: uint8 [seq_length, 4]).
        umap: optional bool [target_length] unmappable-bin mask.

    Returns:
        the same bytes as TensorFlow's deterministic serialization (features sorted by
        name): Example.features(1) -> map entries(1) {key(1), Feature(2) -> BytesList(1)
        -> value(1)}.
    """
    if encoding == "index":
        seq_bytes = np.asarray(seq_index, dtype=np.uint8).tobytes()
    elif encoding == "onehot":
        seq_bytes = index_1hot(seq_index, dtype=np.uint8).tobytes()
    else:
        raise ValueError(f"encoding {encoding!r} is not one of {ENCODINGS}")
    targets16 = np.asarray(targets, dtype="<f2")
    if not np.isfinite(targets16).all():
        raise InputError("targets contain inf or NaN after float16 conversion; clip them")
    features = {"sequence": seq_bytes, "target": targets16.tobytes()}
    if umap is not None:
        features["umap"] = np.asarray(umap, dtype=bool).tobytes()
    entries = b"".join(
        _field(1, _field(1, key.encode()) + _field(2, _field(1, _field(1, value))))
        for key, value in sorted(features.items())
    )
    return _field(1, entries)


def record_bytes(data: bytes) -> bytes:
    """TFRecord framing: length (uint64), its masked CRC32C, data, the data's masked CRC."""
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)


def write_tfrecords(
    path: str | os.PathLike,
    sequences: Sequence[np.ndarray] | Sequence[str] | np.ndarray,
    targets: np.ndarray,
    encoding: str = "index",
    compression_level: int = DEFAULT_COMPRESSION_LEVEL,
    umap: np.ndarray | None = None,
) -> int:
    """Write one ZLIB TFRecord file atomically (one zlib stream, as TensorFlow writes).

    Args:
        path: output ``.tfr``.
        sequences: n DNA strings, or uint8 index arrays [n, seq_length] (codes 0-4).
        targets: [n, target_length, num_targets] (stored as float16).
        encoding: "index" or "onehot" (legacy).
        compression_level: zlib level 0-9.
        umap: optional bool [n, target_length].

    Returns:
        the number of records written.
    """
    if len(sequences) != len(targets):
        raise ValueError(f"{len(sequences)} sequences but {len(targets)} target arrays")
    compressor = zlib.compressobj(compression_level)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        for i, seq in enumerate(sequences):
            codes = dna_index(seq) if isinstance(seq, str) else seq
            example = example_bytes(codes, targets[i], encoding, None if umap is None else umap[i])
            handle.write(compressor.compress(record_bytes(example)))
        handle.write(compressor.flush())
    return len(sequences)


def write_statistics(data_dir: str | os.PathLike, stats: dict) -> None:
    """Write ``statistics.json`` (indent 4, as the original)."""
    with atomic_path(Path(data_dir) / "statistics.json") as tmp, open(tmp, "w") as handle:
        json.dump(stats, handle, indent=4)


# ---------------------------------------------------------------------------------------
# Reading


def read_statistics(data_dir: str | os.PathLike) -> dict:
    """Read ``data_dir/statistics.json`` and check the keys every reader needs."""
    path = Path(data_dir) / "statistics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: statistics.json not found; is {data_dir} a data dir?")
    try:
        stats = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    for key in ("seq_length", "target_length", "num_targets"):
        if key not in stats:
            raise InputError(f"{path}: key {key!r} is missing")
    return stats


def read_sequences_bed(data_dir: str | os.PathLike, split: str | None = None) -> pd.DataFrame:
    """Read ``sequences.bed`` (target regions in TFRecord order).

    Returns:
        DataFrame with columns chrom, start, end (bp) and split, in file order (index reset),
        restricted to ``split`` if given.
    """
    path = Path(data_dir) / "sequences.bed"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sequences.bed not found")
    bed = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "split"],
        usecols=[0, 1, 2, 3],
        dtype={"chrom": str, "start": np.int64, "end": np.int64, "split": str},
    )
    if split is not None:
        bed = bed[bed["split"] == split].reset_index(drop=True)
    return bed


def split_files(data_dir: str | os.PathLike, split_label: str, tfr_pattern=None) -> list[str]:
    """TFRecord files of a split in natural order (train-2 before train-10)."""
    pattern = tfr_pattern or f"{split_label}-*.tfr"
    return natsorted(str(p) for p in (Path(data_dir) / "tfrecords").glob(pattern))


def _first_record(files: Sequence[str]) -> tuple[str, bytes] | None:
    for path in files:
        for raw in tf.data.TFRecordDataset(path, compression_type="ZLIB").take(1):
            return path, raw.numpy()
    return None


class SeqDataset:
    """One split of a data directory as a tf.data pipeline.

    Args:
        data_dir: directory with statistics.json and tfrecords/.
        split_label: "train", "valid", "test" or "fold{k}".
        batch_size: sequences per batch.
        shuffle_buffer: records in the shuffle buffer (train mode).
        mode: "train" (files shuffled, repeated, 4 files interleaved, records shuffled) or
            "eval" (one pass, files in natural order, records in sequences.bed order, last
            partial batch kept).
        tfr_pattern: glob under ``tfrecords/`` instead of ``{split}-*.tfr`` (num_seqs is
            then counted by reading the files).
        seq_length_crop: keep only the central ``seq_length_crop`` bp of each sequence.
        seed: seed of the train-mode shuffles (None: different every run).

    Attributes:
        dataset: ``(sequence float32 [B, seq_length, 4], targets float32 [B, target_length,
            num_targets])``; N bases are all-zero rows.
        seq_length: bp per yielded sequence (after ``seq_length_crop``).
        seq_depth, target_length (bins), num_targets, pool_width (bp), crop_bp, num_seqs,
        encoding ("index" or "onehot"), files.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike,
        split_label: str,
        batch_size: int,
        shuffle_buffer: int = 128,
        mode: str = "eval",
        tfr_pattern: str | None = None,
        seq_length_crop: int | None = None,
        seed: int | None = None,
    ):
        if mode not in ("train", "eval"):
            raise ValueError(f"mode must be 'train' or 'eval', not {mode!r}")
        self.data_dir = str(data_dir)
        self.split_label = split_label
        self.batch_size = batch_size
        self.shuffle_buffer = shuffle_buffer
        self.mode = mode
        self.seed = seed
        stats = read_statistics(data_dir)
        self.stats = stats
        self.stored_seq_length = int(stats["seq_length"])
        self.seq_depth = int(stats.get("seq_depth", 4))
        self.target_length = int(stats["target_length"])
        self.num_targets = int(stats["num_targets"])
        self.pool_width = int(stats.get("pool_width", 1))
        self.crop_bp = int(stats.get("crop_bp", 0))
        if seq_length_crop is not None and not 0 < seq_length_crop <= self.stored_seq_length:
            raise InputError(
                f"seq_length_crop {seq_length_crop} must be in 1..{self.stored_seq_length} bp"
            )
        self.seq_length = seq_length_crop or self.stored_seq_length
        self._crop_left = (self.stored_seq_length - self.seq_length) // 2

        self.files = split_files(data_dir, split_label, tfr_pattern)
        if not self.files:
            raise InputError(
                f"{Path(data_dir) / 'tfrecords'}: no TFRecord files for split {split_label!r}"
                f" (pattern {tfr_pattern or split_label + '-*.tfr'})"
            )
        self.encoding = self._detect_encoding(stats.get("seq_1hot"))
        if tfr_pattern is None and f"{split_label}_seqs" in stats:
            self.num_seqs = int(stats[f"{split_label}_seqs"])
        else:
            self.num_seqs = sum(
                1
                for f in self.files
                for _ in tf.data.TFRecordDataset(f, compression_type="ZLIB")
            )
        self.dataset = self._make_dataset(mode)

    def _detect_encoding(self, seq_1hot) -> str:
        """Encoding from the first record's size, checked against statistics.json."""
        first = _first_record(self.files)
        stats_path = Path(self.data_dir) / "statistics.json"
        if first is None:
            return "index" if seq_1hot else "onehot"
        path, raw = first
        example = tf.train.Example.FromString(raw)
        size = len(example.features.feature["sequence"].bytes_list.value[0])
        if size == self.stored_seq_length:
            encoding = "index"
        elif size == self.stored_seq_length * self.seq_depth:
            encoding = "onehot"
        else:
            raise InputError(
                f"{path}: record sequence has {size} bytes but {stats_path} says seq_length "
                f"{self.stored_seq_length} ({self.stored_seq_length} bytes as indexes or "
                f"{self.stored_seq_length * self.seq_depth} one-hot); the file does not "
                "belong to this statistics.json"
            )
        if seq_1hot is not None and bool(seq_1hot) != (encoding == "index"):
            raise InputError(
                f"{path}: records are {encoding}-encoded but {stats_path} has seq_1hot "
                f"{str(bool(seq_1hot)).lower()}; fix statistics.json"
            )
        return encoding

    def _parser(self, path: tf.Tensor):
        seq_bytes = (
            self.stored_seq_length if self.encoding == "index" else self.stored_seq_length * 4
        )
        target_bytes = self.target_length * self.num_targets * 2
        features = {
            "sequence": tf.io.FixedLenFeature([], tf.string),
            "target": tf.io.FixedLenFeature([], tf.string),
        }

        def parse(raw):
            parsed = tf.io.parse_single_example(raw, features)
            seq = tf.io.decode_raw(parsed["sequence"], tf.uint8)
            targets = tf.io.decode_raw(parsed["target"], tf.float16)
            checks = [
                tf.debugging.assert_equal(
                    tf.size(seq),
                    seq_bytes,
                    message=tf.strings.join(
                        [path, ": sequence size disagrees with statistics.json"]
                    ),
                ),
                tf.debugging.assert_equal(
                    tf.size(targets) * 2,
                    target_bytes,
                    message=tf.strings.join(
                        [path, ": target size disagrees with statistics.json"]
                    ),
                ),
            ]
            with tf.control_dependencies(checks):
                if self.encoding == "index":
                    seq = tf.one_hot(tf.cast(seq, tf.int32), 5, dtype=tf.float32)[:, :4]
                else:
                    seq = tf.cast(tf.reshape(seq, [self.stored_seq_length, 4]), tf.float32)
                targets = tf.reshape(targets, [self.target_length, self.num_targets])
            if self.seq_length != self.stored_seq_length:
                seq = seq[self._crop_left : self._crop_left + self.seq_length]
            return seq, tf.cast(targets, tf.float32)

        return parse

    def _file_records(self, path: tf.Tensor) -> tf.data.Dataset:
        return tf.data.TFRecordDataset(path, compression_type="ZLIB").map(self._parser(path))

    def _make_dataset(self, mode: str) -> tf.data.Dataset:
        files = tf.data.Dataset.from_tensor_slices(self.files)
        if mode == "train":
            files = files.shuffle(len(self.files), seed=self.seed, reshuffle_each_iteration=True)
            records = files.repeat().interleave(
                self._file_records,
                cycle_length=4,
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=self.seed is not None,
            )
            records = records.shuffle(
                self.shuffle_buffer, seed=self.seed, reshuffle_each_iteration=True
            )
        else:
            records = files.flat_map(self._file_records)
        return records.batch(self.batch_size).prefetch(tf.data.AUTOTUNE)

    def batches_per_epoch(self) -> int:
        """num_seqs // batch_size (the original's definition; train mode repeats)."""
        return self.num_seqs // self.batch_size

    def distribute(self, strategy: tf.distribute.Strategy):
        """The dataset distributed over ``strategy``'s replicas (batch = global batch)."""
        return strategy.experimental_distribute_dataset(self.dataset)

    def numpy(
        self,
        return_inputs: bool = False,
        return_outputs: bool = True,
        step: int = 1,
        dtype: str = "float16",
    ):
        """The whole split as numpy arrays, in sequences.bed order.

        Args:
            return_inputs: include one-hot sequences [n, seq_length, 4].
            return_outputs: include targets [n, target_length // step (ceil), num_targets].
            step: keep every ``step``-th bin.
            dtype: dtype of the returned arrays.

        Returns:
            (sequences, targets), or just one of them.

        Differences from the original: index-encoded sequences come back one-hot (the
        original returns the raw codes shaped [L, 1]); use ``dna.hot1_index`` for codes.
        """
        seqs, targets = [], []
        for seq, tgt in self._make_dataset("eval"):
            if return_inputs:
                seqs.append(seq.numpy().astype(dtype))
            if return_outputs:
                targets.append(tgt.numpy()[:, ::step].astype(dtype))
        out = []
        if return_inputs:
            out.append(np.concatenate(seqs) if seqs else np.zeros((0, self.seq_length, 4), dtype))
        if return_outputs:
            empty = np.zeros((0, len(range(0, self.target_length, step)), self.num_targets), dtype)
            out.append(np.concatenate(targets) if targets else empty)
        return out[0] if len(out) == 1 else tuple(out)


def decode_file(path: str | os.PathLike, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw contents of one TFRecord file, for checks and tests.

    Returns:
        (uint8 codes [n, seq_length] whatever the encoding, float16 target bytes [n, -1]).
    """
    codes, targets = [], []
    for raw in tf.data.TFRecordDataset(str(path), compression_type="ZLIB"):
        feature = tf.train.Example.FromString(raw.numpy()).features.feature
        seq = np.frombuffer(feature["sequence"].bytes_list.value[0], np.uint8)
        if len(seq) == 4 * seq_length:
            seq = hot1_index(seq.reshape(seq_length, 4))
        codes.append(seq)
        targets.append(np.frombuffer(feature["target"].bytes_list.value[0], "<f2"))
    if not codes:
        return np.zeros((0, seq_length), np.uint8), np.zeros((0, 0), np.float16)
    return np.stack(codes), np.stack(targets)

"""Reading a data directory with TensorFlow: the tf.data pipeline of one split.

The files' contract (and the writer, which needs no TensorFlow) is in
:mod:`basenji_tf.tfrecords`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from basenji_tf.dna import hot1_index
from basenji_tf.errors import InputError
from basenji_tf.tfrecords import read_statistics, split_files


def without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with tf.data's autotuner off (AUTOTUNE parallelism and buffers untuned).

    Measured here (2 cores, TF 2.21): with the autotuner on, a fresh iterator per epoch
    made whole training steps run on one core in about half of the epochs (wall time =
    CPU time, 1.7x the step time of the other epochs, on the small and the full Basenji2
    alike); with it off no epoch did (full Basenji2: 5.8-6.0 s per step, 7 epochs in a
    row; docs/train.md).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _first_record(files: Sequence[str]) -> tuple[str, bytes] | None:
    for path in files:
        for raw in tf.data.TFRecordDataset(path, compression_type="ZLIB").take(1):
            return path, raw.numpy()
    return None


@contextlib.contextmanager
def naming_corrupt_records(files: Sequence[str | os.PathLike]) -> Iterator[None]:
    """Re-raise a TFRecord ``DataLossError`` as an ``InputError`` naming the corrupt file.

    TensorFlow's message ("corrupted record at 1234") does not say which file of a
    pipeline failed; ``files`` are then read one by one to find it.
    """
    try:
        yield
    except tf.errors.DataLossError as err:
        raise InputError(corrupt_records_line(files, err)) from None


def corrupt_records_line(files: Sequence[str | os.PathLike], err: Exception) -> str:
    """The one-line error for a ``DataLossError`` raised while reading ``files``."""
    fix = (
        "write it again (delete it and rerun basenji_data.py --restart, or rebuild the "
        "data directory)"
    )
    for path in files:
        try:
            tf.data.TFRecordDataset(str(path), compression_type="ZLIB").reduce(
                np.int64(0), lambda count, _: count + 1
            )
        except tf.errors.DataLossError as file_err:
            return f"{path}: corrupt or truncated TFRecord file ({_tf_reason(file_err)}); {fix}"
    return f"a TFRecord file is corrupt or truncated ({_tf_reason(err)}); {fix}"


def _tf_reason(err: Exception) -> str:
    """The first line of a TensorFlow error message, without its op and node details."""
    text = getattr(err, "message", None) or str(err)
    return text.strip().splitlines()[0].split(" [[")[0].split(" [Op:")[0].strip()


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
        with naming_corrupt_records(self.files):
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

    def _parse(self, path: tf.Tensor, raw: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """One serialized record of ``path`` -> (sequence [seq_length, 4], targets [bins, T])."""
        seq_bytes = (
            self.stored_seq_length if self.encoding == "index" else self.stored_seq_length * 4
        )
        target_bytes = self.target_length * self.num_targets * 2
        features = {
            "sequence": tf.io.FixedLenFeature([], tf.string),
            "target": tf.io.FixedLenFeature([], tf.string),
        }
        parsed = tf.io.parse_single_example(raw, features)
        seq = tf.io.decode_raw(parsed["sequence"], tf.uint8)
        targets = tf.io.decode_raw(parsed["target"], tf.float16)
        checks = [
            tf.debugging.assert_equal(
                tf.size(seq),
                seq_bytes,
                message=tf.strings.join([path, ": sequence size disagrees with statistics.json"]),
            ),
            tf.debugging.assert_equal(
                tf.size(targets) * 2,
                target_bytes,
                message=tf.strings.join([path, ": target size disagrees with statistics.json"]),
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

    @staticmethod
    def _file_records(path: tf.Tensor) -> tf.data.Dataset:
        """(path, serialized record) pairs of one file; the path names it in errors."""
        records = tf.data.TFRecordDataset(path, compression_type="ZLIB")
        return records.map(lambda raw: (path, raw))

    def _make_dataset(self, mode: str) -> tf.data.Dataset:
        # As the original, the shuffle buffer holds serialized records (~L bytes each), and
        # they are decoded after it, in parallel and in order: a buffer of decoded float32
        # one-hot sequences would be 16x larger and slower to refill each epoch.
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
        examples = records.map(self._parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return without_autotune(examples.batch(self.batch_size).prefetch(tf.data.AUTOTUNE))

    def batches(self) -> Iterator[tuple[tf.Tensor, tf.Tensor]]:
        """Iterate over :attr:`dataset`; a corrupt file is an ``InputError`` naming it."""
        with naming_corrupt_records(self.files):
            yield from self.dataset

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

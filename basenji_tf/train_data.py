"""What the training loop consumes: one :class:`DataSource` per dataset (one per head).

:func:`seq_data_source` reads a ``basenji_data.py`` directory's ``train`` and ``valid``
splits; :func:`array_data_source` wraps in-memory arrays (tests, benchmarks). Both build a
new, seeded training pipeline each epoch so that a resumed run shuffles exactly as an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from basenji_tf.dataset import SeqDataset
from basenji_tf.errors import InputError
from basenji_tf.params import TrainParams


@dataclasses.dataclass
class DataSource:
    """One dataset (one head) as the loop consumes it.

    Attributes:
        train: epoch -> dataset of (x [B, L_bp, 4], y [B, L_bins, T]) global batches, at
            least ``steps_per_epoch`` of them (usually repeating).
        valid: () -> the validation batches, one deterministic pass (partial last batch ok).
        steps_per_epoch: training batches per epoch.
        name: for log lines.
    """

    train: Callable[[int], tf.data.Dataset]
    valid: Callable[[], tf.data.Dataset]
    steps_per_epoch: int
    name: str = "data"


def seq_data_source(
    data_dir: str | os.PathLike,
    settings: TrainParams,
    seed: int | None = None,
    tfr_train: str | None = None,
    tfr_eval: str | None = None,
) -> DataSource:
    """A :class:`DataSource` over a data directory's ``train`` and ``valid`` splits.

    The training pipeline is rebuilt each epoch with seed ``seed + epoch`` so that a
    resumed run shuffles exactly as an uninterrupted one.
    """
    probe = SeqDataset(data_dir, "train", settings.batch_size, mode="eval", tfr_pattern=tfr_train)
    steps = probe.batches_per_epoch()
    if steps < 1:
        raise InputError(
            f"{data_dir}: {probe.num_seqs} training sequences make no full batch of "
            f"{settings.batch_size}; lower train.batch_size"
        )
    valid = SeqDataset(data_dir, "valid", settings.batch_size, mode="eval", tfr_pattern=tfr_eval)

    def train(epoch: int) -> tf.data.Dataset:
        return SeqDataset(
            data_dir,
            "train",
            settings.batch_size,
            shuffle_buffer=settings.shuffle_buffer,
            mode="train",
            tfr_pattern=tfr_train,
            seed=None if seed is None else seed + epoch,
        ).dataset

    return DataSource(train, lambda: valid.dataset, steps, name=str(data_dir))


def array_data_source(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    batch_size: int,
    seed: int | None = None,
    name: str = "arrays",
) -> DataSource:
    """A :class:`DataSource` over in-memory arrays (shuffled each epoch, seeded per epoch).

    Args:
        x_train: float32 [n, seq_length_bp, 4].
        y_train: float32 [n, length_bins, num_targets].
        x_valid: float32 [m, seq_length_bp, 4].
        y_valid: float32 [m, length_bins, num_targets].
        batch_size: sequences per batch.
        seed: shuffle seed of epoch 0 (``seed + epoch`` later; None: unseeded).
        name: for log lines.
    """
    n = len(x_train)

    def train(epoch: int) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((x_train, y_train))
        ds = ds.shuffle(n, seed=None if seed is None else seed + epoch)
        return ds.repeat().batch(batch_size, drop_remainder=True)

    def valid() -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((x_valid, y_valid)).batch(batch_size)

    return DataSource(train, valid, n // batch_size, name=name)

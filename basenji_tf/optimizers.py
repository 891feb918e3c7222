"""Learning-rate schedules, optimizers and gradient clipping of the ``train`` params section.

Schedules are in optimizer steps (summed over datasets): a constant rate, a linear
warm-up (``warmup_steps``), and the original's one-cycle schedule (``Cyclical1``).

Differences from the original: ``adamw`` is Keras' AdamW (the original used TensorFlow
Addons, now unmaintained).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from basenji_tf.params import TrainParams


@keras.saving.register_keras_serializable(package="basenji_tf")
class Cyclical1(keras.optimizers.schedules.LearningRateSchedule):
    """One triangular cycle, then a constant final rate.

    Over steps [0, 2*step_size) the rate rises linearly from ``initial`` to ``maximal``
    at ``step_size`` and falls back; from ``2*step_size`` on it is ``final``.
    """

    def __init__(self, initial: float, maximal: float, final: float, step_size: int):
        self.initial, self.maximal, self.final = initial, maximal, final
        self.step_size = step_size

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        x = tf.abs(step / self.step_size - 1.0)
        cycle = self.initial + (self.maximal - self.initial) * tf.maximum(0.0, 1.0 - x)
        return tf.where(step < 2 * self.step_size, cycle, tf.cast(self.final, tf.float32))

    def get_config(self):
        return {
            "initial": self.initial,
            "maximal": self.maximal,
            "final": self.final,
            "step_size": self.step_size,
        }


@keras.saving.register_keras_serializable(package="basenji_tf")
class WarmUp(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to ``peak`` over ``warmup_steps``, then ``after(step - warmup)``."""

    def __init__(self, peak: float, warmup_steps: int, after=None):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.after = after

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * step / self.warmup_steps
        later = self.after(step - self.warmup_steps) if self.after is not None else self.peak
        return tf.where(step < self.warmup_steps, warm, tf.cast(later, tf.float32))

    def get_config(self):
        after = keras.saving.serialize_keras_object(self.after) if self.after else None
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "after": after}

    @classmethod
    def from_config(cls, config):
        after = config.get("after")
        if after is not None:
            after = keras.saving.deserialize_keras_object(after)
        return cls(config["peak"], config["warmup_steps"], after)


def make_learning_rate(
    settings: TrainParams, steps_per_epoch: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """A float or a schedule of optimizer steps (``steps_per_epoch`` summed over datasets)."""
    cycle_keys = (
        settings.initial_learning_rate,
        settings.maximal_learning_rate,
        settings.final_learning_rate,
        settings.train_epochs_cycle1,
    )
    if all(k is not None for k in cycle_keys):
        schedule = Cyclical1(
            settings.initial_learning_rate,
            settings.maximal_learning_rate,
            settings.final_learning_rate,
            settings.train_epochs_cycle1 * steps_per_epoch,
        )
        if settings.warmup_steps > 0:
            return WarmUp(float(settings.initial_learning_rate), settings.warmup_steps, schedule)
        return schedule
    if settings.warmup_steps > 0:
        return WarmUp(float(settings.learning_rate), settings.warmup_steps)
    return float(settings.learning_rate)


def make_optimizer(settings: TrainParams, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimizer of ``settings``, without clipping (see :func:`clip_gradients`).

    Args:
        settings: the parsed ``train`` section.
        steps_per_epoch: optimizer steps per epoch over all datasets (for schedules).
    """
    rate = make_learning_rate(settings, steps_per_epoch)
    if settings.optimizer in ("sgd", "momentum"):
        return keras.optimizers.SGD(rate, momentum=settings.momentum)
    if settings.optimizer == "adam":
        return keras.optimizers.Adam(rate, beta_1=settings.adam_beta1, beta_2=settings.adam_beta2)
    return keras.optimizers.AdamW(
        rate,
        weight_decay=settings.weight_decay,
        beta_1=settings.adam_beta1,
        beta_2=settings.adam_beta2,
    )


def clip_gradients(grads: Sequence[tf.Tensor], settings: TrainParams) -> list[tf.Tensor]:
    """Per-variable (``clip_norm``) or global (``global_clipnorm``) norm clipping.

    The training loop clips the all-reduced gradient of the global batch; Keras 3
    optimizers would clip each replica's partial gradient before reducing, which changes
    results with the number of devices.
    """
    if settings.clip_norm:
        return [tf.clip_by_norm(g, settings.clip_norm) for g in grads]
    if settings.global_clipnorm:
        return tf.clip_by_global_norm(list(grads), settings.global_clipnorm)[0]
    return list(grads)

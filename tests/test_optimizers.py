"""Learning-rate schedules, optimizers and gradient clipping."""

import keras
import numpy as np
import tensorflow as tf

from basenji_tf import optimizers
from basenji_tf.params import parse_train_params


def test_schedules_cycle_and_warmup():
    settings = parse_train_params(
        {
            "learning_rate": 0.1,
            "initial_learning_rate": 0.01,
            "maximal_learning_rate": 0.1,
            "final_learning_rate": 0.001,
            "train_epochs_cycle1": 2,
            "warmup_steps": 4,
        }
    )
    rate = optimizers.make_learning_rate(settings, steps_per_epoch=5)  # step size 10
    values = [float(rate(s)) for s in (0, 2, 4, 9, 14, 23, 24)]
    np.testing.assert_allclose(values, [0, 0.005, 0.01, 0.055, 0.1, 0.019, 0.001], atol=1e-7)
    warm = optimizers.make_learning_rate(
        parse_train_params({"learning_rate": 2, "warmup_steps": 10}), 3
    )
    np.testing.assert_allclose([float(warm(s)) for s in (0, 5, 10, 50)], [0, 1, 2, 2])
    opt = optimizers.make_optimizer(
        parse_train_params({"optimizer": "adamw", "weight_decay": 0.01}), 3
    )
    assert isinstance(opt, keras.optimizers.AdamW) and opt.weight_decay == 0.01


def test_clip_gradients():
    grads = [tf.constant([3.0, 4.0]), tf.constant([0.0, 12.0])]
    per_var = optimizers.clip_gradients(grads, parse_train_params({"clip_norm": 1}))
    np.testing.assert_allclose([np.linalg.norm(g) for g in per_var], [1, 1], rtol=1e-6)
    glob = optimizers.clip_gradients(grads, parse_train_params({"global_clipnorm": 6.5}))
    np.testing.assert_allclose(glob[1].numpy(), [0, 6.0], rtol=1e-6)

"""The ``train`` params section: defaults, aliases and errors."""

import pytest

from basenji_tf.errors import InputError
from basenji_tf.params import parse_train_params


def test_parse_train_params_defaults_aliases_and_errors():
    settings = parse_train_params({"clipnorm": 2, "loss": "Poisson", "train_epochs": 60})
    assert settings.clip_norm == 2 and settings.loss == "poisson"
    assert settings.batch_size == 4 and settings.patience == 20 and settings.momentum == 0.99
    with pytest.raises(InputError, match="unknown train key.*learnin_rate"):
        parse_train_params({"learnin_rate": 0.1}, "p.json")
    with pytest.raises(InputError, match="loss 'l1'"):
        parse_train_params({"loss": "l1"})

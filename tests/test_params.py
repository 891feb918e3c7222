"""The params file: reading, and every section's keys, types and ranges."""

import json

import pytest

from basenji_tf.errors import InputError
from basenji_tf.params import (
    parse_model_params,
    parse_train_params,
    parse_transfer_params,
    read_params,
)


def test_parse_train_params_defaults_aliases_and_errors():
    settings = parse_train_params({"clipnorm": 2, "loss": "Poisson", "train_epochs": 60})
    assert settings.clip_norm == 2 and settings.loss == "poisson"
    assert settings.batch_size == 4 and settings.patience == 20 and settings.momentum == 0.99
    with pytest.raises(InputError, match="unknown train key.*learnin_rate"):
        parse_train_params({"learnin_rate": 0.1}, "p.json")
    with pytest.raises(InputError, match="loss 'l1'"):
        parse_train_params({"loss": "l1"})


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("batch_size", 0, "train.batch_size: 0 is not an integer >= 1"),
        ("batch_size", 2.5, "train.batch_size: 2.5 is not an integer >= 1"),
        ("batch_size", "8", "train.batch_size: '8' is not an integer >= 1"),
        ("batch_size", True, "train.batch_size: True is not an integer >= 1"),
        ("learning_rate", 0, "train.learning_rate: 0 is not a number > 0"),
        ("learning_rate", None, "train.learning_rate: None is not a number > 0"),
        ("momentum", 1.0, r"train.momentum: 1.0 is not a number >= 0 and < 1"),
        ("train_epochs_min", 0, "train.train_epochs_min: 0 is not an integer >= 1"),
        ("train_epochs_max", -1, "train.train_epochs_max: -1 is not an integer >= 1"),
        ("clip_norm", 0, r"train.clip_norm: 0 is not a number > 0 \(or null\)"),
        ("warmup_steps", -5, "train.warmup_steps: -5 is not an integer >= 0"),
        ("num_gpu", 0, "train.num_gpu: 0 is not an integer >= 1"),
    ],
)
def test_train_values_have_types_and_ranges(key, value, message):
    with pytest.raises(InputError, match=rf"p\.json: {message}; fix the value"):
        parse_train_params({key: value}, "p.json")


def test_train_epoch_bounds_agree():
    assert parse_train_params({"clip_norm": None, "train_epochs_min": 3}).clip_norm is None
    with pytest.raises(InputError, match="train_epochs_max 2 is below train_epochs_min 3"):
        parse_train_params({"train_epochs_min": 3, "train_epochs_max": 2})


def _model(**changes):
    model = {
        "seq_length": 1024,
        "trunk": [
            {"name": "conv_block", "filters": 8, "kernel_size": 5, "pool_size": 4},
            {"name": "conv_tower", "filters_init": 8, "filters_mult": 1.2, "repeat": 2,
             "pool_size": 2, "kernel_size": 3},
            {"name": "dilated_residual", "filters": 4, "rate_mult": 2, "repeat": 2,
             "dropout": 0.2},
            {"name": "Cropping1D", "cropping": 8},
        ],
        "head_human": {"name": "final", "units": 3, "activation": "softplus"},
    }  # fmt: skip
    model.update(changes)
    return model


def test_model_geometry_and_block_values():
    assert parse_model_params(_model(), "p.json").seq_length == 1024
    cases = [
        (_model(seq_length=0), "model.seq_length: 0 is not an integer >= 1"),
        (_model(seq_length=1000), r"model.trunk\[1\] \(conv_tower\): 125 positions do not"),
        (_model(seq_length=1026), r"model.trunk\[0\] \(conv_block\): 1026 positions do not"),
        (_model(seq_length=256), r"model.trunk\[3\] \(Cropping1D\): cropping leaves no bins"),
        (_model(augment_rc="yes"), "model.augment_rc: must be true or false"),
        (_model(trunk={"name": "conv_block"}), "model.trunk: must be a list of block objects"),
        (_model(head_human=[{"units": 3}]), r"model.head_human\[0\]: block without a \"name\""),
    ]
    for model, message in cases:
        with pytest.raises(InputError, match=rf"p\.json: {message}"):
            parse_model_params(model, "p.json")
    for index, key, value, rule in [
        (0, "filters", 0, "an integer >= 1"),
        (0, "kernel_size", 0.5, "an integer >= 1"),
        (2, "dropout", 1, "a number >= 0 and < 1"),
        (2, "rate_mult", -2, "a number > 0"),
    ]:
        model = _model()
        model["trunk"][index] = {**model["trunk"][index], key: value}
        name = model["trunk"][index]["name"]
        with pytest.raises(InputError, match=rf"model.trunk\[{index}\] \({name}\).{key}: .*{rule}"):
            parse_model_params(model, "p.json")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not valid JSON"),
        (b"[1, 2]", "holds a JSON list, not an object"),
        (b'{"train": {}}', "params file needs a 'model' section"),
        (b'{"model": [1]}', "model: must be a JSON object"),
        (b'{"model": {}, "train": 3}', "train: must be a JSON object"),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
)
def test_read_params_errors(tmp_path, content, message):
    path = tmp_path / "p.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=rf"p\.json: {message}"):
        read_params(path)


def test_published_params_pass(repo):
    for path in sorted((repo / "models").glob("*.json")):
        params = read_params(path)
        parse_model_params(params["model"], str(path))
        parse_train_params(params.get("train", {}), str(path))
    assert json.loads((repo / "models" / "params_tiny.json").read_text())["model"]


def test_transfer_section_defaults_and_baskerville_files():
    assert parse_transfer_params({"model": {}}) is None
    settings = parse_transfer_params({"transfer": {"mode": "adapter", "adapter": "locon"}})
    assert (settings.adapter_latent, settings.conv_select, settings.conv_latent) == (8, 4, 4)
    assert (settings.lora_alpha, settings.locon_alpha) == (16, 1)
    # the successor library's houlsby_se file
    se = {"mode": "adapter", "adapter": "houlsby_se", "adapter_latent": 8, "conv_select": 4,
          "conv_latent": 16}  # fmt: skip
    assert parse_transfer_params({"transfer": se}).conv_latent == 16
    assert parse_transfer_params({"transfer": {"mode": "linear"}}).adapter is None


@pytest.mark.parametrize(
    "transfer, message",
    [
        ({"mode": "lora"}, r"transfer.mode: 'lora' is not one of full, linear, adapter"),
        ({"mode": "adapter"}, r"transfer.adapter: None is not one of lora, .*needs one"),
        ({"mode": "adapter", "adapter": "prefix"}, r"transfer.adapter: 'prefix' is not one"),
        (
            {"mode": "linear", "adapter": "lora"},
            r"transfer.adapter 'lora' is only read with mode 'adapter', not 'linear'",
        ),
        ({"mode": "adapter", "adapter": "lora", "rank": 4}, r"unknown transfer key\(s\) rank"),
        ({"adapter_latent": 0}, r"transfer.adapter_latent: 0 is not an integer >= 1"),
        ({"conv_select": 2.0}, r"transfer.conv_select: 2.0 is not an integer >= 1"),
        ({"lora_alpha": 0}, r"transfer.lora_alpha: 0 is not a number > 0"),
        ({"locon_alpha": "1"}, r"transfer.locon_alpha: '1' is not a number > 0"),
    ],
)
def test_transfer_values_are_checked(transfer, message):
    with pytest.raises(InputError, match=rf"^p\.json: {message}"):
        parse_transfer_params({"transfer": transfer}, "p.json")


def test_transfer_section_must_be_an_object(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"model": {}, "transfer": ["full"]}))
    with pytest.raises(InputError, match="transfer: must be a JSON object"):
        read_params(path)


def test_model_adapter_keys():
    params = parse_model_params(
        _model(adapter="houlsby_se", adapter_latent=4, se_rank=2, conv_select=3)
    )
    assert (params.adapter, params.adapter_latent, params.se_rank, params.conv_select) == (
        "houlsby_se", 4, 2, 3
    )  # fmt: skip
    assert parse_model_params(_model()).adapter is None
    with pytest.raises(InputError, match="model.adapter: 'lora' is not one of houlsby"):
        parse_model_params(_model(adapter="lora"), "p.json")
    with pytest.raises(InputError, match="model.se_rank: 0 is not an integer >= 1"):
        parse_model_params(_model(adapter="houlsby_se", se_rank=0), "p.json")

"""Block arithmetic the released architectures depend on."""

import keras
import pytest

from basenji_tf import blocks


@pytest.mark.parametrize(
    "rate_init, rate_mult, repeat, rounded, expected",
    [
        (1, 1.5, 11, True, [1, 2, 3, 4, 6, 9, 14, 21, 32, 48, 72]),  # Basenji2
        (1, 1.75, 10, False, [1, 2, 3, 5, 9, 16, 29, 50, 88, 154]),  # original train_full
        (1, 2, 6, False, [1, 2, 4, 8, 16, 32]),  # tutorial
        (2, 2, 6, False, [2, 4, 8, 16, 32, 64]),  # Basenji 2018
    ],
)
def test_dilation_rates(rate_init, rate_mult, repeat, rounded, expected):
    assert blocks.dilation_rates(rate_init, rate_mult, repeat, rounded) == expected


def test_conv_tower_filters_round_half_even():
    x = keras.Input((64, 4))
    out = blocks.build_block(
        x,
        {
            "name": "conv_tower",
            "filters_init": 339,
            "filters_mult": 1.1776,
            "kernel_size": 5,
            "repeat": 6,
        },
        {},
        name="tower",
    )
    model = keras.Model(x, out)
    filters = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    assert filters == [339, 399, 470, 554, 652, 768]


def test_conv_block_layer_order_and_bias():
    x = keras.Input((9, 4))
    out = blocks.build_block(
        x,
        {
            "name": "conv_block",
            "filters": 6,
            "kernel_size": 3,
            "pool_size": 2,
            "dropout": 0.1,
            "activation_end": "relu",
        },
        {"activation": "gelu", "norm_type": "batch", "bn_momentum": 0.9},
        name="b",
    )
    model = keras.Model(x, out)
    names = [layer.name for layer in model.layers[1:]]
    assert names == ["b_act", "b_conv", "b_bn", "b_dropout", "b_act_end", "b_pool"]
    conv, bn = model.get_layer("b_conv"), model.get_layer("b_bn")
    assert not conv.use_bias and conv.padding == "same"
    assert bn.momentum == 0.9 and bn.epsilon == 1e-3
    assert tuple(model.output.shape) == (None, 5, 6)  # 'same' pooling rounds 9/2 up


def test_no_norm_means_bias_and_scale():
    x = keras.Input((16, 8))
    out = blocks.build_block(
        x, {"name": "dilated_residual", "filters": 4, "repeat": 1}, {"activation": "relu"}, name="d"
    )
    model = keras.Model(x, out)
    assert model.get_layer("d_r0_a_conv").use_bias
    assert [w.name for w in model.get_layer("d_r0_scale").weights] == ["scale"]


def test_keras_passthrough_gets_only_its_globals():
    x = keras.Input((16, 8))
    out = blocks.build_block(
        x,
        {"name": "Cropping1D", "cropping": 2},
        {"activation": "gelu", "norm_type": "batch"},
        name="crop",
    )
    assert tuple(out.shape) == (None, 12, 8)
    with pytest.raises(ValueError, match="unknown keyword.*crop;"):
        blocks.build_block(x, {"name": "Cropping1D", "crop": 2}, {}, name="bad")

"""upgrade_tf1.py: 2018 TF1 checkpoints -> our model file, predictions against a TF1 graph.

The fixture writes, in a graph-mode subprocess, a TF1 checkpoint with the 2018 code's
variable names and shapes (``cnn{i}/conv1d/kernel``, ``cnn{i}/batch_normalization/*``,
``final/dense/*``, an Adam slot, ``global_step``) for a small 2018-style params.txt, and
the predictions of the 2018 inference graph written with TF1 ops from the same variables
(ReLU -> conv -> batch norm -> [concat] -> max pool per layer, ReLU, the batch_buffer crop,
dense, exp_linear), as basenji/layers.py and seqnn.py of 2018 compute them.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import upgrade_tf1
from basenji_tf.errors import InputError
from basenji_tf.legacy_params import convert_params_txt
from basenji_tf.legacy_tf1 import (
    FinalSlice,
    assign_tf1_arrays,
    check_all_used,
    tf1_layer_arrays,
)
from basenji_tf.weights import weighted_layers

# width, dilation, filters, pool, dense: a 2018-shaped stack (two dense dilated layers)
LAYERS = [(7, 1, 12, 4, 0), (3, 1, 16, 4, 0), (3, 2, 6, 1, 1), (3, 4, 6, 1, 1), (1, 1, 20, 1, 0)]
SEQ_LENGTH, BATCH_BUFFER, TARGETS = 1024, 64, 6

PARAMS_TXT = (
    f"batch_size\t4\nbatch_buffer\t{BATCH_BUFFER}\nseq_length\t{SEQ_LENGTH}\n"
    f"num_targets\t{TARGETS}\ntarget_pool\t16\nlink\texp_linear\nloss\tpoisson\n\n"
    + "\n".join(
        f"cnn_filter_sizes\t{w}\ncnn_filters\t{f}\ncnn_pool\t{p}\ncnn_dilation\t{d}\n"
        f"cnn_dropout\t0.05\ncnn_dense\t{dense}\n"
        for w, d, f, p, dense in LAYERS
    )
)

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    v1 = tf.compat.v1
    prefix, npz, layers = sys.argv[1], sys.argv[2], eval(sys.argv[3])
    seq_length, buffer_bp, targets = (int(a) for a in sys.argv[4:7])
    rng = np.random.default_rng(1)
    f32 = np.float32

    def var(name, values):
        return v1.get_variable(name, initializer=np.asarray(values, f32))

    x_np = np.eye(4, dtype=f32)[rng.integers(0, 4, (3, seq_length))]
    x = v1.placeholder(tf.float32, (None, seq_length, 4))
    h, channels, stride = x, 4, 1
    for i, (width, dilation, filters, pool, dense) in enumerate(layers):
        with v1.variable_scope("cnn%d" % i):
            scale = (2.0 / (width * channels)) ** 0.5
            kernel = var("conv1d/kernel", rng.normal(0, scale, (width, channels, filters)))
            gamma = var("batch_normalization/gamma", rng.uniform(0.5, 1.5, filters))
            beta = var("batch_normalization/beta", rng.normal(0, 0.1, filters))
            mean = var("batch_normalization/moving_mean", rng.normal(0, 0.2, filters))
            variance = var("batch_normalization/moving_variance", rng.uniform(0.5, 2, filters))
            var("conv1d/kernel/Adam", np.zeros((width, channels, filters)))  # training state
        y = tf.nn.convolution(tf.nn.relu(h), kernel, padding="SAME", dilations=[dilation])
        y = tf.nn.batch_normalization(y, mean, variance, beta, gamma, 1e-3)
        if dense:
            y = tf.concat([h, y], axis=2)
            filters += channels
        if pool > 1:
            y = tf.nn.max_pool1d(y, pool, pool, "SAME")
            stride *= pool
        h, channels = y, filters
    crop = buffer_bp // stride
    h = tf.nn.relu(h)[:, crop:-crop]
    with v1.variable_scope("final"):
        weight = var("dense/kernel", rng.normal(0, 0.3, (channels, targets)))
        bias = var("dense/bias", rng.normal(0, 0.1, targets))
    z = tf.tensordot(h, weight, 1) + bias
    preds = tf.where(z > 0, z + 1, tf.exp(tf.clip_by_value(z, -50.0, 50.0)))
    v1.train.get_or_create_global_step()
    v1.get_variable("beta1_power", initializer=f32(0.9))
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        p = sess.run(preds, {x: x_np})
        v1.train.Saver().save(sess, prefix)
    np.savez(npz, x=x_np, preds=p)
    """
)


@pytest.fixture(scope="module")
def tf1_model(tmp_path_factory):
    """(params.txt, checkpoint prefix, input batch, the TF1 graph's predictions)."""
    root = tmp_path_factory.mktemp("tf1")
    params = root / "params.txt"
    params.write_text(PARAMS_TXT)
    prefix, npz = root / "model.tf", root / "tf1_preds.npz"
    args = [str(prefix), str(npz), repr(LAYERS), str(SEQ_LENGTH), str(BATCH_BUFFER), str(TARGETS)]
    subprocess.run(
        [sys.executable, "-c", WRITER, *args], check=True, capture_output=True, timeout=300
    )
    saved = np.load(npz)
    return params, prefix, saved["x"], saved["preds"]


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("final_slice", [None, "1:4"])
def test_converted_model_predicts_as_the_tf1_graph(tf1_model, tmp_path, final_slice, capsys):
    params_txt, prefix, x, want = tf1_model
    assert (prefix.parent / "model.tf.index").is_file()
    out, params_json = tmp_path / "model.h5", tmp_path / "params.json"
    argv = [str(params_txt), str(prefix), str(out), "--params_json", str(params_json)]
    argv += ["-f", final_slice] if final_slice else []
    assert upgrade_tf1.main(argv) == 0
    if final_slice:
        want = want[..., 1:4]
    assert f"-> {want.shape[-1]} targets" in capsys.readouterr().out
    model = seqnn.load(params_json, out)
    got = model.predict(x)
    assert got.shape == want.shape == (3, SEQ_LENGTH // 16 - 2 * BATCH_BUFFER // 16, want.shape[-1])
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def _variables(final="dense"):
    """Checkpoint-like arrays of the LAYERS stack, without TensorFlow 1."""
    rng = np.random.default_rng(2)
    variables, channels = {}, 4
    for i, (width, _, filters, _, dense) in enumerate(LAYERS):
        variables[f"cnn{i}/conv1d/kernel"] = rng.normal(size=(width, channels, filters))
        for name in ("gamma", "beta", "moving_mean", "moving_variance"):
            variables[f"cnn{i}/batch_normalization/{name}"] = rng.uniform(0.5, 1, filters)
        channels = filters + channels * dense
    kernel = rng.normal(size=(channels, TARGETS))
    variables[f"final/{final}/kernel"] = kernel if final == "dense" else kernel[None]
    variables[f"final/{final}/bias"] = rng.normal(size=TARGETS)
    variables["global_step"] = np.int64(10)
    return {k: np.asarray(v, np.float32) for k, v in variables.items()}


def test_layer_order_slices_and_the_seqnn_orig_final(tmp_path):
    variables = _variables()
    groups, used = tf1_layer_arrays(variables)
    assert [what for what, _ in groups[:3]] == ["cnn0 conv", "cnn0 batch norm", "cnn1 conv"]
    assert len(groups) == 2 * len(LAYERS) + 1 and "global_step" not in used
    check_all_used(variables, used, "ckpt")  # global_step is training state
    with pytest.raises(InputError, match="ckpt: variables extra/kernel are not part of"):
        check_all_used({**variables, "extra/kernel": np.zeros(1)}, used, "ckpt")
    orig_variables = _variables("conv1d")
    orig, _ = tf1_layer_arrays(orig_variables, FinalSlice.parse("2:5"))
    kernel = orig_variables["final/conv1d/kernel"]
    assert kernel.shape == (1, 20, TARGETS)
    np.testing.assert_array_equal(orig[-1][1][0], kernel[0, :, 2:5])
    np.testing.assert_array_equal(orig[-1][1][1], orig_variables["final/conv1d/bias"][2:5])
    params = tmp_path / "params.txt"
    params.write_text(PARAMS_TXT)
    model = seqnn.SeqNN(convert_params_txt(params)["model"])
    assign_tf1_arrays(model, groups, "ckpt")
    layers = weighted_layers(model.model)
    np.testing.assert_array_equal(
        layers[1].get_weights()[0], variables["cnn0/batch_normalization/gamma"]
    )
    np.testing.assert_array_equal(layers[-1].get_weights()[0], variables["final/dense/kernel"])


def test_mismatches_are_one_line_errors(tmp_path):
    variables = _variables()
    del variables["cnn2/conv1d/kernel"], variables["cnn2/batch_normalization/gamma"]
    with pytest.raises(InputError, match="cnn2 has no convolution kernel"):
        tf1_layer_arrays(variables)
    with pytest.raises(InputError, match=r"-f '4:2': give the final layer's targets as start:end"):
        FinalSlice.parse("4:2")
    with pytest.raises(InputError, match="the final layer has 6 targets"):
        tf1_layer_arrays(_variables(), FinalSlice(0, 9))
    params = tmp_path / "params.txt"
    params.write_text(PARAMS_TXT.replace("cnn_filters\t20", "cnn_filters\t21"))
    model = seqnn.SeqNN(convert_params_txt(params)["model"])
    groups, _ = tf1_layer_arrays(_variables())
    with pytest.raises(InputError, match=r"ckpt: cnn4 conv has shapes \[\(1, 28, 20\)\]"):
        assign_tf1_arrays(model, groups, "ckpt")

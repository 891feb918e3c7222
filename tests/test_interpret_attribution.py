"""Attribution methods: each one's defining property, on small models with every activation."""

import h5py
import keras
import numpy as np
import pyBigWig
import pytest
import tensorflow as tf

from basenji_tf import layers, seqnn
from basenji_tf.cli import basenji_grad_bed
from basenji_tf.dna import hot1_rc, index_1hot
from basenji_tf.errors import InputError
from basenji_tf.execute import InProcess
from basenji_tf.interpret import METHODS
from basenji_tf.interpret.attribution import attribute, shuffled_references
from basenji_tf.scoring.grad import GradOptions, run_grad_bed

ACTIVATIONS = [
    "relu", "gelu", "gelu_erf", "gelu_sigmoid", "softplus", "exp", "sigmoid", "tanh",
    "exp_linear", "polyrelu",
]  # fmt: skip


def small_seqnn(activation, final="softplus", length=64, seed=0):
    """Conv (pool) -> conv tower with batch norm (pool) -> dilated residual -> final.

    ``activation`` is every block's (blocks are pre-activation: it acts on each block's
    input), except exp: only the first block's (exp of exp of ... overflows), the others
    relu; and polyrelu: all but the first (relu((x - 2)^3) of one-hot input is zero).
    """
    keras.utils.set_random_seed(seed)
    first = {"exp": "exp", "polyrelu": "relu"}.get(activation, activation)
    params = {
        "seq_length": length,
        "activation": "relu" if activation == "exp" else activation,
        "trunk": [
            {"name": "conv_block", "filters": 6, "kernel_size": 5, "pool_size": 2,
             "activation": first},
            {"name": "conv_tower", "filters_init": 6, "filters_mult": 1.0, "kernel_size": 3,
             "pool_size": 2, "repeat": 1, "norm_type": "batch"},
            {"name": "dilated_residual", "filters": 4, "rate_mult": 2, "repeat": 1},
        ],
        "head": {"name": "final", "units": 2, "activation": final},
    }  # fmt: skip
    model = seqnn.SeqNN(params, augment=False).head.model
    if activation == "polyrelu":  # relu((x - 2)^3) is flat below 2: larger inputs
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv1D):
                layer.set_weights([w * 3 for w in layer.get_weights()])
    # batch normalisation with moving statistics of its own: an affine map, not the identity
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            rng = np.random.default_rng(1)
            layer.set_weights([gamma * 1.3, beta + 0.1, mean + rng.normal(0, 0.2, mean.shape),
                               var * 0.7])  # fmt: skip
    return model


def random_seqs(n, length, seed=0):
    seqs = index_1hot(np.random.default_rng(seed).integers(0, 4, (n, length)))
    seqs[0, :5] = 0  # N rows
    return seqs


def objective(model, seqs, rc=False):
    x = hot1_rc(seqs).copy() if rc else seqs
    return np.asarray(model(x, training=False), np.float64).sum(axis=(1, 2))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_deepshap_sums_to_the_difference_from_the_references(activation):
    model = small_seqnn(activation, final="exp" if activation == "relu" else "softplus")
    seqs = random_seqs(2, 64)
    result = attribute(model, seqs, "deepshap", references=3, rows=2, seed=5)
    refs = np.stack([shuffled_references(s, 3, 5) for s in seqs])
    delta = objective(model, seqs) - np.array([objective(model, r).mean() for r in refs])
    assert np.abs(delta).min() > 1e-3  # something to explain
    sums = result.contributions.astype(np.float64).sum(axis=(1, 2))
    np.testing.assert_allclose(sums, delta, rtol=1e-4, atol=1e-5)
    assert result.delta_violation.max() < 1e-4 * (1 + np.abs(delta).max())
    np.testing.assert_array_equal(result.contributions, result.hypothetical * seqs)


def test_deepshap_rules_of_our_softplus_exp_layers_and_max_pooling_with_rc():
    keras.utils.set_random_seed(2)
    inp = keras.Input((48, 4))
    x = keras.layers.Conv1D(5, 5, padding="same")(inp)
    x = layers.Softplus()(x)
    x = keras.layers.MaxPooling1D(3, padding="same")(x)
    x = keras.layers.Conv1D(3, 3, padding="same", activation="gelu")(x)
    x = layers.Exp(base=2.0, minus=1.0)(keras.layers.Dense(2)(x) * 0.3)
    model = keras.Model(inp, x)
    seqs = random_seqs(2, 48, seed=4)
    result = attribute(model, seqs, "deepshap", references=2, rc=True, rows=2)
    refs = np.stack([shuffled_references(s, 2, 0) for s in seqs])
    delta = [
        objective(model, seqs, rc) - np.array([objective(model, r, rc).mean() for r in refs])
        for rc in (False, True)
    ]
    sums = result.contributions.astype(np.float64).sum(axis=(1, 2))
    np.testing.assert_allclose(sums, (delta[0] + delta[1]) / 2, rtol=1e-4, atol=1e-5)


def test_deepshap_leaves_predictions_unchanged_and_refuses_layers_without_a_rule():
    model = small_seqnn("gelu")
    seqs = random_seqs(2, 64)
    before = np.asarray(model(seqs, training=False))
    attribute(model, seqs, "deepshap", references=1)
    np.testing.assert_array_equal(np.asarray(model(seqs, training=False)), before)
    assert all("call" not in layer.__dict__ for layer in model.layers)
    inp = keras.Input((64, 4))
    normed = keras.layers.LayerNormalization()(keras.layers.Conv1D(2, 3)(inp))
    with pytest.raises(InputError, match="no DeepLIFT rule for layer .*LayerNormalization"):
        attribute(keras.Model(inp, normed), seqs, "deepshap", references=1)


def test_integrated_gradients_are_complete_with_enough_steps():
    model = small_seqnn("gelu_sigmoid")
    seqs = random_seqs(2, 64)
    delta = objective(model, seqs) - objective(model, np.zeros_like(seqs))
    coarse = attribute(model, seqs, "integrated_gradients", steps=2, rows=2)
    fine = attribute(model, seqs, "integrated_gradients", steps=64, rows=2)
    sums = fine.contributions.astype(np.float64).sum(axis=(1, 2))
    np.testing.assert_allclose(sums, delta, rtol=2e-3, atol=1e-4)
    assert fine.delta_violation.max() < coarse.delta_violation.max() / 10
    np.testing.assert_allclose(fine.delta_violation, np.abs(sums - delta), rtol=1e-2, atol=1e-5)


def linear_model(length=32):
    """Conv -> batch norm -> average pooling -> conv (bias): affine, no nonlinearity."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((length, 4))
    x = keras.layers.Conv1D(4, 5, padding="same")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.AveragePooling1D(2)(x)
    return keras.Model(inp, keras.layers.Conv1D(2, 3, padding="same")(x))


def test_deeplift_is_input_x_gradient_on_a_linear_model_with_a_zero_reference():
    model = linear_model()
    seqs = random_seqs(3, 32)
    zeros = np.zeros((3, 1, 32, 4), np.float32)
    deeplift = attribute(model, seqs, "deepshap", references=zeros, rows=3)
    ixg = attribute(model, seqs, "input_x_gradient", rows=3)
    np.testing.assert_allclose(deeplift.contributions, ixg.contributions, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(deeplift.hypothetical, ixg.hypothetical, rtol=1e-5, atol=1e-7)


def test_hypothetical_contributions_project_the_multipliers_onto_each_base():
    """One weight per base: hyp[i, b] = w[b] - w . r[i] for a reference r."""
    inp = keras.Input((16, 4))
    conv = keras.layers.Conv1D(1, 1, use_bias=False)
    model = keras.Model(inp, conv(inp))
    weights = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    conv.set_weights([weights[None, :, None]])
    seqs = random_seqs(1, 16)
    refs = random_seqs(1, 16, seed=9)[:, None]
    result = attribute(model, seqs, "deepshap", references=refs)
    expected = weights[None, :] - (refs[0, 0] * weights).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(result.hypothetical[0], expected, rtol=1e-6)


def old_input_gradients(model, seqs, target_index=None, rc=False, rows=None):
    """scoring/grad.py's input_gradients as it was before interpret/ (all bins)."""

    def grad(x):
        n = len(x)
        x = tf.constant(seqnn.pad_rows(x, rows or n), dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            preds = model(x, training=False)
            if target_index is not None:
                preds = tf.gather(preds, list(target_index), axis=-1)
            objective = tf.reduce_sum(preds)
        return tape.gradient(objective, x).numpy()[:n]

    grads = grad(seqs)
    if rc:
        grads = (grads + hot1_rc(grad(hot1_rc(seqs).copy()))) / 2
    return grads


@pytest.mark.parametrize("targets, rc", [(None, False), ((1, 0, 1), True)])
def test_input_x_gradient_gives_the_numbers_grad_bed_always_gave(targets, rc):
    model = small_seqnn("gelu")
    seqs = random_seqs(3, 64)
    old = old_input_gradients(model, seqs, targets, rc, rows=4)
    new = attribute(model, seqs, "input_x_gradient", targets, rc=rc, rows=4)
    np.testing.assert_array_equal(new.hypothetical, old)
    np.testing.assert_array_equal(new.contributions, old * seqs)
    assert new.delta_violation is None


@pytest.mark.fixed_shape
@pytest.mark.parametrize("method", METHODS)
def test_a_sequences_attribution_does_not_depend_on_its_batch(method):
    model = small_seqnn("gelu_sigmoid")
    seqs = random_seqs(3, 64)
    bins = np.array([[0, 16], [3, 9], [8, 16]])
    kwargs = dict(references=2, steps=3, rows=3, rc=True)
    together = attribute(model, seqs, method, bins=bins, **kwargs)
    alone = attribute(model, seqs[1:2], method, bins=bins[1:2], **kwargs)
    np.testing.assert_array_equal(alone.contributions[0], together.contributions[1])
    np.testing.assert_array_equal(alone.hypothetical[0], together.hypothetical[1])


def test_references_and_attributions_are_seeded():
    model = small_seqnn("relu")
    seqs = random_seqs(2, 64)
    first = attribute(model, seqs, "expected_gradients", references=2, seed=1)
    again = attribute(model, seqs, "expected_gradients", references=2, seed=1)
    other = attribute(model, seqs, "expected_gradients", references=2, seed=2)
    np.testing.assert_array_equal(first.hypothetical, again.hypothetical)
    assert not np.array_equal(first.hypothetical, other.hypothetical)
    assert first.delta_violation is None
    np.testing.assert_array_equal(
        shuffled_references(seqs[0], 3, 1), shuffled_references(seqs[0], 3, 1)
    )


def test_saliency_is_the_gradient_and_its_magnitude():
    model = small_seqnn("softplus")
    seqs = random_seqs(2, 64)
    grads = attribute(model, seqs, "input_x_gradient").hypothetical
    saliency = attribute(model, seqs, "saliency")
    np.testing.assert_array_equal(saliency.hypothetical, grads)
    np.testing.assert_array_equal(saliency.contributions, np.abs(grads))


def test_bad_arguments_are_input_errors():
    model = linear_model()
    seqs = random_seqs(1, 32)
    with pytest.raises(InputError, match="--method 'lime'"):
        attribute(model, seqs, "lime")
    with pytest.raises(InputError, match="--bins 5:40"):
        attribute(model, seqs, bins=(5, 40))
    with pytest.raises(InputError, match="--targets"):
        attribute(model, seqs, targets=[2])
    with pytest.raises(InputError, match="shape"):
        attribute(model, seqs[:, :20])


# ---------------------------------------------------------------------------------------
# basenji_grad_bed.py


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, repo):
    """params_tiny (2048 bp, 16 bp bins, 4 cropped per side) with its initial weights."""
    keras.utils.set_random_seed(0)
    out = tmp_path_factory.mktemp("tiny")
    params = repo / "models" / "params_tiny.json"
    seqnn.load(params).save(out / "model.h5")
    return str(params), str(out / "model.h5")


def test_grad_bed_writes_deepshap_contributions_of_the_central_bins(
    tmp_path, tiny_model, small_model
):
    bed = tmp_path / "r.bed"
    bed.write_text("chrG\t70000\t70001\tone\nchrG\t80000\t80040\ttwo\n")
    out = tmp_path / "out"
    argv = ["-f", small_model["fasta"], "-o", str(out), "--method", "deepshap",
            "--references", "2", "--batch_size", "2", *tiny_model, str(bed)]  # fmt: skip
    assert basenji_grad_bed.main(argv) == 0
    with h5py.File(out / "scores.h5") as h5:
        np.testing.assert_array_equal(h5["bin_start"][:], [60, 58])
        np.testing.assert_array_equal(h5["bin_end"][:], [61, 62])
        assert h5["contributions"].shape == h5["hypothetical"].shape == (2, 2048, 4)
        assert list(h5["region_start"][:]) == [70000, 80000]
        assert [n.decode() for n in h5["name"][:]] == ["one", "two"]
        assert h5.attrs["method"] == "deepshap" and h5.attrs["references"] == 2
        assert h5["delta_violation"][:].max() < 1e-3
        attr = h5["attr"][0]
        np.testing.assert_allclose(attr, h5["contributions"][0].sum(axis=1), rtol=1e-6)
        window_start = int(h5["start"][0])
    bw = pyBigWig.open(str(out / "attr.bw"))
    try:
        assert bw.values("chrG", window_start, window_start + 3) == pytest.approx(attr[:3])
    finally:
        bw.close()


@pytest.mark.fixed_shape
def test_grad_bed_shards_equal_a_single_run_byte_for_byte(tmp_path, tiny_model, small_model):
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"chrG\t{s}\t{s + 30}\n" for s in (5000, 21000, 40000)))
    options = GradOptions("integrated_gradients", (0, 2), "center", rc=True, steps=2)
    common = (*tiny_model, small_model["fasta"], str(bed))
    one, two = tmp_path / "one", tmp_path / "two"
    run_grad_bed(*common, str(one), options, batch_size=1)
    run_grad_bed(*common, str(two), options, batch_size=1, shards=2, executor=InProcess())
    for name in ("scores.h5", "attr.bw"):
        assert (one / name).read_bytes() == (two / name).read_bytes()
    assert sorted(p.name for p in two.iterdir()) == ["attr.bw", "scores.h5"]


def test_bins_option():
    assert basenji_grad_bed.bin_choice("3:7") == (3, 7)
    assert basenji_grad_bed.bin_choice("all") == "all"
    parser = basenji_grad_bed.build_parser()
    args = parser.parse_args(["-f", "g.fa", "p", "m", "b.bed"])
    assert (args.method, args.bins, args.references, args.steps) == (
        "input_x_gradient", "center", 20, 50,
    )  # fmt: skip
    with pytest.raises(SystemExit):
        parser.parse_args(["-f", "g.fa", "--bins", "7:3", "p", "m", "b.bed"])

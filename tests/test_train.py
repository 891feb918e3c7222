"""Training: the loop on arrays, and basenji_train.py on a data dir.

``write_data_dir`` and ``TINY_PARAMS`` are shared with the evaluation, resume and
distribution tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from basenji_tf import hardware, seqnn, train, train_data
from basenji_tf.errors import InputError
from basenji_tf.params import parse_train_params
from basenji_tf.tfrecords import write_statistics, write_tfrecords

# 1024 bp in, 16 bp bins (pool 8 x 2), 4 bins cropped each side: 56 bins of targets.
TINY_PARAMS = {
    "train": {
        "batch_size": 4,
        "optimizer": "adam",
        "learning_rate": 0.01,
        "loss": "poisson",
        "patience": 5,
        "train_epochs_max": 2,
        "global_clipnorm": 5,
    },
    "model": {
        "seq_length": 1024,
        "activation": "gelu",
        "norm_type": "batch",
        "bn_momentum": 0.9,
        "augment_rc": True,
        "augment_shift": 2,
        "trunk": [
            {"name": "conv_block", "filters": 16, "kernel_size": 9, "pool_size": 8},
            {"name": "conv_block", "filters": 16, "kernel_size": 5, "pool_size": 2},
            {"name": "dilated_residual", "filters": 8, "rate_mult": 2, "repeat": 2},
            {"name": "Cropping1D", "cropping": 4},
        ],
        "head_a": {"name": "final", "units": 3, "activation": "softplus"},
    },
}
SEQ_BP, POOL_BP, CROP_BP, BINS = 1024, 16, 64, 56
SPLITS = {"train": 32, "valid": 8, "test": 8}


def write_params(path: Path, params: dict = TINY_PARAMS, **train_overrides) -> Path:
    params = json.loads(json.dumps(params))
    params["train"].update(train_overrides)
    path.write_text(json.dumps(params, indent=2))
    return path


def synthetic_targets(codes: np.ndarray, num_targets: int, seed: int) -> np.ndarray:
    """Learnable coverage: per 16-bp bin, scaled G/C counts and TATA-like A/T runs.

    Args:
        codes: uint8 [n, SEQ_BP] base indexes.

    Returns:
        float32 [n, BINS, num_targets].
    """
    inner = codes[:, CROP_BP : SEQ_BP - CROP_BP].reshape(len(codes), BINS, POOL_BP)
    gc = ((inner == 1) | (inner == 2)).sum(-1).astype(np.float32)
    at_pairs = ((inner[..., 1:] == 0) & (inner[..., :-1] == 3)).sum(-1).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = []
    for t in range(num_targets):
        signal = (0.3 + 0.4 * t) * gc + (2.0 - 0.5 * t) * at_pairs
        out.append(rng.poisson(np.maximum(signal - 4, 0.1)))
    return np.stack(out, axis=-1).astype(np.float32)


def write_data_dir(root: Path, num_targets: int = 3, seed: int = 0, strand_pair=None) -> Path:
    """A data directory of random DNA on one chromosome 'chr1' with synthetic coverage.

    Windows of SEQ_BP bp lie back to back (train, valid, test); sequences.bed holds the
    cropped target intervals. Returns the directory.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    bed, stats, start = [], {}, 0
    for split, n in SPLITS.items():
        # GC-rich or AT-rich stretches make coverage vary across sequences too.
        probs = rng.dirichlet([2, 2, 2, 2], size=n)
        codes = np.stack([rng.choice(4, SEQ_BP, p=p) for p in probs]).astype(np.uint8)
        targets = synthetic_targets(codes, num_targets, seed + len(bed))
        write_tfrecords(root / "tfrecords" / f"{split}-0.tfr", codes, targets)
        for _ in range(n):
            bed.append(f"chr1\t{start + CROP_BP}\t{start + SEQ_BP - CROP_BP}\t{split}\n")
            start += SEQ_BP
        stats[f"{split}_seqs"] = n
    (root / "sequences.bed").write_text("".join(bed))
    write_statistics(
        root,
        {
            "num_targets": num_targets,
            "seq_length": SEQ_BP,
            "seq_1hot": True,
            "pool_width": POOL_BP,
            "crop_bp": CROP_BP,
            "target_length": BINS,
            **stats,
        },
    )
    kinds = ["CAGE", "DNASE", "CHIP"]
    rows = [
        "index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription"
        + ("\tstrand_pair" if strand_pair else "")
    ]
    for t in range(num_targets):
        row = f"{t}\tT{t}\tt{t}.bw\t384\t1\tsum\t{kinds[t % 3]}:track {t}"
        rows.append(row + (f"\t{strand_pair[t]}" if strand_pair else ""))
    (root / "targets.txt").write_text("\n".join(rows) + "\n")
    return root


# ---------------------------------------------------------------------------------------
# the loop on arrays


def _tiny_keras_model(num_targets=2, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((64, 4))
    x = keras.layers.Conv1D(8, 5, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling1D(8)(x)
    return keras.Model(inp, keras.layers.Dense(num_targets, activation="softplus")(x))


def _array_data(seed, n=24, num_targets=2):
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, 64))]
    gc = x[:, :, 1:3].sum(-1).reshape(n, 8, 8).sum(-1)
    y = np.stack([gc * (t + 1) / 2 for t in range(num_targets)], -1).astype(np.float32)
    return x, y


@pytest.mark.slow
def test_two_datasets_interleave_and_share_trunk(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((64, 4))
    trunk = keras.layers.MaxPooling1D(8)(keras.layers.Conv1D(8, 5, padding="same")(inp))
    models = [keras.Model(inp, keras.layers.Dense(k, activation="softplus")(trunk)) for k in (2, 3)]
    xa, ya = _array_data(1, n=24, num_targets=2)
    xb, yb = _array_data(2, n=16, num_targets=3)
    data = [
        train_data.array_data_source(xa[:16], ya[:16], xa[16:], ya[16:], 4, seed=1),
        train_data.array_data_source(xb[:12], yb[:12], xb[12:], yb[12:], 4, seed=1),
    ]
    settings = parse_train_params(
        {"batch_size": 4, "optimizer": "adam", "learning_rate": 0.02, "train_epochs_max": 3}
    )
    saved = []
    trainer = train.Trainer(
        models,
        data,
        settings,
        tmp_path,
        lambda path, i: saved.append((Path(path).suffix, i)),
        seed=5,
    )
    order = trainer.batch_order(0)
    assert sorted(order.tolist()) == [0] * 4 + [1] * 3
    assert not np.array_equal(order, trainer.batch_order(1)) or not np.array_equal(
        trainer.batch_order(1), trainer.batch_order(2)
    )
    history = trainer.fit()
    assert [(r["epoch"], r["data"]) for r in history] == [(e, d) for e in range(3) for d in (0, 1)]
    for d in (0, 1):
        losses = [r["train_loss"] for r in history if r["data"] == d]
        assert losses[-1] < losses[0]
    # check files every epoch and best files when improved, both datasets
    assert saved.count((".h5", 0)) >= 4 and saved.count((".h5", 1)) >= 4
    assert (tmp_path / "history.tsv").read_text().count("\n") == 7
    assert int(trainer.optimizer.iterations) == 3 * 7


@pytest.mark.slow
def test_early_stopping_with_patience(tmp_path):
    x, y = _array_data(3)
    # a learning rate far below float32 resolution: nothing improves after the first epoch
    settings = parse_train_params(
        {
            "batch_size": 4,
            "optimizer": "sgd",
            "learning_rate": 1e-30,
            "patience": 1,
            "train_epochs_min": 2,
            "train_epochs_max": 50,
        }
    )
    trainer = train.Trainer(
        [_tiny_keras_model()],
        [train_data.array_data_source(x, y, x, y, 4, 0)],
        settings,
        tmp_path,
        lambda path, i: None,
        seed=0,
    )
    history = trainer.fit()
    # epoch 0 best, epochs 1 and 2 unimproved (2 > patience 1) -> stop before epoch 3
    assert [r["best"] for r in history] == [True, False, False]


# ---------------------------------------------------------------------------------------
# end to end: data dir -> basenji_train.py -> basenji_test.py


@pytest.fixture
def deterministic_ops():
    """--seed turns on deterministic ops process-wide; turn them off after the test."""
    yield
    # Only the private module exports the switch back.
    from tensorflow.python.framework import config as tf_config

    tf_config.disable_op_determinism()


@pytest.mark.slow
def test_train_then_test_end_to_end(tmp_path, deterministic_ops):
    from basenji_tf import seqnn
    from basenji_tf.cli import basenji_test, basenji_train

    # targets 0 and 1 as the two strands of one track: RC augmentation swaps them
    data = write_data_dir(tmp_path / "data", strand_pair=[1, 0, 2])
    params = write_params(tmp_path / "params.json")
    out = tmp_path / "train"
    assert basenji_train.main(["--seed", "3", "-o", str(out), str(params), str(data)]) == 0
    history = (out / "history.tsv").read_text().splitlines()
    assert len(history) == 3  # header + 2 epochs
    losses = [float(line.split("\t")[3]) for line in history[1:]]
    assert losses[1] < losses[0]
    assert json.loads((out / "params.json").read_text()) == TINY_PARAMS
    assert (out / "model_check.h5").is_file() and (out / "resume.h5").is_file()
    assert list((out / "logs" / "data").glob("events.out.tfevents.*"))

    # legacy Keras-2 HDF5 layout, weighted layers in the model's order
    model = seqnn.SeqNN(TINY_PARAMS["model"])
    weighted = [layer for layer in model.models[0].layers if layer.weights]
    with h5py.File(out / "model_best.h5", "r") as h5:
        assert h5.attrs["backend"] and h5.attrs["keras_version"]
        group = h5["model_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["layer_names"]]
        file_weighted = [n for n in names if len(group[n].attrs["weight_names"])]
        assert len(file_weighted) == len(weighted)
        for name, layer in zip(file_weighted, weighted):
            weight_names = [
                w.decode() if isinstance(w, bytes) else w for w in group[name].attrs["weight_names"]
            ]
            shapes = [group[name][w].shape for w in weight_names]
            assert shapes == [tuple(w.shape) for w in layer.weights]
    model.restore(out / "model_best.h5")

    test_out = tmp_path / "test"
    assert (
        basenji_test.main(
            ["-o", str(test_out), "--save", str(params), str(out / "model_best.h5"), str(data)]
        )
        == 0
    )
    acc = np.loadtxt(test_out / "acc.txt", skiprows=1, usecols=(1, 2))
    with h5py.File(test_out / "preds.h5") as p, h5py.File(test_out / "targets.h5") as t:
        preds, targets = p["preds"][()].astype(np.float32), t["targets"][()].astype(np.float32)
    assert preds.shape == targets.shape == (SPLITS["test"], BINS, 3)
    from basenji_tf import metrics

    np.testing.assert_allclose(acc[:, 0], metrics.pearsonr(targets, preds), atol=2e-3)
    # a baseline that keeps each sequence's predictions but pairs them with another
    # sequence's targets: above-chance accuracy must come from the sequence itself
    rng = np.random.default_rng(0)
    shuffled = targets[rng.permutation(len(targets))]
    baseline = np.mean(metrics.pearsonr(shuffled, preds))
    assert acc[:, 0].mean() > baseline + 0.1, (acc[:, 0], baseline)


def test_train_rejects_mismatched_data(tmp_path):
    from basenji_tf.cli import basenji_train

    data = write_data_dir(tmp_path / "data", num_targets=2)
    params = write_params(tmp_path / "params.json")
    with pytest.raises(SystemExit):
        basenji_train.main([])
    assert basenji_train.main(["-o", str(tmp_path / "o"), str(params), str(data)]) == 1
    assert basenji_train.main(["-o", str(tmp_path / "o"), str(params), str(data), str(data)]) == 1


@pytest.mark.slow
def test_mixed_precision_loop_scales_loss(tmp_path):
    x, y = _array_data(4)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _tiny_keras_model()
        settings = parse_train_params(
            {
                "batch_size": 4,
                "optimizer": "adam",
                "learning_rate": 0.02,
                "train_epochs_max": 3,
                "clip_norm": 1.0,
            }
        )
        trainer = train.Trainer(
            [model],
            [train_data.array_data_source(x, y, x, y, 4, 0)],
            settings,
            tmp_path,
            lambda path, i: None,
            seed=0,
        )
        history = trainer.fit()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.layers[1].compute_dtype == "float16"
    assert history[-1]["train_loss"] < history[0]["train_loss"]


@pytest.mark.slow
def test_restore_full_and_trunk(tmp_path):
    from basenji_tf import seqnn

    data = write_data_dir(tmp_path / "data")
    params = write_params(
        tmp_path / "params.json", optimizer="sgd", learning_rate=1e-30, train_epochs_max=1
    )
    source = seqnn.SeqNN(TINY_PARAMS["model"])
    source.save(tmp_path / "start.h5", head_i=0)
    source.save(tmp_path / "trunk.h5", trunk=True)
    kernel = source.models[0].get_layer("trunk0_conv_block_conv").get_weights()[0]
    head = source.models[0].layers[-2 if TINY_PARAMS["model"]["augment_rc"] else -1]
    for restore, trunk, head_equal in (("start.h5", False, True), ("trunk.h5", True, False)):
        out = tmp_path / f"out_{trunk}"
        train.train_model(params, [data], out, restore=tmp_path / restore, trunk=trunk)
        trained = seqnn.SeqNN(TINY_PARAMS["model"])
        trained.restore(out / "model_check.h5")
        # learning rate ~0 (params refuse 0): the restored weights come through unchanged
        np.testing.assert_allclose(
            trained.models[0].get_layer("trunk0_conv_block_conv").get_weights()[0], kernel
        )
        same_head = all(
            np.allclose(a, b, rtol=0, atol=1e-12)
            for a, b in zip(
                trained.models[0].get_layer(head.name).get_weights(), head.get_weights()
            )
        )
        assert same_head == head_equal


@pytest.mark.slow
def test_seq_data_source_patterns_and_epoch_seeds(tmp_path):
    data = write_data_dir(tmp_path / "data")
    settings = parse_train_params({"batch_size": 4, "shuffle_buffer": 64})
    source = train_data.seq_data_source(
        data, settings, seed=2, tfr_train="valid-*.tfr", tfr_eval="test-*.tfr"
    )
    assert source.steps_per_epoch == SPLITS["valid"] // 4
    assert sum(len(y) for _, y in source.valid()) == SPLITS["test"]

    def first_targets(epoch):
        return next(iter(source.train(epoch)))[1].numpy()

    np.testing.assert_array_equal(first_targets(3), first_targets(3))  # same epoch, same order
    assert not np.array_equal(first_targets(3), first_targets(4))


@pytest.mark.slow
def test_one_data_dir_trains_head_zero_of_a_two_head_model(tmp_path):
    """As the original: a multi-head params file with one dataset trains head 0 only."""
    params = json.loads(json.dumps(TINY_PARAMS))
    params["model"]["head_b"] = {"name": "final", "units": 2, "activation": "softplus"}
    params_file = write_params(tmp_path / "params.json", params, train_epochs_max=1)
    data = write_data_dir(tmp_path / "data")
    history = train.train_model(params_file, [data], tmp_path / "out")
    assert len(history) >= 1
    assert (tmp_path / "out" / "model_best.h5").is_file()
    assert not (tmp_path / "out" / "model1_best.h5").exists()


def test_mixed_precision_trains_in_bfloat16_on_cpu(tmp_path, deterministic_ops, monkeypatch):
    """-m on a CPU with native bfloat16: mixed_bfloat16 without loss scaling.

    The loss is finite and falls; the global policy is restored afterwards and the
    variables stay float32. (Without native bfloat16 -m trains float32:
    tests/test_hardware.py.) The CPU is declared native so that the test runs anywhere.
    """
    monkeypatch.setattr(hardware, "native_bfloat16", lambda: True)
    data = write_data_dir(tmp_path / "data")
    params = write_params(tmp_path / "params.json", train_epochs_max=3)
    built = []
    load = seqnn.load
    monkeypatch.setattr(seqnn, "load", lambda *a, **k: built.append(load(*a, **k)) or built[-1])
    history = train.train_model(params, [data], tmp_path / "out", mixed_precision=True, seed=1)
    conv = next(layer for layer in built[0].model.layers if "conv" in layer.name)
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    assert built[0].model.output.dtype == "float32"
    losses = [row["train_loss"] for row in history]
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    assert np.isfinite([row["valid_loss"] for row in history]).all()
    assert keras.mixed_precision.global_policy().name == "float32"
    with h5py.File(tmp_path / "out" / "resume.h5") as h5:
        dtypes = {h5["model"][k].dtype for k in h5["model"]}
    assert np.dtype(np.float32) in dtypes and not dtypes & {np.dtype("f2"), np.dtype("V2")}
    with pytest.raises(InputError, match="--xla with --seed"):
        train.train_model(params, [data], tmp_path / "xla", seed=1, jit_compile=True)


def test_xla_step_matches_the_plain_step(tmp_path):
    x, y = _array_data(5, n=8)
    settings = parse_train_params({"batch_size": 4, "optimizer": "adam", "learning_rate": 0.01})
    weights, losses = [], []
    for jit in (False, True):
        trainer = train.Trainer(
            [_tiny_keras_model(seed=2)],
            [train_data.array_data_source(x, y, x, y, 4, seed=0)],
            settings,
            tmp_path,
            lambda path, i: None,
            seed=0,
            jit_compile=jit,
        )
        losses.append(trainer.train_epoch(0)[0]["loss"])
        weights.append(trainer.models[0].get_weights())
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    for plain, compiled in zip(*weights):
        np.testing.assert_allclose(plain, compiled, rtol=1e-4, atol=1e-6)

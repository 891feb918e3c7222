"""Transfer learning: modes, adapters, exact parameter counts, merges, training runs.

The pretrained model is the tiny model of test_train.py (1024 bp, 3 targets); fine-tuning
data directories have 2 targets, so every run also puts a head with a new number of
targets on the pretrained trunk.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import test_train
from test_train import TINY_PARAMS

from basenji_tf import adapters, seqnn, transfer
from basenji_tf.cli import basenji_sad, basenji_test, basenji_transfer
from basenji_tf.errors import InputError
from basenji_tf.params import parse_train_params, parse_transfer_params
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor
from basenji_tf.weights import read_legacy_h5

# 2 training steps per epoch (batch 4), 4 valid and 4 test sequences
SMALL_SPLITS = {"train": 8, "valid": 4, "test": 4}
LOW = {"adapter_latent": 2, "conv_select": 2, "conv_latent": 2}
MODES = {
    "full": {"mode": "full"},
    "linear": {"mode": "linear"},
    "lora": {"mode": "adapter", "adapter": "lora", **LOW},
    "ia3": {"mode": "adapter", "adapter": "ia3"},
    "locon": {"mode": "adapter", "adapter": "locon", **LOW},
    "houlsby": {"mode": "adapter", "adapter": "houlsby", **LOW},
    "houlsby_se": {"mode": "adapter", "adapter": "houlsby_se", **LOW},
}

# Parameters of the tiny trunk, from its layer shapes: conv0 k9 4->16, conv1 k5 16->16,
# two dilated repeats (a: k3 16->8, b: k1 8->16), every conv without bias + batch norm
# (gamma, beta trainable; moving mean and variance not); head Dense 16 -> 2 targets.
CONV0, CONV1, CONV_A, CONV_B = 9 * 4 * 16, 5 * 16 * 16, 3 * 16 * 8, 1 * 8 * 16
BN = {16: 2 * 16, 8: 2 * 8}  # trainable batch-norm parameters per width (as many frozen)
HEAD = 16 * 2 + 2
PLAIN_TOTAL = CONV0 + CONV1 + 2 * (CONV_A + CONV_B) + 2 * (2 * BN[16] + 2 * (BN[16] + BN[8]))
PLAIN_TOTAL += HEAD
R = 2  # adapter_latent = conv_latent


def lora(k: int, c_in: int, c_out: int, rank: int = R) -> int:
    """Keras' LoRA of a [k, c_in, c_out] kernel: A [k, c_in, rank] and B [rank, c_out]."""
    return k * c_in * rank + rank * c_out


HOULSBY = 16 * R + R + R * 16 + 16  # per dilated repeat: Dense down and up, with biases
EXPECTED_TRAINABLE = {
    "full": CONV0 + CONV1 + 2 * (CONV_A + CONV_B) + 2 * BN[16] + 2 * (BN[8] + BN[16]) + HEAD,
    "linear": HEAD,
    "lora": 2 * lora(1, 8, 16) + HEAD,  # the kernel-1 convs of both dilated repeats
    # LoRA on the first repeat's kernel-1 conv, LoCon on the last two convs
    "locon": lora(1, 8, 16) + lora(3, 16, 8) + lora(1, 8, 16) + HEAD,
    "ia3": 16 + 16 + 2 * (8 + 16) + HEAD,  # one scale per output channel of every conv
    "houlsby": 2 * HOULSBY + HEAD,
    # and squeeze-excite (W1 [C, R], W2 [R, C]) on the last two convs (8 and 16 channels)
    "houlsby_se": 2 * HOULSBY + 2 * 8 * R + 2 * 16 * R + HEAD,
}
ADDED = {  # parameters the adapters add to the plain model
    "full": 0,
    "linear": 0,
    "lora": EXPECTED_TRAINABLE["lora"] - HEAD,
    "locon": EXPECTED_TRAINABLE["locon"] - HEAD,
    "ia3": EXPECTED_TRAINABLE["ia3"] - HEAD,
    "houlsby": EXPECTED_TRAINABLE["houlsby"] - HEAD,
    "houlsby_se": EXPECTED_TRAINABLE["houlsby_se"] - HEAD,
}


def fine_tune_params(transfer_section: dict | None, **train) -> dict:
    """TINY_PARAMS with a head of 2 targets, one epoch, and the transfer section."""
    params = json.loads(json.dumps(TINY_PARAMS))
    params["model"]["head_a"] = {"name": "final", "units": 2, "activation": "softplus"}
    params["train"].update({"train_epochs_max": 1, **train})
    if transfer_section is not None:
        params["transfer"] = transfer_section
    return params


def adapted(mode: str) -> transfer.Transfer:
    params = fine_tune_params(MODES[mode])
    model = seqnn.SeqNN(params["model"], params_json=params)
    return transfer.apply_transfer(model, parse_transfer_params(params), params, "p.json")


def perturb(model: seqnn.SeqNN, seed: int = 0) -> None:
    """Move every trainable variable (adapters start as the identity)."""
    rng = np.random.default_rng(seed)
    for variable in model.models[0].trainable_variables:
        variable.assign(variable.numpy() + rng.normal(0, 0.2, variable.shape).astype("float32"))


def sequences(n: int = 4, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, test_train.SEQ_BP))]


@pytest.mark.parametrize("mode", list(MODES))
def test_trainable_and_total_counts_per_mode(mode):
    model = adapted(mode).model
    counts = transfer.parameter_counts(model)
    assert sum(c.trainable for c in counts) == EXPECTED_TRAINABLE[mode]
    assert sum(c.total for c in counts) == PLAIN_TOTAL + ADDED[mode]
    groups = {c.group: c for c in counts}
    assert list(groups) == [
        "trunk0_conv_block",
        "trunk1_conv_block",
        "trunk2_dilated_residual",
        "head_a0_final",
    ]
    assert groups["head_a0_final"].trainable == HEAD  # the new head always trains
    first = [model.model_trunk.get_layer(f"trunk0_conv_block_{n}") for n in ("conv", "bn")]
    # the first convolution is frozen unless full, its batch norm included
    assert all(bool(layer.trainable_weights) == (mode == "full") for layer in first)


def test_locon_selecting_every_conv_trains_the_first_in_full():
    params = fine_tune_params({**MODES["locon"], "conv_select": 6})
    model = seqnn.SeqNN(params["model"], params_json=params)
    tuned = transfer.apply_transfer(model, parse_transfer_params(params), params)
    trainable = sum(c.trainable for c in transfer.parameter_counts(tuned.model))
    rest = lora(5, 16, 16) + 2 * (lora(3, 16, 8) + lora(1, 8, 16))
    assert trainable == CONV0 + rest + HEAD
    with pytest.raises(InputError, match="transfer.conv_select: 7 convolutions selected, the "):
        params = fine_tune_params({**MODES["locon"], "conv_select": 7})
        model = seqnn.SeqNN(params["model"])
        transfer.apply_transfer(model, parse_transfer_params(params), params, "p.json")


def test_frozen_batch_norm_runs_in_inference_mode():
    tuned = adapted("lora")
    bn = tuned.model.model_trunk.get_layer("trunk0_conv_block_bn")
    assert not bn.trainable
    before = [w.numpy().copy() for w in bn.weights]
    tuned.model.models[0](sequences(), training=True)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, bn.weights))
    full = adapted("full").model.model_trunk.get_layer("trunk0_conv_block_bn")
    assert full.trainable


@pytest.mark.parametrize("mode", ["lora", "ia3", "locon"])
def test_merged_model_equals_adapted_and_loads_with_plain_params(mode, tmp_path):
    tuned = adapted(mode)
    x = sequences()
    pretrained = tuned.model.models[0](x, training=False).numpy()
    perturb(tuned.model)
    adapted_preds = tuned.model.models[0](x, training=False).numpy()
    assert np.abs(adapted_preds - pretrained).max() > 1e-3  # the adapters do something
    tuned.save(tmp_path / "model.h5", head_i=0)
    params = tmp_path / "params.json"
    params.write_text(tuned.params_text)
    assert "transfer" not in json.loads(params.read_text())
    assert "adapter" not in json.loads(params.read_text())["model"]
    merged = seqnn.load(params, tmp_path / "model.h5").head.predict(x)
    np.testing.assert_allclose(merged, adapted_preds, rtol=1e-5, atol=1e-6)
    # the original's order-based layout: the weighted layers of the plain model, no more
    plain = seqnn.SeqNN(fine_tune_params(None)["model"]).models[0]
    file_layers = read_legacy_h5(tmp_path / "model.h5")
    assert [[a.shape for a in f.arrays] for f in file_layers] == [
        [tuple(w.shape) for w in layer.weights] for layer in plain.layers if layer.weights
    ]


@pytest.mark.parametrize("mode", ["houlsby", "houlsby_se"])
def test_houlsby_params_rebuild_the_adapters(mode, tmp_path):
    tuned = adapted(mode)
    perturb(tuned.model)
    x = sequences()
    expected = tuned.model.models[0](x, training=False).numpy()
    tuned.save(tmp_path / "model.h5", head_i=0)
    (tmp_path / "params.json").write_text(tuned.params_text)
    model = json.loads((tmp_path / "params.json").read_text())["model"]
    assert model["adapter"] == mode and model["adapter_latent"] == R
    assert (model.get("se_rank"), model.get("conv_select")) == (
        (R, 2) if mode == "houlsby_se" else (None, None)
    )
    # what basenji_test.py and basenji_sad.py do: seqnn.load of the params and model file
    loaded = seqnn.load(tmp_path / "params.json", tmp_path / "model.h5")
    np.testing.assert_allclose(loaded.head.predict(x), expected, rtol=1e-6, atol=1e-7)
    names = [layer.name for layer in loaded.model.layers]
    assert "trunk2_dilated_residual_r1_houlsby_down" in names
    assert ("trunk2_dilated_residual_r1_b_conv_se" in names) == (mode == "houlsby_se")
    # basenji_sad.py's cone splicing stays exact: Houlsby layers are per position, the
    # squeeze-excite (a mean over the window) makes the band the whole window
    splice = ConeSplice(loaded.model)
    assert ("whole" in {kind for *_, kind in splice._steps}) == (mode == "houlsby_se")
    ref = sequences(1)
    alts = np.repeat(ref, 3, axis=0)
    for row, position in enumerate((0, 500, test_train.SEQ_BP - 1)):
        alts[row, position] = np.roll(alts[row, position], 1)
    pairs = (ref, alts, np.zeros(3, dtype=int))
    want = EnsemblePredictor(loaded.model).predict_pairs(*pairs)
    got = EnsemblePredictor(loaded.model, splice=splice, batch_size=3).predict_pairs(*pairs)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    # without the adapter keys the file does not load: it holds more weighted layers
    with pytest.raises(InputError, match="weighted layers"):
        seqnn.load(_plain_params(tmp_path), tmp_path / "model.h5")


def _plain_params(tmp_path: Path) -> Path:
    path = tmp_path / "plain.json"
    path.write_text(json.dumps(fine_tune_params(None)))
    return path


def test_adapters_need_their_layers():
    params = fine_tune_params(MODES["houlsby"])
    params["model"]["trunk"] = params["model"]["trunk"][:2] + params["model"]["trunk"][3:]
    model = seqnn.SeqNN(params["model"])
    with pytest.raises(InputError, match="p.json: adapter 'houlsby': the trunk has no dilated_"):
        transfer.apply_transfer(model, parse_transfer_params(params), params, "p.json")
    params["transfer"] = MODES["lora"]
    model = seqnn.SeqNN(params["model"])
    with pytest.raises(InputError, match="transfer.adapter 'lora': the trunk has no kernel-1"):
        transfer.apply_transfer(model, parse_transfer_params(params), params, "p.json")


def test_squeeze_excite_starts_near_the_identity():
    layer = adapters.SqueezeExcite(4)
    x = sequences(2)[:, :64] * 3.0
    np.testing.assert_allclose(np.asarray(layer(x)), x, atol=1e-3)
    assert adapters.SqueezeExcite.from_config(layer.get_config()).rank == 4


def test_warm_up_default_for_fine_tuning():
    settings = parse_train_params({"learning_rate": 0.01})
    assert transfer.fine_tuning_settings(settings, {}, 12).warmup_steps == 12
    kept = parse_train_params({"warmup_steps": 0})
    assert transfer.fine_tuning_settings(kept, {"warmup_steps": 0}, 12).warmup_steps == 0


# -- runs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A pretrained model file (3 targets), its sequences.bed, and fine-tuning data."""
    root = tmp_path_factory.mktemp("transfer")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_train, "SPLITS", SMALL_SPLITS)
        data = test_train.write_data_dir(root / "data", num_targets=2, seed=5)
    pretrained = seqnn.SeqNN(TINY_PARAMS["model"])
    pretrained.save(root / "model_human.h5", head_i=0)
    return {"root": root, "data": data, "model": root / "model_human.h5", "pretrained": pretrained}


def _write(path: Path, params: dict) -> Path:
    path.write_text(json.dumps(params, indent=2))
    return path


def _test_and_score(run_dir: Path, data: Path, tmp_path: Path, head: int = 0) -> None:
    """basenji_test.py and basenji_sad.py from the params.json and model_best.h5 of a run."""
    files = [str(run_dir / "params.json"), str(run_dir / "model_best.h5")]
    head_arg = ["--head", str(head)]
    assert basenji_test.main(["-o", str(tmp_path / "test"), *head_arg, *files, str(data)]) == 0
    acc = (tmp_path / "test" / "acc.txt").read_text().splitlines()
    assert len(acc) == 3 and all(np.isfinite(float(line.split()[1])) for line in acc[1:])
    rng = np.random.default_rng(7)
    genome = "".join(rng.choice(list("ACGT"), 4096))
    (tmp_path / "genome.fa").write_text(f">chr1\n{genome}\n")
    vcf = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for i, pos in enumerate((1500, 2600)):
        ref = genome[pos - 1]
        vcf.append(f"chr1\t{pos}\tv{i}\t{ref}\t{'A' if ref != 'A' else 'C'}\t.\t.\t.")
    (tmp_path / "v.vcf").write_text("\n".join(vcf) + "\n")
    argv = ["-f", str(tmp_path / "genome.fa"), "-o", str(tmp_path / "sad"), *head_arg, *files]
    assert basenji_sad.main([*argv, str(tmp_path / "v.vcf")]) == 0
    with h5py.File(tmp_path / "sad" / "sad.h5") as h5:
        sad = h5["SAD"][:].astype(np.float32)
    assert sad.shape == (2, 2) and np.isfinite(sad).all()


@pytest.mark.slow
@pytest.mark.parametrize("mode", [m for m in MODES if m != "linear"])  # linear: the next test
def test_each_mode_trains_and_writes_loadable_files(mode, world, tmp_path):
    params = _write(tmp_path / "params.json", fine_tune_params(MODES[mode]))
    out = tmp_path / "train"
    argv = ["--restore", str(world["model"]), "--trunk", "-o", str(out), str(params)]
    assert basenji_transfer.main([*argv, str(world["data"])]) == 0
    history = (out / "history.tsv").read_text().splitlines()
    assert len(history) == 2 and np.isfinite(float(history[1].split("\t")[3]))
    written = json.loads((out / "params.json").read_text())
    assert "transfer" not in written
    assert ("adapter" in written["model"]) == (mode in ("houlsby", "houlsby_se"))
    model = seqnn.load(out / "params.json", out / "model_best.h5")
    preds = model.head.predict(sequences(2))
    assert preds.shape == (2, test_train.BINS, 2) and np.isfinite(preds).all()
    trunk_kernel = model.models[0].get_layer("trunk0_conv_block_conv").get_weights()[0]
    start = world["pretrained"].models[0].get_layer("trunk0_conv_block_conv").get_weights()[0]
    if mode == "ia3":  # the first conv's channel scales are merged into its kernel
        start = start * (trunk_kernel.sum((0, 1)) / start.sum((0, 1)))
        np.testing.assert_allclose(trunk_kernel, start, rtol=1e-4, atol=1e-6)
    else:
        assert np.array_equal(trunk_kernel, start) == (mode != "full")  # frozen unless full
    _test_and_score(out, world["data"], tmp_path)
    if mode == "lora":  # resume after the first epoch, as ordinary training does
        params = _write(params, fine_tune_params(MODES[mode], train_epochs_max=2))
        assert basenji_transfer.main([*argv, str(world["data"])]) == 0
        history = (out / "history.tsv").read_text().splitlines()
        assert [line.split("\t")[0] for line in history[1:]] == ["0", "1"]


@pytest.mark.slow
def test_a_new_head_on_a_joint_model(world, tmp_path):
    """A second head trained on the linear-probed trunk of the first; head 0 untouched."""
    joint = fine_tune_params(MODES["linear"])
    joint["model"]["head_a"] = TINY_PARAMS["model"]["head_a"]
    joint["model"]["head_b"] = {"name": "final", "units": 2, "activation": "softplus"}
    params = _write(tmp_path / "params.json", joint)
    out = tmp_path / "train"
    argv = ["--restore", str(world["model"]), "--heads", "1", "-o", str(out), str(params)]
    assert basenji_transfer.main([*argv, str(world["data"])]) == 0
    assert len((out / "history.tsv").read_text().splitlines()) == 2
    assert "transfer" not in json.loads((out / "params.json").read_text())
    new = seqnn.load(out / "params.json", out / "model_best.h5", head=1)
    old = seqnn.load(out / "params.json", world["model"], head=0)
    x = sequences(2)
    # the trunk is the pretrained one, so head 0's file still predicts as it did
    np.testing.assert_array_equal(
        new.model_trunk.predict(x, verbose=0), old.model_trunk.predict(x, verbose=0)
    )
    np.testing.assert_allclose(old.head.predict(x), world["pretrained"].heads[0].predict(x))
    assert new.head.predict(x).shape == (2, test_train.BINS, 2)
    _test_and_score(out, world["data"], tmp_path, head=1)  # linear's files test and score


def test_skip_train_prints_the_counts(world, tmp_path, capsys):
    params = _write(tmp_path / "params.json", fine_tune_params(MODES["lora"]))
    argv = ["--skip_train", "--restore", str(world["model"]), "--trunk", str(params)]
    assert basenji_transfer.main([*argv, str(world["data"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["group", "layers", "trainable", "total"]
    assert lines[-1].split() == [
        "total",
        "13",
        f"{EXPECTED_TRAINABLE['lora']:,}",
        f"{PLAIN_TOTAL + ADDED['lora']:,}",
    ]
    assert not (tmp_path / "train_out").exists()


def test_transfer_needs_its_section_and_a_pretrained_model(world, tmp_path, capsys):
    plain = _write(tmp_path / "plain.json", fine_tune_params(None))
    out = str(tmp_path / "o")
    assert basenji_transfer.main(["-o", out, str(plain), str(world["data"])]) == 1
    assert "no transfer section" in capsys.readouterr().err
    params = _write(tmp_path / "params.json", fine_tune_params(MODES["lora"]))
    assert basenji_transfer.main(["-o", out, str(params), str(world["data"])]) == 1
    assert "give its file with --restore" in capsys.readouterr().err


def test_pretraining_overlap_warns_or_refuses(world, tmp_path, caplog, capsys):
    bed = (world["data"] / "sequences.bed").read_text().splitlines()
    valid = [line for line in bed if line.endswith("\tvalid")]
    # chromosome names match with or without chr; rows of other splits do not count
    rows = [f"1\t{line.split()[1]}\t{int(line.split()[1]) + 10}\ttrain" for line in valid[:3]]
    rows.append(bed[-1].replace("\ttest", "\tvalid"))
    pretrain = tmp_path / "sequences.bed"
    pretrain.write_text("\n".join(rows) + "\n")
    messages = transfer.check_pretrain_overlap([world["data"]], pretrain)
    assert len(messages) == 1 and "3 of 4 valid regions (30 bp) overlap" in messages[0]
    assert "3 of 4 valid regions" in caplog.text
    params = _write(tmp_path / "params.json", fine_tune_params(MODES["lora"]))
    argv = ["--restore", str(world["model"]), "--pretrain_bed", str(pretrain), "--strict"]
    argv += ["-o", str(tmp_path / "o"), str(params), str(world["data"])]
    assert basenji_transfer.main(argv) == 1
    assert "overlap the training regions" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    pretrain.write_text("chr1\t0\t10\tvalid\n")
    with pytest.raises(InputError, match="no 'train' rows"):
        transfer.check_pretrain_overlap([world["data"]], pretrain)

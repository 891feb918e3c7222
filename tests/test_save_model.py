"""save_model.py: a re-saved model predicts bit for bit as the original file; trunk files."""

import h5py
import keras
import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import save_model
from basenji_tf.errors import InputError
from basenji_tf.model_files import resave_model
from basenji_tf.weights import read_legacy_h5


@pytest.fixture(scope="module")
def tiny(repo, tmp_path_factory):
    """params_tiny.json, a model file of it with random (non-initial) weights, a batch."""
    params = repo / "models" / "params_tiny.json"
    keras.utils.set_random_seed(7)
    model = seqnn.load(params)
    rng = np.random.default_rng(0)
    for layer in model.model.layers:  # move BN statistics off their initial 0/1
        layer.set_weights(
            [w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in layer.get_weights()]
        )
    model_file = tmp_path_factory.mktemp("tiny") / "model.h5"
    model.save(model_file)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, model.seq_length))]
    return params, model_file, x, model


@pytest.mark.slow
@pytest.mark.parametrize("ext", [".h5", ".keras"])
def test_resaved_model_predicts_bit_for_bit(tiny, tmp_path, ext):
    params, model_file, x, model = tiny
    out = tmp_path / f"again{ext}"
    assert save_model.main([str(params), str(model_file), str(out)]) == 0
    want = seqnn.predict_model(model.model, x)
    again = seqnn.load(params, out)
    assert np.array_equal(seqnn.predict_model(again.model, x), want)
    if ext == ".keras":  # a real Keras archive: it loads without our builder too
        archive = keras.saving.load_model(out, compile=False)
        assert np.array_equal(seqnn.predict_model(archive, x), want)
    else:
        with h5py.File(out) as h5:
            assert "model_weights" in h5 and "basenji_tf_params" in h5.attrs


@pytest.mark.slow
@pytest.mark.parametrize("ext", [".h5", ".keras"])
def test_trunk_file_restores_with_trunk_true(tiny, tmp_path, ext):
    params, model_file, x, model = tiny
    out = tmp_path / f"trunk{ext}"
    assert save_model.main(["-t", str(params), str(model_file), str(out)]) == 0
    trunk = seqnn.load(params, out, trunk=True)
    want = seqnn.predict_model(model.model_trunk, x)
    assert np.array_equal(seqnn.predict_model(trunk.model_trunk, x), want)
    if ext == ".h5":
        with pytest.raises(InputError, match="holds a trunk only: restore it with trunk=True"):
            seqnn.load(params, out)


@pytest.mark.slow
def test_trunk_of_original_model_is_the_originals_trunk_file(reference_dir, tmp_path):
    """save_model.py -t on the original's head file = the original's own model_trunk.h5."""
    small = reference_dir / "basenji2_small"
    out = tmp_path / "trunk.h5"
    argv = ["--trunk", str(small / "params.json"), str(small / "model0_best.h5"), str(out)]
    assert save_model.main(argv) == 0
    ours, theirs = read_legacy_h5(out), read_legacy_h5(small / "model_trunk.h5")
    assert len(ours) == len(theirs) == 32
    for mine, original in zip(ours, theirs):
        assert [w.split("/")[-1] for w in mine.weight_names] == [
            w.split("/")[-1] for w in original.weight_names
        ]
        assert all(np.array_equal(a, b) for a, b in zip(mine.arrays, original.arrays))


def test_bad_input_is_one_line(tiny, tmp_path, capsys):
    params, model_file, _, _ = tiny
    assert save_model.main([str(params), str(model_file), str(tmp_path / "m.pt")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"save_model.py: error: {tmp_path / 'm.pt'}: unknown model file extension; use .h5 "
        "(Keras-2 HDF5 weights), .keras (Keras 3 archive)"
    )
    with pytest.raises(FileNotFoundError, match="model file not found"):
        resave_model(params, tmp_path / "none.h5", tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()

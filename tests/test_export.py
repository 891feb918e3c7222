"""basenji_export.py: the SavedModel serves the same predictions as the Keras model."""

import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import basenji_export
from basenji_tf.export import export_saved_model, load_saved_model


@pytest.mark.slow
def test_export_ensemble_and_reload(reference_dir, tmp_path, capsys):
    root = reference_dir / "basenji2_small"
    preds = np.load(root / "predictions.npz")
    out = tmp_path / "saved"
    status = basenji_export.main(
        [
            str(root / "params.json"),
            str(root / "model1_best.h5"),
            str(out),
            "--head",
            "1",
            "--rc",
            "--shifts",
            "0,1,-1",
        ]
    )
    assert status == 0
    loaded = load_saved_model(out)
    served = loaded.signatures["serving_default"](sequence=preds["sequence_onehot"])
    served = np.asarray(served["output_0"])
    np.testing.assert_allclose(
        np.asarray(loaded.serve(preds["sequence_onehot"])), served, atol=1e-6
    )
    np.testing.assert_allclose(served, preds["pred_head1_rc_shifts"], atol=1e-4, rtol=1e-4)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_export_leaves_the_seqnn_as_it_was(reference_dir, tmp_path):
    root = reference_dir / "basenji2_small"
    x = np.load(root / "predictions.npz")["sequence_onehot"]
    model = seqnn.load(root / "params.json", root / "model0_best.h5", 0)
    model.build_ensemble(True, [0])
    current, ensemble = model.model, model.ensemble
    export_saved_model(model.heads[1], tmp_path / "saved", rc=True, shifts=[0, 1])
    assert model.head_i == 0 and model.model is current and model.ensemble is ensemble
    loaded = load_saved_model(tmp_path / "saved")  # keep it: serve() uses its variables
    served = np.asarray(loaded.serve(x))
    np.testing.assert_allclose(served, model.heads[1].predict(x, rc=True, shifts=[0, 1]), atol=1e-5)


def test_export_reports_bad_weights_in_one_line(reference_dir, tmp_path, capsys):
    root = reference_dir / "basenji2_small"
    status = basenji_export.main(
        [str(root / "params.json"), str(root / "model_trunk.h5"), str(tmp_path / "saved")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(err) == 1 and "trunk=True" in err[0]
    assert not (tmp_path / "saved").exists()


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        basenji_export.main(["--help"])
    assert exit_info.value.code == 0 and "--shifts" in capsys.readouterr().out

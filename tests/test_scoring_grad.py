"""Attribution of BED regions: agreement with mutagenesis on a planted motif; the CLI."""

import h5py
import keras
import numpy as np
import pyBigWig
import pytest

from basenji_tf.cli import basenji_grad_bed
from basenji_tf.dna import dna_1hot
from basenji_tf.interpret.attribution import attribute
from basenji_tf.scoring.ensemble import EnsemblePredictor
from basenji_tf.scoring.sat import sat_mutagenesis


def motif_model(length=256):
    """A strong, known motif detector.

    A conv filter matching GATA (+1 per matching base, bias -3.5), ReLU, summed.
    """
    inp = keras.Input((length, 4))
    conv = keras.layers.Conv1D(1, 4, padding="same", activation="relu")
    x = conv(inp)
    x = keras.layers.AveragePooling1D(8)(x)
    out = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(x)
    model = keras.Model(inp, out)
    kernel = dna_1hot("GATA")[:, :, None] * 2.0
    conv.set_weights([kernel, np.array([-7.0], np.float32)])
    return model


def test_gradient_and_ism_agree_in_sign_on_a_planted_motif():
    model = motif_model()
    rng = np.random.default_rng(1)
    seq = dna_1hot("".join(rng.choice(list("CT"), 256)))  # no G or A: no chance motif
    seq[126:130] = dna_1hot("GATA")
    predictor = EnsemblePredictor(model)
    ism = sat_mutagenesis(predictor, seq, 120, 16, ["sum"])["sum"][..., 0]
    ism_ref = (ism * seq[120:136]).sum(axis=1)  # reference base's centred score
    attr = attribute(model, seq[None]).contributions[0].sum(axis=1)[120:136]
    motif = slice(6, 10)
    assert np.all(ism_ref[motif] > 0.05) and np.all(attr[motif] > 0.05)
    assert np.all(np.sign(ism_ref[motif]) == np.sign(attr[motif]))
    assert np.allclose(ism_ref[:6], 0, atol=1e-6) and np.allclose(attr[:6], 0, atol=1e-6)
    # gradients of the reverse complement, flipped back, see the same motif
    both = attribute(model, seq[None], rc=True).contributions[0].sum(axis=1)[120:136]
    assert np.all(both[motif] > 0)


def test_grad_bed_writes_attribution(tmp_path, small_model):
    bed = tmp_path / "r.bed"
    bed.write_text("chrG\t70000\t70001\n")
    out = tmp_path / "grad"
    argv = [
        "-f",
        small_model["fasta"],
        "-o",
        str(out),
        "--targets",
        "1",
        small_model["params"],
        small_model["model"],
        str(bed),
    ]
    assert basenji_grad_bed.main(argv) == 0
    with h5py.File(out / "scores.h5") as h5:
        attr = h5["attr"][0]
        grads = h5["grads"][0].astype(np.float32)
        np.testing.assert_allclose(attr, (grads * h5["seqs"][0]).sum(axis=1), rtol=2e-3, atol=1e-6)
        window_start = int(h5["start"][0])
    assert window_start == 70000 - 8192 and np.abs(attr).max() > 0
    bw = pyBigWig.open(str(out / "attr.bw"))
    try:
        assert bw.values("chrG", 70000, 70003) == pytest.approx(attr[8192:8195], rel=1e-5)
    finally:
        bw.close()

"""Reduced precision, exact SAD sums, variant independence, tracing and start-up."""

import logging
import math
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.cli._scoring import PRECISION_CHOICES
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.interpret.attribution import attribute
from basenji_tf.scoring.cone import ConeSplice
from basenji_tf.scoring.ensemble import EnsemblePredictor, ModelSpec, load_predictor
from basenji_tf.scoring.sad import SadOptions, sad_stats, score_vcf
from basenji_tf.scoring.sed_output import sed_columns
from basenji_tf.scoring.target_set import TargetSet


@pytest.fixture(scope="module")
def paths(reference_dir):
    d = reference_dir / "basenji2_small"
    return str(d / "params.json"), str(d / "model0_best.h5")


@pytest.fixture(scope="module")
def onehot():
    rng = np.random.default_rng(0)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 16384))]


def test_cli_choices_are_the_library_precisions():
    assert PRECISION_CHOICES == tuple(seqnn.PRECISIONS)


def test_unknown_precision_is_an_input_error(paths):
    with pytest.raises(InputError, match="--precision 'float8': unknown precision"):
        seqnn.load(*paths, precision="float8")


@pytest.mark.parametrize("precision, max_error", [("bfloat16", 0.1), ("float16", 0.01)])
def test_reduced_precision_keeps_float32_weights_and_outputs(paths, onehot, precision, max_error):
    """Weights load unchanged, outputs come back float32, predictions stay close."""
    full = seqnn.load(*paths, augment=False)
    reduced = seqnn.load(*paths, augment=False, precision=precision)
    assert reduced.model.output.dtype == "float32"
    assert {w.dtype for w in reduced.model.weights} == {"float32"}
    for a, b in zip(full.model.weights, reduced.model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    want = full.head.predict(onehot)
    got = reduced.head.predict(onehot)
    assert got.dtype == np.float32
    error = np.abs(got - want).max() / np.abs(want).max()
    assert 0 < error < max_error


def test_reduced_precision_cone_splice_equals_its_full_pass(paths, onehot):
    """Cone splicing and shared towers run in bfloat16 too, close to its full pass."""
    model = seqnn.load(*paths, augment=False, precision="bfloat16").head.model
    alts = onehot[[0, 0]].copy()
    alts[0, 8000] = [0, 0, 0, 1] if alts[0, 8000, 0] else [1, 0, 0, 0]
    alts[1, 100] = [0, 0, 0, 1] if alts[1, 100, 0] else [1, 0, 0, 0]
    alt_ref = np.array([0, 0])
    full = EnsemblePredictor(model, rc=True).predict_pairs(onehot[:1], alts, alt_ref)
    splice = EnsemblePredictor(model, rc=True, splice=ConeSplice(model))
    spliced = splice.predict_pairs(onehot[:1], alts, alt_ref)
    for a, b in zip(full, spliced):
        assert b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=0.05, atol=0.05 * np.abs(a).max())


@pytest.mark.fixed_shape
def test_a_row_of_a_call_does_not_depend_on_the_other_rows(paths, onehot):
    """Zero padding or other sequences, at any position: the same bits for a row.

    What fixed-shape calls rely on (docs/architecture.md). Different batch sizes do not
    promise this: oneDNN picks other kernels for them (on AVX2, for the tower).
    """
    model = seqnn.load(*paths, augment=False).head.model
    for fn in (ConeSplice(model).tower, model):
        forward = seqnn.traced_inference(fn)
        together = forward(onehot).numpy()
        for i in range(len(onehot)):
            alone = np.zeros_like(onehot)
            alone[(i + 1) % len(onehot)] = onehot[i]
            np.testing.assert_array_equal(
                forward(alone).numpy()[(i + 1) % len(onehot)], together[i]
            )


@pytest.mark.fixed_shape
def test_predictions_and_gradients_do_not_depend_on_the_batch_they_are_in(paths, onehot):
    """A sequence scored alone equals its row of a batch, whatever the batch's length.

    seqnn.predict_model and interpret.attribution.attribute pad their last call.
    """
    head = seqnn.load(*paths, augment=False).head
    together = head.predict(onehot, batch_size=2, rc=True)  # calls of 2: the last padded
    alone = head.predict(onehot[2:], batch_size=2, rc=True)
    np.testing.assert_array_equal(alone[0], together[2])
    grads = attribute(head.model, onehot, rows=3).hypothetical
    alone = attribute(head.model, onehot[1:2], rows=3).hypothetical
    np.testing.assert_array_equal(alone[0], grads[1])


def test_max_call_bp_bounds_rows_and_regions(paths):
    model = seqnn.load(*paths, augment=False).head.model
    splice = ConeSplice(model)
    default = EnsemblePredictor(model, splice=splice, share_towers=True, batch_size=8)
    assert default._rows_per_call(16384, tower=True) == 8
    assert default._rows_per_call(16384) == 8
    assert default.shared.max_region_bp == 16384 + 2048
    low = EnsemblePredictor(model, splice=splice, share_towers=True, max_call_bp=40000)
    assert low._rows_per_call(16384) == 2 and low._rows_per_call(1664) == 8
    assert low.shared.max_region_bp == 40000


def test_sad_sums_are_exact_float64_sums_rounded_once():
    """SAD = fsum(ALT) - fsum(REF) rounded to float16; float32 sums were not.

    Predictions of 896 bins around 1 with a small ALT effect: the float32 sums lose
    ~1e-5 each, which the difference keeps.
    """
    rng = np.random.default_rng(3)
    ref = rng.uniform(0.5, 1.5, (20, 896, 4)).astype(np.float32)
    alt = (ref * rng.uniform(0.999, 1.001, ref.shape)).astype(np.float32)
    exact = np.array(
        [
            [
                math.fsum(alt[n, :, t].astype(float)) - math.fsum(ref[n, :, t].astype(float))
                for t in range(4)
            ]
            for n in range(20)
        ]
    )
    ours = sad_stats(ref, alt, ["SAD"])["SAD"]
    np.testing.assert_array_equal(ours, exact.astype(np.float16))
    float32_sums = (alt.sum(axis=1) - ref.sum(axis=1)).astype(np.float16)
    assert (float32_sums != exact.astype(np.float16)).any()


def test_sed_sums_are_float64():
    """SED = fsum(ALT bins) - fsum(REF bins), not the float32 sums' difference."""
    rng = np.random.default_rng(4)
    variant = SimpleNamespace(id="v", chrom="chr1", ref="A", alt="C", pos=10)
    gene = {"gene_id": "g", "gene_name": "G", "tss": 20}
    rows = []
    for _ in range(20):
        ref = rng.uniform(1000, 2000, (64, 3)).astype(np.float32)
        rows.append((variant, gene, ref, (ref * 1.0001).astype(np.float32)))
    sed = sed_columns(rows, ["SER"], 1.0)["SED"]
    exact = [[math.fsum(a[:, t].astype(float)) - math.fsum(r[:, t].astype(float))
              for t in range(3)] for *_, r, a in rows]  # fmt: skip
    np.testing.assert_array_equal(sed, exact)


def _nearby_vcf(path, genome):
    """Six SNVs within 12 kb on the GATA4 locus (genome base as REF)."""
    positions = [74453, 76001, 79506, 81234, 83077, 85888]
    with open(path, "w") as out:
        out.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for i, pos in enumerate(positions):
            ref = genome.fetch("chrG", pos - 1, pos)
            alt = "ACGT".replace(ref, "")[i % 3]
            out.write(f"chrG\t{pos}\tsnv{i}\t{ref}\t{alt}\t.\t.\t.\n")


@pytest.mark.fixed_shape
def test_variant_scores_do_not_depend_on_the_other_variants(tmp_path, paths, reference_dir):
    """Each of six nearby SNVs scored alone equals its row of the six scored together.

    Together their REF towers come from one shared sequence (SharedTower); alone, from
    its own window. Bit for bit in sad.h5 (float16) and in the float32 REF/ALT bins.
    """
    model = seqnn.load(*paths, augment=False).head.model
    targets = TargetSet.all_outputs(8)
    options = SadOptions(stats=("SAD", "D1", "REF", "ALT"), batch_variants=16)
    vcf = tmp_path / "six.vcf"
    with Genome(reference_dir / "sad_small" / "gata4_locus.fa") as genome:
        _nearby_vcf(vcf, genome)
        lines = vcf.read_text().splitlines()

        def score(vcf_file, out):
            predictor = EnsemblePredictor(
                model, rc=True, splice=ConeSplice(model), share_towers=True, batch_size=4
            )
            score_vcf(predictor, genome, str(vcf_file), str(out), targets, options)
            return predictor.shared.counts

        assert score(vcf, tmp_path / "six.h5")["alone"] == 0
        for i in range(6):
            one = tmp_path / f"one{i}.vcf"
            one.write_text("\n".join(lines[:2] + [lines[2 + i]]) + "\n")
            score(one, tmp_path / f"one{i}.h5")
    with h5py.File(tmp_path / "six.h5") as six:
        for i in range(6):
            with h5py.File(tmp_path / f"one{i}.h5") as one:
                for stat in options.stats:
                    np.testing.assert_array_equal(one[stat][0], six[stat][i], err_msg=stat)


def test_no_retracing_across_models_and_batches(paths, caplog, onehot):
    """Six models built in one process, then several batches: one trace per shape.

    TensorFlow warns when 5 of the last calls of one code object traced: closures and
    bound methods of six models did (they share a code object); partials do not.
    """
    caplog.set_level(logging.WARNING, logger="tensorflow")
    alts = onehot.copy()
    alts[:, 8000] = alts[:, 8000, ::-1]
    for _ in range(6):
        model = seqnn.load(*paths, augment=False).head.model
        predictor = EnsemblePredictor(model, rc=True, splice=ConeSplice(model), batch_size=2)
        predictor.predict_pairs(onehot[:1], alts[:1], np.arange(1))
        seqnn.predict_model(model, onehot[:1])
    for n in (1, 2, 3, 1, 2, 3):
        predictor.predict_pairs(onehot[:n], alts[:n], np.arange(n))
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_load_predictor_keeps_the_last_model(paths):
    spec = ModelSpec(*paths, rc=True)
    first = load_predictor(spec)
    assert load_predictor(spec) is first
    other = load_predictor(ModelSpec(*paths, precision="bfloat16"))
    assert other is not first and other[0].model.layers[-1].name == "head_human_float32"

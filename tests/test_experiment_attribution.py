"""experiments/attribution.py: its AUROC, its windows and a tiny end-to-end run."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from basenji_tf.sim.config import SPECIES_TRACKS

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "attribution.py"
_spec = importlib.util.spec_from_file_location("experiment_attribution", SCRIPT)
exp = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = exp  # dataclasses look their module up
_spec.loader.exec_module(exp)

IDENTIFIERS = [t.identifier for t in SPECIES_TRACKS["human"]]


def test_auroc_of_a_perfect_a_reversed_and_a_flat_ranking():
    labels = np.array([0, 0, 1, 0, 1, 1], bool)
    scores = np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.7])
    assert exp.auroc(labels, scores) == 1.0
    assert exp.auroc(labels, -scores) == 0.0
    assert exp.auroc(labels, np.zeros(6)) == 0.5  # every pair tied: half each


def test_auroc_matches_sklearn_on_random_scores_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.random(500) < 0.2
    scores = rng.integers(0, 6, 500).astype(float) + labels  # many ties, some signal
    assert exp.auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    random = rng.random(20_000)
    assert exp.auroc(rng.random(20_000) < 0.3, random) == pytest.approx(0.5, abs=0.02)


def test_auroc_keep_mask_and_undefined_cases():
    labels = np.array([1, 0, 0, 1], bool)
    scores = np.array([5.0, 9.0, 1.0, 0.0])
    # leaving out the high-scoring negative and the low positive makes the ranking perfect
    assert exp.auroc(labels, scores, keep=np.array([1, 0, 1, 0], bool)) == 1.0
    assert np.isnan(exp.auroc(np.zeros(3, bool), np.arange(3.0)))
    assert np.isnan(exp.auroc(np.ones(3, bool), np.arange(3.0)))


def test_element_objectives_follow_the_true_model():
    def targets(name, *motifs):
        sites = tuple((10 * i, 10 * i + 8, m) for i, m in enumerate(motifs))
        element = exp.Element(name, "chr1", sites)
        return {IDENTIFIERS[t] for t in exp.element_targets(element, IDENTIFIERS)}

    assert targets("hs_chr1_enh00001", "GATA1", "GATA1") == {"DNASE_ery"}
    assert targets("hs_chr1_enh00002", "CEBPB") == {"DNASE_mye", "DNASE_hep"}
    assert targets("hs_chr1_enh00003", "HNF4A", "SPI1") == {"DNASE_hep", "DNASE_mye"}
    assert targets("hs_chr1_prom00004", "TBP", "SP1") == {"CAGE_ery", "CAGE_mye", "CAGE_hep"}
    assert targets("hs_chr1_ctcf00005", "CTCF") == {"CHIP_CTCF_ery"} | {
        f"DNASE_{c}" for c in ("ery", "mye", "hep")
    }


def tiny_model(seq_length=1024):
    """1,024 bp -> 24 bins of 32 bp (4 cropped each side), the 7 human tracks."""
    import keras

    from basenji_tf import seqnn

    keras.utils.set_random_seed(3)
    params = {
        "seq_length": seq_length,
        "activation": "gelu",
        "trunk": [
            {"name": "conv_block", "filters": 8, "kernel_size": 9, "pool_size": 8},
            {"name": "conv_tower", "filters_init": 8, "filters_mult": 1.0, "kernel_size": 3,
             "pool_size": 2, "repeat": 2, "norm_type": "batch"},
            {"name": "dilated_residual", "filters": 4, "rate_mult": 2, "repeat": 2},
            {"name": "Cropping1D", "cropping": 4},
        ],
        "head": {"name": "final", "units": len(IDENTIFIERS), "activation": "softplus"},
    }  # fmt: skip
    return seqnn.SeqNN(params, augment=False).head


def write_inputs(tmp_path: Path):
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 6000))
    seq = "N" * 300 + seq[300:]  # the first window runs into Ns
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, 6000, 60)) + "\n")
    bed = tmp_path / "elements.bed"
    bed.write_text(
        "chr1\t600\t608\ths_chr1_enh00001:GATA1\t0\t+\n"
        "chr1\t630\t640\ths_chr1_enh00001:CEBPB\t0\t-\n"
        "chr1\t700\t719\ths_chr1_ctcf00002:CTCF\t0\t+\n"
        "chr1\t3000\t3008\ths_chr1_prom00003:TBP\t0\t+\n"
        "chr1\t3040\t3050\ths_chr1_prom00003:SP1\t0\t+\n"
    )
    return fasta, bed


@pytest.mark.slow
def test_tiny_end_to_end_run(tmp_path):
    from basenji_tf.scoring.ensemble import EnsemblePredictor

    head = tiny_model()
    geometry = exp.Geometry.of(head)
    assert (geometry.stride, geometry.crop, geometry.target_length) == (32, 4, 24)
    assert geometry.bins == (12, 14) and geometry.centre_bp == 544  # (12 + 14 + 8) * 32 / 2
    fasta, bed = write_inputs(tmp_path)
    elements = exp.read_elements(bed)
    assert [e.kind for e in elements] == ["enh", "ctcf", "prom"]
    chosen = [elements[0], elements[2]]
    cases = exp.make_cases(chosen, elements, fasta, geometry, IDENTIFIERS)
    enh, prom = cases
    assert enh.start == 620 - 544 and prom.start == 3025 - 544  # centre at centre_bp
    assert enh.positive.sum() == 8 + 10 and prom.positive.sum() == 18
    # the CTCF site of another element is left out, as are the N bases
    assert not enh.keep[700 - enh.start : 719 - enh.start].any()
    assert not enh.keep[: 300 - enh.start].any() and enh.keep[300 - enh.start :].sum() > 600
    assert enh.keep[enh.positive].all()

    predictor = EnsemblePredictor(head.model, batch_size=8)
    settings = exp.Settings(references=2, steps=3, span_bp=48, rows=2)
    results = exp.evaluate(head.model, predictor, cases, geometry, settings)
    assert [r.method for r in results] == list(settings.methods)
    for r in results:
        assert len(r.auroc_span) == 2 and all(0 <= a <= 1 for a in r.auroc_span)
        if r.method == exp.SAT:
            assert np.isnan(r.auroc_window).all()
        else:
            assert all(0 <= a <= 1 for a in r.auroc_window)
    rows = exp.summary_rows(results, cases)
    assert rows[0]["regions"] == 2 and np.isnan(rows[0]["auroc_span_ctcf"])
    exp.write_tsv(tmp_path / "out.tsv", rows)
    assert (tmp_path / "out.tsv").read_text().splitlines()[0].startswith("method\tregions")

    # a saturation-mutagenesis score is the objective's largest change at that base
    span = exp.span_of(geometry, 48)
    scores = exp.sat_scores(predictor, prom, span)
    first, last = geometry.bins
    pos = span.start + 5
    ref = prom.seq[None].copy()
    base = int(np.argmax(ref[0, pos]))
    mutants = np.repeat(ref, 3, axis=0)
    for k, b in enumerate(b for b in range(4) if b != base):
        mutants[k, pos] = np.eye(4)[b]
    preds = predictor.predict(np.concatenate([ref, mutants]))[:, first:last, list(prom.targets)]
    objective = preds.astype(np.float64).sum(axis=(1, 2))
    expected = np.abs(objective[1:] - objective[0]).max()
    assert scores[5] == pytest.approx(expected, rel=1e-3, abs=1e-6)

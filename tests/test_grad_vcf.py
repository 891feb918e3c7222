"""basenji_grad_vcf.py: REF/ALT attributions of variants, their difference, plots, errors."""

from __future__ import annotations

import filecmp
import json

import keras
import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import basenji_grad_vcf
from basenji_tf.execute import InProcess
from basenji_tf.genome import Genome
from basenji_tf.interpret.attribution import attribute, shuffled_references
from basenji_tf.scoring import grad_vcf
from basenji_tf.scoring.grad import GradOptions
from basenji_tf.scoring.grad_vcf import GradVcfTask, run_grad_vcf, slice_bounds
from basenji_tf.scoring.grad_vcf_plot import plot_names
from basenji_tf.scoring.vcf import read_vcf, variant_windows

SEQ_LENGTH = 2048  # params_tiny


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, repo):
    """params_tiny (no augmentation), a random model, a one-chromosome FASTA, a VCF of 3 SNVs."""
    root = tmp_path_factory.mktemp("grad_vcf")
    params = json.loads((repo / "models" / "params_tiny.json").read_text())
    params["model"].update(augment_rc=False, augment_shift=0)
    (root / "params.json").write_text(json.dumps(params))
    keras.utils.set_random_seed(5)
    seqnn.SeqNN(params["model"]).save(root / "model.h5")
    rng = np.random.default_rng(5)
    seq = "".join(rng.choice(list("ACGT"), 6000))
    (root / "genome.fa").write_text(
        ">chrA\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, 6000, 60))
    )
    rows = []
    for i, pos in enumerate((1500, 2600, 4100)):
        ref = seq[pos - 1]
        alt = "ACGT"[("ACGT".index(ref) + 1) % 4]
        rows.append(f"chrA\t{pos}\tv{i}\t{ref}\t{alt}\n")
    (root / "three.vcf").write_text("".join(rows))
    (root / "last.vcf").write_text(rows[2])
    return {"root": root, "params": str(root / "params.json"), "model": str(root / "model.h5"),
            "fasta": str(root / "genome.fa"), "vcf": str(root / "three.vcf"),
            "last": str(root / "last.vcf"), "seq": seq}  # fmt: skip


def _task(tiny, out, vcf=None, **kw):
    options = kw.pop("options", GradOptions("deepshap", references=2))
    return GradVcfTask(tiny["params"], tiny["model"], tiny["fasta"], vcf or tiny["vcf"],
                       str(out), options, batch_size=2, **kw)  # fmt: skip


def _read(path):
    return grad_vcf.read_grad_vcf_h5(str(path))


def test_window_default_and_slice_put_the_variant_where_the_window_has_it():
    assert basenji_grad_vcf.WINDOW == grad_vcf.WINDOW
    for width in (1, 2, 41, 1000, SEQ_LENGTH, 5000):
        offset, kept = slice_bounds(SEQ_LENGTH, width)
        assert kept == min(width, SEQ_LENGTH) and offset >= 0 and offset + kept <= SEQ_LENGTH
        assert offset + (kept - 1) // 2 == SEQ_LENGTH // 2 - 1  # the variant's index
    assert plot_names(["rs1", "chr1:5", "rs1", "rs1"], ["A", "C", "G", "G"]) == [
        "rs1", "chr1_5", "rs1_G", "rs1_G_3",
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.fixed_shape
def test_ref_and_alt_equal_attribute_on_their_windows(tiny, tmp_path):
    out = tmp_path / "full"
    run_grad_vcf(_task(tiny, out, window=SEQ_LENGTH))
    arrays, attrs = _read(out / "scores.h5")
    assert arrays["ref_contributions"].shape == (3, SEQ_LENGTH, 4)
    assert attrs["offset"] == 0 and attrs["center"] == SEQ_LENGTH // 2 - 1
    head = seqnn.load(tiny["params"], tiny["model"]).head
    with Genome(tiny["fasta"]) as genome:
        variants = list(read_vcf(tiny["vcf"], genome))
        windows = [variant_windows(genome, v, SEQ_LENGTH) for v in variants]
    ref = np.stack([w[0] for w in windows])
    alt = np.stack([w[1] for w in windows])
    bins = np.stack([arrays["bin_start"], arrays["bin_end"]], axis=1)
    # the bin holding the variant: one bin, the one over window bp L/2 - 1
    stride = SEQ_LENGTH // (head.target_length + 2 * head.crop)
    assert np.all(bins[:, 1] - bins[:, 0] == 1)
    assert np.all(bins[:, 0] == (SEQ_LENGTH // 2 - 1) // stride - head.crop)
    direct = attribute(head.model, ref, "deepshap", bins=bins, rows=2, references=2)
    np.testing.assert_allclose(arrays["ref_contributions"], direct.contributions, atol=1e-6)
    np.testing.assert_allclose(arrays["ref_hypothetical"], direct.hypothetical, atol=1e-6)
    # ALT is explained against REF's references
    refs = np.stack([shuffled_references(r, 2, 0) for r in ref])
    direct_alt = attribute(head.model, alt, "deepshap", bins=bins, rows=2, references=refs)
    np.testing.assert_allclose(arrays["alt_contributions"], direct_alt.contributions, atol=1e-6)
    diff = (direct_alt.contributions - direct.contributions).sum(-1)
    np.testing.assert_allclose(arrays["diff"], diff, atol=1e-5)
    # shared references: the whole window's diff sums to the objective's ALT - REF change
    objective = [
        np.array(
            [p[b0:b1].sum() for p, (b0, b1) in zip(seqnn.predict_model(head.model, x, 2), bins)]
        )
        for x in (ref, alt)
    ]
    np.testing.assert_allclose(arrays["diff"].sum(1), objective[1] - objective[0], atol=1e-3)
    assert np.abs(objective[1] - objective[0]).max() > 1e-4
    # the ALT base is at the variant, REF's is the genome's; elsewhere they agree
    center = SEQ_LENGTH // 2 - 1
    for i, v in enumerate(variants):
        assert "ACGT"[np.argmax(arrays["alt_seqs"][i, center])] == v.alt
        assert "ACGT"[np.argmax(arrays["ref_seqs"][i, center])] == tiny["seq"][v.pos - 1] == v.ref
        others = np.delete(np.arange(SEQ_LENGTH), center)
        assert np.array_equal(arrays["ref_seqs"][i, others], arrays["alt_seqs"][i, others])
    assert arrays["id"].tolist() == [b"v0", b"v1", b"v2"]
    assert arrays["pos"].tolist() == [1500, 2600, 4100]
    assert arrays["start"].tolist() == [p - SEQ_LENGTH // 2 for p in (1500, 2600, 4100)]
    assert np.all(arrays["ref_delta_violation"] < 1e-3)
    # plots, one PNG per variant
    for name in ("v0", "v1", "v2"):
        assert (out / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.fixed_shape
def test_a_variant_alone_equals_it_among_others_and_shards_equal_a_single_run(tiny, tmp_path):
    run_grad_vcf(_task(tiny, tmp_path / "all", window=100), plots=False)
    run_grad_vcf(_task(tiny, tmp_path / "alone", tiny["last"], window=100), plots=False)
    together, _ = _read(tmp_path / "all" / "scores.h5")
    alone, _ = _read(tmp_path / "alone" / "scores.h5")
    for key in alone:
        assert np.array_equal(alone[key][0], together[key][2]), key
    assert together["diff"].shape == (3, 100)
    assert not (tmp_path / "all" / "plots").exists()
    # two shards (cut after the first batch of 2) merge into the same bytes
    sharded = tmp_path / "sharded"
    run_grad_vcf(_task(tiny, sharded, window=100), False, shards=2, executor=InProcess())
    assert filecmp.cmp(sharded / "scores.h5", tmp_path / "all" / "scores.h5", shallow=False)
    assert sorted(p.name for p in sharded.iterdir()) == ["scores.h5"]


@pytest.mark.slow
def test_cli_runs_input_x_gradient_with_shifts_and_rc(tiny, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["-f", tiny["fasta"], "-o", str(out), "--targets", "0,2", "--rc", "--shifts",
            "0,1", "--window", "64", "--bins", "all", tiny["params"], tiny["model"],
            tiny["last"]]  # fmt: skip
    assert basenji_grad_vcf.main(argv) == 0
    assert capsys.readouterr().out == f"wrote {out}/scores.h5 and {out}/plots/\n"
    arrays, attrs = _read(out / "scores.h5")
    assert arrays["ref_contributions"].shape == (1, 64, 4)
    assert attrs["method"] == "input_x_gradient" and attrs["bins"] == "all"
    assert attrs["shifts"].tolist() == [0, 1] and attrs["targets"].tolist() == [0, 2]
    assert "ref_delta_violation" not in arrays
    assert np.abs(arrays["diff"]).max() > 0
    assert (out / "plots" / "v2.png").is_file()


def _error(tiny, tmp_path, capsys, vcf_text, fasta=None):
    vcf = tmp_path / "bad.vcf"
    vcf.write_text(vcf_text)
    argv = ["-f", fasta or tiny["fasta"], "-o", str(tmp_path / "out"), "--no_plots",
            tiny["params"], tiny["model"], str(vcf)]  # fmt: skip
    assert basenji_grad_vcf.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1] if err else ""


def test_missing_chromosome_and_indel_are_one_line_errors(tiny, tmp_path, capsys):
    line = _error(tiny, tmp_path, capsys, "chrZ\t100\tz\tA\tC\n")
    assert "chrZ" in line and "line 1" in line
    line = _error(tiny, tmp_path, capsys, "chrA\t100\tdel\tAC\tA\n")
    assert "line 1 del" in line and "indel" in line and "SNVs only" in line


def test_ref_mismatch_is_a_one_line_error(tiny, tmp_path, capsys):
    i = "ACGT".index(tiny["seq"][999])
    wrong, other = "ACGT"[(i + 2) % 4], "ACGT"[(i + 1) % 4]
    line = _error(tiny, tmp_path, capsys, f"chrA\t1000\tmm\t{wrong}\t{other}\n")
    assert (
        "line 1 mm" in line
        and f"REF {wrong} does not match the genome ({tiny['seq'][999]})" in line
    )

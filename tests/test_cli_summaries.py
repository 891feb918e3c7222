"""What commands tell the user at the end: the files they wrote, named once, by final path.

basenji_predict_genome.py lists the BigWigs it wrote (not a first .. last range over
targets it skipped) and leaves no empty chunks/ behind; basenji_export.py names the
SavedModel directory once and never its temporary name; basenji_sat_bed.py ends with
regions x targets scored and the scores.h5 it wrote.
"""

from __future__ import annotations

import json
import logging

import h5py
import keras
import numpy as np
import pytest

from basenji_tf import seqnn
from basenji_tf.cli import basenji_export, basenji_predict_genome, basenji_sat_bed
from basenji_tf.cli.basenji_predict_genome import bigwig_names

# params_tiny: 2,048 bp inputs, 3 outputs
NUM_TARGETS = 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, repo):
    """params_tiny (no augmentation), a randomly initialised model and a 2-chromosome FASTA."""
    root = tmp_path_factory.mktemp("summaries")
    params = json.loads((repo / "models" / "params_tiny.json").read_text())
    params["model"].update(augment_rc=False, augment_shift=0)
    (root / "params.json").write_text(json.dumps(params))
    keras.utils.set_random_seed(3)
    seqnn.SeqNN(params["model"]).save(root / "model.h5")
    rng = np.random.default_rng(3)
    with open(root / "genome.fa", "w") as fasta:
        for chrom, size in (("chrA", 5000), ("chrB", 2500)):
            seq = "".join(rng.choice(list("ACGT"), size))
            fasta.write(f">{chrom}\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, size, 60)))
    return {"root": root, "params": str(root / "params.json"), "model": str(root / "model.h5"),
            "fasta": str(root / "genome.fa")}  # fmt: skip


def test_bigwig_names_list_the_files_and_shorten_only_true_runs():
    assert bigwig_names(["o/bigwig/t0.bw", "o/bigwig/t3.bw", "o/bigwig/t6.bw"]) == (
        "t0.bw, t3.bw, t6.bw"
    )
    assert bigwig_names([f"t{i}.bw" for i in range(5313)]) == "t0.bw .. t5312.bw"
    assert bigwig_names([f"t{i}.bw" for i in (0, 1, 2, 3, 7, 8, 10, 11, 12)]) == (
        "t0.bw .. t3.bw, t7.bw, t8.bw, t10.bw .. t12.bw"
    )
    assert bigwig_names(["t5.bw", "t4.bw", "t3.bw"]) == "t5.bw, t4.bw, t3.bw"
    assert bigwig_names([]) == ""


def test_predict_genome_names_its_bigwigs_and_removes_chunks(tiny, tmp_path, capsys):
    out = tmp_path / "genome"
    argv = ["-o", str(out), "--ti", "0,2", "--chunk_windows", "2", "--batch_size", "2",
            tiny["params"], tiny["model"], tiny["fasta"]]  # fmt: skip
    assert basenji_predict_genome.main(argv) == 0
    assert capsys.readouterr().out == f"wrote 2 BigWigs: t0.bw, t2.bw in {out}/bigwig\n"
    assert sorted(p.name for p in (out / "bigwig").iterdir()) == ["t0.bw", "t2.bw", "targets.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["bigwig", "plan.json"]


def test_export_names_the_final_directory_once(tiny, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    out = tmp_path / "saved"
    assert basenji_export.main([tiny["params"], tiny["model"], str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"wrote {out}\n"
    logged = [r.getMessage() for r in caplog.records]
    # TensorFlow's "Assets written to: <tmp>/assets" named the temporary directory
    assert not [m for m in logged + captured.err.splitlines() if str(tmp_path) in m]
    assert (out / "saved_model.pb").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name != "saved"]


def test_sat_bed_ends_with_its_summary(tiny, tmp_path, capsys):
    bed = tmp_path / "regions.bed"
    bed.write_text("chrA\t2000\t2010\tr1\t0\t+\nchrB\t1200\t1210\tr2\t0\t-\nchrA\t4000\t4002\n")
    out = tmp_path / "sat"
    argv = ["-f", tiny["fasta"], "-l", "4", "--stats", "sum,scd", "--batch_size", "4",
            "-o", str(out), tiny["params"], tiny["model"], str(bed)]  # fmt: skip
    assert basenji_sat_bed.main(argv) == 0
    with h5py.File(out / "scores.h5") as h5:
        assert h5["sum"].shape == (3, 4, 4, NUM_TARGETS) and h5["scd"].shape == h5["sum"].shape
    assert capsys.readouterr().out == (
        f"3 regions x {NUM_TARGETS} targets scored (4 bp mutated each; sum, scd): "
        f"wrote {out}/scores.h5\n"
    )

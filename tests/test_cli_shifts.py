"""Ensemble shifts not shorter than the model's input stop every command before any work.

The check lives where ensembles are built (layers.check_shifts, called by Head.ensemble
and scoring's load_predictor), so each command reports the same one line naming --shifts.
"""

from __future__ import annotations

import pytest

from basenji_tf.cli import basenji_predict, basenji_sad, basenji_test
from basenji_tf.errors import InputError
from basenji_tf.export import export_model
from basenji_tf.layers import check_shifts

SEQ_LENGTH = 16384  # the small reference model's input (bp)

VCF = """##fileformat=VCFv4.2
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
chrG\t36322\tsnv1\tC\tT\t.\t.\t.
"""


def test_check_shifts_bounds():
    check_shifts([0, SEQ_LENGTH - 1, -(SEQ_LENGTH - 1)], SEQ_LENGTH)
    for shift in (SEQ_LENGTH, -SEQ_LENGTH):
        with pytest.raises(InputError, match=f"^--shifts {shift}: .* {SEQ_LENGTH} bp"):
            check_shifts([0, shift], SEQ_LENGTH)


@pytest.fixture(scope="module")
def data_dir(reference_dir):
    return str(reference_dir / "basenji_data_small" / "data_out")


def _one_error_line(capsys, prog: str) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{prog}: error: --shifts {SEQ_LENGTH}: "), lines[0]
    return lines[0]


def test_sad_stops_before_scoring(tmp_path, small_model, capsys):
    vcf = tmp_path / "one.vcf"
    vcf.write_text(VCF)
    out = tmp_path / "sad"
    argv = ["-f", small_model["fasta"], "-o", str(out), "--shifts", f"0,{SEQ_LENGTH}"]
    assert basenji_sad.main([*argv, small_model["params"], small_model["model"], str(vcf)]) == 1
    _one_error_line(capsys, "basenji_sad.py")
    assert not (out / "sad.h5").exists()


def test_test_stops_before_predicting(tmp_path, small_model, data_dir, capsys):
    out = tmp_path / "test"
    argv = ["-o", str(out), "--shifts", str(SEQ_LENGTH)]
    assert basenji_test.main([*argv, small_model["params"], small_model["model"], data_dir]) == 1
    _one_error_line(capsys, "basenji_test.py")
    assert not (out / "acc.txt").exists()


def test_predict_writes_no_predictions(tmp_path, small_model, data_dir, capsys):
    out = tmp_path / "pred"
    fai = small_model["fasta"] + ".fai"
    argv = ["-o", str(out), "-g", fai, "--rc", "--shifts", str(SEQ_LENGTH)]
    assert basenji_predict.main([*argv, small_model["params"], small_model["model"], data_dir]) == 1
    _one_error_line(capsys, "basenji_predict.py")
    assert not (out / "preds.h5").exists()


def test_export_refuses(tmp_path, small_model):
    with pytest.raises(InputError, match=f"^--shifts -{SEQ_LENGTH}:"):
        export_model(
            small_model["params"], small_model["model"], str(tmp_path / "m"), shifts=[-SEQ_LENGTH]
        )
    assert not (tmp_path / "m").exists()

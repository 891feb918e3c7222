"""basenji_sad.py's closing summary counts the rows that sad.h5 holds (issue 12 item 4)."""

from __future__ import annotations

import logging
import re

import h5py
import pytest

from basenji_tf.cli import basenji_sad

# snv2's REF matches neither the genome (A) nor its ALT: the row is skipped.
VCF = """##fileformat=VCFv4.2
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
chrG\t36322\tsnv1\tC\tT\t.\t.\t.
chrG\t74453\tsnv2\tT\tG\t.\t.\t.
chrG\t79506\tsnv3\tG\tT\t.\t.\t.
"""


@pytest.mark.slow
def test_summary_matches_rows_written(tmp_path, small_model, caplog):
    caplog.set_level(logging.INFO)
    vcf = tmp_path / "mixed.vcf"
    vcf.write_text(VCF)
    out = tmp_path / "sad"
    argv = ["-f", small_model["fasta"], "-o", str(out), small_model["params"]]
    assert basenji_sad.main([*argv, small_model["model"], str(vcf)]) == 0
    with h5py.File(out / "sad.h5") as h5:
        written = len(h5["snp"])
    assert written == 2
    summary = re.search(r"(\d+) VCF records, (\d+) rows scored", caplog.text)
    assert summary is not None, caplog.text
    assert (int(summary[1]), int(summary[2])) == (3, written)
    assert "1 rows skipped for a REF mismatch (snv2)" in caplog.text

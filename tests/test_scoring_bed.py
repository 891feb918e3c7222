"""BED regions -> model windows: checks against the genome, compression, standard input."""

import gzip
import io
import logging
import sys

import pytest

from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.scoring.bed import Region, read_bed_windows


@pytest.fixture(scope="module")
def genome(reference_dir):
    with Genome(reference_dir / "basenji_data_small" / "inputs" / "genome.fa") as g:
        yield g  # chrA 65536, chrB 32768, chrC 32768 bp


def test_windows_from_gzip_and_stdin(tmp_path, genome, monkeypatch):
    text = "chrA\t100\t200\tr1\t0\t-\nB\t1000\t1001\n"
    expected = [Region("chrA", 150 - 64, 150 + 64, "-", "r1"),
                Region("chrB", 1000 - 64, 1000 + 64, "+", "chrB:1000-1001")]  # fmt: skip
    (tmp_path / "r.bed.gz").write_bytes(gzip.compress(text.encode()))
    assert read_bed_windows(str(tmp_path / "r.bed.gz"), genome, 128) == expected
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(text.encode())))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert read_bed_windows("-", genome, 128) == expected


def test_records_past_the_chromosome(tmp_path, genome, caplog):
    bed = tmp_path / "r.bed"
    bed.write_text("chrB\t32700\t32900\nchrB\t100\t200\n")
    with caplog.at_level(logging.WARNING):
        regions = read_bed_windows(str(bed), genome, 128)
    # clipped to [32700, 32768), centred on what is left
    assert regions[0].start == (32700 + 32768) // 2 - 64
    assert "1 records run past their chromosome's end and were clipped to it (lines 1)" in (
        caplog.text
    )
    bed.write_text("chrB\t100\t200\nchrB\t32768\t32900\n")
    with pytest.raises(InputError, match=r"r\.bed: line 2: start 32768 is past the end of chrB"):
        read_bed_windows(str(bed), genome, 128)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"r\.bed: no BED records"),
        ("chrZ\t0\t10\n", r"r\.bed: line 1: chromosome 'chrZ' is not in"),
        ("chrA\t10\t5\n", r"r\.bed: line 1: start 10 and end 5 are not an interval"),
        ("chrA\tx\t5\n", r"r\.bed: line 1: start 'x' is not an integer"),
    ],
)
def test_bad_bed_files(tmp_path, genome, text, message):
    bed = tmp_path / "r.bed"
    bed.write_text(text)
    with pytest.raises(InputError, match=message):
        read_bed_windows(str(bed), genome, 128)

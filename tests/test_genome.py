"""Genome access and contig operations."""

import pytest

from basenji_tf.errors import InputError
from basenji_tf.genome import (
    Genome,
    break_large_contigs,
    chromosome_contigs,
    intersect_intervals,
    read_bed_intervals,
    read_bed_rows,
    rejoin_contigs,
    subtract_intervals,
    write_bed_rows,
)


def test_fetch_pads_with_n_and_resolves_names(reference_dir):
    with Genome(reference_dir / "basenji_data_small" / "inputs" / "genome.fa") as genome:
        assert genome.sizes == {"chrA": 65536, "chrB": 32768, "chrC": 32768}
        seq = genome.fetch("chrB", -3, 2)
        assert seq[:3] == "NNN" and len(seq) == 5 and set(seq[3:]) <= set("ACGT")
        assert genome.fetch("chrC", 32766, 32770)[2:] == "NN"
        assert genome.resolve("A") == "chrA"
        with pytest.raises(InputError, match="names look like chrA, chrB, chrC"):
            genome.resolve("chr9", "-t")


def test_gaps_limits_and_bed_reading(tmp_path):
    bed = tmp_path / "gaps.bed"
    bed.write_text("c1\t10\t20\nc1\t15\t30\nc1\t90\t100\nc2\t0\t5\n")
    gaps = read_bed_intervals(bed)
    assert gaps == {"c1": [(10, 30), (90, 100)], "c2": [(0, 5)]}
    contigs = chromosome_contigs({"c1": 100, "c2": 50, "c3": 10})
    assert subtract_intervals(contigs, gaps) == [
        ("c1", 0, 10),
        ("c1", 30, 90),
        ("c2", 5, 50),
        ("c3", 0, 10),
    ]
    assert intersect_intervals(contigs, gaps) == [("c1", 10, 30), ("c1", 90, 100), ("c2", 0, 5)]
    assert read_bed_rows(bed)[1] == ("c1", 15, 30)
    bed.write_text("c1\tten\t20\n")
    with pytest.raises(InputError, match=r"gaps\.bed:1: expected 'chrom start end'"):
        read_bed_intervals(bed)


def test_break_keeps_every_piece_and_rejoin_restores():
    # the reference genome with --break 16384: the original loses chrA:0-16384
    contigs = [("chrA", 0, 65536), ("chrB", 0, 32768), ("chrC", 0, 32768)]
    pieces = break_large_contigs(contigs, 16384)
    assert pieces[:4] == [
        ("chrA", 0, 16384),
        ("chrA", 16384, 32768),
        ("chrA", 32768, 49152),
        ("chrA", 49152, 65536),
    ]
    assert len(pieces) == 8 and all(e - s == 16384 for _, s, e in pieces)
    assert rejoin_contigs(pieces) == contigs
    odd = break_large_contigs([("x", 5, 106)], 30)
    assert odd == [("x", 5, 30), ("x", 30, 55), ("x", 55, 80), ("x", 80, 106)]
    assert rejoin_contigs([odd[2], odd[0], odd[3]]) == [("x", 5, 30), ("x", 55, 106)]


def test_bed_rows_round_trip(tmp_path):
    rows = [("chrA", 0, 14336, "train"), ("chrB", 8192, 22528, "valid")]
    write_bed_rows(tmp_path / "seqs.bed", rows)
    text = "chrA\t0\t14336\ttrain\nchrB\t8192\t22528\tvalid\n"
    assert (tmp_path / "seqs.bed").read_text() == text
    assert read_bed_rows(tmp_path / "seqs.bed") == [r[:3] for r in rows]

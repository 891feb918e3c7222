"""unmappable_bed.py / basenji_tf.mappability: unmappable runs of a mappability BigWig."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pytest

from basenji_tf.cli import unmappable_bed
from basenji_tf.errors import InputError
from basenji_tf.genome import read_bed_intervals
from basenji_tf.mappability import unmappable_regions


def write_bigwig(path, chroms, entries) -> None:
    """``entries``: chrom -> [(start, end, value)] in order; bases between them have none."""
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(chroms.items()))
    for chrom in chroms:
        rows = entries.get(chrom, [])
        if rows:
            starts, ends, values = zip(*rows)
            bw.addEntries([chrom] * len(rows), list(starts), ends=list(ends), values=list(values))
    bw.close()


def originals_runs(path, unmap_len, unmap_t):
    """The original's per-base loop (pyBigWig values, NaN in gaps), its end test fixed."""
    bw = pyBigWig.open(str(path))
    out = []
    for chrom, size in bw.chroms().items():
        values = bw.values(chrom, 0, size)
        open_start = None
        for i in range(size):
            if values[i] > unmap_t:
                if open_start is not None and i - open_start >= unmap_len:
                    out.append((chrom, open_start, i))
                open_start = None
            elif open_start is None:
                open_start = i
        if open_start is not None and size - open_start >= unmap_len:
            out.append((chrom, open_start, size))
    bw.close()
    return out


@pytest.fixture
def hand_bw(tmp_path):
    """Three chromosomes, values exact in float32 (BigWigs store float32).

    chr1 (100 bp): mappable, a 0.25 run, a gap, mappable, 0.375, a low run to the end;
    chr2 (50 bp): no values at all; chr3 (30 bp): mappable throughout.
    """
    path = tmp_path / "map.bw"
    chroms = {"chr1": 100, "chr2": 50, "chr3": 30}
    entries = {
        "chr1": [(0, 10, 1.0), (10, 20, 0.25), (30, 40, 0.9), (40, 45, 0.375), (45, 100, 0.0)],
        "chr3": [(0, 30, 1.0)],
    }
    write_bigwig(path, chroms, entries)
    return path


def test_runs_at_threshold_gaps_and_chromosome_ends(hand_bw):
    """Values at most t and missing values are unmappable; runs end at the chromosome's end.

    The test is on the stored float32 value, as the original's: 0.2 is stored as
    0.2000000030, above a threshold of 0.2.
    """
    assert list(unmappable_regions(str(hand_bw), unmap_len=5, unmap_t=0.25)) == [
        ("chr1", 10, 30),  # 0.25 is not above 0.25, and the gap 20-30 has no value
        ("chr1", 45, 100),  # to the end of chr1 (the original drops this one)
        ("chr2", 0, 50),  # a chromosome without values
    ]
    assert list(unmappable_regions(str(hand_bw), unmap_len=21, unmap_t=0.25)) == [
        ("chr1", 45, 100),
        ("chr2", 0, 50),
    ]
    # 0.375 is now unmappable too: 40-45 joins the run to the end
    assert list(unmappable_regions(str(hand_bw), unmap_len=5, unmap_t=0.4))[1] == ("chr1", 40, 100)
    assert originals_runs(hand_bw, 5, 0.25) == list(unmappable_regions(str(hand_bw), 5, 0.25))
    # 0.2 in float32 is above 0.2: the 0.2 bases of a track are mappable at -t 0.2
    path = hand_bw.parent / "point2.bw"
    write_bigwig(path, {"chr1": 40}, {"chr1": [(0, 20, 0.2), (20, 40, 0.0)]})
    assert list(unmappable_regions(str(path), 5, 0.2)) == [("chr1", 20, 40)]
    assert originals_runs(path, 5, 0.2) == [("chr1", 20, 40)]


@pytest.mark.parametrize("chunk_bp", [1, 7, 64, 1 << 22])
def test_equals_the_originals_per_base_loop(tmp_path, chunk_bp):
    """Random tracks with gaps: the same runs as the original's loop, for any chunk size."""
    rng = np.random.default_rng(chunk_bp)
    chroms = {"chrA": 3000, "chrB": 1777, "chrM": 400}
    entries = {}
    for chrom, size in chroms.items():
        rows, pos = [], int(rng.integers(0, 40))
        while pos < size:
            end = min(size, pos + int(rng.integers(1, 120)))
            value = float(rng.choice([0.0, 0.1, 0.2, 0.5, 1.0]))
            rows.append((pos, end, value))
            pos = end + int(rng.choice([0, 0, 0, 5, 60]))  # gaps now and then
        entries[chrom] = rows
    path = tmp_path / "random.bw"
    write_bigwig(path, chroms, entries)
    for unmap_len, unmap_t in ((1, 0.2), (50, 0.2), (100, 0.5), (0, 0.0)):
        ours = list(unmappable_regions(str(path), unmap_len, unmap_t, chunk_bp=chunk_bp))
        assert ours == originals_runs(path, unmap_len, unmap_t), (unmap_len, unmap_t)
        assert all(end - start >= unmap_len for _, start, end in ours)


def test_cli_writes_bed_that_basenji_data_reads(tmp_path, hand_bw, capsys):
    assert unmappable_bed.main(["-l", "5", "-t", "0.25", str(hand_bw)]) == 0
    out = capsys.readouterr().out
    assert out == "chr1\t10\t30\nchr1\t45\t100\nchr2\t0\t50\n"
    bed = tmp_path / "unmap.bed"
    bed.write_text(out)
    assert read_bed_intervals(bed) == {"chr1": [(10, 30), (45, 100)], "chr2": [(0, 50)]}
    args = unmappable_bed.build_parser().parse_args(["m.bw"])
    assert (args.unmap_len, args.unmap_t) == (500, 0.2)


def test_not_a_bigwig_is_one_line(tmp_path, capsys):
    bad = tmp_path / "map.bed"
    bad.write_text("chr1\t0\t10\n")
    assert unmappable_bed.main([str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"unmappable_bed.py: error: {bad}: cannot open")
    with pytest.raises(InputError, match="-l -1"):
        list(unmappable_regions(str(bad), unmap_len=-1))

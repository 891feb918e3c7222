"""Genome access, contig operations, and the BED, GTF and chromosome-sizes readers."""

import gzip
import io
import os
import shutil
import sys

import pysam
import pytest

from basenji_tf.errors import InputError
from basenji_tf.genome import (
    Genome,
    break_large_contigs,
    chromosome_contigs,
    intersect_intervals,
    read_bed_intervals,
    read_bed_rows,
    read_chrom_sizes,
    read_gtf_tss,
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
    with pytest.raises(InputError, match=r"gaps\.bed: line 1: start 'ten' is not an integer"):
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


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))


def test_bed_reads_gzip_bgzip_and_stdin(tmp_path, monkeypatch):
    text = "track name=x\nc1\t10\t20\tpeak\nc2\t0\t5\n"
    rows = [("c1", 10, 20), ("c2", 0, 5)]
    (tmp_path / "a.bed").write_text(text)
    (tmp_path / "a.bed.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "gz_without_suffix.bed").write_bytes(gzip.compress(text.encode()))
    pysam.tabix_compress(str(tmp_path / "a.bed"), str(tmp_path / "b.bed.gz"))
    for name in ("a.bed", "a.bed.gz", "gz_without_suffix.bed", "b.bed.gz"):
        assert read_bed_rows(tmp_path / name) == rows, name
    assert read_bed_intervals(tmp_path / "b.bed.gz") == {"c1": [(10, 20)], "c2": [(0, 5)]}
    _stdin(monkeypatch, gzip.compress(text.encode()))
    assert read_bed_rows("-") == rows


@pytest.mark.parametrize(
    "line, message",
    [
        ("c1\t10", "line 2: a BED line needs chrom, start and end"),
        ("c1\t1.5\t20", "line 2: start '1.5' is not an integer"),
        ("c1\t-1\t20", "line 2: start -1 and end 20 are not an interval"),
        ("c1\t20\t20", "line 2: start 20 and end 20 are not an interval"),
        ("c1\t30\t20", "line 2: start 30 and end 20 are not an interval"),
    ],
)
def test_bed_coordinates_are_checked(tmp_path, line, message):
    bed = tmp_path / "x.bed"
    bed.write_text(f"c1\t0\t5\n{line}\n")
    for reader in (read_bed_rows, read_bed_intervals):
        with pytest.raises(InputError, match=rf"x\.bed: {message}"):
            reader(bed)


def test_empty_bed_and_regions_off_the_genome(tmp_path):
    bed = tmp_path / "x.bed"
    bed.write_text("# nothing\n\n")
    with pytest.raises(InputError, match=r"x\.bed: no BED records"):
        read_bed_rows(bed)
    assert read_bed_intervals(bed) == {}  # an empty mask is fine
    bed.write_text("c1\t0\t100\nc1\t50\t101\n")
    assert len(read_bed_rows(bed, {"c1": 101})) == 2
    with pytest.raises(InputError, match=r"line 2: end 101 is past the end of c1 \(100 bp\)"):
        read_bed_rows(bed, {"c1": 100})
    with pytest.raises(InputError, match=r"line 1: chromosome 'c1' is not in the genome"):
        read_bed_rows(bed, {"chr1": 100})


def test_corrupt_text_inputs_are_one_line_errors(tmp_path):
    bed = tmp_path / "x.bed"
    bed.write_bytes(b"c1\t0\t5\n\x89PNG\x00\xff\n")
    with pytest.raises(InputError, match=r"x\.bed: line 2: not UTF-8 text; is this a BED file"):
        read_bed_rows(bed)
    bed.write_bytes(gzip.compress(b"c1\t0\t5\n")[:-6])
    with pytest.raises(InputError, match=r"x\.bed: truncated or corrupt compressed data"):
        read_bed_rows(bed)
    bed.write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(InputError, match=r"x\.bed: truncated or corrupt compressed data"):
        read_bed_rows(bed)


GTF = (
    "#!genome-build test\n"
    'c1\tsim\tgene\t11\t20\t.\t+\t.\tgene_id "g1"; gene_name "A";\n'
    'c1\tsim\texon\t11\t15\t.\t+\t.\tgene_id "g1";\n'
    'c2\tsim\tgene\t5\t9\t.\t-\t.\tgene_id "g2";\n'
)


def test_gtf_tss_plain_and_gzip(tmp_path):
    (tmp_path / "g.gtf").write_text(GTF)
    (tmp_path / "g.gtf.gz").write_bytes(gzip.compress(GTF.encode()))
    for name in ("g.gtf", "g.gtf.gz"):
        tss = read_gtf_tss(tmp_path / name, sizes={"c1": 20})
        assert [(g["gene_id"], g["gene_name"], g["tss"]) for g in tss] == [
            ("g1", "A", 10),
            ("g2", "g2", 8),  # c2 is not in sizes: kept (a genome-wide annotation)
        ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("c1\tsim\tgene\t11\t20", "line 2: a GTF line has 9 tab-separated columns, got 5"),
        ('c1\ts\tgene\tx\t20\t.\t+\t.\tgene_id "a";', "line 2: start 'x' is not an integer"),
        ('c1\ts\tgene\t0\t20\t.\t+\t.\tgene_id "a";', "line 2: start 0 and end 20 are not"),
        ('c1\ts\tgene\t21\t20\t.\t+\t.\tgene_id "a";', "line 2: start 21 and end 20 are not"),
        ('c1\ts\tgene\t11\t20\t.\t+\t.\tname "a";', "line 2: record without a gene_id"),
        ('c1\ts\tgene\t11\t21\t.\t+\t.\tgene_id "a";', "line 2: end 21 is past the end of c1"),
    ],
)
def test_gtf_errors(tmp_path, line, message):
    gtf = tmp_path / "g.gtf"
    gtf.write_text(f"# h\n{line}\n")
    with pytest.raises(InputError, match=rf"g\.gtf: {message}"):
        read_gtf_tss(gtf, sizes={"c1": 20})


def test_gtf_without_records(tmp_path):
    gtf = tmp_path / "g.gtf"
    gtf.write_text("")
    with pytest.raises(InputError, match=r"g\.gtf: no GTF records"):
        read_gtf_tss(gtf)
    gtf.write_text(GTF)
    with pytest.raises(InputError, match=r"no 'transcript' records \(features: exon, gene\)"):
        read_gtf_tss(gtf, "transcript")


def test_chrom_sizes(tmp_path):
    sizes = tmp_path / "g.sizes"
    sizes.write_text("c1\t100\nc2 50\n")
    assert read_chrom_sizes(sizes) == {"c1": 100, "c2": 50}
    for text, message in [
        ("c1\t100\nc1\t5\n", "line 2: c1 is listed twice"),
        ("c1\t0\n", "line 1: length 0 of c1 is not positive"),
        ("c1\n", "line 1: length '' is not an integer"),
        ("", "no chromosomes"),
    ]:
        sizes.write_text(text)
        with pytest.raises(InputError, match=rf"g\.sizes: {message}"):
            read_chrom_sizes(sizes)


def test_stale_or_truncated_fasta_index(tmp_path, reference_dir):
    fasta = tmp_path / "genome.fa"
    shutil.copy(reference_dir / "basenji_data_small" / "inputs" / "genome.fa", fasta)
    with Genome(fasta) as genome:  # builds genome.fa.fai
        seq = genome.fetch("chrC", 0, 32768)
    # an index older than the FASTA that still matches it is fine (copies, checkouts)
    os.utime(f"{fasta}.fai", (0, 0))
    Genome(fasta).close()
    # the FASTA rewritten with another line length: the old index reads headers as bases
    fasta.write_text(">chrC\n" + "\n".join(seq[i : i + 50] for i in range(0, len(seq), 50)))
    os.utime(f"{fasta}.fai", (0, 0))
    with pytest.raises(InputError, match=r"genome\.fa\.fai: the index does not match .* delete"):
        Genome(fasta)
    os.remove(f"{fasta}.fai")
    with Genome(fasta) as genome:
        assert genome.fetch("chrC", 0, 32768) == seq
    # the FASTA truncated after indexing
    fasta.write_text(fasta.read_text()[:20000])
    with pytest.raises(InputError, match=r"genome\.fa\.fai: the index does not match"):
        Genome(fasta)

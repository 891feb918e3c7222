"""VCF reading and variant windows (no model needed)."""

import gzip
import io
import logging
import sys

import numpy as np
import pysam
import pytest

from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.scoring.vcf import (
    Variant,
    VcfCounts,
    count_vcf_records,
    read_vcf,
    ref_window_start,
    variant_windows,
    window_bounds,
)


@pytest.fixture(scope="module")
def sad_dir(reference_dir):
    return reference_dir / "sad_small"


@pytest.fixture(scope="module")
def float32_run(sad_dir):
    return np.load(sad_dir / "sad_float32.npz")


@pytest.fixture(scope="module")
def genome(sad_dir):
    with Genome(sad_dir / "gata4_locus.fa") as g:
        yield g


def test_windows_equal_the_originals(sad_dir, genome, float32_run, caplog):
    counts = VcfCounts()
    rows = list(read_vcf(str(sad_dir / "snps.vcf"), genome, counts, first_alt=True))
    assert [v.id for v in rows] == list(float32_run["snp"])
    with caplog.at_level(logging.WARNING):
        for i, v in enumerate(rows):
            ref, alt = variant_windows(genome, v, 16384, counts)
            np.testing.assert_array_equal(ref, float32_run["ref_onehot"][i].astype(np.float32))
            np.testing.assert_array_equal(alt, float32_run["alt_onehot"][i].astype(np.float32))
    assert counts.ref_swapped == 1 and "flip" in caplog.text
    assert counts.extra_alts == 1 and rows[-1].chrom == "chrG"


def test_every_alt_is_a_row_and_symbolic_alleles_are_counted(tmp_path, genome):
    vcf = tmp_path / "x.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n"
        "chrG\t65537\tm\tT\tA,C,<DEL>\t.\t.\t.\n"
        "chrG\t65538\tstar\tT\t*\t.\t.\t.\n"
    )
    counts = VcfCounts()
    rows = list(read_vcf(str(vcf), genome, counts))
    assert [(v.id, v.alt) for v in rows] == [("m", "A"), ("m", "C")]
    assert counts.symbolic == 2 and counts.records == 2


def test_bgzipped_and_headerless_vcfs_read_alike(tmp_path, reference_dir):
    plain = reference_dir / "real_hg19" / "rs339331.vcf"  # no #CHROM line at all
    bgz = tmp_path / "rs.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    rows = [list(read_vcf(str(p))) for p in (plain, bgz)]
    assert rows[0] == rows[1]
    assert (rows[0][0].chrom, rows[0][0].pos, rows[0][0].alt) == ("chr6", 117210052, "C")


def test_vcf_errors_name_file_and_line(tmp_path, genome):
    bad = tmp_path / "bad.vcf"
    bad.write_text("#c\nchrG\tx\ta\tA\tC\n")
    with pytest.raises(InputError, match=r"bad.vcf: line 2: POS 'x'"):
        list(read_vcf(str(bad)))
    bad.write_text("chrQ\t5\ta\tA\tC\n")
    with pytest.raises(InputError, match=r"bad.vcf: line 1: chromosome 'chrQ'"):
        list(read_vcf(str(bad), genome))
    gz = tmp_path / "g.vcf.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("G\t100\t.\tA\tC\n")
    assert next(read_vcf(str(gz), genome)).id == "chrG:100"


def test_ref_mismatch_is_skipped_or_strict(genome):
    v = Variant("chrG", 36322, "bad", "G", "T", ("T",), 3)  # genome has C
    counts = VcfCounts()
    assert variant_windows(genome, v, 1024, counts) is None
    assert counts.ref_mismatch == 1 and "bad" in counts.summary()
    with pytest.raises(InputError, match="line 3 bad: REF G does not match the genome"):
        variant_windows(genome, v, 1024, strict=True)


def test_one_window_geometry_for_every_use(genome):
    """The variant's first base sits at index L/2 - 1 of its window.

    A deletion extends the fetched span right, and its length-normalised REF window
    starts half the deletion later.
    """
    assert window_bounds(100, 16) == (92, 108)
    assert window_bounds(100, 16, extend=3) == (92, 111)
    snv = Variant("chrG", 74453, "s", "A", "C", ("C",), 1)
    deletion = Variant("chrG", 40001, "d", "TTG", "T", ("T",), 2)
    assert ref_window_start(snv, 1024) == 74453 - 512
    assert ref_window_start(deletion, 1024) == 40001 - 512 + 1
    ref, alt = variant_windows(genome, snv, 1024)
    start, end = window_bounds(snv.pos, 1024)
    np.testing.assert_array_equal(ref[511], [1, 0, 0, 0])  # A at index L/2 - 1
    np.testing.assert_array_equal(alt[511], [0, 1, 0, 0])
    assert end - start == 1024


def test_positions_are_checked_against_the_chromosome(tmp_path, genome):
    """POS < 1 or a REF past the chromosome end is a bad position, not a REF mismatch."""
    size = genome.sizes["chrG"]
    bad = tmp_path / "pos.vcf"
    bad.write_text("chrG\t0\t.\tA\tC\n")
    with pytest.raises(InputError, match=r"pos.vcf: line 1: POS 0 is not a position"):
        list(read_vcf(str(bad)))
    bad.write_text(f"#h\nchrG\t{size + 1}\t.\tA\tC\n")
    with pytest.raises(InputError, match=rf"line 2: POS {size + 1} .* past the end of chrG"):
        list(read_vcf(str(bad), genome))
    bad.write_text(f"chrG\t{size}\t.\tAC\tA\n")  # the REF's second base is off the end
    with pytest.raises(InputError, match="REF 2 bp.* past the end"):
        list(read_vcf(str(bad), genome))
    last = genome.fetch("chrG", size - 1, size)
    bad.write_text(f"chrG\t{size}\t.\t{last}\tA\n")
    assert [v.pos for v in read_vcf(str(bad), genome)] == [size]


def test_empty_vcfs(tmp_path, caplog):
    empty = tmp_path / "empty.vcf"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.vcf: the VCF is empty"):
        list(read_vcf(str(empty)))
    header_only = tmp_path / "header.vcf"
    header_only.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n")
    counts = VcfCounts()
    with caplog.at_level(logging.WARNING):
        assert list(read_vcf(str(header_only), counts=counts)) == []
    assert "header.vcf: the VCF has no records" in caplog.text and counts.records == 0
    assert count_vcf_records(str(header_only)) == 0


def _write_bcf(path, records):
    header = pysam.VariantHeader()
    header.add_line("##contig=<ID=chrG,length=163840>")
    with pysam.VariantFile(str(path), "wb", header=header) as out:
        for pos, rsid, alleles in records:
            out.write(out.new_record(contig="chrG", start=pos - 1, id=rsid, alleles=alleles))


def test_bcf_and_stdin_read_as_the_text_vcf(tmp_path, genome, monkeypatch):
    records = [(65537, None, ("T", "A", "C")), (65538, "rs2", ("T", "*")), (74453, "s", ("A", "C"))]
    bcf = tmp_path / "x.bcf"
    _write_bcf(bcf, records)
    text = "".join(f"chrG\t{p}\t{i or '.'}\t{a[0]}\t{','.join(a[1:])}\n" for p, i, a in records)
    vcf = tmp_path / "x.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n" + text)
    expected = [(v.id, v.pos, v.ref, v.alt) for v in read_vcf(str(vcf), genome)]
    assert len(expected) == 3
    assert [(v.id, v.pos, v.ref, v.alt) for v in read_vcf(str(bcf), genome)] == expected
    assert count_vcf_records(str(bcf)) == 3
    for source in (vcf, bcf):  # standard input, text or (spooled) BCF
        monkeypatch.setattr(
            sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(source.read_bytes())))
        )
        assert [(v.id, v.pos, v.ref, v.alt) for v in read_vcf("-", genome)] == expected
    with pytest.raises(InputError, match="standard input can be read only once"):
        count_vcf_records("-")


def test_corrupt_vcfs_are_one_line_errors(tmp_path):
    bcf = tmp_path / "x.bcf"
    _write_bcf(bcf, [(100 + i, None, ("A", "C")) for i in range(2000)])
    truncated = tmp_path / "t.bcf"
    truncated.write_bytes(bcf.read_bytes()[: bcf.stat().st_size // 2])
    with pytest.raises(InputError, match=r"t.bcf: .*(truncated|corrupt)"):
        list(read_vcf(str(truncated)))
    gz = tmp_path / "t.vcf.gz"
    text = "".join(f"chrG\t{i * 7919 % 100003 + 1}\t.\tA\tC\n" for i in range(5000))
    gz.write_bytes(gzip.compress(text.encode())[:3000])
    # the cut may fall mid-line, which the line's own check reports first
    with pytest.raises(InputError, match=r"t.vcf.gz: (truncated or corrupt|line \d+: a VCF)"):
        list(read_vcf(str(gz)))
    gz.write_bytes(gzip.compress(b"chrG\t5\t.\tA\tC\n")[:-4])  # whole lines, no trailer
    with pytest.raises(InputError, match=r"t.vcf.gz: truncated or corrupt compressed data"):
        list(read_vcf(str(gz)))
    binary = tmp_path / "b.vcf"
    binary.write_bytes(b"chrG\t5\t.\tA\tC\n\xff\xfe\x00garbage\n")
    with pytest.raises(InputError, match=r"b.vcf: line 2: not UTF-8 text"):
        list(read_vcf(str(binary)))

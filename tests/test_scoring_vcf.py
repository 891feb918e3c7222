"""VCF reading and variant windows (no model needed)."""

import gzip
import logging

import numpy as np
import pysam
import pytest

from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.scoring.vcf import (
    Variant,
    VcfCounts,
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
    with pytest.raises(InputError, match=r"bad.vcf:2: POS 'x'"):
        list(read_vcf(str(bad)))
    bad.write_text("chrQ\t5\ta\tA\tC\n")
    with pytest.raises(InputError, match=r"bad.vcf:1: chromosome 'chrQ'"):
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

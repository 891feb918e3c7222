"""VCF reading, variant windows, SAD statistics and sad.h5 writing (no model needed)."""

import gzip
import logging

import h5py
import numpy as np
import pysam
import pytest

from basenji_tf import variants as V
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome

ALL_STATS = list(V.SAD_STATS)


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
    counts = V.VcfCounts()
    rows = list(V.read_vcf(str(sad_dir / "snps.vcf"), genome, counts, first_alt=True))
    assert [v.id for v in rows] == list(float32_run["snp"])
    with caplog.at_level(logging.WARNING):
        for i, v in enumerate(rows):
            ref, alt = V.variant_windows(genome, v, 16384, counts)
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
    counts = V.VcfCounts()
    rows = list(V.read_vcf(str(vcf), genome, counts))
    assert [(v.id, v.alt) for v in rows] == [("m", "A"), ("m", "C")]
    assert counts.symbolic == 2 and counts.records == 2


def test_bgzipped_and_headerless_vcfs_read_alike(tmp_path, reference_dir):
    plain = reference_dir / "real_hg19" / "rs339331.vcf"  # no #CHROM line at all
    bgz = tmp_path / "rs.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    rows = [list(V.read_vcf(str(p))) for p in (plain, bgz)]
    assert rows[0] == rows[1]
    assert (rows[0][0].chrom, rows[0][0].pos, rows[0][0].alt) == ("chr6", 117210052, "C")


def test_vcf_errors_name_file_and_line(tmp_path, genome):
    bad = tmp_path / "bad.vcf"
    bad.write_text("#c\nchrG\tx\ta\tA\tC\n")
    with pytest.raises(InputError, match=r"bad.vcf:2: POS 'x'"):
        list(V.read_vcf(str(bad)))
    bad.write_text("chrQ\t5\ta\tA\tC\n")
    with pytest.raises(InputError, match=r"bad.vcf:1: chromosome 'chrQ'"):
        list(V.read_vcf(str(bad), genome))
    gz = tmp_path / "g.vcf.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("G\t100\t.\tA\tC\n")
    assert next(V.read_vcf(str(gz), genome)).id == "chrG:100"


def test_ref_mismatch_is_skipped_or_strict(genome):
    v = V.Variant("chrG", 36322, "bad", "G", "T", ("T",), 3)  # genome has C
    counts = V.VcfCounts()
    assert V.variant_windows(genome, v, 1024, counts) is None
    assert counts.ref_mismatch == 1 and "bad" in counts.summary()
    with pytest.raises(InputError, match="line 3 bad: REF G does not match the genome"):
        V.variant_windows(genome, v, 1024, strict=True)


def test_statistics_equal_the_originals(sad_dir, float32_run):
    """All 14 statistics from the original's float32 predictions, bit for bit but logSAD.

    numpy's float32 log2 differs in the last bit between its AVX-512 code (the machine
    that ran the original) and its AVX2 code; logSAD, a difference of two sums over the
    bins, turns that into a few float16 steps, so it is compared within the float32
    rounding of those sums.
    """
    scores = V.sad_stats(float32_run["ref_preds"], float32_run["alt_preds"], ALL_STATS)
    with h5py.File(sad_dir / "sad_out" / "sad.h5") as h5:
        for stat in ALL_STATS:
            assert scores[stat].dtype == np.float16
            assert_same_stat(stat, scores[stat], h5[stat][:])


def assert_same_stat(name, ours, theirs):
    """Bit for bit, but logSAD (and its percentiles) within float32 rounding."""
    if name.startswith("logSAD"):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=2e-5, err_msg=name)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=name)


def test_writer_and_percentiles_equal_the_originals(tmp_path, sad_dir, genome, float32_run):
    rows = list(V.read_vcf(str(sad_dir / "snps.vcf"), genome, first_alt=True))
    scores = V.sad_stats(float32_run["ref_preds"], float32_run["alt_preds"], ALL_STATS)
    writer = V.SadWriter(str(tmp_path / "sad.h5"), ALL_STATS, V.TargetSet.all_outputs(8), 112)
    # two appends: widening string datasets and resizing must not change anything
    writer.append(rows[:5], {k: v[:5] for k, v in scores.items()})
    writer.append(rows[5:], {k: v[5:] for k, v in scores.items()})
    writer.close()
    with h5py.File(tmp_path / "sad.h5") as ours, h5py.File(sad_dir / "sad_out/sad.h5") as ref:
        assert set(ours) == set(ref)
        for name in ref:
            if name == "target_labels":  # empty labels: same values, narrower string type
                assert list(ours[name][:]) == list(ref[name][:])
                continue
            assert ours[name].dtype == ref[name].dtype, name
            assert_same_stat(name, ours[name][:], ref[name][:])


def test_targets_table_slice_strand_and_untransform(sad_dir, float32_run):
    targets = V.TargetSet.from_table(str(sad_dir / "targets_sad.txt"))
    assert targets.ids == ["H0", "H1", "H2+", "H5+"]
    assert list(targets.slice) == [0, 1, 2, 3, 5, 6]
    assert list(targets.strand_pair) == [0, 1, 3, 2, 5, 4]
    x = np.array([[[0.5, 3.0, 1.0, 2.0, 0.25, 1.5, 0.0]]], dtype=np.float32)
    got = targets.transform(x[..., targets.slice])
    h2 = -1 + (1.0 + 1) ** (4 / 3) + (-1 + (2.0 + 1) ** (4 / 3))
    h1 = -1 + (1.5 - 1 + (3.0 - 1.5 + 1) ** 2 + 1) ** (4 / 3)
    np.testing.assert_allclose(got[0, 0], [0.5, h1, h2, (0.5 - 1 + 2.0**2) + 0.0], rtol=1e-6)
    # Unpaired outputs need no model: the original's H0/H1 columns from run-1 predictions.
    ref = targets.transform(float32_run["ref_preds"][..., targets.slice])
    alt = targets.transform(float32_run["alt_preds"][..., targets.slice])
    scores = V.sad_stats(ref, alt, ["SAD", "REF"])
    with h5py.File(sad_dir / "sad_targets_out" / "sad.h5") as h5:
        np.testing.assert_allclose(scores["SAD"][:, :2], h5["SAD"][:, :2], rtol=2e-3, atol=1e-3)
        np.testing.assert_array_equal(scores["REF"][..., :2], h5["REF"][..., :2])


def test_merge_recomputes_percentiles(tmp_path, sad_dir):
    """Two halves of the original's file merge back into it (rows and percentiles)."""
    ref_file = sad_dir / "sad_out" / "sad.h5"
    with h5py.File(ref_file) as h5:
        per_row = [k for k in h5 if h5[k].shape[:1] == (15,)]
        for i, (r0, r1) in enumerate([(0, 7), (7, 15)]):
            with h5py.File(tmp_path / f"job{i}.h5", "w") as out:
                for k in h5:
                    out[k] = h5[k][r0:r1] if k in per_row else h5[k][:]
    V.merge_sad([str(tmp_path / "job0.h5"), str(tmp_path / "job1.h5")], str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5") as merged, h5py.File(ref_file) as h5:
        for k in h5:
            if k != "target_labels":
                np.testing.assert_array_equal(merged[k][:], h5[k][:], err_msg=k)


def test_shard_ranges_cover_every_record():
    ranges = [V.shard_range(10, i, 3) for i in range(3)]
    assert ranges == [(0, 3), (3, 6), (6, 10)]
    # cut at multiples of the scoring batch, the last shard taking the rest
    assert [V.shard_range(16, i, 2, align=3) for i in range(2)] == [(0, 6), (6, 16)]
    assert [V.shard_range(5, i, 3, align=4) for i in range(3)] == [(0, 0), (0, 0), (0, 5)]


def test_sad_options_reject_bad_batches():
    with pytest.raises(InputError, match="--batch_variants 0: must be a positive"):
        V.SadOptions(batch_variants=0)
    with pytest.raises(InputError, match="--cluster -5"):
        V.SadOptions(cluster_bp=-5)

"""bam: alignments -> coverage tracks (bam_cov.py)."""

import h5py
import numpy as np
import pyBigWig
import pysam
import pytest

from basenji_tf.cli.bam_cov import main


def _read(name, start, cigar_len, reverse=False, nh=1, pair=None, tlen=0, mate_start=0):
    read = pysam.AlignedSegment()
    read.query_name = name
    read.reference_id = 0
    read.reference_start = start
    read.cigarstring = f"{cigar_len}M"
    read.query_sequence = "A" * cigar_len
    read.mapping_quality = 30
    flag = 16 if reverse else 0
    if pair is not None:
        flag |= 1 | 2 | (64 if pair == 1 else 128) | (0 if reverse else 32)
        read.next_reference_id = 0
        read.next_reference_start = mate_start
        read.template_length = tlen
    read.flag = flag
    read.set_tag("NH", nh)
    return read


@pytest.fixture(scope="module")
def bam(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bam")
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 1000}]}
    reads = [
        _read("u1", 100, 10),  # unique, + strand
        _read("m1", 100, 10, nh=2),  # multi-mapped twice: weight 1/2
        _read("r1", 300, 20, reverse=True),  # unique, - strand
        # a proper pair: read 1 at 500 (+), read 2 at 580 (-), fragment 500-600, centre 550
        _read("p1", 500, 20, pair=1, tlen=100, mate_start=580),
        _read("p1", 580, 20, reverse=True, pair=2, tlen=-100, mate_start=500),
    ]
    unsorted = tmp / "u.bam"
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for read in reads:
            out.write(read)
    path = tmp / "a.bam"
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    return path


def test_coverage_weights_multi_mapped_reads(bam, tmp_path):
    out = tmp_path / "cov.bw"
    assert main([str(bam), str(out)]) == 0
    bw = pyBigWig.open(str(out))
    values = np.nan_to_num(bw.values("chr1", 0, 1000, numpy=True))
    assert values[100:110].tolist() == [1.5] * 10 and values[110] == 0 and values[99] == 0
    assert values[300:320].tolist() == [1] * 20
    assert values[500:520].tolist() == [1] * 20 and values[580:600].tolist() == [1] * 20
    assert values.sum() == 15 + 20 + 40


def test_unique_skip_strand_and_centre(bam, tmp_path):
    out = tmp_path / "cov.w5"
    assert main(["-u", "--strand", str(bam), str(out)]) == 0
    plus = h5py.File(tmp_path / "cov+.w5")["chr1"][:]
    minus = h5py.File(tmp_path / "cov-.w5")["chr1"][:]
    assert plus.dtype == np.float16
    assert plus[100] == 2 and minus[100] == 0  # -u: the multi-mapped read counts 1
    assert minus[300:320].sum() == 20 and plus[300:320].sum() == 0
    # read 2 of a pair takes the strand of read 1 (the fragment's strand)
    assert plus[580:600].sum() == 20 and minus[580:600].sum() == 0
    out = tmp_path / "centre.bw"
    assert main(["-c", "--fragment_length", "50", "--skip_multi", str(bam), str(out)]) == 0
    values = np.nan_to_num(pyBigWig.open(str(out)).values("chr1", 0, 1000, numpy=True))
    # single + read: 5' end 100 + 25; single - read: 5' end 319 - 25; pair: centre 550
    assert np.flatnonzero(values).tolist() == [125, 294, 550]
    assert values[[125, 294, 550]].tolist() == [1, 1, 1]


def test_smoothing_keeps_the_total(bam, tmp_path):
    out = tmp_path / "s.bw"
    assert main(["-c", "-s", "5", str(bam), str(out)]) == 0
    values = np.nan_to_num(pyBigWig.open(str(out)).values("chr1", 0, 1000, numpy=True))
    assert values.sum() == pytest.approx(3.5, rel=1e-4) and values.max() < 0.2


def test_unindexed_bam_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "x.bam").write_bytes(b"not a bam")
    assert main([str(tmp_path / "x.bam"), str(tmp_path / "o.bw")]) == 1
    assert "x.bam: cannot read as an indexed BAM/CRAM" in capsys.readouterr().err
    assert not (tmp_path / "o.bw").exists()

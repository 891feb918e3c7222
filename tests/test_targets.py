"""Targets table and coverage processing (basenji_data_read.py)."""

import gzip
import io
import sys

import h5py
import numpy as np
import pyBigWig
import pytest

from basenji_tf.cli.basenji_data_read import main as read_main
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.targets import (
    CoverageSource,
    check_tracks,
    interp_nan,
    pool_bins,
    read_coverage,
    read_target_options,
    read_targets,
    soft_clip,
    strand_pairs,
    target_options,
    window_targets,
)


def test_strand_pairs(tmp_path):
    path = tmp_path / "targets.txt"
    path.write_text(
        "index\tidentifier\tfile\tstrand_pair\n"
        "0\tplus\ta.bw\t1\n1\tminus\tb.bw\t0\n2\tboth\tc.bw\t2\n"
    )
    table = read_targets(path)
    assert strand_pairs(table) == [1, 0, 2]
    assert strand_pairs(table, 3) == [1, 0, 2]
    assert strand_pairs(table, 4) is None  # not this head's full table
    assert strand_pairs(table.drop(columns="strand_pair")) is None


@pytest.fixture(scope="module")
def small(reference_dir):
    return reference_dir / "basenji_data_small"


def test_read_targets_tables(small, baskerville_dir, reference_dir):
    table = read_targets(small / "inputs" / "targets.txt")
    assert table.index.name == "index" and table.index.tolist() == [0, 1, 2]
    assert table.loc[2, "sum_stat"] == "sum_sqrt" and table.loc[1, "scale"] == 2
    # released tables: unnamed index column, strand pairs, no clip_soft
    hg38 = read_targets(baskerville_dir / "tiny" / "hg38" / "targets.txt")
    assert len(hg38) == 74 and hg38.loc[0, "strand_pair"] == 1
    cross = read_targets(reference_dir / "basenji_published" / "cross2020_targets_mouse.txt")
    assert len(cross) == 1643 and "clip_soft" not in cross.columns
    opts = target_options(cross.head(2))
    assert opts[0]["clip_soft"] is None and opts[0]["clip"] == 32 and opts[0]["scale"] == 2


def test_read_targets_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt: targets table not found"):
        read_targets(tmp_path / "nope.txt")
    bad = tmp_path / "t.txt"
    bad.write_text("index\tidentifier\tdescription\n0\tA\tx\n")
    with pytest.raises(InputError, match=r"t\.txt: targets table has no 'file' column"):
        read_targets(bad)
    bad.write_text("index\tidentifier\tfile\n0\tA\ta.bw\n0\tB\tb.bw\n")
    with pytest.raises(InputError, match="index 0 appears more than once"):
        read_targets(bad)
    bad.write_text("index\tidentifier\tfile\n0\tA\ta.bw\n")
    with pytest.raises(InputError, match="no 'sum_stat' column"):
        target_options(read_targets(bad), str(bad))
    bad.write_text("index\tidentifier\tfile\tsum_stat\n0\tA\ta.bw\tsummm\n")
    with pytest.raises(InputError, match="index 0: sum_stat 'summm' is not one of"):
        target_options(read_targets(bad), str(bad))


HEADER = "index\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\n"


@pytest.mark.parametrize(
    "row, message",
    [
        ("0\tA\ta.bw\t-1\t\t1\tsum\t0", "index 0: clip -1 is not a number >= 0"),
        ("0\tA\ta.bw\t5\t-2\t1\tsum\t0", "index 0: clip_soft -2 is not a number >= 0"),
        ("0\tA\ta.bw\t5\t\t0\tsum\t0", "index 0: scale 0 is not a number > 0"),
        ("0\tA\ta.bw\tbig\t\t1\tsum\t0", "index 0: clip 'big' is not a number >= 0"),
        ("0\tA\ta.bw\t5\t\t1\tsum\t0.5", "index 0: strand_pair 0.5 is not an integer >= 0"),
        ("0\t\ta.bw\t5\t\t1\tsum\t0", "index 0: identifier is missing"),
        ("0\tA\ta.bw\t5\t\t1\tnope\t0", "index 0: sum_stat 'nope' is not one of"),
        ("-1\tA\ta.bw\t5\t\t1\tsum\t0", r"the first column \(index\) must hold integer"),
        ("x\tA\ta.bw\t5\t\t1\tsum\t0", r"the first column \(index\) must hold integer"),
    ],
)
def test_targets_table_values_are_checked(tmp_path, row, message):
    table = tmp_path / "t.txt"
    table.write_text(f"{HEADER}1\tB\tb.bw\t5\t\t1\tmean\t1\n{row}\n")
    with pytest.raises(InputError, match=rf"t\.txt: {message}"):
        read_targets(table)


def test_targets_table_gzip_stdin_and_empty_values(tmp_path, monkeypatch):
    text = f"{HEADER}0\tA\ta.bw\t\t\t\tsum\t0\n"
    table = tmp_path / "t.txt.gz"
    table.write_bytes(gzip.compress(text.encode()))
    opts = target_options(read_targets(table))  # empty clip, clip_soft, scale = absent
    assert opts == [{"file": "a.bw", "sum_stat": "sum", "clip": None, "clip_soft": None,
                     "scale": 1.0}]  # fmt: skip
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(text.encode())))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert read_targets("-").equals(read_targets(table))
    table.write_bytes(b"\x00\xff\xfe binary")
    with pytest.raises(InputError, match=r"t\.txt\.gz: line 1: not UTF-8 text"):
        read_targets(table)


def test_corrupt_bigwig_is_one_line(small, tmp_path):
    data = (small / "inputs" / "t1_peaks_gap.bw").read_bytes()
    (tmp_path / "t.bw").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"t\.bw: cannot open as a BigWig file; .*truncated"):
        CoverageSource(tmp_path / "t.bw")


def test_coverage_equals_the_original_seqs_cov(small):
    """Every sum_stat / clip / clip_soft / scale / NaN case of the fixture, bit for bit."""
    windows = [tuple(line.split()[:3]) for line in open(small / "data_out" / "sequences.bed")]
    windows = [(c, int(s), int(e)) for c, s, e in windows]
    table = read_targets(small / "inputs" / "targets.txt")
    for ti, opt in enumerate(target_options(table)):
        ours = read_coverage(
            small / opt["file"],
            windows,
            128,
            opt["sum_stat"],
            opt["clip"],
            opt["clip_soft"],
            opt["scale"],
        )
        original = h5py.File(small / "data_out" / "seqs_cov" / f"{ti}.h5")["targets"][:]
        assert ours.dtype == np.float16
        np.testing.assert_array_equal(ours, original)


def test_read_cli_writes_the_same_file(small, tmp_path):
    out = tmp_path / "1.h5"
    args = [
        "-w",
        "128",
        "-u",
        "mean",
        "-c",
        "40",
        "--clip_soft",
        "32",
        "-s",
        "2",
        str(small / "inputs" / "t1_peaks_gap.bw"),
        str(small / "data_out" / "sequences.bed"),
        str(out),
    ]
    assert read_main(args) == 0
    original = h5py.File(small / "data_out" / "seqs_cov" / "1.h5")["targets"][:]
    np.testing.assert_array_equal(h5py.File(out)["targets"][:], original)


def test_pool_bins_every_statistic():
    x = np.array([0, 1, 2, 5, 4, 4, 4, 0], dtype=np.float32)  # two 4-bp bins
    assert pool_bins(x, 4, "sum").tolist() == [8, 12]
    np.testing.assert_allclose(pool_bins(x, 4, "sum_sqrt"), [2, np.sqrt(13) - 1])
    assert pool_bins(x, 4, "mean").tolist() == pool_bins(x, 4, "avg").tolist() == [2, 3]
    np.testing.assert_allclose(pool_bins(x, 4, "mean_sqrt"), [np.sqrt(3) - 1, 1])
    assert pool_bins(x, 4, "median").tolist() == [1.5, 4]
    assert pool_bins(x, 4, "max").tolist() == [5, 4]
    # peak: clip(sqrt(4 * mean), 0, 1)
    np.testing.assert_allclose(
        pool_bins(np.array([0, 0, 0, 0.1, 0, 0, 0, 0]), 4, "peak"), [np.sqrt(0.1), 0], rtol=1e-6
    )
    assert pool_bins(x, 4, "peak").tolist() == [1, 1]


def test_clips_baseline_blacklist_and_nan():
    assert soft_clip(np.array([10.0, 35.0]), 10).tolist() == [10, 10 - 1 + np.sqrt(26)]
    values = np.full(64, 2, dtype=np.float16)
    values[:8] = 100
    black = np.zeros(64, bool)
    black[:4] = True
    out = window_targets(values, 8, "sum", clip=500, black_mask=black)
    # baseline = median 2: blacklisted 100s -> 2; the other 4 bp at 100 stay
    assert out.tolist() == [4 * 2 + 4 * 100] + [16] * 7
    values[40:44] = np.nan
    # a NaN makes the median NaN, so the baseline is 0 (as the original): NaN -> 0
    # and blacklisted bp -> 0
    out = window_targets(values, 8, "sum", black_mask=black)
    assert out.tolist() == [400, 16, 16, 16, 16, 8, 16, 16]
    interp = window_targets(values, 8, "sum", interp=True)
    assert interp[5] == 16  # NaN run between 2s interpolates to 2
    assert interp_nan(np.array([np.nan, 4, np.nan, 8, np.nan])).tolist() == [2, 4, 6, 8, 4]
    # the whole window is scaled before pooling and rounded to float16 as the original
    assert window_targets(values, 8, "max", scale=0.01).tolist()[0] == np.float32(np.float16(1.0))
    assert (
        window_targets(np.full(64, 60000, np.float16), 8, "sum").max() == np.finfo(np.float16).max
    )


def test_sources_bigwig_w5_bed(tmp_path):
    bw = tmp_path / "a.bw"
    handle = pyBigWig.open(str(bw), "w")
    handle.addHeader([("chr1", 100)])
    handle.addEntries("chr1", [10], values=[3.0], span=20, step=20)
    handle.close()
    w5 = tmp_path / "a.w5"
    with h5py.File(w5, "w") as h5:
        h5["chr1"] = np.arange(100, dtype=np.float16)
    bed = tmp_path / "a.bed"
    bed.write_text("chr1\t5\t8\nchr1\t7\t12\nchr2\t0\t3\n")
    with CoverageSource(bw) as src:
        v = src.values("chr1", 95, 105)
        assert np.isnan(v[0]) and v[5:].tolist() == [0] * 5  # no data -> NaN, past end -> 0
        assert src.values("chr1", 10, 12).tolist() == [3, 3]
    with CoverageSource(w5) as src:
        assert src.values("chr1", 98, 102).tolist() == [98, 99, 0, 0]
    with CoverageSource(bed) as src:
        assert src.values("chr1", 4, 13).tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 0]
        assert src.values("chrX", 0, 2).tolist() == [0, 0]
    with (
        CoverageSource(w5) as src,
        pytest.raises(InputError, match="chromosome 'chrX' of the FASTA"),
    ):
        src.check_chroms({"chr1", "chrX"}, "the FASTA")
    with CoverageSource(w5, allow_missing_chroms=True) as src:
        assert src.values("chrX", 0, 3).tolist() == [0, 0, 0]
    (tmp_path / "a.txt").write_text("")
    with pytest.raises(InputError, match="unknown coverage file type"):
        CoverageSource(tmp_path / "a.txt")


def test_target_options_find_files_beside_the_table(small, tmp_path, monkeypatch):
    """Paths that do not exist from the working directory are read beside the table."""
    (tmp_path / "tracks").mkdir()
    track = (small / "inputs" / "t1_peaks_gap.bw").read_bytes()
    (tmp_path / "tracks" / "t1.bw").write_bytes(track)
    table = tmp_path / "targets.txt"
    table.write_text("index\tidentifier\tfile\tsum_stat\n0\tT\ttracks/t1.bw\tmean\n")
    monkeypatch.chdir(small)
    options = read_target_options(str(table))
    assert [(o["file"], o["sum_stat"]) for o in options] == [
        (str(tmp_path / "tracks" / "t1.bw"), "mean")
    ]
    with Genome(small / "inputs" / "genome.fa") as genome:
        check_tracks(options, genome, {"chrA", "chrC"}, allow_missing=False)
        with pytest.raises(InputError, match="chromosome 'chrZ' of FASTA"):
            check_tracks(options, genome, {"chrZ"}, allow_missing=False)
    table.write_text("index\tidentifier\tfile\tsum_stat\n0\tT\tnone.bw\tsum\n")
    with pytest.raises(FileNotFoundError, match="coverage file none.bw not found"):
        read_target_options(str(table))

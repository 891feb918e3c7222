"""basenji_data.py against a real run of the original, and its bad-input errors."""

import json
import os
import shutil

import h5py
import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest
import tensorflow as tf
from natsort import natsorted

from basenji_tf.cli.basenji_data import main
from basenji_tf.data import (
    DataOptions,
    annotate_unmap,
    define_contigs,
    define_windows,
    divide_contigs_folds,
    divide_contigs_pct,
)
from basenji_tf.data_peaks import curate_peaks
from basenji_tf.dataset import SeqDataset, decode_file
from basenji_tf.errors import InputError
from basenji_tf.genome import Genome
from basenji_tf.tfrecords import read_sequences_bed, read_statistics

REF_ARGS = [
    "-p",
    "1",
    "-l",
    "16384",
    "-w",
    "128",
    "--crop",
    "1024",
    "--break",
    "16384",
    "--stride",
    "4096",
    "--stride_test",
    "8192",
    "-r",
    "8",
    "-v",
    "chrB",
    "-t",
    "chrC",
]


@pytest.fixture(scope="module")
def small(reference_dir):
    return reference_dir / "basenji_data_small"


@pytest.fixture(scope="module")
def ours(small, tmp_path_factory):
    """Our run of the exact command of the fixture's README, from the fixture's folder."""
    out = tmp_path_factory.mktemp("data") / "data_out"
    cwd = os.getcwd()
    os.chdir(small)
    try:
        assert main(REF_ARGS + ["-o", str(out), "inputs/genome.fa", "inputs/targets.txt"]) == 0
    finally:
        os.chdir(cwd)
    return out


def _rows(path):
    return [tuple(line.split()) for line in open(path)]


def test_sequences_differ_by_exactly_the_dropped_contig(small, ours):
    original = _rows(small / "data_out" / "sequences.bed")
    mine = _rows(ours / "sequences.bed")
    assert set(original) <= set(mine)
    extra = set(mine) - set(original)
    # the original loses chrA:0-16384 when breaking contigs; we keep it, which adds the
    # train windows starting inside it (4096-bp stride) and nothing else
    assert sorted(extra, key=lambda r: int(r[1])) == [
        ("chrA", str(s), str(s + 14336), "train") for s in (0, 4096, 8192, 12288)
    ]
    assert [r[3] for r in mine] == ["train"] * 13 + ["valid"] * 3 + ["test"] * 3
    assert _rows(ours / "contigs.bed") == [
        ("chrA", "0", "65536", "train"),
        ("chrB", "0", "32768", "valid"),
        ("chrC", "0", "32768", "test"),
    ]


def test_statistics_and_targets_table(small, ours):
    original = json.loads((small / "data_out" / "statistics.json").read_text())
    mine = read_statistics(ours)
    assert list(mine) == list(original)
    assert mine == dict(original, train_seqs=original["train_seqs"] + 4)
    assert (ours / "targets.txt").read_bytes() == (small / "inputs" / "targets.txt").read_bytes()


def test_window_order_reproduces_the_original_shuffle(small):
    """Given the original's contigs, our windows and seeded shuffle give its exact file."""
    contigs = [(c, int(s), int(e)) for c, s, e, _ in _rows(small / "data_out" / "contigs.bed")]
    opts = DataOptions(
        seq_length=16384,
        pool_width=128,
        crop_bp=1024,
        stride_train=4096,
        stride_test=8192,
        break_bp=16384,
    )
    windows = define_windows([[c] for c in contigs], opts)
    assert [tuple(map(str, w)) for w in windows] == _rows(small / "data_out" / "sequences.bed")


def _split_records(data_dir, split):
    files = natsorted((data_dir / "tfrecords").glob(f"{split}-*.tfr"), key=str)
    codes, targets = zip(*[decode_file(f, 16384) for f in files])
    return np.concatenate(codes), np.concatenate(targets)


def test_records_and_coverage_equal_the_original(small, ours):
    ref_bed = read_sequences_bed(small / "data_out")
    our_bed = read_sequences_bed(ours)
    position = {(r.chrom, r.start): i for i, r in enumerate(our_bed.itertuples())}
    rows = [position[(r.chrom, r.start)] for r in ref_bed.itertuples()]
    for ti in range(3):
        ref = h5py.File(small / "data_out" / "seqs_cov" / f"{ti}.h5")["targets"][:]
        mine = h5py.File(ours / "seqs_cov" / f"{ti}.h5")["targets"][:]
        np.testing.assert_array_equal(mine[rows], ref)
    names = sorted(f.name for f in (ours / "tfrecords").iterdir())
    assert names == ["test-0.tfr", "train-0.tfr", "train-1.tfr", "valid-0.tfr"]
    for split in ("train", "valid", "test"):
        ref_codes, ref_targets = _split_records(small / "data_out", split)
        our_codes, our_targets = _split_records(ours, split)
        our_split = read_sequences_bed(ours, split)
        where = {(r.chrom, r.start): i for i, r in enumerate(our_split.itertuples())}
        idx = [
            where[(r.chrom, r.start)]
            for r in read_sequences_bed(small / "data_out", split).itertuples()
        ]
        np.testing.assert_array_equal(our_codes[idx], ref_codes)
        np.testing.assert_allclose(
            our_targets[idx].astype(np.float32), ref_targets.astype(np.float32), rtol=2**-10
        )


def test_reader_decodes_our_directory_like_the_fasta(small, ours):
    fasta = pysam.FastaFile(str(small / "inputs" / "genome.fa"))
    data = SeqDataset(ours, "valid", batch_size=2)
    seqs = data.numpy(return_inputs=True, return_outputs=False, dtype="float32")
    for seq, row in zip(seqs, read_sequences_bed(ours, "valid").itertuples()):
        start = row.start - 1024
        dna = fasta.fetch(row.chrom, max(0, start), row.end + 1024)
        dna = "N" * max(0, -start) + dna
        decoded = "".join("ACGTN"[i] if seq[j].any() else "N" for j, i in enumerate(seq.argmax(-1)))
        assert decoded == dna


def test_legacy_onehot_and_folds(small, tmp_path, monkeypatch):
    out = tmp_path / "onehot"
    args = [
        "-l",
        "16384",
        "-w",
        "128",
        "--crop",
        "1024",
        "--break",
        "16384",
        "--stride",
        "8192",
        "-f",
        "2",
        "--encoding",
        "onehot",
        "-o",
        str(out),
        "inputs/genome.fa",
        "inputs/targets.txt",
    ]
    monkeypatch.chdir(small)
    assert main(args) == 0
    stats = read_statistics(out)
    assert "seq_1hot" not in stats and stats["fold0_seqs"] > 0 and stats["fold1_seqs"] > 0
    assert stats["fold0_seqs"] + stats["fold1_seqs"] == len(read_sequences_bed(out))
    data = SeqDataset(out, "fold0", 4)
    assert data.encoding == "onehot"
    assert data.numpy(return_inputs=True)[0].shape == (stats["fold0_seqs"], 16384, 4)


def _write_bigwig(path, chroms, value=1.0):
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(chroms.items()))
    for chrom, size in chroms.items():
        bw.addEntries(chrom, [0], values=[value], span=size, step=size)
    bw.close()


def _table(path, bw_file, sum_stat=True):
    header = (
        "index\tidentifier\tfile\tclip\tscale"
        + ("\tsum_stat" if sum_stat else "")
        + "\tdescription\n"
    )
    row = f"0\tT0\t{bw_file}\t32\t1" + ("\tsum" if sum_stat else "") + "\tdesc\n"
    path.write_text(header + row)
    return str(path)


def _run(capsys, args):
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def test_bad_inputs_fail_in_one_line_without_output(small, tmp_path, capsys):
    fasta = str(small / "inputs" / "genome.fa")
    good_bw = tmp_path / "good.bw"
    _write_bigwig(good_bw, {"chrA": 65536, "chrB": 32768, "chrC": 32768})
    bad_bw = tmp_path / "ensembl.bw"
    _write_bigwig(bad_bw, {"A": 65536, "B": 32768, "C": 32768})
    base = ["-l", "16384", "-w", "128", "--break", "16384", "-v", "chrB", "-t", "chrC"]
    out = tmp_path / "out"

    cases = [
        (
            base,
            _table(tmp_path / "bad_names.txt", bad_bw),
            r"ensembl\.bw: chromosome 'chrA' of FASTA .*names like chrA, chrB, chrC"
            r".*names look like A, B, C",
        ),
        (base, _table(tmp_path / "missing.txt", tmp_path / "nope.bw"), r"nope\.bw not found"),
        (base, _table(tmp_path / "no_stat.txt", good_bw, sum_stat=False), r"no 'sum_stat' column"),
        (
            ["-l", "16400", "-w", "128"],
            _table(tmp_path / "t.txt", good_bw),
            r"multiple of the pool width",
        ),
        (
            ["-l", "16384", "--break", "16384", "-v", "chrB", "-t", "chrB"],
            str(tmp_path / "t.txt"),
            r"split 'valid' has no contig",
        ),
        (
            ["-l", "16384", "--break", "16384", "-t", "0.1", "-v", "0.1"],
            str(tmp_path / "t.txt"),
            r"split 'valid' has no contig .* name chromosomes with -t/-v",
        ),
        (
            ["-l", "131072", "--break", "131072"],
            str(tmp_path / "t.txt"),
            r"no contig is long enough",
        ),
        (
            ["-l", "16384", "--break", "16384", "-v", "chrB", "-t", "chr9"],
            str(tmp_path / "t.txt"),
            r"-t: chromosome 'chr9' is not in",
        ),
    ]
    for args, table, pattern in cases:
        code, line = _run(capsys, args + ["-o", str(out), fasta, table])
        assert code == 1, pattern
        assert line.startswith("basenji_data.py: error: ")
        assert pd.Series([line]).str.contains(pattern).all(), (pattern, line)
        assert not out.exists()
    code, line = _run(
        capsys, base + ["-o", str(out), str(tmp_path / "no.fa"), str(tmp_path / "t.txt")]
    )
    assert code == 1 and "no.fa: FASTA file not found" in line
    out.mkdir()
    code, line = _run(capsys, base + ["-o", str(out), fasta, str(tmp_path / "t.txt")])
    assert code == 1 and "output directory exists; remove it or pass --restart" in line


@pytest.mark.slow
@pytest.mark.subprocess
def test_two_processes_write_the_same_bytes(small, ours, tmp_path, monkeypatch):
    monkeypatch.chdir(small)
    out = tmp_path / "p2"
    assert (
        main(REF_ARGS[2:] + ["-p", "2", "-o", str(out), "inputs/genome.fa", "inputs/targets.txt"])
        == 0
    )
    for path in sorted(ours.rglob("*")):
        if path.is_file():
            assert (out / path.relative_to(ours)).read_bytes() == path.read_bytes(), path.name


def test_restart_completes_an_unfinished_directory(ours, small, tmp_path, monkeypatch):
    copy = tmp_path / "d"
    shutil.copytree(ours, copy)
    (copy / "statistics.json").unlink()
    (copy / "tfrecords" / "train-1.tfr").unlink()
    (copy / "seqs_cov" / "2.h5").unlink()
    monkeypatch.chdir(small)
    assert (
        main(REF_ARGS + ["--restart", "-o", str(copy), "inputs/genome.fa", "inputs/targets.txt"])
        == 0
    )
    for name in ["statistics.json", "sequences.bed", "tfrecords/train-1.tfr"]:
        assert (copy / name).read_bytes() == (ours / name).read_bytes(), name
    np.testing.assert_array_equal(
        h5py.File(copy / "seqs_cov" / "2.h5")["targets"][:],
        h5py.File(ours / "seqs_cov" / "2.h5")["targets"][:],
    )


def test_pct_and_fold_splits_follow_the_deficits():
    contigs = [(f"chr{i}", 0, 1000 * (i + 1)) for i in range(40)]
    total = sum(c[2] for c in contigs)
    folds = divide_contigs_pct(contigs, 0.1, 0.1, np.random.RandomState(44))
    sizes = [sum(c[2] for c in f) / total for f in folds]
    assert sorted(sum(folds, [])) == sorted(contigs)
    assert abs(sizes[1] - 0.1) < 0.05 and abs(sizes[2] - 0.1) < 0.05
    assert folds == divide_contigs_pct(contigs, 0.1, 0.1, np.random.RandomState(44))
    # no contig longer than 20% of the valid/test deficit at the time goes there: the
    # longest contigs always train
    assert ("chr39", 0, 40000) in folds[0]
    kfolds = divide_contigs_folds(contigs, 4, np.random.RandomState(1))
    shares = [sum(c[2] for c in f) / total for f in kfolds]
    assert max(shares) - min(shares) < 0.1


def test_annotate_unmap_ignores_minor_edge_overlaps(tmp_path):
    bed = tmp_path / "umap.bed"
    # bin width 10: 105-131 covers half of bin 0 of window 100-160... see each case below
    bed.write_text("c\t105\t141\nc\t165\t170\nc\t219\t300\n")
    unmap = annotate_unmap([("c", 100, 220, "train")], str(bed), 20)
    # 20-bp bins: 105-141 covers bins 0 and 1 and 1 bp (< 10%) of bin 2, which is ignored;
    # 165-170 is 5 bp of bin 3; 219-220 is 1 bp of the last bin, ignored
    assert unmap.tolist() == [[True, True, False, True, False, False]]


def test_define_contigs_gaps_limit_and_name_checks(tmp_path):
    sizes = {"chrA": 65536, "chrB": 32768}
    gaps = tmp_path / "gaps.bed"
    gaps.write_text("chrA\t30000\t31000\nchrB\t0\t20000\n")
    opts = DataOptions(seq_length=16384, crop_bp=1024, break_bp=20000, gaps_file=str(gaps))
    # chrA minus the gap, each piece halved under 20 kb; chrB's 12,768 bp are too short
    assert define_contigs(sizes, opts) == [
        ("chrA", 0, 15000),
        ("chrA", 15000, 30000),
        ("chrA", 31000, 48268),
        ("chrA", 48268, 65536),
    ]
    limit = tmp_path / "limit.bed"
    limit.write_text("chrB\t1000\t32000\n")
    opts = DataOptions(seq_length=16384, break_bp=40000, limit_bed=str(limit))
    assert define_contigs(sizes, opts) == [("chrB", 1000, 32000)]
    limit.write_text("B\t1000\t32000\n")
    with pytest.raises(
        InputError,
        match=r"limit\.bed: no chromosome .* "
        r"\(BED names look like B; FASTA names like chrA, chrB\)",
    ):
        define_contigs(sizes, opts)


def test_unmappable_windows_blacklist_and_interpolation(small, tmp_path, monkeypatch):
    umap = tmp_path / "umap.bed"
    # most of the valid window chrB:8192-22528 and a sliver of chrB:16384-30720 unmappable
    umap.write_text("chrB\t8000\t17000\n")
    black = tmp_path / "black.bed"
    black.write_text("chrA\t30000\t30500\n")
    out = tmp_path / "u"
    monkeypatch.chdir(small)
    args = REF_ARGS + [
        "-u",
        str(umap),
        "--umap_t",
        "0.5",
        "--umap_clip",
        "0.5",
        "--umap_tfr",
        "-b",
        str(black),
        "-i",
        "-o",
        str(out),
        "inputs/genome.fa",
        "inputs/targets.txt",
    ]
    assert main(args) == 0
    valid = read_sequences_bed(out, "valid")
    assert valid.start.tolist() == [16384, 0]  # chrB:8192-22528 is 61% unmappable: dropped
    unmap = np.load(out / "mseqs_unmap.npy")
    assert unmap.shape == (len(read_sequences_bed(out)), 112)
    row = 13  # the first valid window, 16384-30720: bins 0-4 (16384-17024) unmappable
    assert unmap[row].nonzero()[0].tolist() == [0, 1, 2, 3, 4]
    tfr = str(out / "tfrecords" / "valid-0.tfr")
    raw = next(iter(tf.data.TFRecordDataset(tfr, "ZLIB"))).numpy()
    feature = tf.train.Example.FromString(raw).features.feature
    stored = np.frombuffer(feature["umap"].bytes_list.value[0], bool)
    np.testing.assert_array_equal(stored, unmap[row])
    targets = np.frombuffer(feature["target"].bytes_list.value[0], "<f2").reshape(112, 3)
    cov = h5py.File(out / "seqs_cov" / "0.h5")["targets"][row]
    median = np.percentile(cov.astype(np.float32), 50)
    # --umap_clip 0.5: unmappable bins at most the record's median, the others untouched
    np.testing.assert_array_equal(targets[5:, 0], cov[5:])
    assert (targets[:5, 0].astype(np.float32) <= median + 1e-3).all()
    # -i: the uncovered chrA:30000-30500 of track 1 is interpolated, not zero
    t1 = h5py.File(out / "seqs_cov" / "1.h5")["targets"][:]
    bed = read_sequences_bed(out)
    inside = [
        i
        for i, r in enumerate(bed.itertuples())
        if r.chrom == "chrA" and r.start <= 30000 and r.end >= 30500
    ]
    first_bin = (30000 - bed.start[inside[0]]) // 128 + 1
    assert t1[inside[0], first_bin] > 1


def test_real_hg38_with_bed_and_w5_tracks(baskerville_dir, tmp_path):
    """Real chr1 sequence (bgzipped FASTA), a narrowPeak and a w5 track, 3 folds."""
    fasta = baskerville_dir / "hg38_1m.fa.gz"
    peaks = tmp_path / "peaks.narrowPeak"
    peaks.write_text("chr1\t600000\t600300\tp1\t0\t.\t5\t-1\t-1\t150\n")
    w5 = tmp_path / "cov.w5"
    with h5py.File(w5, "w") as handle:
        handle["chr1"] = (np.arange(1_000_000) % 7).astype(np.float16)
    table = tmp_path / "targets.txt"
    table.write_text(
        "index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n"
        f"0\tP\t{peaks}\t1\t1\tmax\tpeaks\n1\tW\t{w5}\t1000\t1\tsum\tw5\n"
    )
    out = tmp_path / "hg38"
    args = [
        "-l",
        "32768",
        "-w",
        "128",
        "--crop",
        "4096",
        "--break",
        "200000",
        "-f",
        "3",
        "-r",
        "4",
        "-o",
        str(out),
        str(fasta),
        str(table),
    ]
    assert main(args) == 0
    bed = read_sequences_bed(out)
    assert set(bed.split) == {"fold0", "fold1", "fold2"}
    genome = Genome(fasta)
    peak_rows = 0
    for split in ("fold0", "fold1", "fold2"):
        data = SeqDataset(out, split, batch_size=4)
        seqs, targets = data.numpy(return_inputs=True, dtype="float32")
        for seq, tgt, row in zip(seqs, targets, read_sequences_bed(out, split).itertuples()):
            dna = genome.fetch("chr1", row.start - 4096, row.end + 4096)
            decoded = np.array(list("ACGTN"))[np.where(seq.any(-1), seq.argmax(-1), 4)]
            assert "".join(decoded) == "".join(b if b in "ACGT" else "N" for b in dna)
            bin_starts = np.arange(192) * 128 + row.start
            peak_bins = (bin_starts < 600300) & (bin_starts + 128 > 600000)
            np.testing.assert_array_equal(tgt[:, 0], peak_bins.astype(np.float32))
            peak_rows += peak_bins.any()
            expected = (np.arange(row.start, row.end) % 7).reshape(-1, 128).sum(-1)
            np.testing.assert_array_equal(tgt[:, 1], expected)
    assert peak_rows == 1 and (bed.start == 0).any()  # the peak, and the N-rich chr1 start


def test_curate_peaks_follows_the_original(tmp_path):
    """Each record widened to a bin and by the crop, all merged, rounded half to even."""
    a, b = tmp_path / "a.bed", tmp_path / "b.narrowPeak"
    a.write_text("chr1\t1000\t1010\tx\nchr1\t5000\t5300\ty\n")
    b.write_text("chr1\t1100\t1150\tz\t0\t.\t1\t1\t1\t25\nchr2\t10\t20\tw\t0\t.\t1\t1\t1\t5\n")
    # by hand, as the original's curate_peaks (bedtools merge joins the first two):
    # chr1 877-1133 + 997-1253 -> 877-1253, 376 bp -> 3 bins about 1065 -> 873-1257;
    # chr1 4936-5364, 428 bp -> 3 bins about 5150; chr2 0-143 -> 1 bin about 71
    assert curate_peaks([str(a), str(b)], pool_width=128, crop_bp=64) == {
        "chr1": [(873, 1257), (4958, 5342)],
        "chr2": [(7, 135)],
    }
    # widened one record at a time: overlapping short peaks of one file are not merged
    # before they are widened (merging first would give 9746-30354)
    a.write_text("chrA\t10000\t30000\nchrA\t29990\t30100\n")
    assert curate_peaks([str(a)], 128, 256) == {"chrA": [(9750, 30358)]}
    # 8512 bp are 66.5 bins: rounded to 66, as numpy rounds
    a.write_text("chrB\t1000\t9000\n")
    assert curate_peaks([str(a)], 128, 256) == {"chrB": [(776, 9224)]}


def test_peaks_option_limits_contigs_to_the_peaks(small, tmp_path, capsys):
    peaks = tmp_path / "peaks.bed"
    peaks.write_text(
        "chrA\t10000\t30000\tp1\nchrA\t29990\t30100\tp2\nchrB\t5000\t5050\tp3\n"
        "chrB\t1000\t9000\tp4\nchrC\t2000\t12000\tp5\n"
    )
    table = tmp_path / "targets.txt"
    table.write_text(
        "index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n"
        f"0\tP\t{peaks}\t32\t1\tsum\tpeaks\n"
    )
    out = tmp_path / "out"
    args = ["--peaks", "--st", "-l", "4096", "-w", "128", "--crop", "256",
            "--break", "100000", "-v", "chrB", "-t", "chrC", "-o", str(out),
            str(small / "inputs" / "genome.fa"), str(table)]  # fmt: skip
    assert main(args) == 0
    # chrB's short peak (640 bp with the crop) is too short for a window
    assert _rows(out / "contigs.bed") == [
        ("chrA", "9750", "30358", "train"),
        ("chrB", "776", "9224", "valid"),
        ("chrC", "1752", "12248", "test"),
    ]

"""tfr_bw.py and tfr_qc.py on the original's small data directory and real hg38 records."""

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from basenji_tf.cli import tfr_bw, tfr_qc
from basenji_tf.dataset import decode_file
from basenji_tf.tfrecords import read_sequences_bed, read_statistics, split_files


@pytest.fixture(scope="module")
def data_dir(reference_dir):
    return reference_dir / "basenji_data_small" / "data_out"


def records(data_dir, split):
    """Targets float32 [n, bins, T] of a split, decoded file by file (no tf.data)."""
    stats = read_statistics(data_dir)
    parts = [decode_file(f, stats["seq_length"])[1] for f in split_files(data_dir, split)]
    shape = (-1, stats["target_length"], stats["num_targets"])
    return np.concatenate(parts).reshape(shape).astype(np.float32)


def assert_bigwig_equals_records(bw_file, data_dir, split, target_i):
    targets = records(data_dir, split)[..., target_i]
    bed = read_sequences_bed(data_dir, split)
    pool = read_statistics(data_dir)["pool_width"]
    with pyBigWig.open(str(bw_file)) as bw:
        for i, (chrom, start, _, _) in enumerate(bed.itertuples(index=False)):
            starts = start + pool * np.arange(targets.shape[1])
            got = [bw.values(chrom, int(s), int(s) + 1)[0] for s in starts]
            np.testing.assert_array_equal(got, targets[i])
            # one value over the whole bin
            assert bw.stats(chrom, int(starts[3]), int(starts[3]) + pool, type="std")[0] == 0
    return len(bed)


def test_bigwig_values_equal_the_records(data_dir, reference_dir, tmp_path):
    out = tmp_path / "t1.bw"
    fasta = reference_dir / "basenji_data_small" / "inputs" / "genome.fa"
    # the original's form: the tfrecords/ directory
    argv = [str(data_dir / "tfrecords"), str(out), "-t", "1", "-f", str(fasta)]
    assert tfr_bw.main(argv) == 0
    assert assert_bigwig_equals_records(out, data_dir, "train", 1) == 9


@pytest.mark.slow
def test_bigwig_of_real_hg38_records(baskerville_dir, tmp_path):
    data_dir = baskerville_dir / "tiny" / "hg38"
    out = tmp_path / "test_t5.bigwig"
    assert tfr_bw.main([str(data_dir), str(out), "-s", "test", "-t", "5"]) == 0
    assert assert_bigwig_equals_records(out, data_dir, "test", 5) == 10


def test_bad_target_and_length_are_one_line(data_dir, tmp_path, capsys):
    assert tfr_bw.main([str(data_dir), str(tmp_path / "x.bw"), "-t", "3"]) == 1
    assert tfr_bw.main([str(data_dir), str(tmp_path / "x.bw"), "-l", "1024"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "targets 0..2" in lines[0] and "target_length 112" in lines[1]
    assert not (tmp_path / "x.bw").exists()


@pytest.mark.slow
def test_qc_table_and_histograms(data_dir, tmp_path):
    out = tmp_path / "qc"
    assert tfr_qc.main([str(data_dir), "-o", str(out), "-p", "1", "-s", "valid"]) == 0
    table = pd.read_csv(out / "table.txt", sep="\t")
    targets = records(data_dir, "valid").astype(np.float64)
    assert table["identifier"].tolist() == ["T0SMOOTH", "T1PEAKS", "T2LARGE"]
    np.testing.assert_allclose(table["mean"], targets.mean(axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(table["std"], targets.std(axis=(0, 1)), rtol=1e-4)
    np.testing.assert_array_equal(table["max"], targets.max(axis=(0, 1)))
    np.testing.assert_allclose(table["zero_frac"], (targets == 0).mean(axis=(0, 1)))
    assert all((out / "distr" / f"t{ti}.png").stat().st_size > 1000 for ti in range(3))

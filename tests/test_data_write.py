"""data_write: one TFRecord file of a sequences.bed range, against the original's file."""

import numpy as np
import pytest

from basenji_tf.cli.basenji_data_write import main
from basenji_tf.data_write import write_tfrecord_range
from basenji_tf.dataset import decode_file
from basenji_tf.errors import InputError


@pytest.fixture(scope="module")
def small(reference_dir):
    return reference_dir / "basenji_data_small"


def test_cli_rewrites_one_original_file(small, tmp_path):
    out = tmp_path / "valid-0.tfr"
    args = ["-s", "9", "-e", "12", "-x", "1024", str(small / "inputs" / "genome.fa"),
            str(small / "data_out" / "sequences.bed"), str(small / "data_out" / "seqs_cov"),
            str(out)]  # fmt: skip
    assert main(args) == 0
    codes, targets = decode_file(out, 16384)
    ref_codes, ref_targets = decode_file(small / "data_out" / "tfrecords" / "valid-0.tfr", 16384)
    np.testing.assert_array_equal(codes, ref_codes)
    np.testing.assert_array_equal(targets, ref_targets)


def test_range_and_coverage_folder_errors(small, tmp_path):
    fasta = str(small / "inputs" / "genome.fa")
    bed = small / "data_out" / "sequences.bed"
    with pytest.raises(InputError, match="no 0.h5; run basenji_data_read.py first"):
        write_tfrecord_range(fasta, bed, tmp_path, str(tmp_path / "x.tfr"), extend_bp=1024)
    with pytest.raises(InputError, match="-s 15 -e None: empty range of 15"):
        write_tfrecord_range(
            fasta,
            bed,
            small / "data_out" / "seqs_cov",
            str(tmp_path / "x.tfr"),
            start_i=15,
            extend_bp=1024,
        )
    assert not (tmp_path / "x.tfr").exists()

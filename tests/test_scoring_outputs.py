"""sad.h5 writing, percentiles and merging; the float16 clip (no model needed)."""

import h5py
import numpy as np
import pytest

from basenji_tf.genome import Genome
from basenji_tf.scoring.outputs import SAD_STATS, SadWriter, merge_sad, to_float16
from basenji_tf.scoring.target_set import TargetSet
from basenji_tf.scoring.vcf import read_vcf

ALL_STATS = list(SAD_STATS)


@pytest.fixture(scope="module")
def sad_dir(reference_dir):
    return reference_dir / "sad_small"


@pytest.fixture(scope="module")
def genome(sad_dir):
    with Genome(sad_dir / "gata4_locus.fa") as g:
        yield g


def test_writer_and_percentiles_equal_the_originals(tmp_path, sad_dir, genome):
    """The original's statistics written by SadWriter give the original's file.

    The statistics are the original's own (its float32 sums; ours are float64, compared in
    test_scoring_sad), so the rows and the recomputed percentile tables match bit for bit.
    """
    rows = list(read_vcf(str(sad_dir / "snps.vcf"), genome, first_alt=True))
    with h5py.File(sad_dir / "sad_out/sad.h5") as ref:
        scores = {name: ref[name][:] for name in ALL_STATS}
    targets = TargetSet.all_outputs(8)
    writer = SadWriter(str(tmp_path / "sad.h5"), ALL_STATS, targets.ids, targets.labels, 112)
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
            np.testing.assert_array_equal(ours[name][:], ref[name][:], err_msg=name)


def test_merge_recomputes_percentiles(tmp_path, sad_dir):
    """Two halves of the original's file merge back into it (rows and percentiles)."""
    ref_file = sad_dir / "sad_out" / "sad.h5"
    with h5py.File(ref_file) as h5:
        per_row = [k for k in h5 if h5[k].shape[:1] == (15,)]
        for i, (r0, r1) in enumerate([(0, 7), (7, 15)]):
            with h5py.File(tmp_path / f"job{i}.h5", "w") as out:
                for k in h5:
                    out[k] = h5[k][r0:r1] if k in per_row else h5[k][:]
    merge_sad([str(tmp_path / "job0.h5"), str(tmp_path / "job1.h5")], str(tmp_path / "m.h5"))
    with h5py.File(tmp_path / "m.h5") as merged, h5py.File(ref_file) as h5:
        for k in h5:
            if k != "target_labels":
                np.testing.assert_array_equal(merged[k][:], h5[k][:], err_msg=k)


def test_float16_clip_instead_of_inf():
    x = np.array([-1e6, -65504.0, 1.5, 7e4, np.inf], np.float32)
    out = to_float16(x)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, [-65504, -65504, 1.5, 65504, 65504])

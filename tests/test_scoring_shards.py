"""Shard tasks of the scoring commands: ranges, and their directories after a run."""

import os

import pytest

from basenji_tf.errors import InputError
from basenji_tf.execute import InProcess
from basenji_tf.scoring.shards import check_shardable, job_dirs, run_shards, shard_ranges


def test_shard_ranges_are_batch_aligned_and_non_empty():
    assert shard_ranges(10, 3, align=4) == [(0, 4), (4, 10)]  # the middle one is empty
    assert shard_ranges(10, 2) == [(0, 5), (5, 10)]
    assert shard_ranges(0, 2) == []
    ranges = shard_ranges(103, 7, align=8)
    assert ranges[0][0] == 0 and ranges[-1][1] == 103
    assert all(a % 8 == 0 for a, _ in ranges)
    assert all(b == a2 for (_, b), (a2, _) in zip(ranges, ranges[1:]))


def _write_then_maybe_fail(task):
    path, fail = task  # fail: the shard's range starts at 10
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "part.txt"), "w") as handle:
        handle.write(path)
    if fail:
        raise InputError(f"{path}: bad record; fix it")
    return os.path.join(path, "part.txt")


@pytest.mark.parametrize("keep", [False, True])
def test_directories_go_after_a_merge_unless_kept(tmp_path, keep):
    dirs = job_dirs(str(tmp_path), 2)
    assert dirs == [str(tmp_path / "job0"), str(tmp_path / "job1")]

    def merge(files):
        return "".join(open(f).read() for f in files)

    def task(job_dir, shard):
        return (job_dir, shard[0] == 10)

    ranges = [(0, 5), (5, 9)]
    merged = run_shards(
        _write_then_maybe_fail, task, ranges, str(tmp_path), merge, InProcess(), keep
    )
    assert merged == "".join(dirs)
    assert [os.path.isdir(d) for d in dirs] == [keep, keep]


@pytest.mark.parametrize("keep", [False, True])
def test_a_failed_run_raises_the_shards_error_and_cleans_up(tmp_path, keep):
    dirs = job_dirs(str(tmp_path), 3)

    def task(job_dir, shard):
        return (job_dir, shard[0] == 10)

    ranges = [(0, 10), (10, 20), (20, 30)]
    with pytest.raises(InputError) as caught:
        run_shards(_write_then_maybe_fail, task, ranges, str(tmp_path), list, InProcess(), keep)
    assert str(caught.value) == f"{dirs[1]}: bad record; fix it"
    assert [os.path.isdir(d) for d in dirs] == [keep, keep, False]


def test_standard_input_cannot_be_sharded():
    with pytest.raises(InputError, match="standard input cannot be split"):
        check_shardable("-", "the VCF")
    check_shardable("x.vcf", "the VCF")

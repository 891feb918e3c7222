"""Shard tasks of the scoring commands: their ranges, their directories, their clean-up.

A scoring command split into shards (``-p N``, ``--scheduler``) cuts its input (VCF
records, BED regions) into contiguous ranges (:func:`shard_ranges`), hands one task per
range to an :class:`~basenji_tf.execute.Executor`, and merges the files the tasks wrote
into ``<out>/job{i}/`` (:func:`run_shards`). The ranges start at scoring-batch
boundaries, so every model call of a shard is one of the single run's and the merged
output equals a single-process run bit for bit.

The ``job{i}`` directories are removed once the merge is done, and after a failed run too
(whose error is the failing shard's own), unless ``keep_shards``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from typing import TypeVar

from basenji_tf.errors import InputError
from basenji_tf.execute import Executor, LocalProcesses, shard_range
from basenji_tf.genome import Genome
from basenji_tf.params import read_params
from basenji_tf.scoring.bed import Region, read_bed_windows
from basenji_tf.scoring.ensemble import ModelSpec

log = logging.getLogger(__name__)

Task = TypeVar("Task")
Merged = TypeVar("Merged")


def shard_ranges(num_items: int, shards: int, align: int = 1) -> list[tuple[int, int]]:
    """The non-empty item ranges ``[first, last)`` of ``shards`` batch-aligned shards.

    Args:
        num_items: records or regions of the input.
        shards: shards asked for (at least 1).
        align: items per scoring batch; inner boundaries are multiples of it
            (:func:`basenji_tf.execute.shard_range`).

    Returns:
        the ranges in input order; shards left empty by the alignment are dropped.
    """
    ranges = [shard_range(num_items, i, shards, align) for i in range(shards)]
    return [(first, last) for first, last in ranges if first < last]


def job_dirs(out_dir: str, count: int) -> list[str]:
    """``<out_dir>/job{i}`` for each of ``count`` shards, absolute (any worker opens them)."""
    return [os.path.join(os.path.abspath(out_dir), f"job{i}") for i in range(count)]


def absolute_model(model: ModelSpec) -> ModelSpec:
    """``model`` with absolute file paths, for tasks run in another working directory."""
    targets = model.targets_file and os.path.abspath(model.targets_file)
    return dataclasses.replace(
        model,
        params_file=os.path.abspath(model.params_file),
        model_file=os.path.abspath(model.model_file),
        targets_file=targets,
    )


def bed_regions(model: ModelSpec, fasta: str, bed_file: str, stranded: bool = True) -> list[Region]:
    """The model windows of a BED file's regions, read without loading the model.

    The shard tasks read the same list (:func:`~basenji_tf.scoring.bed.read_bed_windows`
    with the params' ``seq_length``) and keep their range of it.
    """
    seq_length = int(read_params(model.params_file)["model"]["seq_length"])
    with Genome(fasta) as genome:
        return read_bed_windows(bed_file, genome, seq_length, stranded)


def check_shardable(path: str, option: str) -> None:
    """Raise unless ``path`` is a file every shard can read again (not standard input)."""
    if path == "-":
        raise InputError(
            f"{option}: standard input cannot be split into shards; write it to a file "
            "first or run one process (-p 1, no --scheduler)"
        )


def run_shards(
    function: Callable[[Task], object],
    make_task: Callable[[str, tuple[int, int]], Task],
    ranges: Sequence[tuple[int, int]],
    out_dir: str,
    merge: Callable[[list], Merged],
    executor: Executor | None = None,
    keep_shards: bool = False,
) -> Merged:
    """Run one task per shard, merge their results, and remove their directories.

    Args:
        function: module-level function run on each task (it writes into its directory).
        make_task: (the shard's ``job{i}`` directory, its item range) -> its task.
        ranges: the shards' item ranges, in input order (:func:`shard_ranges`).
        out_dir: the command's output directory.
        merge: turns the tasks' results (in task order) into the command's output.
        executor: where the tasks run (default: one local process per task).
        keep_shards: keep the ``job{i}`` directories after the run (successful or not).

    Returns:
        what ``merge`` returns.

    Raises:
        Exception: the first failing task's own exception (the directories are removed
            first unless ``keep_shards``).
    """
    dirs = job_dirs(out_dir, len(ranges))
    tasks = [make_task(d, r) for d, r in zip(dirs, ranges)]
    try:
        return merge((executor or LocalProcesses(len(tasks))).map(function, tasks))
    finally:
        if not keep_shards:
            for path in dirs:
                shutil.rmtree(path, ignore_errors=True)
            log.debug("removed %d shard directories", len(dirs))

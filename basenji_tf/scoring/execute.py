"""How shard tasks run: one interface for this process, local processes or a scheduler.

A scoring run that splits its work makes a list of tasks (picklable values) and hands them,
with a module-level library function, to an :class:`Executor`; each task's result comes
back in task order and the caller merges them. Every task's output depends on its task
alone (fixed-shape model calls, shard boundaries aligned to scoring batches), so merged
results equal a single-process run bit for bit whichever executor ran the tasks.

* :class:`InProcess` runs the tasks one after the other here;
* :class:`LocalProcesses` runs them in at most ``max_proc`` spawned processes at once,
  each with an equal share of the CPU threads;
* a Dask executor (``client.map`` + ``client.gather``) fits the same :class:`Executor`
  protocol.

A failing task raises its own exception in the caller (an :class:`InputError` keeps its
one-line message), with a note naming the task.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import numpy as np

log = logging.getLogger(__name__)

Task = TypeVar("Task")
Result = TypeVar("Result")


class Executor(Protocol):
    """Runs a function on every task of a list and returns the results in task order."""

    def map(self, function: Callable[[Task], Result], tasks: Sequence[Task]) -> list[Result]:
        """``[function(task) for task in tasks]``, computed wherever the executor runs."""
        ...


class InProcess:
    """Run the tasks one after the other in this process."""

    def map(self, function: Callable[[Task], Result], tasks: Sequence[Task]) -> list[Result]:
        """``[function(task) for task in tasks]``; see :class:`Executor`."""
        results = []
        for i, task in enumerate(tasks):
            try:
                results.append(function(task))
            except Exception as err:
                err.add_note(f"in task {i} of {len(tasks)}")
                raise
        return results


class LocalProcesses:
    """Run the tasks in local processes ("spawn": fresh interpreters), ``max_proc`` at once.

    Each process gets ``cpu_count // processes`` intra-op threads (TensorFlow, OpenMP) and
    one inter-op thread, and logs at this process's level. The first task to fail stops
    the tasks not yet started and raises its exception here.

    Args:
        max_proc: processes running at once (at most one per task).
    """

    def __init__(self, max_proc: int):
        self.max_proc = max(1, int(max_proc))

    def map(self, function: Callable[[Task], Result], tasks: Sequence[Task]) -> list[Result]:
        """``[function(task) for task in tasks]``; see :class:`Executor`."""
        if not tasks:
            return []
        processes = min(self.max_proc, len(tasks))
        threads = max(1, (os.cpu_count() or 1) // processes)
        level = logging.getLogger().getEffectiveLevel()
        with concurrent.futures.ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(threads, level),
        ) as pool:  # fmt: skip
            futures = [pool.submit(function, task) for task in tasks]
            results = []
            for i, future in enumerate(futures):
                try:
                    results.append(future.result())
                except Exception as err:
                    pool.shutdown(wait=True, cancel_futures=True)
                    err.add_note(f"in task {i} of {len(tasks)}")
                    raise
        return results


def _start_worker(threads: int, log_level: int) -> None:
    """Process initializer: thread limits and logging like the parent's."""
    import tensorflow as tf

    os.environ.update(
        TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1",
        OMP_NUM_THREADS=str(threads),
    )  # fmt: skip
    # The spawned process may have imported TensorFlow already (with the parent's main
    # module), but has run no operation yet: its thread pools can still be sized.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    logging.basicConfig(level=log_level, format=f"[worker {os.getpid()}] %(message)s")


def shard_range(
    num_items: int, shard_i: int, num_shards: int, align: int = 1
) -> tuple[int, int]:
    """Item range ``[first, last)`` of shard ``shard_i`` of ``num_shards``.

    The original's even (linspace) split, with inner boundaries rounded down to multiples
    of ``align`` items (a scoring batch, so that each shard's batches are the single
    run's); the last shard takes the rest.
    """
    bounds = np.linspace(0, num_items, num_shards + 1)
    bounds = (np.floor(bounds / align) * align).astype(int)
    bounds[-1] = num_items
    return int(bounds[shard_i]), int(bounds[shard_i + 1])

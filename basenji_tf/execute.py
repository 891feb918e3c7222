"""How shard tasks run: one interface for this process, local processes or a scheduler.

A scoring run that splits its work makes a list of tasks (picklable values) and hands them,
with a module-level library function, to an :class:`Executor`; each task's result comes
back in task order and the caller merges them. Every task's output depends on its task
alone (fixed-shape model calls, shard boundaries aligned to scoring batches), so merged
results equal a single-process run bit for bit whichever executor ran the tasks.

* :class:`InProcess` runs the tasks one after the other here;
* :class:`LocalProcesses` runs them in at most ``max_proc`` spawned processes at once,
  each with this process's TensorFlow threads (results depend on them);
* :class:`DaskExecutor` submits them to a Dask distributed scheduler (a laptop's
  LocalCluster, dask-jobqueue on Slurm/PBS/SGE/LSF, Kubernetes, the cloud);
* :func:`make_executor` picks one from the command-line options ``-p``, ``--scheduler``
  and ``--scheduler_file``.

A failing task raises its own exception in the caller (an :class:`InputError` keeps its
one-line message), with a note naming the task.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import numpy as np

from basenji_tf.errors import InputError
from basenji_tf.progress import track

log = logging.getLogger(__name__)

Task = TypeVar("Task")
Result = TypeVar("Result")


class Executor(Protocol):
    """Runs a function on every task of a list and returns the results in task order.

    Attributes:
        parallelism: how many tasks run at once (a caller may split its work into at least
            that many tasks).
    """

    parallelism: int

    def map(
        self,
        function: Callable[[Task], Result],
        tasks: Sequence[Task],
        progress: str | None = None,
    ) -> list[Result]:
        """``[function(task) for task in tasks]``, computed wherever the executor runs.

        ``progress``: label of a progress bar over the finished tasks (None: no bar).
        """
        ...


class _Closing:
    """``with executor:`` support; local executors hold nothing to release."""

    def close(self) -> None:
        """Release the executor's resources."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InProcess(_Closing):
    """Run the tasks one after the other in this process."""

    parallelism = 1

    def map(
        self,
        function: Callable[[Task], Result],
        tasks: Sequence[Task],
        progress: str | None = None,
    ) -> list[Result]:
        """``[function(task) for task in tasks]``; see :class:`Executor`."""
        results = []
        for i, task in enumerate(_bar(tasks, progress)):
            try:
                results.append(function(task))
            except Exception as err:
                err.add_note(f"in task {i} of {len(tasks)}")
                raise
        return results


class LocalProcesses(_Closing):
    """Run the tasks in local processes ("spawn": fresh interpreters), ``max_proc`` at once.

    Each process keeps this process's intra-op threads (TensorFlow's default: one per
    core), gets one inter-op thread, and logs at this process's level. The intra-op
    threads are not divided among the processes: oneDNN splits a call's work by thread
    count, and on AVX2 CPUs a sequence's outputs then differ in the last bit between 1
    and 2 threads, so shards would no longer equal a single-process run. The first task to
    fail stops the tasks not yet started and raises its exception here.

    Args:
        max_proc: processes running at once (at most one per task).
    """

    def __init__(self, max_proc: int):
        self.max_proc = max(1, int(max_proc))
        self.parallelism = self.max_proc

    def map(
        self,
        function: Callable[[Task], Result],
        tasks: Sequence[Task],
        progress: str | None = None,
    ) -> list[Result]:
        """``[function(task) for task in tasks]``; see :class:`Executor`."""
        if not tasks:
            return []
        processes = min(self.max_proc, len(tasks))
        level = logging.getLogger().getEffectiveLevel()
        with concurrent.futures.ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(level,),
        ) as pool:  # fmt: skip
            futures = [pool.submit(function, task) for task in tasks]
            try:
                return _gather(futures, progress)
            except Exception:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


class DaskExecutor(_Closing):
    """Run the tasks on a Dask distributed cluster (``client.map``, results in task order).

    Dask reschedules the tasks of a worker that dies on another worker, so a lost worker
    costs time, not results; a task that raises (bad input) stops the run with its own
    exception, and the tasks not yet finished are cancelled. When the cluster's workers
    advertise a ``GPU`` resource (``dask worker --resources GPU=1``), every task asks for
    one, so each GPU runs one task at a time.

    Args:
        address: the scheduler's address (``tcp://host:8786``), or None with
            ``scheduler_file``.
        scheduler_file: the JSON file ``dask scheduler --scheduler-file`` wrote.
        timeout_s: how long to wait for the scheduler.

    Raises:
        InputError: Dask distributed is not installed.
    """

    def __init__(
        self, address: str | None = None, scheduler_file: str | None = None, timeout_s: float = 30
    ):
        try:
            import distributed
        except ImportError:
            raise InputError(
                "--scheduler needs Dask distributed, which is not installed; install it with "
                "pip install 'basenji-tf[distributed]'"
            ) from None
        if scheduler_file is not None and not os.path.isfile(scheduler_file):
            raise FileNotFoundError(f"{scheduler_file}: scheduler file not found")
        try:
            self.client = distributed.Client(
                address, scheduler_file=scheduler_file, timeout=timeout_s, set_as_default=False
            )
        except (OSError, TimeoutError) as err:
            where = address or scheduler_file
            raise InputError(
                f"cannot reach the Dask scheduler at {where}: {err}; check that "
                "it runs and that the address is right"
            ) from None

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        self.client.close()

    @property
    def parallelism(self) -> int:
        """Worker threads of the cluster now (at least 1)."""
        workers = self.client.scheduler_info().get("workers", {}).values()
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers))

    def _task_resources(self) -> dict | None:
        workers = self.client.scheduler_info().get("workers", {}).values()
        if any("GPU" in (w.get("resources") or {}) for w in workers):
            return {"GPU": 1}
        return None

    def map(
        self,
        function: Callable[[Task], Result],
        tasks: Sequence[Task],
        progress: str | None = None,
    ) -> list[Result]:
        """``[function(task) for task in tasks]``; see :class:`Executor`."""
        if not tasks:
            return []
        futures = self.client.map(
            function, list(tasks), pure=False, resources=self._task_resources()
        )
        try:
            return _gather(futures, progress)
        finally:
            self.client.cancel([f for f in futures if not f.done()])


def make_executor(
    processes: int = 1, scheduler: str | None = None, scheduler_file: str | None = None
) -> Executor:
    """The executor the command-line options ask for.

    Args:
        processes: local processes (``-p``); 1 runs the tasks in this process.
        scheduler: a Dask scheduler address (``--scheduler``); wins over ``processes``.
        scheduler_file: a Dask scheduler file (``--scheduler_file``).
    """
    if scheduler or scheduler_file:
        return DaskExecutor(scheduler, scheduler_file)
    if processes < 1:
        raise InputError(f"-p {processes}: the number of processes must be at least 1")
    return LocalProcesses(processes) if processes > 1 else InProcess()


def _bar(items: Sequence, progress: str | None):
    return track(items, desc=progress or "", unit="tasks", enabled=progress is not None)


def _gather(futures: Sequence, progress: str | None) -> list:
    """The futures' results in order; a failure gets a note naming its task."""
    results = []
    for i, future in enumerate(_bar(futures, progress)):
        try:
            results.append(future.result())
        except Exception as err:
            err.add_note(f"in task {i} of {len(futures)}")
            raise
    return results


def _start_worker(log_level: int) -> None:
    """Process initializer: one inter-op thread, logging like the parent's.

    Intra-op threads stay the parent's (see :class:`LocalProcesses`). TensorFlow reads
    the thread variables when it is imported; a worker whose tasks never need it
    (basenji_data.py's) does not import it here.
    """
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        # Imported already (with the parent's main module), but no operation has run yet:
        # its thread pools can still be sized.
        tf.config.threading.set_inter_op_parallelism_threads(1)
    logging.basicConfig(level=log_level, format=f"[worker {os.getpid()}] %(message)s")


def shard_range(num_items: int, shard_i: int, num_shards: int, align: int = 1) -> tuple[int, int]:
    """Item range ``[first, last)`` of shard ``shard_i`` of ``num_shards``.

    The original's even (linspace) split, with inner boundaries rounded down to multiples
    of ``align`` items (a scoring batch, so that each shard's batches are the single
    run's); the last shard takes the rest.
    """
    bounds = np.linspace(0, num_items, num_shards + 1)
    bounds = (np.floor(bounds / align) * align).astype(int)
    bounds[-1] = num_items
    return int(bounds[shard_i]), int(bounds[shard_i + 1])

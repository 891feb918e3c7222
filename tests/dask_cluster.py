"""A real Dask scheduler and workers, each its own process on 127.0.0.1, for the tests.

Started with the `dask` command line exactly as a user would, so the tests exercise the
same path as a cluster: tasks pickled to other processes, results and errors sent back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT_S = 90


class LocalDaskCluster:
    """``dask scheduler`` plus ``n_workers`` ``dask worker`` processes (one thread each).

    Attributes:
        scheduler_file: the JSON file the scheduler wrote (its address inside).
        address: ``tcp://127.0.0.1:PORT``.
        workers: the worker processes (each the leader of its own process group).
    """

    def __init__(self, root: Path, n_workers: int = 2, env: dict | None = None):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.scheduler_file = root / "scheduler.json"
        self.env = dict(os.environ if env is None else env)
        self.scheduler = self._start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.scheduler_file),
            ],
            "scheduler",
        )
        self._wait(lambda: self.scheduler_file.is_file(), "the scheduler file")
        self.address = json.loads(self.scheduler_file.read_text())["address"]
        self.workers = [self.add_worker(f"w{i}") for i in range(n_workers)]
        self._wait(lambda: self._worker_count() >= n_workers, f"{n_workers} workers")

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "w")
        return subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    def add_worker(self, name: str) -> subprocess.Popen:
        """Start one more worker (one process, one thread)."""
        return self._start(
            [
                "worker",
                "--scheduler-file",
                str(self.scheduler_file),
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--no-dashboard",
                "--name",
                name,
                "--local-directory",
                str(self.root / name),
            ],
            f"worker_{name}",
        )

    def _worker_count(self) -> int:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            return len(client.scheduler_info()["workers"])

    def _wait(self, condition, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not condition():
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError(f"Dask cluster: {what} not up in {START_TIMEOUT_S} s")
            time.sleep(0.5)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL a process and everything it started (a worker's nanny and worker)."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def close(self) -> None:
        """Stop every process of the cluster."""
        for process in [*getattr(self, "workers", []), self.scheduler]:
            self.kill(process)

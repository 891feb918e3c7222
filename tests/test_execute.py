"""Executors: results in task order; a failing task raises its own error here."""

import pytest

from basenji_tf.errors import InputError
from basenji_tf.execute import InProcess, LocalProcesses, shard_range


def square_or_fail(x: int) -> int:
    """A task function (module level: spawned processes import it by name)."""
    if x < 0:
        raise InputError(f"task {x}: negative input")
    return x * x


def test_shard_ranges_cover_every_record():
    ranges = [shard_range(10, i, 3) for i in range(3)]
    assert ranges == [(0, 3), (3, 6), (6, 10)]
    # cut at multiples of the scoring batch, the last shard taking the rest
    assert [shard_range(16, i, 2, align=3) for i in range(2)] == [(0, 6), (6, 16)]
    assert [shard_range(5, i, 3, align=4) for i in range(3)] == [(0, 0), (0, 0), (0, 5)]


def test_in_process_runs_in_order_and_raises_the_task_error():
    assert InProcess().map(square_or_fail, [3, 1, 2]) == [9, 1, 4]
    with pytest.raises(InputError) as err:
        InProcess().map(square_or_fail, [2, -1])
    assert str(err.value) == "task -1: negative input"  # what the CLI prints
    assert err.value.__notes__ == ["in task 1 of 2"]


@pytest.mark.slow
@pytest.mark.subprocess
def test_local_processes_return_results_in_order_and_the_shard_error():
    """Two spawned processes for three tasks; the failing one's own message comes back."""
    executor = LocalProcesses(max_proc=2)
    assert executor.map(square_or_fail, [3, 1, 2]) == [9, 1, 4]
    with pytest.raises(InputError) as err:
        executor.map(square_or_fail, [1, -2, 3])
    assert str(err.value) == "task -2: negative input"
    assert executor.map(square_or_fail, []) == []

"""Progress of long loops: a bar on a terminal, a log line every N seconds elsewhere.

On a terminal, :func:`track` is a ``tqdm`` bar on stderr. When stderr is a file or a
pipe (cluster jobs, ``2> log``), bars would leave partial lines and carriage returns, so
it logs one whole line every ``BASENJI_PROGRESS_SECONDS`` seconds (default 30) instead:
the fraction done, the rate and, when the total is known, the time left::

    variants: 41% (4100/10000 variants), 136 variants/s, 0:00:43 left

A loop that ends sooner than the interval logs nothing.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm import tqdm

log = logging.getLogger(__name__)

SECONDS_ENV = "BASENJI_PROGRESS_SECONDS"
DEFAULT_SECONDS = 30.0


def track(
    iterable: Iterable | None = None,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
) -> tqdm | LogProgress:
    """Track a loop: iterate over the result, or call ``update(n)`` and ``close()``.

    Args:
        iterable: the items (None: count with ``update``).
        total: the number of items (default: ``len(iterable)`` when it has one).
        desc: what is counted, first on every line.
        unit: the unit of one item (``" variants"`` style units are stripped).
        enabled: False: track nothing (a bar that is never shown).

    Returns:
        a ``tqdm`` bar when stderr is a terminal, else a :class:`LogProgress`.
    """
    if sys.stderr.isatty():
        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, leave=False)
    return LogProgress(iterable, total, desc, unit.strip(), enabled, _interval())


def _interval() -> float:
    text = os.environ.get(SECONDS_ENV, "")
    try:
        seconds = float(text) if text else DEFAULT_SECONDS
    except ValueError:
        log.warning(
            "%s=%r is not a number of seconds; using %g", SECONDS_ENV, text, DEFAULT_SECONDS
        )
        return DEFAULT_SECONDS
    return seconds if seconds > 0 else DEFAULT_SECONDS


class LogProgress:
    """Counts items and logs one line at most every ``interval`` seconds.

    Args:
        iterable: items to pass through (None: count with :meth:`update`).
        total: the number of items, if known.
        desc: what is counted.
        unit: the unit of one item.
        enabled: False: count nothing, log nothing.
        interval: seconds between lines.
    """

    def __init__(
        self,
        iterable: Iterable | None,
        total: int | None,
        desc: str,
        unit: str,
        enabled: bool,
        interval: float,
    ):
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable = iterable
        self.total = total
        self.desc = desc
        self.unit = unit
        self.enabled = enabled
        self.interval = interval
        self.n = 0
        self._start = time.monotonic()
        self._next = self._start + interval

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update(1)

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items; log a line if ``interval`` seconds have passed."""
        self.n += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now >= self._next:
            log.info("%s", self.line(now - self._start))
            self._next = now + self.interval

    def line(self, elapsed: float) -> str:
        """``desc: 41% (4100/10000 variants), 136 variants/s, 0:00:43 left``."""
        rate = self.n / elapsed if elapsed > 0 else 0.0
        rate_text = f"{rate:.3g} {self.unit}/s"
        if not self.total:
            return f"{self.desc}: {self.n} {self.unit} done, {rate_text}"
        done = f"{100 * self.n / self.total:.0f}% ({self.n}/{self.total} {self.unit})"
        left = (self.total - self.n) / rate if rate > 0 else None
        eta = "time left unknown" if left is None else f"{_clock(left)} left"
        return f"{self.desc}: {done}, {rate_text}, {eta}"

    def close(self) -> None:
        """End of the loop (nothing to clean up: lines are whole)."""
        self.enabled = False


def _clock(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))

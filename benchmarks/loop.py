"""Event-loop responsiveness: how long a bulk import keeps the loop from other tasks.

A ticker task awaits ``asyncio.sleep(0.001)`` over and over and records how late it
wakes up; its worst lateness is the longest stall another task (a FastAPI handler, say)
would have seen. Two runs, both against the fake in its fastest mode (no capacity, no
stored job):

- ``full``: ``create_jobs`` of ``jobs`` full-shape :class:`Job` s with the SDK defaults.
- ``large_list``: ``create_jobs`` of a ``large_jobs``-element list (1,000 distinct
  minimal ``Job`` s repeated, to keep memory small), cancelled once ``sent_jobs`` jobs
  are done: the whole-list validation before the first request, then chunking and
  sending in the steady state.

The garbage collector's longest pause in the run (``gc.callbacks``) is reported beside
the stall: a full collection over many live ``Job`` s is one pause no ``await`` breaks.
``full_gc_off`` repeats ``full`` with ``gc.disable()`` (informational, no target): the
stall the SDK's own code causes, without the collector. ``full_streamed`` (informational)
sends the same jobs through ``stream_create_jobs`` and drops each batch's jobs: no
result grows, yet a full collection still comes (objects alive in flight are promoted
and counted towards it) and scans the caller's 100,000 input jobs.
``full_lazy_streamed`` (informational) also builds the input jobs as they are read, as an
import from a file does: nothing grows, and a full collection has little to scan.

Example::

    with ServerProcess() as server:
        report = asyncio.run(measure(server, jobs=1000, large_jobs=10_000, sent_jobs=2000))
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Awaitable, Iterable
from typing import Any, Final

from hellotracks_async import HellotracksClient, Job, Progress

from . import shapes
from ._server import ServerProcess
from ._targets import target
from .throughput import GcClock

__all__ = ["STALL_TARGETS_MS", "Ticker", "measure", "targets"]

_TICK: Final = 0.001
#: The targets: the longest stall, in milliseconds, per run (``full`` and ``large_list``
#: from issue 13; ``full_lazy_streamed`` and ``full_gc_off``, the SDK's own code, from
#: issue 20).
STALL_TARGETS_MS: Final = {
    "full": 20.0,
    "full_gc_off": 20.0,
    "full_lazy_streamed": 30.0,
    "large_list": 50.0,
}


class Ticker:
    """Sleeps ``0.001`` s in a loop while running; records the worst lateness.

    Example::

        >>> async def main():
        ...     async with Ticker() as ticker:
        ...         await asyncio.sleep(0.01)
        ...     return ticker.ticks > 0, ticker.worst_ms >= 0
        >>> asyncio.run(main())
        (True, True)
    """

    def __init__(self) -> None:
        self.worst_ms = 0.0
        self.ticks = 0
        self.over_10ms = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(_TICK)
            late_ms = (time.perf_counter() - started - _TICK) * 1000
            self.ticks += 1
            self.over_10ms += late_ms > 10
            self.worst_ms = max(self.worst_ms, late_ms)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)  # let it start
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _observed(work: Awaitable[dict[str, Any]], *, gc_off: bool = False) -> dict[str, Any]:
    gc.collect()
    pauses = GcClock()
    gc.callbacks.append(pauses)
    if gc_off:
        gc.disable()
    try:
        started = time.perf_counter()
        async with Ticker() as ticker:
            run = await work
        wall = time.perf_counter() - started
        # The caller frees the result after the call (100,000 full jobs: ~25 ms); that
        # is not the call's stall, so it happens here, after the ticker stopped.
        run.pop("result", None)
    finally:
        if gc_off:
            gc.enable()
        gc.callbacks.remove(pauses)
    return {
        **run,
        "wall_s": round(wall, 3),
        "max_stall_ms": round(ticker.worst_ms, 2),
        "ticks": ticker.ticks,
        "ticks_over_10ms": ticker.over_10ms,
        "longest_gc_ms": round(pauses.longest * 1000, 2),
    }


async def _full(server: ServerProcess, jobs: list[Job]) -> dict[str, Any]:
    async with HellotracksClient(server.api_key, base_url=server.base_url) as client:
        result = await client.create_jobs(jobs)
    return {"jobs": len(jobs), "succeeded": result.succeeded, "result": result}


async def _full_streamed(server: ServerProcess, jobs: Iterable[Job], count: int) -> dict[str, Any]:
    """``jobs`` through ``stream_create_jobs``, each batch's jobs used and dropped."""
    succeeded = 0
    async with HellotracksClient(server.api_key, base_url=server.base_url) as client:
        async for outcome in client.stream_create_jobs(jobs):
            succeeded += len(outcome.jobs)
    return {"jobs": count, "succeeded": succeeded}


async def _large_list(server: ServerProcess, jobs: list[Job], sent_jobs: int) -> dict[str, Any]:
    """create_jobs of the whole list, cancelled once ``sent_jobs`` are done."""
    done = asyncio.Event()
    first: list[float] = []
    succeeded = 0

    def progress(totals: Progress) -> None:
        nonlocal succeeded
        if not first:
            first.append(time.perf_counter())
        succeeded = totals.succeeded
        if succeeded >= sent_jobs:
            done.set()

    async with HellotracksClient(server.api_key, base_url=server.base_url) as client:
        started = time.perf_counter()
        call = asyncio.create_task(client.create_jobs(jobs, progress=progress))
        waiter = asyncio.create_task(done.wait())
        await asyncio.wait({call, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for task in (call, waiter):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await call
    return {
        "jobs": len(jobs),
        "succeeded": succeeded,
        "until_first_answer_s": round(first[0] - started, 3) if first else None,
    }


async def measure(
    server: ServerProcess,
    *,
    jobs: int = 100_000,
    large_jobs: int = 1_000_000,
    sent_jobs: int = 20_000,
) -> dict[str, Any]:
    """The runs of the module doc, by name (``full``, ``full_gc_off``, ...)."""
    full_jobs = list(shapes.jobs("full", jobs))
    report = {"full": await _observed(_full(server, full_jobs))}
    report["full_gc_off"] = await _observed(_full(server, full_jobs), gc_off=True)
    report["full_streamed"] = await _observed(_full_streamed(server, full_jobs, jobs))
    del full_jobs
    lazy = shapes.jobs("full", jobs)  # built as they are read: never all alive at once
    report["full_lazy_streamed"] = await _observed(_full_streamed(server, lazy, jobs))
    distinct = [shapes.job("minimal", index) for index in range(1000)]
    large = [distinct[index % 1000] for index in range(large_jobs)]
    report["large_list"] = await _observed(_large_list(server, large, min(sent_jobs, large_jobs)))
    report["large_list"]["sent_jobs"] = min(sent_jobs, large_jobs)
    return report


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The longest stall of each run against its target.

    Example::

        >>> run = {"max_stall_ms": 12.0, "jobs": 100_000}
        >>> [t["met"] for t in targets(dict.fromkeys(STALL_TARGETS_MS, run))]
        [True, True, True, True]
    """
    names = {
        "full": "event-loop stall, create_jobs of {:,} full jobs",
        "full_gc_off": "event-loop stall, the SDK's own code (GC off), {:,} full jobs",
        "full_lazy_streamed": "event-loop stall, stream_create_jobs of {:,} lazy full jobs",
        "large_list": "event-loop stall, create_jobs of a {:,}-job list",
    }
    return [
        target(
            names[key].format(report[key]["jobs"]), report[key]["max_stall_ms"], limit, unit="ms"
        )
        for key, limit in STALL_TARGETS_MS.items()
    ]

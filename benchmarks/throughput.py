"""End-to-end throughput: the SDK next to a raw aiohttp baseline and a naive loop.

Three ways to create the same jobs on the fake server (which runs in another process):

- ``sdk``: ``HellotracksClient.create_jobs`` with its defaults, given :class:`Job` s
  (``sdk_dicts``: the same given wire-format dicts, for reference).
- ``raw``: plain aiohttp posting pre-built JSON bodies of ``batch_size`` jobs (with
  the same idempotency keys the SDK adds), ``concurrency`` requests in flight, each
  answer decoded with orjson and its job count checked; no models are built.
- ``naive``: one job per request, one request at a time, ``json=`` in and
  ``response.json()`` out: what a quick script does. It runs on fewer jobs.

Each is measured as wall time and the CPU time of this (client) process,
``time.process_time()``; the server's CPU time is read from ``/proc`` for reference.
Inputs are built before the clock starts; one warm-up run each, then the variants
alternate (a different one first each round), best of ``repeats``.

Example::

    with ServerProcess() as server:
        report = asyncio.run(measure(server, jobs=2000, naive_jobs=100, repeats=1))
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

import aiohttp
import attrs
import orjson

from hellotracks_async import HellotracksClient, Job

from . import shapes
from ._server import ServerProcess

__all__ = ["GcClock", "Run", "measure", "run_naive", "run_raw", "run_sdk", "summarize"]

_WARMUP_JOBS: Final = 2000
_run_ids = itertools.count()


@attrs.frozen
class Run:
    """One measured run: how many jobs, wall and CPU seconds (client and server), and
    the client's seconds in the cyclic garbage collector (part of its CPU time)."""

    jobs: int
    wall_s: float
    cpu_s: float
    server_cpu_s: float
    gc_s: float


class GcClock:
    """The wall time of garbage collections while registered in ``gc.callbacks``: all of
    it (``seconds``) and the longest one (``longest``)."""

    def __init__(self) -> None:
        self.seconds = self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._started
            self.seconds += pause
            self.longest = max(self.longest, pause)


async def run_sdk(
    base_url: str,
    api_key: str,
    jobs: list[Job] | list[dict[str, Any]],
    *,
    batch_size: int,
    concurrency: int,
) -> int:
    """Create ``jobs`` (Jobs or wire dicts) with the SDK; return how many succeeded."""
    async with HellotracksClient(
        api_key, base_url=base_url, batch_size=batch_size, max_concurrency=concurrency
    ) as client:
        result = await client.create_jobs(jobs)
    return result.succeeded


async def run_raw(base_url: str, api_key: str, bodies: list[bytes], *, concurrency: int) -> int:
    """POST pre-built bodies, ``concurrency`` at a time; return how many jobs came back."""
    url = base_url + "createjobs"
    headers = {"API-Key": api_key, "Content-Type": "application/json"}
    pending = iter(bodies)
    created = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal created
        for body in pending:  # shared: each body is taken by exactly one worker
            async with session.post(url, data=body) as response:
                answer = orjson.loads(await response.read())
            if response.status != 200 or answer["status"] != 0:
                raise RuntimeError(f"raw baseline refused: {response.status} {answer}")
            created += len(answer["jobs"])

    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return created


async def run_naive(base_url: str, api_key: str, wires: list[dict[str, Any]]) -> int:
    """One job per request, one request at a time, a 429 answered by sleeping its
    ``Retry-After`` and sending again; return how many were created."""
    created = 0
    async with aiohttp.ClientSession() as session:
        for wire in wires:
            while True:
                async with session.post(
                    base_url + "createjobs",
                    json={"data": {"jobs": [wire]}},
                    headers={"API-Key": api_key},
                ) as response:
                    if response.status == 429:
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    answer = await response.json()
                break
            if answer["status"] != 0:
                raise RuntimeError(f"naive loop refused: {answer}")
            created += len(answer["jobs"])
    return created


def raw_bodies(
    shape: shapes.Shape, count: int, *, start: int, batch_size: int, prefix: str | None = None
) -> list[bytes]:
    """The raw baseline's request bodies: the SDK's wire format, keys included
    (``uidSecondary = prefix + index``; by default a fresh ``raw-N-`` prefix)."""
    prefix = prefix if prefix is not None else f"raw-{next(_run_ids)}-"
    bodies = []
    for first in range(start, start + count, batch_size):
        batch = []
        for index in range(first, min(first + batch_size, start + count)):
            wire = shapes.wire_job(shape, index)
            wire.setdefault("uidSecondary", f"{prefix}{index}")
            batch.append(wire)
        bodies.append(orjson.dumps({"data": {"jobs": batch}}))
    return bodies


async def _timed(server: ServerProcess, jobs: int, work: Awaitable[int]) -> Run:
    gc.collect()
    gc_clock = GcClock()
    gc.callbacks.append(gc_clock)
    try:
        server_cpu, cpu, wall = server.cpu_seconds(), time.process_time(), time.perf_counter()
        done = await work
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        server_cpu = server.cpu_seconds() - server_cpu
    finally:
        gc.callbacks.remove(gc_clock)
    if done != jobs:
        raise RuntimeError(f"expected {jobs} jobs, got {done}")
    return Run(jobs, wall, cpu, server_cpu, gc_clock.seconds)


def summarize(runs: Iterable[Run], *, scaled: bool = False) -> dict[str, Any]:
    """Best of the runs: least wall time and least CPU time (each the minimum over the
    runs, so noise from other processes only ever adds), and what they give per job.

    Example::

        >>> summarize([Run(1000, 0.5, 0.25, 0.1, 0), Run(1000, 0.4, 0.3, 0.1, 0)])["jobs_per_s"]
        2500.0
    """
    runs = list(runs)
    jobs = runs[0].jobs
    wall = min(run.wall_s for run in runs)
    cpu = min(run.cpu_s for run in runs)
    server_cpu = min(run.server_cpu_s for run in runs)
    gc_s = min(run.gc_s for run in runs)
    return {
        "jobs": jobs,
        "scaled": scaled,
        "wall_s": round(wall, 4),
        "jobs_per_s": round(jobs / wall, 1),
        "cpu_s": round(cpu, 4),
        "cpu_s_per_1000_jobs": round(cpu / jobs * 1000, 5),
        "cpu_us_per_job": round(cpu / jobs * 1e6, 2),
        "server_cpu_s_per_1000_jobs": round(server_cpu / jobs * 1000, 5),
        "gc_s_per_1000_jobs": round(gc_s / jobs * 1000, 5),
        "runs": [attrs.asdict(run) for run in runs],
    }


async def measure_shape(
    server: ServerProcess,
    shape: shapes.Shape,
    *,
    jobs: int,
    naive_jobs: int,
    batch_size: int,
    concurrency: int,
    repeats: int,
) -> dict[str, Any]:
    """SDK (given Jobs, and given wire dicts), raw and naive for one job shape."""
    base_url, api_key = server.base_url, server.api_key
    offset = itertools.count(0, max(jobs, _WARMUP_JOBS, naive_jobs))

    def sdk(count: int) -> Callable[[], Awaitable[Run]]:
        inputs = list(shapes.jobs(shape, count, start=next(offset)))
        work = run_sdk(base_url, api_key, inputs, batch_size=batch_size, concurrency=concurrency)
        return lambda: _timed(server, count, work)

    def sdk_dicts(count: int) -> Callable[[], Awaitable[Run]]:
        start = next(offset)
        inputs = [shapes.wire_job(shape, index) for index in range(start, start + count)]
        work = run_sdk(base_url, api_key, inputs, batch_size=batch_size, concurrency=concurrency)
        return lambda: _timed(server, count, work)

    def raw(count: int) -> Callable[[], Awaitable[Run]]:
        bodies = raw_bodies(shape, count, start=next(offset), batch_size=batch_size)
        work = run_raw(base_url, api_key, bodies, concurrency=concurrency)
        return lambda: _timed(server, count, work)

    def naive(count: int) -> Callable[[], Awaitable[Run]]:
        start = next(offset)
        wires = [shapes.wire_job(shape, index) for index in range(start, start + count)]
        return lambda: _timed(server, count, run_naive(base_url, api_key, wires))

    variants = {"sdk": sdk, "sdk_dicts": sdk_dicts, "raw": raw}
    warmup = min(jobs, _WARMUP_JOBS)
    for prepare in variants.values():
        await prepare(warmup)()
    runs: dict[str, list[Run]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(repeats):  # interleaved, a different one first each time
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            runs[name].append(await variants[name](jobs)())
    await naive(min(naive_jobs, 50))()
    naive_runs = [await naive(naive_jobs)() for _ in range(repeats)]
    report = {name: summarize(measured) for name, measured in runs.items()}
    report["naive"] = summarize(naive_runs, scaled=naive_jobs != jobs)
    report["ratios"] = ratios(report)
    return report


def ratios(report: dict[str, Any]) -> dict[str, float]:
    """SDK/raw and SDK/naive: CPU per job and throughput.

    Example::

        >>> one = {"cpu_s_per_1000_jobs": 1.0, "jobs_per_s": 10.0}
        >>> ratios({"sdk": one, "raw": one, "naive": one})["sdk_raw_cpu_per_job"]
        1.0
    """
    sdk, raw, naive = report["sdk"], report["raw"], report["naive"]
    return {
        "sdk_raw_cpu_per_job": round(sdk["cpu_s_per_1000_jobs"] / raw["cpu_s_per_1000_jobs"], 2),
        "sdk_raw_jobs_per_s": round(sdk["jobs_per_s"] / raw["jobs_per_s"], 2),
        "sdk_naive_cpu_per_job": round(
            sdk["cpu_s_per_1000_jobs"] / naive["cpu_s_per_1000_jobs"], 2
        ),
        "sdk_naive_jobs_per_s": round(sdk["jobs_per_s"] / naive["jobs_per_s"], 1),
    }


async def measure(
    server: ServerProcess,
    *,
    jobs: int = 20_000,
    naive_jobs: int = 1000,
    batch_size: int = 100,
    concurrency: int = 4,
    repeats: int = 3,
) -> dict[str, Any]:
    """Every shape: ``{"minimal": {...}, "full": {...}}`` (see :func:`measure_shape`)."""
    return {
        shape: await measure_shape(
            server,
            shape,
            jobs=jobs,
            naive_jobs=min(naive_jobs, jobs),
            batch_size=batch_size,
            concurrency=concurrency,
            repeats=repeats,
        )
        for shape in shapes.SHAPES
    }

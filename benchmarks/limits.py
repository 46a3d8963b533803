"""End-to-end against a server's limit: three modelled servers, SDK settings side by side.

The fake (in its own process, storing jobs) gets a
:class:`~hellotracks_async.testing.Capacity` per profile: a round trip, ``workers`` with a
FIFO queue, ``per_request + per_job * jobs`` of service time, optionally a token-bucket
rate limit (one second's worth) answering 429 with ``Retry-After``. The profile's limit
is what no client can beat::

    max(requests * (per_request + per_job * batch) / workers, requests / rate) + rtt

Each variant is a set of keyword arguments for :class:`HellotracksClient`; keywords the
installed client does not accept are dropped (and reported), so the same benchmark runs
before and after a client learns them. A variant whose window is fixed and whose wall
time would exceed both ``budget`` seconds and twice the profile's limit runs on fewer
jobs (a multiple of the batch size), its limit computed for that count; an adaptive one
always runs on all. ``naive`` is one job per request, one at a time,
sleeping ``Retry-After`` on a 429, on a few jobs: the point is its ratio. ``raw 64``
(profiles without a rate: it does not retry a 429) sends the same batches pre-encoded
with plain aiohttp, 64 in flight: the floor that the machine and the fake set.

Beside wall time, every run reports the client's time in the garbage collector (all of
it and the longest pause), and each SDK run when its first request went out (after the
whole-list validation): where a run loses time against ``raw 64``.

Example::

    >>> FAR.limit(100_000, 100)  # 1,000 requests of 70 ms on 16 workers, + 150 ms
    4.525
    >>> RATE_LIMITED.limit(10_000, 100)  # 100 requests at 5/s, + 50 ms
    20.05
"""

from __future__ import annotations

import gc
import inspect
import math
import time
from collections.abc import Awaitable
from typing import Any, Final

import attrs

from hellotracks_async import BulkError, HellotracksClient, Job
from hellotracks_async.aiohttp_transport import AiohttpTransport
from hellotracks_async.concurrency import INITIAL_LIMIT
from hellotracks_async.transport import Response

from . import shapes, throughput
from ._server import ServerProcess
from ._targets import target

__all__ = [
    "FAR",
    "PROFILES",
    "RATE_LIMITED",
    "SMALL",
    "VARIANTS",
    "Profile",
    "accepted",
    "fixed_window",
    "measure",
]


@attrs.frozen(kw_only=True)
class Profile:
    """A modelled server and how many jobs to create on it (durations in seconds)."""

    name: str
    jobs: int
    rtt: float
    workers: int
    per_request: float
    per_job: float
    rate: float | None = None
    naive_jobs: int = 20

    def capacity(self) -> dict[str, Any]:
        """Keywords of the fake's ``Capacity`` (bucket: one second's worth, the default)."""
        return {
            "rtt": self.rtt,
            "workers": self.workers,
            "per_request": self.per_request,
            "per_job": self.per_job,
            "rate": self.rate,
        }

    def service(self, batch: int) -> float:
        """Seconds a worker spends on one request of ``batch`` jobs."""
        return self.per_request + self.per_job * batch

    def limit(self, jobs: int, batch: int) -> float:
        """The fastest ``jobs`` can be created in batches of ``batch`` (see module doc)."""
        requests = math.ceil(jobs / batch)
        work = requests * self.service(batch) / self.workers
        rated = requests / self.rate if self.rate is not None else 0.0
        return round(max(work, rated) + self.rtt, 4)

    def predicted(self, jobs: int, batch: int, window: int | None) -> float:
        """Roughly how long a fixed ``window`` takes (``None``: adaptive, the limit).

        Example::

            >>> round(FAR.predicted(100_000, 100, 4), 1)  # 250 rounds of 220 ms
            55.0
        """
        best = self.limit(jobs, batch)
        if window is None:
            return best
        rounds = math.ceil(math.ceil(jobs / batch) / window)
        return max(best, rounds * (self.rtt + self.service(batch)))

    def scaled(self, factor: float) -> Profile:
        """Jobs and durations times ``factor``, the rate divided by it (for smoke runs).

        Example::

            >>> SMALL.scaled(0.01).jobs, SMALL.scaled(0.01).rtt
            (50, 0.0002)
        """
        return attrs.evolve(
            self,
            jobs=max(1, round(self.jobs * factor)),
            rtt=self.rtt * factor,
            per_request=self.per_request * factor,
            per_job=self.per_job * factor,
            rate=None if self.rate is None else self.rate / factor,
            naive_jobs=max(1, round(self.naive_jobs * factor)),
        )


FAR: Final = Profile(
    name="far",
    jobs=100_000,
    rtt=0.150,
    workers=16,
    per_request=0.020,
    per_job=0.0005,
    naive_jobs=30,
)
SMALL: Final = Profile(
    name="small", jobs=5_000, rtt=0.020, workers=2, per_request=0.010, per_job=0.002, naive_jobs=100
)
RATE_LIMITED: Final = Profile(
    name="rate-limited",
    jobs=10_000,
    rtt=0.050,
    workers=8,
    per_request=0.010,
    per_job=0.0002,
    rate=5.0,
    naive_jobs=20,
)
PROFILES: Final = (FAR, SMALL, RATE_LIMITED)

#: The ``kwargs`` of the ``raw`` variant: plain aiohttp, not the SDK.
RAW: Final[dict[str, Any]] = {}
#: Requests in flight of the ``raw`` variant.
RAW_WINDOW: Final = 64

#: name -> HellotracksClient keywords (besides api_key, base_url, batch_size).
VARIANTS: Final[dict[str, dict[str, Any]]] = {
    "defaults": {},
    "fixed 4": {"max_concurrency": 4, "adaptive": False},
    "fixed 64": {"max_concurrency": 64, "adaptive": False},
}


def _parameters() -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(HellotracksClient).parameters)


def accepted(kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The keywords the installed client accepts, and the names of those it does not.

    Example::

        >>> accepted({"max_concurrency": 8, "no_such_option": 1})
        ({'max_concurrency': 8}, ['no_such_option'])
    """
    parameters = _parameters()
    used = {name: value for name, value in kwargs.items() if name in parameters}
    return used, [name for name in kwargs if name not in parameters]


def fixed_window(used: dict[str, Any]) -> int | None:
    """The fixed number in flight these keywords give, or ``None`` if it adapts.

    Example::

        >>> fixed_window({"max_concurrency": 8, "adaptive": False})
        8
    """
    parameters = _parameters()
    adaptive = parameters["adaptive"].default if "adaptive" in parameters else False
    if used.get("adaptive", adaptive):
        return None
    window: int = used.get("max_concurrency", parameters["max_concurrency"].default)
    return window


def _inputs(prefix: str, count: int) -> list[Job]:
    return [
        attrs.evolve(shapes.job("minimal", index), uid_secondary=f"{prefix}{index}")
        for index in range(count)
    ]


class _FirstRequest:
    """The client's own aiohttp transport, noting when the first request went out: all
    the client did before (the whole-list validation) kept the server idle."""

    def __init__(self, server: ServerProcess, max_concurrency: int) -> None:
        # the connection limit HellotracksClient gives its own transport
        self._inner = AiohttpTransport(
            server.base_url, server.api_key, connection_limit=2 * max_concurrency
        )
        self.sent_at: float | None = None

    async def post(self, endpoint: str, body: bytes, *, timeout: float) -> Response:
        if self.sent_at is None:
            self.sent_at = time.perf_counter()
        return await self._inner.post(endpoint, body, timeout=timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _run_sdk(
    server: ServerProcess,
    jobs: list[Job],
    batch: int,
    used: dict[str, Any],
    transport: _FirstRequest,
) -> tuple[int, str | None]:
    """Create ``jobs``; return (jobs the client reports failed, an unexpected error)."""
    async with HellotracksClient(
        server.api_key, base_url=server.base_url, batch_size=batch, transport=transport, **used
    ) as client:
        try:
            await client.create_jobs(jobs)
        except BulkError as error:
            return error.result.failed, None
        except Exception as error:  # reported, not hidden: the run is then incomplete
            return len(jobs), f"{type(error).__name__}: {error}"
    return 0, None


async def _run_naive(server: ServerProcess, wires: list[dict[str, Any]]) -> tuple[int, None]:
    """The throughput benchmark's naive loop (it sleeps ``Retry-After`` on a 429)."""
    created = await throughput.run_naive(server.base_url, server.api_key, wires)
    return len(wires) - created, None


async def _run_raw(server: ServerProcess, bodies: list[bytes], jobs: int) -> tuple[int, None]:
    """The throughput benchmark's raw baseline, ``RAW_WINDOW`` in flight: what the machine
    and the fake allow a client that does no work of its own."""
    created = await throughput.run_raw(
        server.base_url, server.api_key, bodies, concurrency=RAW_WINDOW
    )
    return jobs - created, None


async def _measure_run(
    server: ServerProcess,
    profile: Profile,
    name: str,
    kwargs: dict[str, Any] | None,
    *,
    jobs: int,
    batch: int,
    budget: float,
) -> dict[str, Any]:
    """One variant on one profile (``kwargs=None``: the naive loop; ``RAW``: plain aiohttp)."""
    await server.configure(**profile.capacity())
    prefix = f"{profile.name}-{name.replace(' ', '')}-"
    run: dict[str, Any] = {"full_jobs": profile.jobs}
    first: _FirstRequest | None = None
    work: Awaitable[tuple[int, str | None]]
    if kwargs is RAW:
        bodies = throughput.raw_bodies("minimal", jobs, start=0, batch_size=batch, prefix=prefix)
        run.update(kwargs={}, dropped=[], window=RAW_WINDOW)
        work = _run_raw(server, bodies, jobs)
    elif kwargs is None:
        jobs = min(jobs, profile.naive_jobs)
        wires = [
            {**shapes.wire_job("minimal", i), "uidSecondary": f"{prefix}{i}"} for i in range(jobs)
        ]
        run.update(kwargs={}, dropped=[], window=1)
        work = _run_naive(server, wires)
    else:
        used, dropped = accepted(kwargs)
        window = fixed_window(used)
        predicted = profile.predicted(jobs, batch, window)
        if predicted > max(budget, 2 * profile.limit(jobs, batch)):
            jobs = max(batch, int(jobs * budget / predicted) // batch * batch)
        run.update(kwargs=used, dropped=dropped, window=window)
        ceiling = used.get("max_concurrency", _parameters()["max_concurrency"].default)
        first = _FirstRequest(server, ceiling)
        work = _run_sdk(server, _inputs(prefix, jobs), batch, used, first)
    return await _timed(server, profile, run, work, first, jobs=jobs, batch=batch, prefix=prefix)


async def _timed(
    server: ServerProcess,
    profile: Profile,
    run: dict[str, Any],
    work: Awaitable[tuple[int, str | None]],
    first: _FirstRequest | None,
    *,
    jobs: int,
    batch: int,
    prefix: str,
    stored: int | None = None,
) -> dict[str, Any]:
    """Run ``work`` against the configured fake; ``run`` with every figure of the table.
    ``stored``: how many of the prefix's jobs the store should hold after (default:
    ``jobs``, one each)."""
    expected = jobs if stored is None else stored
    pauses = throughput.GcClock()
    gc.callbacks.append(pauses)
    started = time.perf_counter()
    try:
        failed, error = await work
    finally:
        gc.callbacks.remove(pauses)
    wall = time.perf_counter() - started
    stats = await server.stats()
    check = await server.check(prefix, expected)
    limit = profile.limit(jobs, batch)
    received = stats["received"]
    run.update(
        jobs=jobs,
        scaled=jobs != profile.jobs,
        wall_s=round(wall, 3),
        limit_s=limit,
        ratio=round(wall / limit, 3),
        jobs_per_s=round(jobs / wall, 1),
        requests=received,
        rate_limited=stats["rate_limited"],
        share_429=round(stats["rate_limited"] / received, 4) if received else 0.0,
        peak_queued=stats["peak_queued"],
        # a first burst of the initial window is what any client sends before it knows
        # the server; the sustained queue is what hurts a small one (2W+2)
        queue_limit=max(2 * profile.workers + 2, INITIAL_LIMIT),
        failed=failed,
        stored=check["stored"],
        lost=check["missing"] if stored is None else failed,
        duplicated=check["stored"] - (expected - check["missing"]),
        error=error,
        first_request_s=(
            round(first.sent_at - started, 3) if first and first.sent_at is not None else None
        ),
        client_gc_s=round(pauses.seconds, 3),
        longest_gc_ms=round(pauses.longest * 1000, 1),
    )
    return run


async def _run_by_ids(
    server: ServerProcess, operation: str, ids: list[str], batch: int, first: _FirstRequest
) -> tuple[int, str | None]:
    """``get_jobs`` or ``delete_jobs`` over ``ids``; (ids the client reports failed, an
    unexpected error)."""
    async with HellotracksClient(
        server.api_key, base_url=server.base_url, batch_size=batch, transport=first
    ) as client:
        call = client.get_jobs if operation == "get" else client.delete_jobs
        try:
            result = await call(ids, raise_on_error=False)
        except Exception as error:  # reported, not hidden: the run is then incomplete
            return len(ids), f"{type(error).__name__}: {error}"
    found = result.succeeded + sum(len(f.indices) for f in result.maybe_deleted)
    return len(ids) - found, None


async def measure_by_ids(
    server: ServerProcess, profile: Profile, *, batch: int = 100
) -> dict[str, dict[str, Any]]:
    """Read back (``get``) and then delete ``profile.jobs`` jobs by id, with the client's
    defaults, against the profile's limit: ``{"get defaults": run, "delete defaults":
    run}``. The jobs are created first on the fake without a capacity (not timed)."""
    await server.configure()
    prefix = f"{profile.name}-ids-"
    async with HellotracksClient(
        server.api_key, base_url=server.base_url, batch_size=batch
    ) as client:
        created = await client.create_jobs(_inputs(prefix, profile.jobs))
    ids = [job_id for job_id in created.jobs.ids if job_id is not None]
    runs: dict[str, dict[str, Any]] = {}
    for operation in ("get", "delete"):
        await server.configure(keep_jobs=True, **profile.capacity())
        first = _FirstRequest(server, _parameters()["max_concurrency"].default)
        run: dict[str, Any] = {"full_jobs": profile.jobs, "kwargs": {}, "dropped": []}
        run["window"] = None
        work = _run_by_ids(server, operation, ids, batch, first)
        left = len(ids) if operation == "get" else 0  # what the store holds after
        runs[f"{operation} defaults"] = await _timed(
            server, profile, run, work, first, jobs=len(ids), batch=batch, prefix=prefix,
            stored=left,
        )  # fmt: skip
    return runs


async def measure(
    server: ServerProcess,
    *,
    profiles: tuple[Profile, ...] = PROFILES,
    variants: dict[str, dict[str, Any]] | None = None,
    batch: int = 100,
    budget: float = 12.0,
) -> dict[str, Any]:
    """Every variant and the naive loop on every profile.

    ``server`` must store jobs (``ServerProcess(store_jobs=True)``). Returns
    ``{profile: {"profile": {...}, "limit_s": ..., variant: run, ..., "naive": run}}``.
    """
    report: dict[str, Any] = {}
    for profile in profiles:
        section: dict[str, Any] = {
            "profile": attrs.asdict(profile),
            "limit_s": profile.limit(profile.jobs, batch),
        }
        runs: list[tuple[str, dict[str, Any] | None]] = [*(variants or VARIANTS).items()]
        if profile.rate is None:  # raw does not retry a 429
            runs.append((f"raw {RAW_WINDOW}", RAW))
        for name, kwargs in [*runs, ("naive", None)]:
            section[name] = await _measure_run(
                server, profile, name, kwargs, jobs=profile.jobs, batch=batch, budget=budget
            )
        if profile.name == FAR.name:  # reading back and deleting, on the far server
            section |= await measure_by_ids(server, profile, batch=batch)
        naive = section["naive"]["jobs_per_s"]
        section["defaults_per_naive_jobs_per_s"] = round(
            section["defaults"]["jobs_per_s"] / naive, 1
        )
        report[profile.name] = section
    await server.configure()
    return report


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for the SDK defaults on each profile.

    Example::

        >>> run = {"ratio": 1.1, "share_429": 0.0, "peak_queued": 3, "queue_limit": 6,
        ...        "lost": 0, "duplicated": 0, "failed": 0, "jobs": 10, "full_jobs": 10,
        ...        "scaled": False}
        >>> [t["met"] for t in targets({"far": {"defaults": run}})]
        [True, True, True, True]
    """
    checked = []
    for name, section in report.items():
        run = section["defaults"]
        note = f"scaled run: {run['jobs']:,} of {run['full_jobs']:,} jobs" if run["scaled"] else ""
        lost = run["lost"] + max(run["duplicated"], 0) + (1 if run.get("error") else 0)
        for label, value, limit, unit in (
            ("wall / limit", run["ratio"], 1.25, "x"),
            ("429 share", run["share_429"], 0.15, "%"),
            ("peak server queue", run["peak_queued"], run["queue_limit"], "requests"),
            ("jobs lost or duplicated", lost, 0, "jobs"),
        ):
            checked.append(
                target(f"limits {name}, defaults: {label}", value, limit, unit=unit, note=note)
            )
        if name == FAR.name and "fixed 64" in section:  # issue 20: what each job costs
            fixed = section["fixed 64"]
            checked += [
                target("limits far, fixed 64: wall / limit", fixed["ratio"], 1.15, unit="x"),
                target("limits far, defaults: client GC", run["client_gc_s"], 0.36, unit="s"),
                target(
                    "limits far, defaults: longest GC pause",
                    run["longest_gc_ms"],
                    100.0,
                    unit="ms",
                ),
            ]
    return checked

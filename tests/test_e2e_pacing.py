"""Pacing end to end against FakeHellotracks with a capacity: rate limits, one shared
pause, adaptive concurrency. Assertions are about counts the fake reports (429s, queue
depth, jobs), not about wall-clock time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from hellotracks_async import HellotracksClient, Job, MockTransport, Progress, Request, Response
from hellotracks_async.concurrency import INITIAL_LIMIT
from hellotracks_async.testing import Capacity, FakeHellotracks


def _jobs(count: int, prefix: str = "job") -> list[Job]:
    return [Job(destination_name=f"{prefix} {i}") for i in range(count)]


async def test_a_rate_limit_slows_an_import_but_fails_no_job() -> None:
    # 25 requests/s against up to 16 in flight. 120 requests, so that the first event's
    # 429s (every request already in flight when the bucket ran dry) are a small share.
    capacity = Capacity(rate=25.0, rtt=0.02, workers=4)
    async with (
        FakeHellotracks(capacity=capacity) as fake,
        HellotracksClient(
            fake.api_key, base_url=fake.base_url, batch_size=10, max_concurrency=16
        ) as client,
    ):
        result = await client.create_jobs(_jobs(1200))
        stats = fake.stats
        stored = fake.jobs()
    assert result.succeeded == 1200
    assert len(stored) == 1200
    assert len({job["uidSecondary"] for job in stored}) == 1200
    assert stats.rate_limited <= 0.15 * stats.received, stats


async def test_concurrent_calls_on_one_client_share_one_pause() -> None:
    """A 429 seen by one call holds the other call's requests until Retry-After passes."""
    sent: list[tuple[float, str]] = []
    throttled_at: list[float] = []

    async def slow(request: Request) -> Response:
        jobs = request.json()["data"]["jobs"]
        sent.append((time.monotonic(), jobs[0]["destinationName"].split()[0]))
        number = len(sent)
        await asyncio.sleep(0.01)
        if number == 3:
            throttled_at.append(time.monotonic())
            return Response(429, {"Retry-After": "0.3"}, b"")
        answer = [{"id": f"id-{j['uidSecondary']}", **j} for j in jobs]
        return Response(200, {}, orjson.dumps({"status": 0, "jobs": answer}))

    async with HellotracksClient(
        "key", transport=MockTransport(slow), batch_size=5, max_concurrency=2, adaptive=False
    ) as client:
        first, second = await asyncio.gather(
            client.create_jobs(_jobs(40, "a")), client.create_jobs(_jobs(40, "b"))
        )
    assert first.succeeded == second.succeeded == 40
    (pause_start,) = throttled_at
    # requests already past the throttle when the 429 came (at most the window of
    # 2 x 2) may still arrive; after that, nothing from either call until it passed
    in_pause = [call for at, call in sent if pause_start < at < pause_start + 0.3]
    assert len(in_pause) <= 4
    later = {call for at, call in sent if at >= pause_start + 0.3}
    assert later == {"a", "b"}  # both calls went on afterwards


async def _peak_concurrency(capacity: Capacity, jobs: int) -> tuple[int, Any]:
    seen: list[int] = []

    def progress(totals: Progress) -> None:
        seen.append(totals.concurrency)

    async with (
        FakeHellotracks(capacity=capacity, store_jobs=False) as fake,
        HellotracksClient(fake.api_key, base_url=fake.base_url, batch_size=10) as client,
    ):
        result = await client.create_jobs(_jobs(jobs), progress=progress)
        assert result.succeeded == jobs
        return max(seen), fake.stats


async def test_adaptive_concurrency_grows_on_a_far_wide_server() -> None:
    wide = Capacity(rtt=0.06, workers=32, per_request=0.005, per_job=0.0005)
    peak, _ = await _peak_concurrency(wide, jobs=4_000)
    assert peak >= 20  # from 4, it grew to use the server's width


async def test_adaptive_concurrency_stays_low_on_a_two_worker_server() -> None:
    # service times well above the client's own scheduling noise on a busy machine
    small = Capacity(rtt=0.02, workers=2, per_request=0.01, per_job=0.005)
    peak, stats = await _peak_concurrency(small, jobs=400)
    # a good citizen: no deep queue at the server beyond the first burst (the initial window)
    assert stats.peak_queued <= max(2 * 2 + 2, INITIAL_LIMIT)
    assert peak < 16  # far below the ceiling of 64

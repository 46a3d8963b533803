"""The fake server's capacity model: round trip, workers with a queue, service times,
the token-bucket rate limit, and the stats.

Exact behaviour is pinned on :class:`CapacityModel` and :class:`TokenBucket` with events,
a fake clock and a recording ``sleep``; over HTTP only one-sided time bounds are used (a
sleep never ends early), never a race of a sleep against a timeout.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import aiohttp
import pytest

from hellotracks_async.testing import Capacity, CapacityStats, FakeHellotracks, Faults
from hellotracks_async.testing._capacity import CapacityModel, Counters, TokenBucket

from ._helpers import FAKE_KEY, serve_until_banner, until


async def post(
    session: aiohttp.ClientSession, fake: FakeHellotracks, jobs: int = 1
) -> tuple[int, dict[str, str], Any]:
    """createjobs with ``jobs`` empty jobs: (HTTP status, headers, decoded body)."""
    body = {"data": {"jobs": [{} for _ in range(jobs)]}}
    async with session.post(
        fake.base_url + "createjobs", json=body, headers={"API-Key": FAKE_KEY}
    ) as response:
        return response.status, dict(response.headers), await response.json()


# -- the model, exactly ------------------------------------------------------------------


async def test_two_workers_six_requests_four_wait_in_fifo_order():
    model = CapacityModel(Capacity(workers=2), Counters())
    release = asyncio.Event()
    started: list[int] = []

    def request(number: int) -> Any:
        async def work() -> int:
            started.append(number)
            await release.wait()
            return number

        return model.serve(1, work, refuse=lambda _: -1)

    tasks = [asyncio.create_task(request(number)) for number in range(6)]
    await until(lambda: model.counters.received == 6)
    assert started == [0, 1]
    assert model.counters.snapshot() == CapacityStats(received=6, queued=4, peak_queued=4)
    release.set()
    assert await asyncio.gather(*tasks) == [0, 1, 2, 3, 4, 5]
    assert started == [0, 1, 2, 3, 4, 5]  # first in, first served
    assert model.counters.snapshot() == CapacityStats(received=6, served=6, peak_queued=4)


def _hold_the_worker(model: CapacityModel) -> tuple[asyncio.Event, asyncio.Task[str]]:
    """A request that holds a worker of ``model`` until the event is set."""
    release = asyncio.Event()

    async def hold() -> str:
        await release.wait()
        return "held"

    return release, asyncio.create_task(model.serve(0, hold, refuse=str))


async def _quick() -> str:
    return "quick"


async def test_a_cancelled_waiter_leaves_the_queue_and_the_worker_free():
    model = CapacityModel(Capacity(workers=1), Counters())
    release, holder = _hold_the_worker(model)
    waiter = asyncio.create_task(model.serve(0, _quick, refuse=str))
    await until(lambda: model.counters.queued == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert model.counters.queued == 0
    release.set()
    assert await holder == "held"
    assert await model.serve(0, _quick, refuse=str) == "quick"  # the worker is free again


async def test_round_trip_and_service_time_per_job():
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    capacity = Capacity(rtt=0.1, per_request=0.01, per_job=0.002)
    model = CapacityModel(capacity, Counters(), clock=lambda: 0.0, sleep=record)

    async def work() -> str:
        return "ok"

    for jobs in (1, 10, 100):
        assert await model.serve(jobs, work, refuse=str) == "ok"
    halves, busy = slept[0::3] + slept[2::3], slept[1::3]
    assert halves == pytest.approx([0.05] * 6)
    assert busy == pytest.approx([0.012, 0.03, 0.21])  # grows with the batch


async def test_rate_limited_requests_are_refused_before_the_queue():
    now = [0.0]
    model = CapacityModel(Capacity(workers=1, rate=2.0), Counters(), clock=lambda: now[0])

    async def work() -> str:
        return "served"

    answers = [await model.serve(1, work, refuse=lambda s: f"429 {s}") for _ in range(3)]
    assert answers == ["served", "served", "429 1"]
    now[0] = 0.5  # one token back
    assert await model.serve(1, work, refuse=lambda s: f"429 {s}") == "served"
    assert model.counters.snapshot() == CapacityStats(received=4, served=3, rate_limited=1)


class _LateClock:
    """A clock that only sleeps move, each sleep waking ``late`` seconds late."""

    def __init__(self, late: float) -> None:
        self.now = 0.0
        self.late = late

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        self.now += seconds + self.late


def _one_worker(clock: _LateClock, service: float) -> CapacityModel:
    capacity = Capacity(workers=1, per_request=service)
    return CapacityModel(capacity, Counters(), clock=clock, sleep=clock.sleep)


async def test_a_worker_keeps_its_schedule_when_the_fake_wakes_up_late():
    """One worker, three queued requests of 0.1 s; every wake-up of the fake comes 0.03 s
    late. The worker's requests still start 0.1 s apart; only the answers are late."""
    clock = _LateClock(late=0.03)
    model = _one_worker(clock, service=0.1)
    began: list[float] = []

    async def work() -> None:
        began.append(clock.now)

    await asyncio.gather(*(model.serve(0, work, refuse=str) for _ in range(3)))
    # the first waits 0.1 s from 0 and wakes 0.03 late; the second starts at 0.1, not 0.13
    assert began == pytest.approx([0.13, 0.23, 0.33])


async def test_work_that_takes_time_holds_the_worker():
    """The worker is free at the planned end plus what ``work()`` took (here an injected
    latency of 0.5 s), late wake-ups (0.03 s) not counted: neither when the worker's task
    woke up (0.79) nor at the planned end alone (0.66)."""
    clock = _LateClock(late=0.03)
    model = _one_worker(clock, service=0.1)
    began: list[float] = []

    async def slow_work() -> None:
        began.append(clock.now)
        await clock.sleep(0.5)

    await asyncio.gather(*(model.serve(0, slow_work, refuse=str) for _ in range(2)))
    assert began == pytest.approx([0.13, 0.76])


async def test_a_failing_work_frees_the_worker():
    model = CapacityModel(Capacity(workers=1), Counters())

    async def fail() -> str:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await model.serve(0, fail, refuse=str)
    assert await model.serve(0, _quick, refuse=str) == "quick"
    assert model.counters.snapshot() == CapacityStats(received=2, served=1)


async def test_a_waiter_cancelled_as_it_is_handed_the_worker_passes_it_on():
    model = CapacityModel(Capacity(workers=1), Counters())
    release, holder = _hold_the_worker(model)
    first = asyncio.create_task(model.serve(0, _quick, refuse=str))
    second = asyncio.create_task(model.serve(0, _quick, refuse=str))
    await until(lambda: model.counters.queued == 2)
    hand_over = model._release

    def release_then_cancel(free_at: float) -> None:
        model._release = hand_over  # once: the worker is now handed to `first`...
        hand_over(free_at)
        first.cancel()  # ...which is cancelled before it runs

    model._release = release_then_cancel  # type: ignore[method-assign]
    release.set()
    assert await holder == "held"
    with pytest.raises(asyncio.CancelledError):
        await first
    await until(second.done)  # `first` passed the worker on (else `second` waits forever)
    assert second.result() == "quick"
    assert model.counters.snapshot() == CapacityStats(received=3, served=2, peak_queued=2)


def test_token_bucket_retry_after_is_the_wait_rounded_up_to_whole_seconds():
    now = [0.0]
    bucket = TokenBucket(rate=0.25, size=1.0, clock=lambda: now[0])
    assert bucket.take() is None
    assert bucket.take() == 4  # a token every 4 s
    now[0] = 3.5
    assert bucket.take() == 1  # 0.5 s left: at least 1
    now[0] = 4.0
    assert bucket.take() is None
    bucket.refill()
    assert bucket.take() is None


def test_bucket_holds_one_seconds_worth_by_default():
    assert Capacity(rate=5).bucket_size == 5.0
    assert Capacity(rate=0.2).bucket_size == 1.0
    assert Capacity(rate=5, burst=1).bucket_size == 1.0
    assert Capacity().bucket_size is None


@pytest.mark.parametrize(
    "options",
    [
        {"rtt": -0.1},
        {"per_request": float("nan")},
        {"per_job": float("inf")},
        {"workers": 0},
        {"workers": 1.5},
        {"workers": True},
        {"rate": 0},
        {"rate": -1.0},
        {"burst": 2.0},
        {"rate": 5, "burst": 0.5},
    ],
)
def test_capacity_validation(options):
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are checked in doctests
        Capacity(**options)


# -- over HTTP -----------------------------------------------------------------------


async def test_http_two_workers_serve_six_concurrent_requests(session):
    capacity = Capacity(workers=2, per_request=0.05)
    async with FakeHellotracks(capacity=capacity) as fake:
        started = time.monotonic()
        answers = await asyncio.gather(*(post(session, fake) for _ in range(6)))
        elapsed = time.monotonic() - started
        assert [status for status, _, _ in answers] == [200] * 6
        assert len(fake.jobs()) == 6
        stats = fake.stats
        assert (stats.received, stats.served, stats.rate_limited, stats.queued) == (6, 6, 0, 0)
        assert stats.peak_queued <= 4
    assert elapsed >= 0.14  # three rounds of two: 0.15 s at least (one-sided)


async def test_http_rate_limit_answers_429_with_retry_after_and_counts_it(session):
    # One token per 100 s: no refill during the test, whatever the machine's speed.
    async with FakeHellotracks(capacity=Capacity(rate=0.01, burst=3)) as fake:
        for _ in range(3):
            assert (await post(session, fake))[0] == 200
        status, headers, body = await post(session, fake)
        assert (status, body["status"]) == (429, 429)
        assert re.fullmatch(r"\d+", headers["Retry-After"])
        assert 90 <= int(headers["Retry-After"]) <= 100
        assert len(fake.jobs()) == 3  # the refused request applied nothing
        assert not fake.injected  # not an injected fault
        assert fake.stats == CapacityStats(received=4, served=3, rate_limited=1)
        fake.reset()
        assert fake.stats == CapacityStats()
        assert (await post(session, fake))[0] == 200  # reset refilled the bucket


async def test_http_service_time_grows_with_the_batch(session):
    async with FakeHellotracks(capacity=Capacity(workers=1, per_job=0.002)) as fake:
        started = time.monotonic()
        status, _, body = await post(session, fake, jobs=50)
        assert (status, len(body["jobs"])) == (200, 50)
        assert time.monotonic() - started >= 0.09  # 50 x 2 ms (one-sided)


async def test_http_round_trip_delays_even_a_refusal(session):
    capacity = Capacity(rtt=0.06, rate=0.01, burst=1)
    async with FakeHellotracks(capacity=capacity, store_jobs=False) as fake:
        for expected in (200, 429):
            started = time.monotonic()
            assert (await post(session, fake))[0] == expected
            assert time.monotonic() - started >= 0.055


async def test_faults_happen_inside_a_worker_and_capacity_can_be_switched(session):
    faults = Faults(rate=1.0, kinds=("503",), seed=1)
    async with FakeHellotracks(faults=faults, capacity=Capacity(workers=1)) as fake:
        assert (await post(session, fake))[0] == 503
        assert fake.injected == {"503": 1}
        assert fake.stats == CapacityStats(received=1, served=1)
        fake.faults = None
        fake.capacity = None
        assert (await post(session, fake))[0] == 200
        assert fake.stats.received == 1  # no capacity, no counting
        fake.capacity = Capacity(workers=3)
        assert (await post(session, fake))[0] == 200
        assert fake.stats == CapacityStats(received=2, served=2)  # counts carry over


async def test_no_capacity_counts_nothing(session):
    async with FakeHellotracks() as fake:
        assert fake.capacity is None
        assert (await post(session, fake))[0] == 200
        assert fake.stats == CapacityStats()


async def test_serve_takes_capacity_settings(capsys):
    task, printed = await serve_until_banner(capsys, workers=2, per_job=0.001, rate=50, rtt=0.01)
    assert "Capacity: 10 ms round trip, 2 workers, 0 ms + 1 ms/job" in printed
    assert "50 requests/s (bucket of 50)" in printed
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_http_a_delete_costs_its_ids_and_is_counted(session):
    async with FakeHellotracks() as fake:
        ids = [job["id"] for job in (await post(session, fake, jobs=20))[2]["jobs"]]
        fake.capacity = Capacity(workers=1, per_job=0.01)
        body = {"data": {"jobs": ids}}
        started = time.monotonic()
        async with session.post(
            fake.base_url + "deletejobs", json=body, headers={"API-Key": FAKE_KEY}
        ) as response:
            assert await response.json() == {"status": 0}
        assert time.monotonic() - started >= 0.19  # 20 ids x 10 ms (one-sided)
        assert fake.stats == CapacityStats(received=1, served=1)
        assert fake.jobs() == []


async def test_http_a_read_by_ids_costs_its_ids(session):
    async with FakeHellotracks() as fake:
        ids = [job["id"] for job in (await post(session, fake, jobs=20))[2]["jobs"]]
        fake.capacity = Capacity(workers=1, per_job=0.01)
        for data, jobs in (({"ids": ids}, 20), ({"id": ids[0]}, 1)):
            started = time.monotonic()
            async with session.post(
                fake.base_url + "getjobs", json={"data": data}, headers={"API-Key": FAKE_KEY}
            ) as response:
                assert len((await response.json())["jobs"]) == jobs
            assert time.monotonic() - started >= jobs * 0.01 - 0.001  # one-sided

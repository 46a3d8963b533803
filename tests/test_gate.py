"""AdmissionGate: batch slots and keys, the one in-flight count, what each attempt teaches
the limit and the throttle, and the contracts flow control keeps for a whole client: a
capped Retry-After pause, NotSentError for what the client gave up on, a hard deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from aiohttp import web

from hellotracks_async import (
    APIError,
    HellotracksClient,
    MockTransport,
    NotSentError,
    RateLimitError,
    Request,
    Response,
    RetryPolicy,
    ServerError,
    TransportError,
)
from hellotracks_async.concurrency import FixedLimit
from hellotracks_async.gate import AdmissionGate
from hellotracks_async.throttle import Throttle

from ._helpers import echo, local_server, numbered_jobs


class _Recording:
    """A concurrency limit that records what it is told."""

    def __init__(self, limit: int = 4, spacing: float = 0.0) -> None:
        self.limit = limit
        self.spacing = spacing
        self.samples: list[tuple[int, bool]] = []

    def on_sample(self, *, rtt: float, in_flight: int, overloaded: bool) -> None:
        self.samples.append((in_flight, overloaded))


class _Clock:
    """Virtual time: ``sleep`` moves it on and records the wait."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _gate(limit: Any, clock: _Clock | None = None, **throttle: Any) -> AdmissionGate:
    if clock is None:
        return AdmissionGate(limit, Throttle(**throttle))
    return AdmissionGate(limit, Throttle(clock=clock, sleep=clock.sleep, **throttle), clock=clock)


# -- slots and keys -------------------------------------------------------------------


async def test_a_slot_is_free_below_the_limit_and_while_no_key_is_held() -> None:
    gate = _gate(FixedLimit(2))
    first = gate.admit(("a", None))
    assert first is not None
    assert gate.admit(("a",)) is None  # its key is in flight
    assert gate.count_held(("a", "b", None)) == 1
    second = gate.admit(("b", None))
    assert second is not None
    assert gate.admit(("c",)) is None  # the limit is reached
    assert gate.in_flight == 2
    first.release()
    first.release()  # a second release gives nothing back twice
    assert gate.in_flight == 1
    assert gate.count_held(("a",)) == 0
    assert gate.admit(("a",)) is not None


async def test_freed_wakes_every_waiter_on_a_release() -> None:
    gate = _gate(FixedLimit(1))
    slot = gate.admit(())
    assert slot is not None
    waiters = [asyncio.create_task(gate.freed()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(waiter.done() for waiter in waiters)
    slot.release()
    await asyncio.wait_for(asyncio.gather(*waiters), 1)


# -- what an attempt teaches ----------------------------------------------------------


async def test_the_first_of_a_burst_reports_the_burst_in_flight() -> None:
    # Three batches admitted at once: every attempt reports three in flight, the first
    # included, although it answered before the others were sent.
    limit = _Recording()
    gate = _gate(limit)
    slots = [gate.admit(()) for _ in range(3)]
    for _ in range(3):
        async with gate.attempt():
            pass
    assert [in_flight for in_flight, _ in limit.samples] == [3, 3, 3]
    for slot in slots:
        assert slot is not None
        slot.release()
    async with gate.attempt():
        pass
    assert limit.samples[-1] == (0, False)


@pytest.mark.parametrize(
    ("failure", "overloaded", "throttled"),
    [
        (None, False, False),
        (APIError("refused", http_status=200, api_status=3), False, False),
        (ServerError("bad gateway", http_status=502), False, False),
        (ServerError("unavailable", http_status=503), True, False),
        (ServerError("unavailable", http_status=503, retry_after=1.0), True, True),
        (RateLimitError("slow down", http_status=429), True, True),
        (TransportError("read timeout"), True, False),
    ],
)
async def test_each_kind_of_ending_teaches_the_table(
    failure: BaseException | None, overloaded: bool, throttled: bool
) -> None:
    limit = _Recording()
    gate = _gate(limit)
    try:
        async with gate.attempt():
            if failure is not None:
                raise failure
    except HellotracksErrorTypes:
        pass
    assert limit.samples == [(0, overloaded)]
    assert gate.throttle.throttles == int(throttled)


HellotracksErrorTypes = (APIError, TransportError)


@pytest.mark.parametrize(
    "failure",
    [TransportError("connect refused", maybe_sent=False), asyncio.CancelledError(), KeyError()],
)
async def test_an_attempt_that_got_no_answer_teaches_nothing(failure: BaseException) -> None:
    limit = _Recording()
    gate = _gate(limit)
    with pytest.raises(type(failure)):
        async with gate.attempt():
            raise failure
    assert limit.samples == []


async def test_attempts_keep_the_limits_spacing() -> None:
    clock = _Clock()
    gate = _gate(_Recording(spacing=0.01), clock)

    async def attempt() -> None:
        async with gate.attempt():
            pass

    await asyncio.gather(*(attempt() for _ in range(4)))
    assert clock.sleeps == pytest.approx([0.01] * 3)  # the first at once, then one per spacing
    clock.now += 1.0  # idle for a while: the next one goes at once
    await attempt()
    assert len(clock.sleeps) == 3


async def test_a_fixed_limit_is_never_spaced() -> None:
    clock = _Clock()
    gate = _gate(FixedLimit(4), clock)

    async def attempt() -> None:
        async with gate.attempt():
            pass

    await asyncio.gather(*(attempt() for _ in range(4)))
    assert clock.sleeps == []


async def test_an_attempt_the_pause_holds_past_its_deadline_is_not_sent() -> None:
    clock = _Clock()
    gate = _gate(FixedLimit(4), clock)
    gate.throttle.on_throttled(5.0)
    with pytest.raises(NotSentError):
        async with gate.attempt(deadline=clock.now + 1.0):
            raise AssertionError("never runs")  # pragma: no cover
    assert clock.sleeps == []


def test_one_retry_after_pauses_at_most_max_pause() -> None:
    clock = _Clock()
    throttle = Throttle(clock=clock, sleep=clock.sleep, max_pause=2.0)
    throttle.on_throttled(3600.0)
    assert throttle.paused_until == clock.now + 2.0


# -- the contracts, through a client ----------------------------------------------------


def _rate_limited_once(retry_after: str) -> Any:
    answers = iter([Response(429, {"Retry-After": retry_after}, b"")])

    def handler(request: Request) -> Response:
        return next(answers, None) or echo(request)

    return handler


async def test_a_long_retry_after_pauses_the_client_only_for_max_retry_after() -> None:
    transport = MockTransport(_rate_limited_once("3600"))
    retry = RetryPolicy(max_retry_after=0.3, backoff=0, max_backoff=0)
    async with HellotracksClient("k", transport=transport, retry=retry, batch_size=5) as client:
        first = await client.create_jobs(numbered_jobs(5), raise_on_error=False)
        # the batch answered "come back in an hour" fails: it is past max_retry_after
        assert isinstance(first.failures[0].exception, RateLimitError)
        started = time.monotonic()
        second = await client.create_jobs(numbered_jobs(5))
    assert second.succeeded == 5
    assert 0.1 < time.monotonic() - started < 2.0  # the capped pause, not an hour
    assert len(transport.requests) == 2


@pytest.mark.parametrize("value", ["inf", "-5", "nan"])
async def test_a_retry_after_that_is_no_finite_delay_is_ignored(value: str) -> None:
    transport = MockTransport(_rate_limited_once(value))
    retry = RetryPolicy(backoff=0, max_backoff=0)
    async with HellotracksClient("k", transport=transport, retry=retry, batch_size=5) as client:
        started = time.monotonic()
        result = await client.create_jobs(numbered_jobs(10))
    assert result.succeeded == 10  # retried at once, as a 429 without Retry-After
    assert time.monotonic() - started < 2.0
    assert client._gate.throttle.paused_until < time.monotonic()


async def test_a_batch_held_by_the_pause_fails_as_not_sent_not_as_a_server_error() -> None:
    transport = MockTransport(_rate_limited_once("5"))
    retry = RetryPolicy(deadline=1.0, backoff=0, max_backoff=0, max_retry_after=10)
    async with HellotracksClient(
        "k", transport=transport, batch_size=1, max_concurrency=1, adaptive=False, retry=retry
    ) as client:
        result = await client.create_jobs(numbered_jobs(2), raise_on_error=False)
    held = result.failures[-1]
    assert isinstance(held.exception, NotSentError)
    assert held.sent is False
    assert not isinstance(held.exception, APIError)


async def test_a_deadline_ends_attempts_in_flight_and_accounts_for_every_input() -> None:
    done = asyncio.Event()  # set at the end, so that the server's shutdown need not wait

    async def after_30_seconds(request: web.Request) -> web.Response:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), 30)
        return web.Response(text='{"status": 0, "jobs": []}')

    app = web.Application()
    app.router.add_post("/api/{endpoint}", after_30_seconds)
    async with local_server(app) as base_url:
        client = HellotracksClient("k", base_url=base_url, timeout=60, batch_size=10)
        async with client:
            started = time.monotonic()
            result = await client.create_jobs(
                numbered_jobs(100), raise_on_error=False, deadline=2
            )
            elapsed = time.monotonic() - started
        done.set()
    assert elapsed < 3.0
    assert result.failed == 100  # every input a failure, none lost
    in_flight = [f for f in result.failures if f.sent]
    assert in_flight  # the first window was out when the deadline came
    assert all(isinstance(f.exception, TransportError) for f in in_flight)
    assert all(f.exception.maybe_sent for f in in_flight)  # type: ignore[attr-defined]
    unsent = [f for f in result.failures if not f.sent]
    assert all(isinstance(f.exception, NotSentError) for f in unsent)
    assert sorted(i for f in result.failures for i in f.indices) == list(range(100))

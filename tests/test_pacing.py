"""Pacer: what each attempt reports to the limit, and the spacing between attempts."""

from __future__ import annotations

import asyncio

import pytest

from hellotracks_async.concurrency import FixedLimit
from hellotracks_async.pacing import Pacer
from hellotracks_async.throttle import Throttle
from hellotracks_async.transport import Response


class _Recording:
    """A ConcurrencyLimit that records its samples and has a fixed spacing."""

    def __init__(self, spacing: float = 0.0) -> None:
        self.limit = 8
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


async def test_the_first_of_a_burst_reports_the_burst_in_flight() -> None:
    # Three sends in a row: the first saw only itself at its send, but it was out
    # together with the other two, and a limit must know that (slow start grows on it).
    limit = _Recording()
    pacer = Pacer(limit, Throttle())
    answers = [asyncio.get_running_loop().create_future() for _ in range(3)]

    def post(index: int):  # type: ignore[no-untyped-def]
        async def answer() -> Response:
            await answers[index]
            return Response(200, {}, b"{}")

        return answer

    sends = [asyncio.create_task(pacer.send(post(index))) for index in range(3)]
    await asyncio.sleep(0)
    assert pacer.in_flight == 3
    for answer in answers:
        answer.set_result(None)
    await asyncio.gather(*sends)
    # the first: 1 at its send, 3 at its answer; the second: 2 and 2; the third: 3 and 1
    assert [in_flight for in_flight, _ in limit.samples] == [3, 2, 3]
    assert pacer.in_flight == 0


async def test_attempts_keep_the_limits_spacing() -> None:
    clock = _Clock()
    pacer = Pacer(_Recording(spacing=0.01), Throttle(), clock=clock, sleep=clock.sleep)

    async def post() -> Response:
        return Response(200, {}, b"{}")

    await asyncio.gather(*(pacer.send(post) for _ in range(4)))
    assert clock.sleeps == pytest.approx([0.01] * 3)  # the first at once, then one per spacing
    clock.now += 1.0  # idle for a while: the next one goes at once
    await pacer.send(post)
    assert len(clock.sleeps) == 3


async def test_a_fixed_limit_is_never_spaced() -> None:
    clock = _Clock()
    pacer = Pacer(FixedLimit(4), Throttle(), clock=clock, sleep=clock.sleep)

    async def post() -> Response:
        return Response(200, {}, b"{}")

    await asyncio.gather(*(pacer.send(post) for _ in range(4)))
    assert clock.sleeps == []

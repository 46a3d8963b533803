"""Throttle: pauses, jittered resumption, a learned rate, max_rate, deadlines.

Time is virtual: ``VirtualTime.sleep`` parks the task until ``VirtualTime.run`` has
every live task parked, then jumps the clock to the earliest wake-up. Nothing waits
for real.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Coroutine
from typing import Any

import pytest

from hellotracks_async.throttle import CubicRate, SendRateMeter, Throttle, TokenBucket


class VirtualTime:
    """A clock and a sleep for many tasks, advanced only when all of them wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self._wakeups: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._wakeups, (self.now + max(seconds, 0.0), self._seq, future))
        await future

    async def run(self, *coros: Coroutine[Any, Any, Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while True:
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
                live = sum(not t.done() for t in tasks)
                if live == len(self._wakeups):
                    break
            if not live:
                return [t.result() for t in tasks]
            assert live == len(self._wakeups), "a task waits on something else"
            self.now, _, future = heapq.heappop(self._wakeups)
            future.set_result(None)

    def throttle(self, **kwargs: Any) -> Throttle:
        return Throttle(clock=self.clock, sleep=self.sleep, rng=random.Random(7), **kwargs)


async def _send_ten_a_second(vt: VirtualTime, throttle: Throttle) -> None:
    """Twenty sends, a tenth of a second apart, from time 0."""
    for i in range(20):
        vt.now = i * 0.1
        assert await throttle.acquire()


# -- the pure parts ------------------------------------------------------------------


def test_token_bucket_queues_reservations_and_changes_rate() -> None:
    bucket = TokenBucket(rate=4.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [0.0, 0.0, 0.0, 0.0, 0.25, 0.5]
    bucket.set_rate(1.0, 0.0)
    assert bucket.capacity == 1.0
    assert bucket.ready_at(0.0) == pytest.approx(3.0)  # two owed tokens at the new rate
    bucket.restart(10.0)
    assert bucket.ready_at(5.0) == 10.0
    assert bucket.take(10.0) == 10.0
    assert bucket.ready_at(10.0) == 11.0


def test_cubic_drops_then_returns_to_the_throttled_rate_and_beyond() -> None:
    cubic = CubicRate()
    assert cubic.throttled(5.0, now=100.0) == pytest.approx(3.5)
    assert cubic.rate_at(99.0) == pytest.approx(3.5)  # before the curve starts
    assert 3.5 < cubic.rate_at(100.0 + cubic.k / 2) < 5.0
    assert cubic.rate_at(100.0 + cubic.k) == pytest.approx(5.0)
    assert cubic.rate_at(100.0 + cubic.k + 3) > 10.0


def test_send_rate_meter_ignores_the_pause() -> None:
    meter = SendRateMeter(window=1.0)
    for i in range(20):
        meter.record(i * 0.05)
    assert meter.rate(0.99) == pytest.approx(20.0)
    meter.restart(5.0)  # paused from 1 s to 5 s
    meter.record(5.0)
    meter.record(5.2)
    meter.record(5.4)
    assert meter.rate(5.5) == pytest.approx(6.0)  # 3 sends in 0.5 s, not in 1 s


# -- Throttle ------------------------------------------------------------------------


async def test_unlimited_until_the_first_throttle() -> None:
    vt = VirtualTime()
    throttle = vt.throttle()
    assert await throttle.acquire() is True
    assert throttle.rate is None
    throttle.on_success()
    assert throttle.rate is None
    assert vt.now == 0.0


async def test_a_pause_blocks_every_acquirer_until_retry_after() -> None:
    vt = VirtualTime()
    throttle = vt.throttle()
    sent: list[float] = []

    async def request(start: float) -> None:
        await vt.sleep(start)
        assert await throttle.acquire()
        sent.append(vt.now)

    async def throttled_at_one() -> None:
        await vt.sleep(1.0)
        throttle.on_throttled(2.0)

    # Two wait before the 429 (their turn was voided), two arrive during the pause.
    await vt.run(throttled_at_one(), *(request(s) for s in (1.0, 1.0, 1.5, 2.9)))
    assert len(sent) == 4
    assert min(sent) >= 3.0  # nobody went before Retry-After passed
    assert throttle.paused_until == 3.0


async def test_waiting_requests_resume_spread_out() -> None:
    vt = VirtualTime()
    throttle = vt.throttle()
    for i in range(200):  # 100/s before the 429: the learned rate (70/s) barely spaces
        vt.now = i * 0.01
        await throttle.acquire()
    vt.now = 2.0
    throttle.on_throttled(4.0)  # paused until 6.0; jitter window min(1 s, 0.25 x 4 s)
    sent: list[float] = []

    async def request() -> None:
        assert await throttle.acquire()
        sent.append(vt.now)

    await vt.run(*(request() for _ in range(8)))
    assert len(set(sent)) == 8  # no two in lockstep
    assert min(sent) >= 6.0
    assert max(sent) <= 6.0 + 1.0 + 8 / 70
    assert max(sent) - min(sent) > 0.3  # spread by the jitter, not only by the rate


async def test_rate_drops_on_throttle_and_recovers_over_time() -> None:
    vt = VirtualTime()
    throttle = vt.throttle()
    await _send_ten_a_second(vt, throttle)  # over the last two seconds: 10/s measured
    throttle.on_throttled(1.0)  # a pause of a second: costly enough to teach a rate
    assert throttle.rate == pytest.approx(7.0)  # 0.7 x measured
    rates = []
    for step in range(1, 60):
        vt.now = 3.15 + step * 0.1  # after the pause and its jitter window
        await throttle.acquire()
        throttle.on_success()
        assert throttle.rate is not None
        rates.append(throttle.rate)
    assert rates == sorted(rates)  # it only grows after the throttle
    assert rates[-1] > 10.0  # past the throttled rate: it probes for more


async def test_answers_during_a_pause_keep_the_learned_rate() -> None:
    # The requests that got a token before the 429 answer while everyone is paused.
    # Nothing is sent then, so the rate sent reads 0; the learned rate must not follow
    # it down (it did: 0.5/s, the floor, and seconds to climb back against 5/s).
    vt = VirtualTime()
    throttle = vt.throttle()
    await _send_ten_a_second(vt, throttle)
    throttle.on_throttled(1.0, sent_at=vt.now)
    learned = throttle.rate
    assert learned == pytest.approx(7.0)
    for step in range(5):  # five answers within the pause
        vt.now = 1.95 + step * 0.05
        throttle.on_success()
    assert throttle.rate == learned


async def test_answers_to_one_event_lower_the_rate_once() -> None:
    vt = VirtualTime()
    throttle = vt.throttle()
    await _send_ten_a_second(vt, throttle)
    sent_at = vt.now
    vt.now = 1.95
    for _ in range(5):  # five requests sent together, all answered 429
        throttle.on_throttled(1.0, sent_at=sent_at)
    assert throttle.rate == pytest.approx(7.0)
    assert throttle.throttles == 5
    vt.now = 3.5
    assert await throttle.acquire()
    throttle.on_throttled(1.0, sent_at=3.5)  # a new event: lower again
    assert throttle.rate is not None
    assert throttle.rate < 7.0


async def test_a_stray_429_only_pauses() -> None:
    vt = VirtualTime()
    throttle = vt.throttle()
    for i in range(100):  # 100/s, every answer fine
        vt.now = i * 0.01
        assert await throttle.acquire()
        throttle.on_success()
    throttle.on_throttled(0.01, sent_at=0.98)
    assert throttle.rate is None  # no rate learned
    assert throttle.paused_until == pytest.approx(1.0)
    assert throttle.throttles == 1


async def test_recurring_short_429s_teach_a_rate() -> None:
    # A fifth of the last 32 answers were 429s: the rate drops, even with a short pause.
    vt = VirtualTime()
    throttle = vt.throttle()
    for i in range(26):
        vt.now = i * 0.01
        assert await throttle.acquire()
        throttle.on_success()
    for i in range(6):
        vt.now = 0.3 + i * 0.02
        throttle.on_throttled(0.01, sent_at=vt.now - 0.01)
        assert throttle.rate is None
    vt.now = 0.5
    throttle.on_throttled(0.01, sent_at=0.49)  # the seventh of 32
    assert throttle.rate is not None


async def test_pauses_that_add_up_teach_a_rate() -> None:
    # Short pauses alone do not teach; once they held the client a fifth of the last
    # two seconds, a 429 does.
    vt = VirtualTime()
    throttle = vt.throttle()
    for i in range(40):
        vt.now = i * 0.02
        if i % 10 == 9:
            assert throttle.rate is None
            throttle.on_throttled(0.11, sent_at=vt.now - 0.01)
        else:
            throttle.on_success()
    assert throttle.rate is not None  # the fourth (0.44 s of the last 2 s) taught it


async def test_max_rate_caps_from_the_start_and_after_throttles() -> None:
    vt = VirtualTime()
    throttle = vt.throttle(max_rate=4.0)
    assert throttle.rate == 4.0
    sent: list[float] = []

    async def request() -> None:
        assert await throttle.acquire()
        sent.append(vt.now)

    await vt.run(*(request() for _ in range(12)))
    # A full bucket (one second's worth) goes at once, then one every 0.25 s.
    assert sent[:4] == [0.0] * 4
    assert sent[4:] == pytest.approx([0.25 * i for i in range(1, 9)])
    for _ in range(50):
        throttle.on_success()
    throttle.on_throttled(1.0)
    assert throttle.rate is not None
    assert throttle.rate < 4.0
    for _ in range(50):
        vt.now += 1.0
        throttle.on_success()
    assert throttle.rate is not None
    assert throttle.rate <= 4.0


async def test_deadline_returns_false_without_waiting_or_consuming() -> None:
    vt = VirtualTime()
    throttle = vt.throttle(max_rate=1.0)

    async def scenario() -> None:
        assert await throttle.acquire(deadline=0.0)  # the one token
        assert await throttle.acquire(deadline=0.5) is False  # next token at 1.0
        assert vt.now == 0.0
        assert await throttle.acquire(deadline=1.0) is True  # the token was not consumed
        assert vt.now == 1.0
        throttle.on_throttled(30.0)
        assert await throttle.acquire(deadline=20.0) is False
        assert vt.now == 1.0

    await vt.run(scenario())


def test_rejects_a_non_positive_max_rate() -> None:
    with pytest.raises(ValueError, match="max_rate"):
        Throttle(max_rate=0)


# -- against a rate-limited server ---------------------------------------------------


class RateLimitedServer:
    """A token bucket of ``rate`` per second holding ``burst``: 429 when empty."""

    def __init__(self, *, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, 0.0
        self.accepted = 0
        self.refused = 0

    def admit(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.accepted += 1
            return True
        self.refused += 1
        return False


async def simulate_rate_limited(
    *, requests: int, senders: int, rate: float, burst: float, rtt: float
) -> tuple[RateLimitedServer, float]:
    vt = VirtualTime()
    throttle = vt.throttle()
    server = RateLimitedServer(rate=rate, burst=burst)
    todo = list(range(requests))

    async def sender() -> None:
        while todo:
            todo.pop()
            while True:  # this request until it is accepted
                assert await throttle.acquire()
                sent_at = vt.now
                await vt.sleep(rtt / 2)
                accepted = server.admit(vt.now)
                await vt.sleep(rtt / 2)
                if accepted:
                    throttle.on_success()
                    break
                throttle.on_throttled(1.0, sent_at=sent_at)

    await vt.run(*(sender() for _ in range(senders)))
    assert server.accepted == requests
    return server, vt.now


async def test_learned_rate_keeps_429s_rare_against_five_per_second() -> None:
    server, elapsed = await simulate_rate_limited(
        requests=200, senders=16, rate=5.0, burst=5.0, rtt=0.08
    )
    share = server.refused / (server.accepted + server.refused)
    assert share <= 0.15, (server.refused, elapsed)
    assert elapsed <= 1.25 * (200 / 5.0)


async def test_even_one_sender_is_too_fast_without_a_learned_rate() -> None:
    # One request at a time with an 80 ms round trip is 12.5/s against a 5/s limit.
    server, _ = await simulate_rate_limited(requests=200, senders=1, rate=5.0, burst=5.0, rtt=0.08)
    share = server.refused / (server.accepted + server.refused)
    assert share <= 0.15


# -- against stray 429s --------------------------------------------------------------


async def simulate_stray_429s(
    *, requests: int, senders: int, share: float, service: float, seed: int = 13
) -> tuple[int, float]:
    """A fast server with no rate limit that answers a random ``share`` of requests
    429 with ``Retry-After: 0.01``: returns the 429 count and the time taken."""
    vt = VirtualTime()
    throttle = vt.throttle()
    faults = random.Random(seed)
    todo = list(range(requests))
    refused = 0

    async def sender() -> None:
        nonlocal refused
        while todo:
            todo.pop()
            while True:
                assert await throttle.acquire()
                sent_at = vt.now
                await vt.sleep(service)
                if faults.random() >= share:
                    throttle.on_success()
                    break
                refused += 1
                throttle.on_throttled(0.01, sent_at=sent_at)

    await vt.run(*(sender() for _ in range(senders)))
    return refused, vt.now


async def test_stray_429s_only_pause() -> None:
    # 3% of answers are 429 whatever the rate: lowering the rate would not avoid them.
    _, clean = await simulate_stray_429s(requests=2000, senders=8, share=0.0, service=0.02)
    refused, elapsed = await simulate_stray_429s(requests=2000, senders=8, share=0.03, service=0.02)
    assert refused > 30
    assert clean / elapsed >= 0.8, (refused, elapsed, clean)

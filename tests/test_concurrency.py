"""FixedLimit and AdaptiveLimit, with a deterministic discrete-event simulation.

The simulated server has ``workers`` workers behind one FIFO queue; each request takes
``service`` seconds of a worker and ``rtt`` seconds of network round trip (half each
way). The simulated client keeps ``limit.limit`` requests in flight and reports every
answer to the limit. Nothing sleeps: time is a number in an event heap.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import pytest

from hellotracks_async.concurrency import (
    INITIAL_LIMIT,
    AdaptiveLimit,
    ConcurrencyLimit,
    FixedLimit,
)


@dataclass
class SimResult:
    elapsed: float
    #: (time, limit) after every answer
    limits: list[tuple[float, int]] = field(default_factory=list)
    #: (time, requests waiting for a worker) at every arrival
    queues: list[tuple[float, int]] = field(default_factory=list)

    def limit_at(self, t: float) -> int:
        """The limit at time ``t``: after the last answer at or before it."""
        return next((lim for when, lim in reversed(self.limits) if when <= t), 0)

    def peak_queue_after(self, t: float) -> int:
        return max((q for when, q in self.queues if when >= t), default=0)


def simulate(
    limit: ConcurrencyLimit,
    *,
    requests: int,
    workers: int,
    service: float,
    rtt: float,
    slowdown_at: float = math.inf,
    slowdown: float = 1.0,
) -> SimResult:
    """Send ``requests`` requests through ``limit``; return the timeline.

    From ``slowdown_at`` on, the service time is multiplied by ``slowdown``.
    """
    events: list[tuple[float, int, str, int]] = []  # (time, seq, kind, request)
    seq = 0

    def at(when: float, kind: str, req: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (when, seq, kind, req))

    sent_at: dict[int, float] = {}
    in_flight_at_send: dict[int, int] = {}
    waiting: deque[int] = deque()
    busy = 0
    in_flight = 0
    next_req = 0
    done = 0
    now = 0.0
    result = SimResult(elapsed=0.0)

    def fill() -> None:
        nonlocal in_flight, next_req
        while in_flight < limit.limit and next_req < requests:
            in_flight += 1
            sent_at[next_req] = now
            in_flight_at_send[next_req] = in_flight
            at(now + rtt / 2, "arrive", next_req)
            next_req += 1

    def start(req: int) -> None:
        nonlocal busy
        busy += 1
        cost = service * (slowdown if now >= slowdown_at else 1.0)
        at(now + cost, "served", req)

    fill()
    while events:
        now, _, kind, req = heapq.heappop(events)
        if kind == "arrive":
            if busy < workers:
                start(req)
            else:
                waiting.append(req)
            result.queues.append((now, len(waiting)))
        elif kind == "served":
            busy -= 1
            if waiting:
                start(waiting.popleft())
            at(now + rtt / 2, "answer", req)
        else:  # the answer reaches the client
            done += 1
            limit.on_sample(  # the most in flight at its send or its answer, as the gate
                rtt=now - sent_at.pop(req),
                in_flight=max(in_flight_at_send.pop(req), in_flight),
                overloaded=False,
            )
            in_flight -= 1
            result.limits.append((now, limit.limit))
            fill()
    assert done == requests
    result.elapsed = now
    return result


def server_limit(requests: int, workers: int, service: float, rtt: float) -> float:
    """The fastest possible time: all workers busy all the time, plus one round trip."""
    return requests * service / workers + rtt


FAR = {"workers": 16, "service": 0.070, "rtt": 0.150}
SMALL = {"workers": 2, "service": 0.210, "rtt": 0.020}


def test_fixed_limit_never_changes() -> None:
    fixed = FixedLimit(4)
    fixed.on_sample(rtt=10.0, in_flight=4, overloaded=True)
    assert fixed.limit == 4
    with pytest.raises(ValueError, match="at least 1"):
        FixedLimit(0)


def test_far_server_slow_start_reaches_fifty_in_four_round_trips() -> None:
    limit = AdaptiveLimit()
    result = simulate(limit, requests=2000, **FAR)
    round_trip = FAR["rtt"] + FAR["service"]
    assert result.limit_at(4 * round_trip) >= 48  # the server needs ~50 in flight
    best = server_limit(2000, **FAR)
    assert result.elapsed <= 1.1 * best, (result.elapsed, best)


@pytest.mark.parametrize("workers", [2, 3, 4, 5, 6, 8])
def test_slow_start_queues_at_most_two_w_plus_two(workers: int) -> None:
    # Bursts leave at one instant here, so this is a worst case of a real client. The
    # first burst (the initial window, sent before anything is known) may queue up to
    # itself; once slow start has seen a round of answers (2.3 s at 2 workers, whose
    # round of ten answers takes ten services), the queue stays within 2W+2.
    server = {**SMALL, "workers": workers}
    result = simulate(AdaptiveLimit(), requests=1000, **server)
    assert result.peak_queue_after(0.0) <= max(2 * workers + 2, INITIAL_LIMIT)
    assert result.peak_queue_after(2.5) <= 2 * workers + 2


def test_slow_start_ends_at_the_ceiling() -> None:
    # A queue at the ceiling is then drained by the Vegas rule (the median of a round),
    # which slow start's rule (the lowest sample) can miss for seconds.
    limit = AdaptiveLimit(initial=4, max_limit=8)
    for _ in range(3):
        limit.on_sample(rtt=0.2, in_flight=4, overloaded=False)
    assert (limit.limit, limit.slow_start) == (7, True)
    limit.on_sample(rtt=0.2, in_flight=4, overloaded=False)
    assert (limit.limit, limit.slow_start) == (8, False)
    assert AdaptiveLimit(initial=4, max_limit=4).slow_start  # starting there is not reaching it


def test_a_burst_counts_its_first_answers() -> None:
    # The answers to a burst carry in_flight 1, 2, 3, 4 (their place in it): each grows
    # the limit, the window was used.
    limit = AdaptiveLimit(initial=4)
    for sent_as in range(1, 5):
        limit.on_sample(rtt=0.2, in_flight=sent_as, overloaded=False)
    assert limit.limit == 8


def test_slow_start_grows_slower_near_the_top_and_not_on_queued_answers() -> None:
    limit = AdaptiveLimit(initial=40)
    limit.on_sample(rtt=0.2, in_flight=40, overloaded=False)  # the minimum
    assert limit.limit == 41
    limit.on_sample(rtt=0.22, in_flight=40, overloaded=False)  # queue 3.6: over alpha
    assert (limit.limit, limit.slow_start) == (41, True)  # 41.5
    limit.on_sample(rtt=0.22, in_flight=40, overloaded=False)
    assert limit.limit == 42
    limit.on_sample(rtt=0.31, in_flight=40, overloaded=False)  # waited: no growth
    assert (limit.limit, limit.slow_start) == (42, True)


def test_the_far_servers_peak_queue_stays_below_fixed_64s() -> None:
    # Slow start's bursts and its overshoot past the ~50 the server needs queue fewer
    # than 64 sent at once (48). This simulation sends every burst at one instant,
    # which a real client does not, so its bound is looser than the benchmark's 2W+2.
    adaptive = simulate(AdaptiveLimit(), requests=2000, **FAR).peak_queue_after(0.0)
    fixed = simulate(FixedLimit(64), requests=2000, **FAR).peak_queue_after(0.0)
    assert (adaptive, fixed) == (32, 48)


def test_one_slow_answer_in_a_round_does_not_shrink_the_limit() -> None:
    # Past slow start, a pause of the client delays a few answers: the round's median
    # round trip, not its slowest, decides.
    limit = AdaptiveLimit(initial=50)
    limit.slow_start = False
    for _ in range(50):  # a round without queue: + alpha (3.4 at 50)
        limit.on_sample(rtt=0.2, in_flight=50, overloaded=False)
    assert limit.limit == 53
    for index in range(53):  # 5 answers delayed by a pause
        limit.on_sample(rtt=0.6 if index < 5 else 0.2, in_flight=53, overloaded=False)
    assert limit.limit == 56
    for _ in range(56):  # a round all queued (28): it may be a pause of the client
        limit.on_sample(rtt=0.4, in_flight=56, overloaded=False)
    assert limit.limit == 56
    for _ in range(56):  # queued a second round: back to the no-queue level + alpha
        limit.on_sample(rtt=0.4, in_flight=56, overloaded=False)
    assert limit.limit == 31


def test_a_pause_of_the_client_spanning_a_round_does_not_shrink_the_limit() -> None:
    # A garbage collection of 100 ms delays every answer of one round; the next round
    # is fast again, so the limit stays.
    limit = AdaptiveLimit(initial=50)
    limit.slow_start = False
    for rtt in (0.2, 0.35, 0.2):  # a round, a round all delayed, a round
        for _ in range(limit.limit):
            limit.on_sample(rtt=rtt, in_flight=limit.limit, overloaded=False)
    assert limit.limit >= 50


def test_sends_are_spaced_twice_as_closely_in_slow_start() -> None:
    limit = AdaptiveLimit(initial=4)
    assert limit.spacing == 0.0  # nothing known yet
    limit.on_sample(rtt=0.2, in_flight=4, overloaded=False)
    assert limit.slow_start
    assert limit.spacing == pytest.approx(0.5 * 0.2 / limit.limit)  # a window per 0.5 RTT
    limit.slow_start = False
    assert limit.spacing == pytest.approx(0.8 * 0.2 / limit.limit)  # a window per 0.8 RTT
    assert FixedLimit(8).spacing == 0.0


def test_no_spacing_before_a_round_trip_was_measured() -> None:
    # Overload (a 429, a timeout) ends slow start before any answer came back; with no
    # round trip known, a spacing would be infinite and the next send would never go.
    limit = AdaptiveLimit(initial=4)
    limit.on_sample(rtt=30.0, in_flight=4, overloaded=True)
    assert (limit.slow_start, limit.min_rtt, limit.spacing) == (False, math.inf, 0.0)


def test_far_server_fixed_four_is_far_slower() -> None:
    # The reason for adapting: 4 in flight leaves most of a far, wide server idle.
    result = simulate(FixedLimit(4), requests=400, **FAR)
    assert result.elapsed > 5 * server_limit(400, **FAR)


def test_small_server_keeps_the_queue_short() -> None:
    limit = AdaptiveLimit()
    result = simulate(limit, requests=1000, **SMALL)
    workers = SMALL["workers"]
    assert result.peak_queue_after(0.0) <= max(2 * workers + 2, INITIAL_LIMIT)  # the burst
    assert result.peak_queue_after(2.5) <= 2 * workers + 2  # once slow start has ended
    assert result.elapsed <= 1.05 * server_limit(1000, **SMALL)


def test_overload_halves_the_limit_once_per_round_trip() -> None:
    limit = AdaptiveLimit(initial=32)
    for _ in range(5):  # five answers to one overload event
        limit.on_sample(rtt=0.1, in_flight=32, overloaded=True)
    assert limit.limit == 16
    for _ in range(32):  # the rest of that round trip's answers
        limit.on_sample(rtt=0.1, in_flight=32, overloaded=False)
    limit.on_sample(rtt=0.1, in_flight=16, overloaded=True)
    assert limit.limit < 16


def test_never_below_one_nor_above_max() -> None:
    limit = AdaptiveLimit(initial=2, max_limit=5)
    for _ in range(100):
        limit.on_sample(rtt=0.01, in_flight=5, overloaded=False)
    assert limit.limit == 5
    for _ in range(1000):
        limit.on_sample(rtt=0.01, in_flight=1, overloaded=True)
    assert limit.limit == 1


def test_a_server_that_became_slower_does_not_pin_the_limit() -> None:
    # After a permanent 3x slowdown, the old minimum round trip is stale; the periodic
    # probe re-measures it and the limit climbs back to what the server can take.
    limit = AdaptiveLimit(probe_rounds=20)
    result = simulate(limit, requests=6000, slowdown_at=5.0, slowdown=3.0, **FAR)
    slow_rtt = FAR["rtt"] + 3 * FAR["service"]
    slow_bdp = FAR["workers"] / (3 * FAR["service"]) * slow_rtt  # ~27 in flight
    assert limit.min_rtt == pytest.approx(slow_rtt, rel=0.05)
    assert result.limits[-1][1] >= 0.8 * slow_bdp


def test_limit_is_a_cheap_attribute_read() -> None:
    limit = AdaptiveLimit()
    assert isinstance(limit, ConcurrencyLimit)
    assert f"limit={INITIAL_LIMIT}" in repr(limit)
    with pytest.raises(ValueError, match="alpha"):
        AdaptiveLimit(alpha=5, beta=4)

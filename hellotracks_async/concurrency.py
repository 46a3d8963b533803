"""How many requests may be in flight: a fixed number, or one that adapts to the server.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

Sans-I/O: the engine reads :attr:`~ConcurrencyLimit.limit` before each send and reports
every finished attempt with :meth:`~ConcurrencyLimit.on_sample`. Nothing here sleeps,
reads a clock or logs.

:class:`AdaptiveLimit` combines three well-known rules. ``queue`` is the Vegas estimate
of the requests waiting at the server, by Little's law
``queue = in_flight * (1 - min_rtt / rtt)``; its thresholds ``alpha`` and ``beta``
grow with ``log10`` of the limit, as in Netflix concurrency-limits (2 and 4 up to a
limit of 10, about 3.5 and 7 at 55).

- **Slow start** (TCP): from :data:`INITIAL_LIMIT` (10), every answer within 1.5x the
  minimum round trip adds one (the limit doubles per round trip, 10 -> 64 in three)
  while its ``queue`` is at most ``alpha``, and a half while it is at most ``beta``
  (1.5x per round trip near the top). A round trip whose *lowest* sample shows a queue
  over ``alpha`` (a standing queue, not the momentary one of a burst) ends slow start at
  the no-queue level; reaching ``max_limit`` ends it too (TCP's ``ssthresh``: nothing is
  left to probe for, and a queue at the ceiling is then drained by the rules below).
- **Congestion avoidance** (TCP Vegas): once per round trip, on the round's *median*
  round trip (one slow answer does not count), the limit grows by ``alpha`` while
  ``queue < alpha`` and drops to the no-queue level plus ``alpha`` once ``queue > beta``
  two rounds in a row (a pause of the client, e.g. a garbage collection, delays every
  answer of one round; a queue at the server stays).
- **Spacing** (pacing, as Linux paces TCP): :attr:`~AdaptiveLimit.spacing` is four
  fifths of the minimum round trip shared by the limit (half of it in slow start). The
  client's one send schedule (:class:`~hellotracks_async.throttle.Throttle`) leaves it
  between two sends, so a full window goes out over most of a round trip, not at once
  after the client was busy (a garbage collection): at most 1.25x the rate the window
  sustains, 2x in slow start.
- **Multiplicative decrease** (TCP AIMD): an overloaded sample (429, 503, a timeout)
  halves the limit. A decrease happens at most once per round trip, so a burst of
  answers to one event counts once.

The minimum round trip is re-measured every ``probe_rounds`` round trips: the limit is
halved for twice the old limit's samples (about four round trips at the halved limit),
which drains the queue, and the lowest round trip seen then replaces the old minimum. A
server that became permanently slower therefore does not pin the limit low, and queueing
cannot creep into the minimum.

Example::

    >>> limit = AdaptiveLimit(initial=4, max_limit=64)
    >>> for _ in range(4):
    ...     limit.on_sample(rtt=0.2, in_flight=4, overloaded=False)
    >>> limit.limit
    8
    >>> limit.on_sample(rtt=0.2, in_flight=8, overloaded=True)
    >>> limit.limit
    4
"""

from __future__ import annotations

import math
from typing import Final, Protocol, runtime_checkable

__all__ = ["INITIAL_LIMIT", "AdaptiveLimit", "ConcurrencyLimit", "FixedLimit"]

#: The first window: ten, as TCP's initial window since RFC 6928. Before the first answer
#: nothing is known of the server; a single first burst is what every client sends, and
#: what queues for long at a small server is the sustained window, which slow start
#: keeps within 2W+2 for W workers.
INITIAL_LIMIT: Final = 10
#: in slow start, an answer this much slower than the minimum waited in a queue
_SLOW_START_RTT = 1.5
#: past slow start, a full window of sends is spread over this share of the minimum
#: round trip: at most 1.25x the rate the window sustains, so a backlog still drains
_WINDOW_SPREAD = 0.8
#: in slow start, over this share: twice the rate, room to grow (Linux paces slow start
#: at 200% and congestion avoidance at 120%: tcp_pacing_ss_ratio, tcp_pacing_ca_ratio)
_SLOW_START_SPREAD = 0.5


@runtime_checkable
class ConcurrencyLimit(Protocol):
    """What the engine needs from a concurrency limit.

    Example::

        >>> isinstance(FixedLimit(4), ConcurrencyLimit)
        True
    """

    @property
    def limit(self) -> int:
        """How many requests may be in flight now (at least 1)."""

    @property
    def spacing(self) -> float:
        """Seconds to leave between two sends (0: none)."""

    def on_sample(self, *, rtt: float, in_flight: int, overloaded: bool) -> None:
        """Report one finished attempt.

        ``rtt``: seconds from send to answer. ``in_flight``: requests in flight when it
        was sent, itself included. ``overloaded``: the answer was a 429 or a 503, or the
        attempt timed out.
        """


class FixedLimit:
    """A limit that never changes (``adaptive=False``).

    Example::

        >>> fixed = FixedLimit(8)
        >>> fixed.on_sample(rtt=9.0, in_flight=8, overloaded=True)
        >>> fixed.limit
        8
    """

    __slots__ = ("_limit",)

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit

    @property
    def limit(self) -> int:
        """The fixed limit."""
        return self._limit

    @property
    def spacing(self) -> float:
        """0: a fixed window sends as fast as places free up."""
        return 0.0

    def on_sample(self, *, rtt: float, in_flight: int, overloaded: bool) -> None:
        """Ignored: a fixed limit does not learn."""

    def __repr__(self) -> str:
        return f"FixedLimit({self._limit})"


class AdaptiveLimit:
    """A limit between 1 and ``max_limit`` that follows the server's latency and overload.

    ``alpha`` and ``beta`` bound the number of requests it lets wait at the server in
    steady state (at limits up to 10; above, times ``log10(limit)``); ``backoff`` is
    the factor applied on overload. See the module docstring for the rules.

    Example::

        >>> limit = AdaptiveLimit(initial=2, max_limit=3)
        >>> for _ in range(10):
        ...     limit.on_sample(rtt=0.1, in_flight=3, overloaded=False)
        >>> limit.limit, limit.min_rtt
        (3, 0.1)
    """

    __slots__ = (
        "_alpha",
        "_guard",
        "_last_in_flight",
        "_limit",
        "_probe_left",
        "_probe_min",
        "_queued",
        "_round_in_flight",
        "_round_rtts",
        "_round_samples",
        "_round_size",
        "_rounds_left",
        "_value",
        "alpha",
        "backoff",
        "beta",
        "max_limit",
        "min_rtt",
        "probe_rounds",
        "slow_start",
    )

    def __init__(
        self,
        *,
        initial: int = INITIAL_LIMIT,
        max_limit: int = 64,
        alpha: float = 2.0,
        beta: float = 4.0,
        backoff: float = 0.5,
        probe_rounds: int = 100,
    ) -> None:
        if max_limit < 1 or initial < 1:
            raise ValueError("max_limit and initial must be at least 1")
        if not 0 < alpha < beta or not 0 < backoff < 1:
            raise ValueError("need 0 < alpha < beta and 0 < backoff < 1")
        self.max_limit = max_limit
        self.alpha = alpha
        self.beta = beta
        self.backoff = backoff
        self.probe_rounds = probe_rounds
        #: the lowest round trip seen (s); ``inf`` before the first sample
        self.min_rtt = math.inf
        #: True until the first sign of queueing or overload
        self.slow_start = True
        self._value = self._alpha = 0.0  # the limit, fractional; alpha at that limit
        self._limit = 0  # what the engine reads: cheap
        self._set(initial)
        self._last_in_flight = self._limit  # the most in flight in the last round
        self._guard = 0  # samples left before another decrease may happen
        self._round_samples = 0  # samples counted towards the current round trip
        self._round_size = self._limit  # samples in a round trip: the limit at its start
        self._round_rtts: list[float] = []  # the round trips of the current round
        self._round_in_flight = 0  # the most requests in flight in the current round
        self._rounds_left = probe_rounds  # round trips until the next min-RTT probe
        self._probe_left = 0  # samples left in a running probe (0: none)
        self._probe_min = math.inf
        self._queued = False  # the last round saw a queue over beta

    @property
    def limit(self) -> int:
        """How many requests may be in flight now."""
        return self._limit

    @property
    def spacing(self) -> float:
        """The minimum round trip shared by the limit, times four fifths (half in slow
        start): a full window goes out over most of a round trip (half of one while it
        grows), never in one burst. 0 before a round trip was measured (a 429 or a
        timeout can come before any answer)."""
        if self.min_rtt == math.inf:
            return 0.0
        spread = _SLOW_START_SPREAD if self.slow_start else _WINDOW_SPREAD
        return spread * self.min_rtt / self._value

    def on_sample(self, *, rtt: float, in_flight: int, overloaded: bool) -> None:
        """Learn from one finished attempt (see :class:`ConcurrencyLimit`)."""
        if self._guard > 0:
            self._guard -= 1
        if overloaded:
            self._decrease(self._value * self.backoff)
            return
        if rtt <= 0:
            return
        if self._probe_left:
            self._probe(rtt)
            return
        self.min_rtt = min(self.min_rtt, rtt)
        self._round_rtts.append(rtt)
        self._round_in_flight = max(self._round_in_flight, in_flight)
        if (
            self.slow_start
            and rtt <= _SLOW_START_RTT * self.min_rtt  # it did not wait long
            and 2 * max(in_flight, self._last_in_flight) >= self._limit  # the window was used
        ):
            queue = in_flight * (1.0 - self.min_rtt / rtt)
            if queue <= self._alpha:
                self._set(self._value + 1.0)  # doubles per round trip
            elif queue <= self._alpha * self.beta / self.alpha:
                self._set(self._value + 0.5)  # a queue is forming: 1.5x per round trip
            if self._value >= self.max_limit:  # nothing left to probe for (TCP's ssthresh)
                self.slow_start = False
        self._round_samples += 1
        if self._round_samples >= self._round_size:
            self._end_round()

    def _end_round(self) -> None:
        """Once per round trip: the Vegas rule (see the module docstring).

        In slow start, on the round's lowest round trip: it sees a standing queue but
        not the momentary queue of a burst, which the first requests of the burst did
        not wait behind. Afterwards, on its median: one slow answer (a pause of the
        client delays those it overlaps) moves it as little as one fast one.
        """
        rtts, in_flight = sorted(self._round_rtts), self._round_in_flight
        self._round_rtts, self._round_in_flight, self._round_samples = [], 0, 0
        rtt = (rtts[0] if self.slow_start else rtts[len(rtts) // 2]) if rtts else self.min_rtt
        self._last_in_flight = in_flight
        queue = in_flight * (1.0 - self.min_rtt / rtt)
        alpha, beta = self._alpha, self._alpha * self.beta / self.alpha
        target = in_flight - queue + alpha  # the no-queue level, plus alpha
        queued_before, self._queued = self._queued, queue > beta
        if self.slow_start:
            if queue > alpha:  # a standing queue: slow start is over
                self._decrease(target)
        elif queue > beta:
            if queued_before:  # two rounds in a row: a pause of the client spans one
                self._decrease(target)
        elif queue < alpha and 2 * in_flight >= self._limit:  # and the window was used
            self._set(self._value + alpha)
        self._round_size = self._limit
        self._rounds_left -= 1
        if self._rounds_left <= 0 and self.probe_rounds > 0 and not self.slow_start:
            self._rounds_left = self.probe_rounds
            self._probe_left = 2 * self._limit
            self._probe_min = math.inf
            self._set(self._value / 2.0)

    def _decrease(self, target: float) -> None:
        """Shrink to ``target`` and leave slow start; at most once per round trip."""
        self.slow_start = False
        if self._guard > 0 or target >= self._value:
            return
        self._guard = self._limit  # answers to requests sent before this decrease
        self._set(target)

    def _probe(self, rtt: float) -> None:
        """One sample of a min-RTT probe; at its end, its minimum replaces the old one."""
        self._probe_min = min(self._probe_min, rtt)
        self._probe_left -= 1
        if not self._probe_left:
            self.min_rtt = self._probe_min
            self._set(self._value * 2.0)

    def _set(self, value: float) -> None:
        self._value = min(float(self.max_limit), max(1.0, value))
        self._limit = int(self._value)
        # Vegas' thresholds grow with log10 of the limit (as in Netflix concurrency-limits)
        self._alpha = self.alpha * max(1.0, math.log10(self._value))

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimit(limit={self._limit}, max_limit={self.max_limit}, "
            f"min_rtt={self.min_rtt:.3f}, slow_start={self.slow_start})"
        )

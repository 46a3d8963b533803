"""One client-wide throttle: pauses on 429, a learned sending rate, an optional quota.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

Every request of a client calls :meth:`Throttle.acquire` before it is sent. Before
the first throttle, and without ``max_rate``, that returns at once. After one:

- **Pause.** A 429 (or a 503 with ``Retry-After``) pauses every request of the client,
  those already waiting and new ones, until ``Retry-After`` has passed. The waiting
  requests then resume spread out: each over a random jitter window, and no faster
  than the learned rate.
- **Learned rate.** As in the AWS SDKs' adaptive retry mode, a client-side token
  bucket limits the sending rate: on a throttle the rate drops to ``beta`` (0.7) times
  the rate actually sent over the last two seconds, then grows back along a CUBIC curve
  (slow near the rate that was throttled, faster away from it) so it probes for more.
  A pause alone is not enough: against 5 requests/s with an 80 ms round trip, even one
  request at a time (12.5/s) is too fast.
- **Quota.** ``max_rate`` (requests/s) is a fixed ceiling, from the start.

**A stray 429 only pauses; recurring 429s teach a rate.** A 429 lowers the rate only
when 429s recur (:class:`_Evidence`): the pauses they ordered held the client for at
least a fifth of the last two seconds, or at least a fifth of the last 32 answers were
429s. Why: AWS lowers the rate on every 429, which is right against a real limit but
ruinous against a server that answers a small share of requests 429 whatever the rate
(a proxy hiccup, our fault injection). Each stray 429 would cut the rate by 30% while
CUBIC needs seconds to grow back: at 200 requests/s and 3% stray 429s the rate
collapses to its floor. A stray 429 with a short ``Retry-After`` costs a short pause
and nothing more. A real limit answers with long pauses (HTTP's ``Retry-After`` is
whole seconds: one second holds the client for half the window) or, without
``Retry-After``, with many 429s; so it is still learned from its first 429s. A share
alone ("k of the last n") would stop lowering once the learned rate keeps 429s rare,
and each later 429 would then cost a full pause; a ``Retry-After`` test alone would
never learn a limit that answers with a short one.

One rate decrease per throttling event: a 429 to a request sent before the last
decrease (``sent_at``) only extends the pause.

Why not aiolimiter: the learned rate needs a token bucket whose rate changes on every
answer, that can be emptied at the end of a pause, that answers "when would a token
be free?" without taking it (for ``deadline``), and that runs on an injected clock for
tests. aiolimiter does none of these without reaching into its internals, and a
second bucket just for ``max_rate`` would make two queues where one suffices. The
bucket here is about 30 lines, so ``max_rate`` simply caps the learned rate.

Only :meth:`Throttle.acquire` is asynchronous; the maths lives in small pure classes.

Example::

    >>> import asyncio
    >>> throttle = Throttle()
    >>> asyncio.run(throttle.acquire()), throttle.rate
    (True, None)
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["CubicRate", "SendRateMeter", "Throttle", "TokenBucket"]

#: The lowest learned rate (requests/s), as in the AWS SDKs.
MIN_RATE = 0.5


class TokenBucket:
    """Tokens fill at ``rate`` per second up to ``max(1, rate)``; a send takes one.

    Tokens may be taken ahead: a reservation makes the balance negative and
    :meth:`ready_at` then lies further ahead, so waiting senders queue up in order.

    Example::

        >>> bucket = TokenBucket(rate=2.0, now=0.0)
        >>> bucket.take(0.0), bucket.take(0.0), bucket.take(0.0)
        (0.0, 0.0, 0.5)
    """

    __slots__ = ("_stamp", "_tokens", "rate")

    def __init__(self, *, rate: float, now: float) -> None:
        self.rate = rate
        self._tokens = self.capacity
        self._stamp = now

    @property
    def capacity(self) -> float:
        """The most tokens it holds: one second's worth, at least one."""
        return max(1.0, self.rate)

    def _fill(self, now: float) -> None:
        if now > self._stamp:
            gained = (now - self._stamp) * self.rate
            self._tokens = min(self.capacity, self._tokens + gained)
            self._stamp = now

    def ready_at(self, now: float) -> float:
        """When the next token is free (``now`` or later), without taking it."""
        self._fill(now)
        start = max(now, self._stamp)
        return start if self._tokens >= 1.0 else start + (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> float:
        """Take a token; return when it is free (the time to send)."""
        when = self.ready_at(now)
        self._tokens -= 1.0
        return when

    def set_rate(self, rate: float, now: float) -> None:
        """Change the fill rate from ``now`` on."""
        self._fill(now)
        self.rate = rate
        self._tokens = min(self._tokens, self.capacity)

    def restart(self, at: float) -> None:
        """Forget tokens and reservations: one token at ``at``, then fill from there."""
        self._tokens = 1.0
        self._stamp = at


class CubicRate:
    """The CUBIC curve of a learned rate (AWS adaptive retry mode).

    After a throttle at rate ``w_max`` the rate is ``beta * w_max``, and ``t`` seconds
    later ``scale * (t - k) ** 3 + w_max``: back to ``w_max`` after ``k`` seconds,
    flat around it, then faster.

    Example::

        >>> cubic = CubicRate()
        >>> cubic.throttled(10.0, now=0.0)
        7.0
        >>> round(cubic.rate_at(cubic.k), 6), cubic.rate_at(cubic.k + 1.0) > 10.0
        (10.0, True)
    """

    __slots__ = ("beta", "k", "last_throttle", "scale", "w_max")

    def __init__(self, *, beta: float = 0.7, scale: float = 0.4) -> None:
        self.beta = beta
        self.scale = scale
        self.w_max = 0.0
        self.k = 0.0
        self.last_throttle = 0.0

    def throttled(self, rate: float, now: float) -> float:
        """Record a throttle at ``rate`` (requests/s); return the rate to use now."""
        self.w_max = rate
        self.k = (rate * (1.0 - self.beta) / self.scale) ** (1.0 / 3.0)
        self.last_throttle = now
        return rate * self.beta

    def rate_at(self, now: float) -> float:
        """The rate the curve allows at ``now`` (``beta * w_max`` until the throttle)."""
        elapsed = max(0.0, now - self.last_throttle)
        return self.scale * (elapsed - self.k) ** 3 + self.w_max


class SendRateMeter:
    """The rate actually sent: sends over the last ``window`` seconds, per second.

    After :meth:`restart` (the end of a pause) the window is the time since then, but
    at least a quarter of a second, so an idle pause does not read as a slow rate.
    Two seconds rather than AWS's smoothed half-seconds: a server with a burst
    allowance accepts more than its rate for a while, and a longer window overstates
    its rate less.

    Example::

        >>> meter = SendRateMeter(window=1.0)
        >>> for i in range(10):
        ...     meter.record(i * 0.1)
        >>> meter.rate(0.95)
        10.0
    """

    __slots__ = ("_origin", "_sends", "window")

    def __init__(self, *, window: float = 2.0) -> None:
        self.window = window
        self._sends: deque[float] = deque()
        self._origin = -math.inf

    def restart(self, at: float) -> None:
        """Measure from ``at`` on, forgetting earlier sends (a pause ends at ``at``)."""
        self._sends.clear()
        self._origin = at

    def record(self, now: float) -> None:
        """Count one send at ``now``."""
        self._sends.append(now)
        self._drop_old(now)

    def rate(self, now: float) -> float:
        """Requests per second sent over the window ending at ``now``."""
        self._drop_old(now)
        span = min(self.window, max(now - self._origin, 0.25))
        return len(self._sends) / span

    def _drop_old(self, now: float) -> None:
        while self._sends and self._sends[0] <= now - self.window:
            self._sends.popleft()


class _Evidence:
    """Whether 429s recur: over the last ``window`` seconds the pauses they ordered add
    up to ``held`` of the time, or ``share`` of the last 32 answers were 429s.

    Example::

        >>> evidence = _Evidence()
        >>> evidence.answer(0.0, throttled=True, held=0.01)
        >>> evidence.recurring(0.0)
        False
        >>> evidence.answer(0.5, throttled=True, held=1.0)
        >>> evidence.recurring(0.5)
        True
    """

    def __init__(self, window: float = 2.0, held: float = 0.2, share: float = 0.2) -> None:
        self.window, self.held, self.share = window, held, share
        self._holds: deque[tuple[float, float]] = deque()  # (when, seconds added)
        self._answers: deque[bool] = deque(maxlen=32)  # True: a 429

    def answer(self, now: float, *, throttled: bool, held: float = 0.0) -> None:
        """Count an answer; ``held``: the seconds a 429 added to the pause."""
        self._answers.append(throttled)
        if held > 0:
            self._holds.append((now, held))

    def recurring(self, now: float) -> bool:
        """True if 429s recur (see the class)."""
        while self._holds and self._holds[0][0] <= now - self.window:
            self._holds.popleft()
        held = sum(seconds for _, seconds in self._holds)
        return held >= self.held * self.window or sum(self._answers) >= self.share * 32


class Throttle:
    """One per client, shared by every request and every concurrent call on that client.

    ``max_rate``: a fixed ceiling in requests per second (a known quota). ``max_pause``:
    the longest pause one ``Retry-After`` can order (the client passes the retry
    policy's ``max_retry_after``: a proxy's ``Retry-After: 3600`` must not stop a
    long-lived client for an hour). ``jitter``: a pause's resumptions spread over this
    fraction of its ``Retry-After``, at most ``max_jitter`` seconds. ``clock``,
    ``sleep`` and ``rng`` are for tests.

    Example::

        >>> import asyncio
        >>> async def main() -> tuple[bool, float | None]:
        ...     throttle = Throttle(max_rate=5.0)
        ...     return await throttle.acquire(), throttle.rate
        >>> asyncio.run(main())
        (True, 5.0)
    """

    def __init__(
        self,
        *,
        max_rate: float | None = None,
        max_pause: float = math.inf,
        jitter: float = 0.25,
        max_jitter: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_rate is not None and max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.max_rate = max_rate
        self.max_pause = max_pause
        self.jitter = jitter
        self.max_jitter = max_jitter
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._cubic = CubicRate()
        self._meter = SendRateMeter()
        self._learned: float | None = None  # None until the first throttle
        self._bucket = None if max_rate is None else TokenBucket(rate=max_rate, now=clock())
        self._pause_until = -math.inf
        self._spread = 0.0  # the jitter window of the current pause
        self._last_decrease = -math.inf
        self._next_send = -math.inf  # the spacing: no send's turn comes before this
        self._epoch = 0  # bumped when a throttle voids the waiting requests' turns
        self._evidence = _Evidence()
        #: throttles reported so far (``on_throttled`` calls)
        self.throttles = 0

    @property
    def rate(self) -> float | None:
        """The sending rate now (requests/s); None while unlimited."""
        return None if self._bucket is None else self._bucket.rate

    @property
    def paused_until(self) -> float:
        """The ``clock()`` value at which the current pause ends (in the past: none)."""
        return self._pause_until

    async def acquire(self, *, deadline: float | None = None, spacing: float = 0.0) -> bool:
        """Wait until a request may be sent; False, not waiting, if not before ``deadline``.

        Waits past any pause, for a token of the sending rate, and until ``spacing``
        seconds after the previous send's turn (the concurrency limit's pacing: this is
        the client's one send schedule). ``deadline`` is a ``clock()`` value. Call it
        before every attempt, retries included.
        """
        while True:
            now = self._clock()
            epoch = self._epoch
            spaced = max(now, self._next_send)  # its place in the spacing's line
            when = max(self._turn(now), spaced)
            if deadline is not None and when > deadline:
                return False
            if self._bucket is not None:
                self._bucket.take(now)
            if spacing:
                self._next_send = spaced + spacing
            if when > now:
                await self._sleep(when - now)
            if epoch == self._epoch:
                self._meter.record(self._clock())
                return True
            # A throttle arrived while waiting: the turn is void, queue again.

    def _turn(self, now: float) -> float:
        """When a request asking at ``now`` may go (the token is not taken here)."""
        when = now if self._bucket is None else self._bucket.ready_at(now)
        if now < self._pause_until + self._spread:
            when = max(when, self._pause_until + self._rng.uniform(0.0, self._spread))
        return when

    def on_throttled(self, retry_after: float | None, *, sent_at: float | None = None) -> None:
        """Report a 429, or a 503 with ``Retry-After`` (seconds, None if absent).

        Pauses every request until ``Retry-After`` (at most ``max_pause``) has passed.
        If 429s recur (see the module), it also lowers the sending rate, once per
        event: if the request was sent (``sent_at``, a ``clock()`` value) before the
        last decrease, or without ``sent_at`` during a pause, only the pause is extended.

        Example::

            >>> now = [10.0]
            >>> throttle = Throttle(clock=lambda: now[0])
            >>> throttle.on_throttled(0.01)  # a stray 429: a pause, no rate
            >>> throttle.paused_until, throttle.rate
            (10.01, None)
            >>> now[0] = 12.0
            >>> throttle.on_throttled(1.0)  # held a second of the last two: a rate
            >>> throttle.paused_until, throttle.rate is not None
            (13.0, True)
        """
        now = self._clock()
        self.throttles += 1
        if retry_after is not None:
            retry_after = min(retry_after, self.max_pause)
        # Stale: an answer to a request sent before the last decrease (same event).
        stale = now < self._pause_until if sent_at is None else sent_at <= self._last_decrease
        changed = False
        held = 0.0
        if retry_after and now + retry_after > self._pause_until:
            held = now + retry_after - max(now, self._pause_until)
            self._pause_until = now + retry_after
            self._spread = min(self.max_jitter, self.jitter * retry_after)
            changed = True
        self._evidence.answer(now, throttled=True, held=held)
        if not stale and self._evidence.recurring(now):
            resume = max(now, self._pause_until)  # the curve starts when sending does
            self._set_learned(self._cubic.throttled(self._throttled_rate(now), now=resume), now)
            self._last_decrease = now
            changed = True
        if changed:
            self._restart(now)

    def on_success(self) -> None:
        """Report an answer that was not a throttle: the learned rate probes upwards."""
        now = self._clock()
        self._evidence.answer(now, throttled=False)
        if self._learned is None or now < self._pause_until:
            return  # during a pause nothing is sent: the meter would read a rate of 0
        probe = self._cubic.rate_at(now)
        self._set_learned(min(probe, 2.0 * self._meter.rate(now)), now)

    def _throttled_rate(self, now: float) -> float:
        """The rate that was throttled: the rate sent lately, at most the learned one."""
        measured = self._meter.rate(now)
        if self._learned is None:
            return measured
        return self._learned if measured <= 0 else min(measured, self._learned)

    def _set_learned(self, rate: float, now: float) -> None:
        self._learned = max(MIN_RATE, rate)
        effective = self._learned if self.max_rate is None else min(self._learned, self.max_rate)
        if self._bucket is None:
            self._bucket = TokenBucket(rate=effective, now=now)
        else:
            self._bucket.set_rate(effective, now)

    def _restart(self, now: float) -> None:
        """Void the waiting requests' turns; sending restarts when the pause ends."""
        self._epoch += 1
        resume = max(now, self._pause_until)
        self._next_send = -math.inf
        self._meter.restart(resume)
        if self._bucket is not None:
            self._bucket.restart(resume)

    def __repr__(self) -> str:
        return f"Throttle(rate={self.rate}, max_rate={self.max_rate}, throttles={self.throttles})"

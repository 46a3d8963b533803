"""Pacing: how fast and how wide a client sends, learned from the server's answers.

A :class:`Pacer` is shared by every request of a client. Before each attempt it leaves
the limit's ``spacing`` since the previous attempt (an adaptive limit spreads a full
window over 0.8 of the minimum round trip, half of it in slow start, so a client that
was busy, e.g. in a garbage collection, does not answer the pile of answers it then
reads with a burst of requests that queue at the server), then waits for the client-wide
:class:`~hellotracks_async.throttle.Throttle` (a pause after a 429, the learned or fixed
sending rate). After it, it feeds what the answer showed to the throttle and to the
:class:`~hellotracks_async.concurrency.ConcurrencyLimit` that says how many batches the
engine may keep in flight:

=================================  =========================================
answer                             learned
=================================  =========================================
429, or 503 with ``Retry-After``   pause everyone; lower the rate; overloaded
503 without it, or a timeout       overloaded (the limit shrinks)
connection refused                 nothing (no round trip was measured)
any other answer                   a latency sample; the rate probes upwards
=================================  =========================================

Example::

    >>> import asyncio
    >>> from hellotracks_async.concurrency import FixedLimit
    >>> from hellotracks_async.throttle import Throttle
    >>> from hellotracks_async.transport import Response
    >>> pacer = Pacer(FixedLimit(4), Throttle())
    >>> async def post() -> Response:
    ...     return Response(200, {}, b"{}")
    >>> asyncio.run(pacer.send(post)).status, pacer.limit
    (200, 4)
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from .concurrency import ConcurrencyLimit
from .errors import RateLimitError, TransportError
from .sansio import parse_retry_after
from .throttle import Throttle
from .transport import Response

__all__ = ["Pacer"]


class Pacer:
    """One client's throttle and concurrency limit, fed by every attempt's answer.

    Example::

        pacer = Pacer(AdaptiveLimit(max_limit=64), Throttle(max_rate=5.0))
        response = await pacer.send(lambda: transport.post(endpoint, body, timeout=30))
    """

    def __init__(
        self,
        limit: ConcurrencyLimit,
        throttle: Throttle,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._limit = limit
        self.throttle = throttle
        self.in_flight = 0  # attempts on the wire now
        self._clock = clock
        self._sleep = sleep
        self._next_send = -math.inf  # no attempt starts before this clock() value

    @property
    def limit(self) -> int:
        """How many batches may be in flight now."""
        return self._limit.limit

    async def send(
        self, post: Callable[[], Awaitable[Response]], *, deadline: float | None = None
    ) -> Response:
        """Wait for the spacing and the throttle, make the attempt, learn from its answer.

        ``deadline`` (a ``time.monotonic()`` value): if the throttle would hold the
        attempt past it, nothing is sent and :class:`RateLimitError` is raised.
        """
        await self._space()
        if not await self.throttle.acquire(deadline=deadline):
            raise RateLimitError(  # an infinite wait: never retried
                "not sent: the rate limit holds it past its deadline", retry_after=math.inf
            )
        sent_at = self._clock()
        self.in_flight += 1
        at_send = self.in_flight
        try:
            response = await post()
        except BaseException as exc:
            in_flight = self._count_out(at_send)
            if isinstance(exc, TransportError) and exc.maybe_sent:
                # a timeout or a lost answer: the server may be drowning
                self._sample(sent_at, in_flight, overloaded=True)
            raise
        self._learn(response, sent_at, self._count_out(at_send))
        return response

    def _count_out(self, at_send: int) -> int:
        """Count an attempt out; return the most in flight while it was out, at its send
        or now (the first of a burst of sends saw only itself)."""
        in_flight = max(at_send, self.in_flight)
        self.in_flight -= 1
        return in_flight

    async def _space(self) -> None:
        """Leave the limit's ``spacing`` between two attempts, so that the answers a
        busy client reads at once do not send as many requests at once."""
        spacing = self._limit.spacing
        if not spacing:
            return
        now = self._clock()
        at = max(now, self._next_send)
        self._next_send = at + spacing
        if at > now:
            await self._sleep(at - now)

    def _learn(self, response: Response, sent_at: float, in_flight: int) -> None:
        if response.status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if response.status == 429 or retry_after is not None:
                self.throttle.on_throttled(retry_after, sent_at=sent_at)
            self._sample(sent_at, in_flight, overloaded=True)
        else:
            self._sample(sent_at, in_flight, overloaded=False)
            self.throttle.on_success()

    def _sample(self, sent_at: float, in_flight: int, *, overloaded: bool) -> None:
        rtt = self._clock() - sent_at
        self._limit.on_sample(rtt=rtt, in_flight=in_flight, overloaded=overloaded)

"""Flow control in one place: the admission gate every batch and every attempt passes.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

One :class:`AdmissionGate` per client, shared by every call on it (in the shape of
Netflix concurrency-limits: ask for a slot, report how the answer went):

- **Batches** ask for a slot with :meth:`~AdmissionGate.admit`. A slot is free while
  fewer batches than the limit are admitted and none of the batch's keys
  (``uidSecondary`` for creates, the job id otherwise) is held by another batch, so
  inputs sharing a key are applied in input order. The engine releases the slot when
  it has reported the batch's outcome, so callers (the CLI's journal) never have more
  than the limit unconfirmed. That count of admitted batches is the one in-flight
  count: the limit is learned from it and enforced on it.
- **Attempts** (retries included) go through :meth:`~AdmissionGate.attempt`, which
  waits for the client's one send schedule (:class:`~hellotracks_async.throttle.Throttle`:
  a pause after a 429, the learned or fixed sending rate, and the limit's spacing) and
  then learns from how the attempt ended. The answer is classified once, by
  :func:`~hellotracks_async.sansio.parse_answer`; the exception it raised (or none)
  is what the gate learns from and what the retry policy decides on:

=========================================  ===========================================
attempt ended with                         the gate learns
=========================================  ===========================================
:class:`RateLimitError`, or a 503 with     pause everyone (at most ``max_retry_after``),
``Retry-After``                            lower the rate if 429s recur; overloaded
a 503 without it, or a timeout / lost      overloaded (the limit shrinks)
answer (``TransportError.maybe_sent``)
a connection never opened                  nothing (no round trip was measured)
any other answer, good or bad              a latency sample; the rate probes upwards
=========================================  ===========================================

The maths lives apart, pure: the limit rules in :mod:`~hellotracks_async.concurrency`,
the pause, the learned rate and the token bucket in :mod:`~hellotracks_async.throttle`.

Example::

    >>> import asyncio
    >>> from hellotracks_async.concurrency import FixedLimit
    >>> async def main():
    ...     gate = AdmissionGate(FixedLimit(1), Throttle())
    ...     slot = gate.admit(("k1",))
    ...     blocked = gate.admit(("k2",))  # the one place is taken
    ...     async with gate.attempt():
    ...         pass  # send the request here; an exception raised is learned from
    ...     slot.release()
    ...     return slot is not None, blocked, gate.admit(("k2",)) is not None
    >>> asyncio.run(main())
    (True, None, True)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from .concurrency import ConcurrencyLimit
from .errors import APIError, NotSentError, RateLimitError, ServerError, TransportError
from .throttle import Throttle

__all__ = ["AdmissionGate", "Slot"]

logger = logging.getLogger("hellotracks_async")


class Slot:
    """One admitted batch's place and keys; :meth:`release` gives them back (once)."""

    __slots__ = ("_gate", "keys")

    def __init__(self, gate: AdmissionGate, keys: list[Any]) -> None:
        self._gate: AdmissionGate | None = gate
        self.keys = keys

    def release(self) -> None:
        """Give the place and the keys back; a second call does nothing."""
        gate, self._gate = self._gate, None
        if gate is not None:
            gate._release(self)


class AdmissionGate:
    """Admits batches under the concurrency limit and attempts under the throttle.

    ``clock`` is the throttle's clock (``time.monotonic`` unless a test injects one).

    Example::

        gate = AdmissionGate(AdaptiveLimit(max_limit=64), Throttle(max_pause=60.0))
        slot = gate.admit(keys)          # None: wait for gate.freed() and ask again
        async with gate.attempt(deadline=give_up):
            response = await transport.post(endpoint, body, timeout=30)
            answer = parse_answer(...)   # raises the typed error the gate learns from
        slot.release()                   # once the outcome is reported
    """

    def __init__(
        self,
        limit: ConcurrencyLimit,
        throttle: Throttle,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self.throttle = throttle
        self._clock = clock
        #: batches admitted and not yet released: the one in-flight count
        self.in_flight = 0
        # keys held, forgotten when released; a key is never held twice (admit refuses)
        self._keys: set[Any] = set()
        self._waiters: list[asyncio.Future[None]] = []
        self._logged_limit = 0  # the limit last logged (at DEBUG) when it changed

    @property
    def limit(self) -> int:
        """How many batches may be in flight now (adaptive, or fixed)."""
        return self._limit.limit

    def count_held(self, keys: tuple[Any, ...]) -> int:
        """How many of ``keys`` a batch in flight holds."""
        if not self._keys:
            return 0
        return len(self._keys.intersection(keys))

    def admit(self, keys: tuple[Any, ...]) -> Slot | None:
        """A slot for a batch with ``keys``, or ``None`` while the limit is reached or
        one of its keys is held (then wait for :meth:`freed` and ask again)."""
        limit = self._limit.limit
        if self.in_flight >= limit or not self._keys.isdisjoint(keys):
            return None
        if limit != self._logged_limit:
            logger.debug("concurrency limit now %d", limit)
            self._logged_limit = limit
        held = [key for key in keys if key is not None]
        self.in_flight += 1
        self._keys.update(held)
        return Slot(self, held)

    async def freed(self) -> None:
        """Wait until some slot is released (by any call)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():
                waiter.cancel()

    def _release(self, slot: Slot) -> None:
        self.in_flight -= 1
        self._keys.difference_update(slot.keys)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    @contextlib.asynccontextmanager
    async def attempt(self, *, deadline: float | None = None) -> AsyncIterator[None]:
        """Wait for the send schedule, then run one attempt and learn from how it ends.

        ``deadline`` (a clock value): if the schedule (a pause, the rate) would hold
        the attempt past it, nothing is sent and :class:`NotSentError` is raised.
        """
        spacing = self._limit.spacing
        if not await self.throttle.acquire(deadline=deadline, spacing=spacing):
            raise NotSentError("not sent: a rate-limit pause holds it past its deadline")
        sent_at = self._clock()
        at_send = self.in_flight
        try:
            yield
        except BaseException as exc:
            self._learn(exc, sent_at, at_send)
            raise
        self._learn(None, sent_at, at_send)

    def _learn(self, failure: BaseException | None, sent_at: float, at_send: int) -> None:
        """Feed how an attempt ended to the throttle and the limit (the table above).

        The sample's in-flight count is the most at its send or now: the first of a
        burst saw only itself when it was sent, yet it was out with the whole burst.
        """
        if isinstance(failure, TransportError):
            if failure.maybe_sent:  # a timeout or a lost answer: the server may be drowning
                self._sample(sent_at, at_send, overloaded=True)
            return
        if failure is not None and not isinstance(failure, APIError):
            return  # cancelled, or no answer at all: nothing was measured
        if isinstance(failure, RateLimitError):
            self.throttle.on_throttled(failure.retry_after, sent_at=sent_at)
        elif isinstance(failure, ServerError) and failure.http_status == 503:
            if failure.retry_after is not None:
                self.throttle.on_throttled(failure.retry_after, sent_at=sent_at)
        else:  # an answer, good or refused
            self._sample(sent_at, at_send, overloaded=False)
            self.throttle.on_success()
            return
        self._sample(sent_at, at_send, overloaded=True)

    def _sample(self, sent_at: float, at_send: int, *, overloaded: bool) -> None:
        rtt = self._clock() - sent_at
        in_flight = max(at_send, self.in_flight)
        self._limit.on_sample(rtt=rtt, in_flight=in_flight, overloaded=overloaded)

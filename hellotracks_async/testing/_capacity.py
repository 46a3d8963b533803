"""The fake server's capacity model: a round trip, W workers with a FIFO queue, service
time per request and per job, and a token-bucket rate limit answering 429.

:class:`Capacity` holds the settings, :class:`CapacityStats` is a snapshot of what
happened; :class:`CapacityModel` (with :class:`TokenBucket`) does the waiting. It is a
fake, so waiting is :func:`asyncio.sleep`. Nothing here knows HTTP.

Example::

    >>> capacity = Capacity(rtt=0.05, workers=2, per_request=0.01, per_job=0.001, rate=5)
    >>> capacity.service_time(100), capacity.bucket_size
    (0.11, 5.0)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import attrs

__all__ = ["Capacity", "CapacityModel", "CapacityStats", "Counters", "TokenBucket"]

_R = TypeVar("_R")

_SECONDS: Final = ("rtt", "per_request", "per_job")


def _check(capacity: Capacity) -> None:
    for name in _SECONDS:
        value = getattr(capacity, name)
        if not 0.0 <= value < math.inf:  # also refuses NaN
            raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
    workers = capacity.workers
    if workers is not None and (type(workers) is not int or workers < 1):
        raise ValueError(f"workers must be None or an int >= 1, got {workers!r}")
    rate, burst = capacity.rate, capacity.burst
    if rate is not None and not 0.0 < rate < math.inf:
        raise ValueError(f"rate must be None or > 0 requests per second, got {rate!r}")
    if burst is not None and (rate is None or not 1.0 <= burst < math.inf):
        raise ValueError(f"burst must be >= 1 and needs a rate, got {burst!r}")


@attrs.frozen(kw_only=True)
class Capacity:
    """What a modelled server can do; every duration in seconds.

    - ``rtt``: the network round trip added to every request, half before the server
      sees it and half after it answers.
    - ``workers``: how many requests are worked on at once (``None``: no limit). The
      others wait in a FIFO queue.
    - ``per_request`` + ``per_job`` * (jobs in the request): how long a worker is busy
      with one request. A worker keeps its own schedule: a request that waited for it
      starts when the one before was due to end, so the fake's event loop waking up
      late (busy parsing other requests on one core) costs latency, not capacity. The
      time the fake takes to check and store a request's own jobs (and an injected
      latency) still holds the worker.
    - ``rate``: requests per second a token bucket admits on arrival, before the queue
      (``None``: no limit). A request finding no token is answered 429 at once, with a
      ``Retry-After`` of whole seconds, at least 1: the wait for the next token rounded
      up, so a client that waits as told finds one. ``burst``: the bucket's size, by
      default one second's worth, ``max(1, rate)``; the bucket starts full.

    Only ``createjobs`` / ``editjobs`` / ``getjobs`` / ``deletejobs`` requests with an
    accepted key go through it (as with faults); its 429s are counted in
    :attr:`FakeHellotracks.stats <hellotracks_async.testing.FakeHellotracks.stats>`, not
    in ``injected``. Faults and ``latency`` happen inside a worker.

    Load-test your own pipeline against a small, rate-limited server::

        capacity = Capacity(rtt=0.02, workers=2, per_request=0.01, per_job=0.002, rate=20)
        async with FakeHellotracks(capacity=capacity, store_jobs=False) as fake:
            async with HellotracksClient(api_key=fake.api_key, base_url=fake.base_url) as c:
                await my_pipeline(c)
            print(fake.stats)   # received, served, rate_limited, peak_queued, ...

    Example:

        >>> Capacity(workers=4, rate=0.5).bucket_size
        1.0
        >>> Capacity(workers=0)
        Traceback (most recent call last):
        ...
        ValueError: workers must be None or an int >= 1, got 0
    """

    rtt: float = 0.0
    workers: int | None = None
    per_request: float = 0.0
    per_job: float = 0.0
    rate: float | None = None
    burst: float | None = None

    def __attrs_post_init__(self) -> None:
        _check(self)

    @property
    def bucket_size(self) -> float | None:
        """The token bucket's size: ``burst``, else ``max(1, rate)``; ``None`` without a rate.

        Example:

            >>> Capacity(rate=5, burst=2).bucket_size, Capacity().bucket_size
            (2.0, None)
        """
        if self.rate is None:
            return None
        return float(self.burst if self.burst is not None else max(1.0, self.rate))

    def service_time(self, jobs: int) -> float:
        """How long a worker is busy with a request of ``jobs`` jobs.

        Example:

            >>> Capacity(per_request=0.01, per_job=0.5).service_time(2)
            1.01
        """
        return self.per_request + self.per_job * jobs


@attrs.frozen(kw_only=True)
class CapacityStats:
    """What the capacity model saw since the start or the last ``reset()``.

    ``received``: requests that entered the model; ``served``: those a worker finished
    (whatever the answer); ``rate_limited``: those the token bucket answered 429;
    ``queued``: requests waiting for a worker now (not those being served);
    ``peak_queued``: the most that ever waited at once. Without a capacity all stay 0.

    Example:

        >>> CapacityStats(received=3, served=2, rate_limited=1).peak_queued
        0
    """

    received: int = 0
    served: int = 0
    rate_limited: int = 0
    queued: int = 0
    peak_queued: int = 0


class Counters:
    """The live counts behind :class:`CapacityStats`; they outlive a change of capacity.

    Example:

        >>> counters = Counters()
        >>> counters.received += 1
        >>> counters.snapshot().received
        1
    """

    __slots__ = ("peak_queued", "queued", "rate_limited", "received", "served")

    def __init__(self) -> None:
        self.received = self.served = self.rate_limited = self.queued = self.peak_queued = 0

    def snapshot(self) -> CapacityStats:
        """The counts as a frozen :class:`CapacityStats`."""
        return CapacityStats(
            received=self.received,
            served=self.served,
            rate_limited=self.rate_limited,
            queued=self.queued,
            peak_queued=self.peak_queued,
        )

    def reset(self) -> None:
        """Zero the counts; ``queued`` stays what it is (it is a level, not a count)."""
        self.received = self.served = self.rate_limited = 0
        self.peak_queued = self.queued


class TokenBucket:
    """``rate`` tokens per second up to ``size``, starting full; one per request.

    Example:

        >>> now = [0.0]
        >>> bucket = TokenBucket(rate=2.0, size=2.0, clock=lambda: now[0])
        >>> bucket.take(), bucket.take(), bucket.take()  # the third waits 0.5 s, told 1
        (None, None, 1)
        >>> now[0] = 0.5
        >>> bucket.take()
    """

    def __init__(
        self, rate: float, size: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.size = size
        self._clock = clock
        self._tokens = size
        self._stamp = clock()

    def take(self) -> int | None:
        """Take a token: ``None`` if there was one, else the ``Retry-After`` in whole
        seconds (the wait for the next token rounded up, at least 1)."""
        now = self._clock()
        tokens = min(self.size, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return None
        self._tokens = tokens
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def refill(self) -> None:
        """Fill the bucket up again."""
        self._tokens = self.size
        self._stamp = self._clock()


class CapacityModel:
    """Runs requests through one :class:`Capacity`, counting into shared :class:`Counters`.

    ``clock`` and ``sleep`` are replaceable for tests; replace both, as the service
    sleeps until a time read from ``clock``.

    Example:

        >>> async def main():
        ...     model = CapacityModel(Capacity(workers=1, per_job=0.001), Counters())
        ...     async def work():
        ...         return "answer"
        ...     return await model.serve(3, work, refuse=str), model.counters.snapshot()
        >>> asyncio.run(main())
        ('answer', CapacityStats(received=1, served=1, rate_limited=0, queued=0, peak_queued=0))
    """

    def __init__(
        self,
        capacity: Capacity,
        counters: Counters,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.capacity = capacity
        self.counters = counters
        size = capacity.bucket_size
        rate = capacity.rate
        self.bucket = None if rate is None or size is None else TokenBucket(rate, size, clock)
        self._free = capacity.workers  # None: no limit
        self._waiting: collections.deque[asyncio.Future[float]] = collections.deque()
        self._clock = clock
        self._sleep = sleep

    async def serve(
        self, jobs: int, work: Callable[[], Awaitable[_R]], refuse: Callable[[int], _R]
    ) -> _R:
        """Half the round trip, the bucket (``refuse(retry_after)`` if empty), a worker
        busy for the service time, then ``work()``, then the other half."""
        counters, capacity = self.counters, self.capacity
        counters.received += 1
        half = capacity.rtt / 2
        if half > 0:
            await self._sleep(half)
        retry_after = self.bucket.take() if self.bucket is not None else None
        if retry_after is not None:
            counters.rate_limited += 1
            answer = refuse(retry_after)
        else:
            answer = await self._in_worker(capacity.service_time(jobs), work)
            counters.served += 1
        if half > 0:
            await self._sleep(half)
        return answer

    async def _in_worker(self, busy: float, work: Callable[[], Awaitable[_R]]) -> _R:
        """A worker busy until ``busy`` after its service started, then ``work()``. The
        worker is free again at the planned end plus the time ``work()`` took (a fault's
        latency holds it), not when this task happened to wake up."""
        clock = self._clock
        end = await self._acquire() + busy
        try:
            remaining = end - clock()
            if remaining > 0:
                await self._sleep(remaining)
            began = clock()
            answer = await work()
        except BaseException:
            self._release(clock())
            raise
        self._release(end + clock() - began)
        return answer

    async def _acquire(self) -> float:
        """Wait for a worker; return when its service starts: now, or for a request that
        waited, when the worker's previous request was planned to end."""
        arrived = self._clock()
        if self._free is None:
            return arrived
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return arrived
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        counters = self.counters
        counters.queued += 1
        counters.peak_queued = max(counters.peak_queued, counters.queued)
        try:
            free_at = await future  # _release hands its worker over
        except asyncio.CancelledError:
            if future.cancelled():
                with contextlib.suppress(ValueError):
                    self._waiting.remove(future)
                    counters.queued -= 1
            else:  # handed a worker just as it was cancelled: pass it on
                self._release(future.result())
            raise
        return max(free_at, arrived)

    def _release(self, free_at: float) -> None:
        """Hand the worker, free from ``free_at`` on, to the first waiter, if any."""
        if self._free is None:
            return
        while self._waiting:
            future = self._waiting.popleft()
            self.counters.queued -= 1
            if not future.done():
                future.set_result(free_at)
                return
        self._free += 1

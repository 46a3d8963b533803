"""The fake server's request handler: key check, routing, faults, latency, capacity.

One :class:`RequestHandler` answers ``POST /api/{endpoint}`` for a
:class:`~hellotracks_async.testing.FakeHellotracks`, which keeps the lifecycle and the
inspection methods. Without a capacity, a request costs one ``if`` more than the bare
store call; with one it runs through a :class:`~._capacity.CapacityModel`.

Example::

    >>> from ._store import JobStore
    >>> handler = RequestHandler({"test-key": "acme"}, JobStore())
    >>> handler.faults = Faults(rate=1.0, kinds=("500",))
    >>> handler.draw(), handler.injected
    ('500', Counter({'500': 1}))
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from ._answers import Operation, apply, drop, error, fault_answer, job_count, parse, rate_limited
from ._capacity import Capacity, CapacityModel, Counters
from ._faults import FaultDecider, Faults
from ._rules import Wire
from ._store import JobStore

__all__ = ["RequestHandler"]

_Answer = web.Response | None  # None: drop the connection


class RequestHandler:
    """Answers one request at a time; holds the settings it needs and the counters.

    Example::

        >>> handler = RequestHandler({"k": "acme"}, JobStore(), latency=0.5)
        >>> handler.capacity = Capacity(workers=2)
        >>> handler.capacity.workers, handler.latency
        (2, 0.5)
    """

    def __init__(
        self,
        api_keys: dict[str, str],
        store: JobStore,
        *,
        latency: float = 0.0,
        faults: Faults | None = None,
        capacity: Capacity | None = None,
    ) -> None:
        if not api_keys:
            raise ValueError("api_keys must hold at least one key")
        self.api_keys = api_keys
        self.latency = latency
        #: Requests per endpoint name, counted on arrival (before the key check).
        self.requests: collections.Counter[str] = collections.Counter()
        #: Injected faults per kind.
        self.injected: collections.Counter[str] = collections.Counter()
        #: What the capacity model saw (see :class:`~._capacity.CapacityStats`).
        self.counters = Counters()
        self.store = store
        self._operations: dict[str, Operation] = {
            "createjobs": lambda company, data, custom: store.create(company, data, custom=custom),
            "editjobs": lambda company, data, custom: store.edit(company, data, custom=custom),
            "getjobs": lambda company, data, _: store.get(company, data),
            "deletejobs": lambda company, data, _: store.delete(company, data),
        }
        self.faults = faults
        self.capacity = capacity
        self._background: set[asyncio.Task[_Answer]] = set()

    @property
    def faults(self) -> Faults | None:
        """The fault settings; assigning restarts the seeded sequence."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults | None) -> None:
        self._faults = faults
        self.restart_faults()

    def restart_faults(self) -> None:
        """Start the fault sequence from the beginning."""
        faults = self._faults
        self._decider: FaultDecider | None = (
            faults.decider() if faults is not None and faults.rate > 0 else None
        )

    @property
    def capacity(self) -> Capacity | None:
        """The capacity settings; assigning starts a fresh model (workers, full bucket)."""
        return self._model.capacity if self._model is not None else None

    @capacity.setter
    def capacity(self, capacity: Capacity | None) -> None:
        self._model = CapacityModel(capacity, self.counters) if capacity is not None else None

    def refill(self) -> None:
        """Fill the rate limit's bucket up again (if there is one)."""
        if self._model is not None and self._model.bucket is not None:
            self._model.bucket.refill()

    def draw(self) -> str | None:
        """The fault for the next request, counted in :attr:`injected`."""
        kind = self._decider.draw() if self._decider is not None else None
        if kind is not None:
            self.injected[kind] += 1
        return kind

    async def settle(self) -> None:
        """Wait until every delayed request has been applied."""
        while self._background:
            await asyncio.wait(list(self._background))

    # -- serving ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer ``POST /api/{endpoint}`` (the aiohttp handler)."""
        endpoint = request.match_info["endpoint"]
        self.requests[endpoint] += 1
        key = request.headers.get("API-Key")
        company = self.api_keys.get(key) if key else None
        if company is None:
            return error(401, "invalid API key")  # never echo the key
        operation = self._operations.get(endpoint)
        if operation is None:
            return error(404, f"unknown endpoint: {endpoint[:100]}")
        raw = await request.read()
        if self._model is not None:
            response = await self._in_background(
                self._limited(self._model, operation, company, raw)
            )
        else:
            kind = self.draw()
            delay = self._delay(kind)
            if delay > 0:
                response = await self._in_background(
                    self._respond_later(delay, kind, operation, company, raw)
                )
            else:
                response = self._respond(kind, operation, company, raw)
        return drop(request) if response is None else response

    def _delay(self, kind: str | None) -> float:
        if kind == "slow" and self._faults is not None:
            return self.latency + self._faults.slow_seconds
        return self.latency

    def _respond(
        self,
        kind: str | None,
        operation: Operation,
        company: str,
        raw: bytes,
        parsed: Wire | web.Response | None = None,
    ) -> _Answer:
        """The answer to one request, ``None`` meaning "drop the connection"."""
        if kind is not None and self._faults is not None:
            answer = fault_answer(kind, self._faults)
            if answer is not None or kind == "reset":
                return answer
        response = apply(operation, company, raw, parsed)
        return None if kind == "commit_then_drop" else response

    async def _in_background(self, work: Coroutine[Any, Any, _Answer]) -> _Answer:
        # The work runs in its own task, shielded: a request that arrived is applied even
        # if the client leaves (or the handler is cancelled) meanwhile. settle() waits.
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return await asyncio.shield(task)

    async def _respond_later(
        self, delay: float, kind: str | None, operation: Operation, company: str, raw: bytes
    ) -> _Answer:
        await asyncio.sleep(delay)
        return self._respond(kind, operation, company, raw)

    async def _limited(
        self, model: CapacityModel, operation: Operation, company: str, raw: bytes
    ) -> _Answer:
        parsed = parse(raw)

        async def work() -> _Answer:  # in a worker: faults and latency as usual
            kind = self.draw()
            delay = self._delay(kind)
            if delay > 0:
                await asyncio.sleep(delay)
            return self._respond(kind, operation, company, raw, parsed)

        return await model.serve(job_count(parsed), work, rate_limited)

"""The aiohttp.web fake of the Hellotracks jobs API, with fault injection and a capacity.

It speaks the wire protocol with plain dicts and never uses the SDK's converter or
client, so tests against it catch the SDK's own mistakes. The pieces: the store
(:mod:`._store`, :mod:`._storeless`, :mod:`._rules`), the answers (:mod:`._answers`),
the request handler (:mod:`._handler`), the capacity model (:mod:`._capacity`) and the
loopback lifecycle (:mod:`._site`).

Example:

    >>> import asyncio, aiohttp
    >>> async def main():
    ...     async with FakeHellotracks() as fake, aiohttp.ClientSession() as session:
    ...         body = {"data": {"jobs": [{"destinationName": "HQ"}]}}
    ...         headers = {"API-Key": fake.api_key}
    ...         async with session.post(fake.base_url + "createjobs", json=body,
    ...                                 headers=headers) as response:
    ...             answer = await response.json()
    ...         return answer["status"], answer["jobs"][0]["priority"], len(fake.jobs())
    >>> asyncio.run(main())
    (0, 5, 1)

Reading back and deleting:

    >>> async def read_and_delete():
    ...     async with FakeHellotracks() as fake, aiohttp.ClientSession() as session:
    ...         async def call(endpoint, data):
    ...             async with session.post(fake.base_url + endpoint, json={"data": data},
    ...                                     headers={"API-Key": fake.api_key}) as response:
    ...                 return await response.json()
    ...         [job] = (await call("createjobs", {"jobs": [{"day": 20261123}]}))["jobs"]
    ...         found = await call("getjobs", {"day": 20261123, "worker": "*"})
    ...         refused = await call("deletejobs", {"jobs": [job["id"], "nope"]})
    ...         deleted = await call("deletejobs", {"jobs": [job["id"]]})
    ...         return len(found["jobs"]), refused["status"], deleted, fake.jobs()
    >>> asyncio.run(read_and_delete())
    (1, 4, {'status': 0}, [])

Store-less, for a load test:

    >>> async def load():
    ...     async with FakeHellotracks(store_jobs=False) as fake, aiohttp.ClientSession() as s:
    ...         body, headers = {"data": {"jobs": [{}, {}]}}, {"API-Key": fake.api_key}
    ...         async with s.post(fake.base_url + "createjobs", json=body,
    ...                           headers=headers) as response:
    ...             answer = await response.json()
    ...         return [job["number"] for job in answer["jobs"]], fake.jobs()
    >>> asyncio.run(load())
    ([1, 2], [])
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Final

import orjson
from aiohttp import web

from ._capacity import Capacity, CapacityStats
from ._faults import Faults
from ._handler import RequestHandler
from ._rules import Wire
from ._site import LoopbackSite
from ._store import JobStore
from ._storeless import StorelessJobStore

__all__ = ["DEFAULT_API_KEYS", "FakeHellotracks"]

#: The API keys a :class:`FakeHellotracks` accepts unless told otherwise: key -> company.
DEFAULT_API_KEYS: Final[Mapping[str, str]] = {"test-key": "acme"}

# The real API documents no size limit; aiohttp's default of 1 MiB would refuse big batches.
_MAX_BODY: Final = 256 * 1024 * 1024


def _first(api_keys: dict[str, str]) -> str:
    """The company of the first key: the default of :meth:`FakeHellotracks.jobs`."""
    return next(iter(api_keys.values()))


def _copies(jobs: list[Wire]) -> list[Wire]:
    copies: list[Wire] = orjson.loads(orjson.dumps(jobs))
    return copies


class FakeHellotracks(LoopbackSite):
    """An in-process fake Hellotracks server on ``127.0.0.1``, jobs kept in memory.

    ``api_keys`` maps each accepted ``API-Key`` to its company (default
    ``{"test-key": "acme"}``); each company has its own jobs. ``faults`` turns on fault
    injection (see :class:`Faults`); ``latency`` delays the handling of every
    ``createjobs`` / ``editjobs`` / ``getjobs`` / ``deletejobs`` request by that many
    seconds; ``capacity`` models a server's round trip, workers, service times and rate
    limit (see :class:`Capacity`). ``port=0`` picks a free port. Serves those four
    endpoints under :attr:`base_url`; anything else under ``/api/`` is a JSON 404.

    ``getjobs`` and ``deletejobs`` follow the fake's reading of the docs (in full on
    :meth:`JobStore.get <._store.JobStore.get>` and
    :meth:`JobStore.delete <._store.JobStore.delete>`). ``getjobs`` answers
    ``{"status": 0, "jobs": [...]}`` with the jobs matching every parameter given
    (``id``/``ids``, ``day``, ``worker`` with ``"*"`` for all, ``team`` against the
    job's ``teamId``, ``orderId``/``orderIds``, ``progressActive: 1`` for "not done",
    ``progressSuccess: 1``); an unknown id is absent, ``tpl-<id>`` is a template, a
    parameter of the wrong type is status 3. ``deletejobs`` (``{"jobs": [ids]}``)
    answers ``{"status": 0}`` alone; the docs do not say what an unknown id does, so the
    fake refuses the whole request (status 4, nothing deleted) if any id is unknown or
    deleted already, and status 3 if ``jobs`` is not a list of strings. A deleted job's
    ``uidSecondary`` is forgotten: creating with it again makes a new job.

    ``store_jobs=False`` keeps no job, for load tests and benchmarks: memory stays flat
    however many jobs are created. ``createjobs`` still validates each request and
    answers as it would have with no job stored (ids and numbers keep counting up), but
    :meth:`jobs` stays empty and ``editjobs`` / ``getjobs`` / ``deletejobs`` see no job:
    an edit or a delete of a created id is refused as unknown (status 2 / 4), a read
    finds nothing. Faults, latency and capacity work as usual.

    A request that arrived is applied even if the client leaves before the answer (as
    a real server would); :meth:`close` waits for such delayed requests. Inspect it
    from the test: :meth:`jobs`, :meth:`templates`, :attr:`requests` (per endpoint,
    counted on arrival), :attr:`injected` (per fault kind), :attr:`stats`; :meth:`reset`.
    ``faults``, ``capacity`` and ``latency`` can change at any time.

    Example:

        >>> import asyncio
        >>> async def main():
        ...     async with FakeHellotracks(faults=Faults(rate=0.5, seed=1)) as fake:
        ...         return fake.base_url.startswith("http://127.0.0.1:"), fake.jobs()
        >>> asyncio.run(main())
        (True, [])
    """

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str] | None = None,
        faults: Faults | None = None,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        store_jobs: bool = True,
        capacity: Capacity | None = None,
    ) -> None:
        keys = dict(DEFAULT_API_KEYS if api_keys is None else api_keys)
        #: Whether created jobs are kept (see the class doc).
        self.store_jobs = store_jobs
        self._store = JobStore() if store_jobs else StorelessJobStore()
        self._handler = RequestHandler(keys, self._store, faults=faults, capacity=capacity)
        self.latency = latency
        #: Requests per endpoint name, counted on arrival (before the key check).
        self.requests: collections.Counter[str] = self._handler.requests
        #: Injected faults per kind.
        self.injected: collections.Counter[str] = self._handler.injected
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post("/api/{endpoint}", self._handler.handle)
        super().__init__(app, host, port)

    @property
    def api_keys(self) -> dict[str, str]:
        """The accepted keys: key -> company (a dict; change it in place or assign one).

        Example:

            >>> FakeHellotracks(api_keys={"k": "globex"}).api_keys
            {'k': 'globex'}
        """
        return self._handler.api_keys

    @api_keys.setter
    def api_keys(self, api_keys: dict[str, str]) -> None:
        self._handler.api_keys = api_keys

    @property
    def api_key(self) -> str:
        """The first accepted API key (``"test-key"`` by default).

        Example:

            >>> FakeHellotracks().api_key
            'test-key'
        """
        return next(iter(self.api_keys))

    @property
    def latency(self) -> float:
        """Seconds added to the handling of every request of the four endpoints.

        Example:

            >>> FakeHellotracks(latency=-1)
            Traceback (most recent call last):
            ...
            ValueError: latency must be >= 0, got -1
        """
        return self._handler.latency

    @latency.setter
    def latency(self, latency: float) -> None:
        if not latency >= 0.0:
            raise ValueError(f"latency must be >= 0, got {latency!r}")
        self._handler.latency = latency

    @property
    def faults(self) -> Faults | None:
        """The fault settings; assigning new ones restarts the seeded sequence.

        Example:

            >>> FakeHellotracks(faults=Faults(rate=1.0, kinds=("503",))).faults.kinds
            ('503',)
        """
        return self._handler.faults

    @faults.setter
    def faults(self, faults: Faults | None) -> None:
        self._handler.faults = faults

    @property
    def capacity(self) -> Capacity | None:
        """The capacity settings (``None``: unlimited, no added time). Assigning new ones
        starts with free workers and a full bucket; :attr:`stats` keep counting.

        Example:

            >>> FakeHellotracks(capacity=Capacity(workers=2, rate=10)).capacity.workers
            2
        """
        return self._handler.capacity

    @capacity.setter
    def capacity(self, capacity: Capacity | None) -> None:
        self._handler.capacity = capacity

    @property
    def stats(self) -> CapacityStats:
        """A snapshot of what the capacity model saw (all 0 without a capacity).

        Example:

            >>> FakeHellotracks().stats
            CapacityStats(received=0, served=0, rate_limited=0, queued=0, peak_queued=0)
        """
        return self._handler.counters.snapshot()

    def jobs(self, company: str | None = None) -> list[Wire]:
        """Copies of the stored jobs of ``company`` (default: the first key's), in
        creation order, as wire dicts.

        Example:

            >>> FakeHellotracks().jobs(company="acme")
            []
        """
        owner = self._store.company(_first(self.api_keys) if company is None else company)
        return _copies(list(owner.jobs.values()))

    def templates(self, company: str | None = None) -> list[Wire]:
        """Copies of the stored templates of ``company``; their ``id`` has no ``tpl-``.

        Example:

            >>> FakeHellotracks().templates()
            []
        """
        owner = self._store.company(_first(self.api_keys) if company is None else company)
        return _copies(list(owner.templates.values()))

    def reset(self, *, keep_jobs: bool = False) -> None:
        """Forget all jobs and templates (unless ``keep_jobs``), zero the counters and
        :attr:`stats`, restart the fault sequence, fill the rate limit's bucket.

        Example:

            >>> fake = FakeHellotracks()
            >>> fake.requests["createjobs"] += 1
            >>> fake.reset()
            >>> fake.requests
            Counter()
        """
        if not keep_jobs:
            self._store.reset()
        self.requests.clear()
        self.injected.clear()
        self._handler.counters.reset()
        self._handler.restart_faults()
        self._handler.refill()

    async def settle(self) -> None:
        """Wait until every delayed request (latency, "slow" fault, capacity) is applied.

        A slow request is applied when its delay ends, even if the client gave up on it
        and its retry was answered long ago; a test that edits jobs after creating them
        under faults settles first, or a late create could overwrite an edit.

        Example::

            await fake.settle()
        """
        await self._handler.settle()

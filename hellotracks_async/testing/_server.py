"""The aiohttp.web fake of the Hellotracks jobs API, with fault injection.

It speaks the wire protocol with plain dicts and never uses the SDK's converter or
client, so tests against it catch the SDK's own mistakes.

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
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final

import orjson
from aiohttp import web

from ._faults import FAULT_KINDS, FaultDecider, Faults
from ._store import JobStore, RequestRefused, StorelessJobStore, Wire

__all__ = ["DEFAULT_API_KEYS", "FakeHellotracks", "serve"]

#: The API keys a :class:`FakeHellotracks` accepts unless told otherwise: key -> company.
DEFAULT_API_KEYS: Final[Mapping[str, str]] = {"test-key": "acme"}

# (company, data, whether the raw body mentions a custom_<name> key) -> jobs to answer
_Operation = Callable[[str, Wire, bool], list[Wire]]

# The real API documents no size limit; aiohttp's default of 1 MiB would refuse big batches.
_MAX_BODY: Final = 256 * 1024 * 1024

_BAD_GATEWAY: Final = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _json(
    payload: Wire, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


def _error(status: int, message: str) -> web.Response:
    return _json({"status": status, "message": message}, status)


def _fault_answer(kind: str, faults: Faults) -> web.Response | None:
    """The answer of a fault that applies nothing, or ``None`` for the other kinds."""
    if kind == "429":
        return _json(
            {"status": 429, "message": "too many requests"},
            429,
            headers={"Retry-After": f"{faults.retry_after:g}"},
        )
    if kind == "500":
        return _error(500, "internal server error (injected)")
    if kind == "502":
        return web.Response(status=502, text=_BAD_GATEWAY, content_type="text/html")
    if kind == "503":
        return _error(503, "service unavailable (injected)")
    return None


def _apply(operation: _Operation, company: str, raw: bytes) -> web.Response:
    """Parse the body and run one operation on the store; the whole request or nothing."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "the body is not valid JSON")
    data = body.get("data") if type(body) is dict else None
    if type(data) is not dict:
        return _error(400, 'the body must be a JSON object with a "data" object')
    try:
        jobs = operation(company, data, b'"custom_' in raw)
    except RequestRefused as refusal:
        return _json({"status": refusal.status, "message": refusal.message})
    # Serialized at once: the store's dicts are never handed out.
    return _json({"status": 0, "jobs": jobs})


def _drop(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection without an answer.

    The returned response cannot be written any more; aiohttp takes that as a premature
    client disconnection and ends the connection quietly.
    """
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)


class FakeHellotracks:
    """An in-process fake Hellotracks server on ``127.0.0.1``, jobs kept in memory.

    ``api_keys`` maps each accepted ``API-Key`` to its company (default
    ``{"test-key": "acme"}``); each company has its own jobs. ``faults`` turns on fault
    injection (see :class:`Faults`); ``latency`` delays the handling of every
    ``createjobs`` / ``editjobs`` / ``getjobs`` request by that many seconds (for
    benchmarks). ``port=0`` picks a free port. Serves those three endpoints under
    :attr:`base_url`; anything else under ``/api/`` is a JSON 404.

    ``store_jobs=False`` keeps no job, for load tests and benchmarks: memory stays flat
    however many jobs are created. ``createjobs`` still validates each request and
    answers as it would have with no job stored (ids and numbers keep counting up), but
    :meth:`jobs` stays empty and ``editjobs`` / ``getjobs`` see no job (an edit of a
    created id is refused as unknown). Faults and latency work as usual.

    A request that arrived is applied even if the client leaves before the answer (as
    a real server would); :meth:`close` waits for such delayed requests.

    Inspect it from the test: :meth:`jobs`, :meth:`templates`, :attr:`requests` (per
    endpoint, counted on arrival), :attr:`injected` (per fault kind); :meth:`reset`.

    Example:

        >>> import asyncio
        >>> async def main():
        ...     async with FakeHellotracks(faults=Faults(rate=0.5, seed=1)) as fake:
        ...         return fake.base_url.startswith("http://127.0.0.1:"), fake.jobs()
        >>> asyncio.run(main())
        (True, [])

    Store-less, for a load test:

        >>> import aiohttp
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

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str] | None = None,
        faults: Faults | None = None,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        store_jobs: bool = True,
    ) -> None:
        self.api_keys: dict[str, str] = dict(DEFAULT_API_KEYS if api_keys is None else api_keys)
        if not self.api_keys:
            raise ValueError("api_keys must hold at least one key")
        if not latency >= 0.0:
            raise ValueError(f"latency must be >= 0, got {latency!r}")
        self.latency = latency
        self.host = host
        self.port = port
        #: Requests per endpoint name, counted on arrival (before the key check).
        self.requests: collections.Counter[str] = collections.Counter()
        #: Injected faults per kind.
        self.injected: collections.Counter[str] = collections.Counter()
        #: Whether created jobs are kept (see the class doc).
        self.store_jobs = store_jobs
        self._store = store = JobStore() if store_jobs else StorelessJobStore()
        self._operations: dict[str, _Operation] = {
            "createjobs": lambda company, data, custom: store.create(company, data, custom=custom),
            "editjobs": lambda company, data, custom: store.edit(company, data, custom=custom),
            "getjobs": lambda company, data, _: store.get(company, data),
        }
        self._faults = faults
        self._decider = self._new_decider()
        self._background: set[asyncio.Task[web.Response | None]] = set()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        #: The aiohttp application (one ``POST /api/{endpoint}`` route).
        self.app = web.Application(client_max_size=_MAX_BODY)
        self.app.router.add_post("/api/{endpoint}", self._handle)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening; :attr:`base_url` and :attr:`port` are then set.

        After :meth:`close` it may start again: same jobs, same port.

        Example::

            fake = FakeHellotracks()
            await fake.start()
            try:
                ...  # talk to fake.base_url
            finally:
                await fake.close()
        """
        if self._runner is not None:
            raise RuntimeError("FakeHellotracks is already running")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._base_url = f"http://{host}:{self.port}/api/"

    async def close(self) -> None:
        """Stop listening, then wait for delayed requests to be applied. Idempotent.

        Example::

            await fake.close()
        """
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.settle()

    async def settle(self) -> None:
        """Wait until every delayed request (latency, the "slow" fault) has been applied.

        A slow request is applied when its delay ends, even if the client gave up on it
        and its retry was answered long ago; a test that edits jobs after creating them
        under faults settles first, or a late create could overwrite an edit (a real
        server can do the same).

        Example::

            await fake.settle()
        """
        while self._background:
            await asyncio.wait(list(self._background))

    async def __aenter__(self) -> FakeHellotracks:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/`` (with the trailing slash) once started.

        Example::

            url = fake.base_url + "createjobs"
        """
        if self._base_url is None:
            raise RuntimeError("FakeHellotracks is not started")
        return self._base_url

    @property
    def api_key(self) -> str:
        """The first accepted API key (``"test-key"`` by default).

        Example:

            >>> FakeHellotracks().api_key
            'test-key'
        """
        return next(iter(self.api_keys))

    @property
    def faults(self) -> Faults | None:
        """The fault settings; assigning new ones restarts the seeded sequence.

        Example:

            >>> fake = FakeHellotracks()
            >>> fake.faults = Faults(rate=1.0, kinds=("503",))
            >>> fake.faults.kinds
            ('503',)
        """
        return self._faults

    @faults.setter
    def faults(self, faults: Faults | None) -> None:
        self._faults = faults
        self._decider = self._new_decider()

    def _new_decider(self) -> FaultDecider | None:
        faults = self._faults
        return faults.decider() if faults is not None and faults.rate > 0 else None

    # -- inspection ------------------------------------------------------------------

    def _company(self, company: str | None) -> str:
        return next(iter(self.api_keys.values())) if company is None else company

    def jobs(self, company: str | None = None) -> list[Wire]:
        """Copies of the stored jobs of ``company`` (default: the first key's), in
        creation order, as wire dicts.

        Example:

            >>> FakeHellotracks().jobs(company="acme")
            []
        """
        jobs = list(self._store.company(self._company(company)).jobs.values())
        copies: list[Wire] = orjson.loads(orjson.dumps(jobs))
        return copies

    def templates(self, company: str | None = None) -> list[Wire]:
        """Copies of the stored templates of ``company``; their ``id`` has no ``tpl-``.

        Example:

            >>> FakeHellotracks().templates()
            []
        """
        templates = list(self._store.company(self._company(company)).templates.values())
        copies: list[Wire] = orjson.loads(orjson.dumps(templates))
        return copies

    def reset(self) -> None:
        """Forget all jobs and templates, zero the counters, restart the fault sequence.

        Example:

            >>> fake = FakeHellotracks()
            >>> fake.requests["createjobs"] += 1
            >>> fake.reset()
            >>> fake.requests
            Counter()
        """
        self._store.reset()
        self.requests.clear()
        self.injected.clear()
        self._decider = self._new_decider()

    # -- serving ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        self.requests[endpoint] += 1
        key = request.headers.get("API-Key")
        company = self.api_keys.get(key) if key else None
        if company is None:
            return _error(401, "invalid API key")  # never echo the key
        operation = self._operations.get(endpoint)
        if operation is None:
            return _error(404, f"unknown endpoint: {endpoint[:100]}")
        raw = await request.read()
        kind = self._decider.draw() if self._decider is not None else None
        delay = self.latency
        if kind is not None:
            self.injected[kind] += 1
            if kind == "slow" and self._faults is not None:
                delay += self._faults.slow_seconds
        if delay > 0:
            response = await self._respond_later(delay, kind, operation, company, raw)
        else:
            response = self._respond(kind, operation, company, raw)
        return _drop(request) if response is None else response

    def _respond(
        self, kind: str | None, operation: _Operation, company: str, raw: bytes
    ) -> web.Response | None:
        """The answer to one request, ``None`` meaning "drop the connection"."""
        if kind is not None and self._faults is not None:
            answer = _fault_answer(kind, self._faults)
            if answer is not None or kind == "reset":
                return answer
        response = _apply(operation, company, raw)
        return None if kind == "commit_then_drop" else response

    async def _respond_later(
        self, delay: float, kind: str | None, operation: _Operation, company: str, raw: bytes
    ) -> web.Response | None:
        # The work runs in its own task, shielded: a request that arrived is applied even
        # if the client leaves (or the handler is cancelled) meanwhile. close() waits.
        task = asyncio.get_running_loop().create_task(
            self._sleep_then_respond(delay, kind, operation, company, raw)
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return await asyncio.shield(task)

    async def _sleep_then_respond(
        self, delay: float, kind: str | None, operation: _Operation, company: str, raw: bytes
    ) -> web.Response | None:
        await asyncio.sleep(delay)
        return self._respond(kind, operation, company, raw)


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    fault_rate: float = 0.0,
    seed: int | None = None,
    api_keys: Mapping[str, str] | None = None,
    store_jobs: bool = True,
) -> None:
    """Run a :class:`FakeHellotracks` until cancelled, printing where and with which key.

    ``fault_rate`` injects every kind of :data:`FAULT_KINDS` on that share of requests;
    ``store_jobs=False`` keeps no job (see :class:`FakeHellotracks`).

    Example (runs forever, so not executed here)::

        asyncio.run(serve(port=8080, fault_rate=0.1, seed=1))
    """
    faults = Faults(rate=fault_rate, seed=seed)
    async with FakeHellotracks(
        api_keys=api_keys, faults=faults, host=host, port=port, store_jobs=store_jobs
    ) as fake:
        print(f"FakeHellotracks listening on {fake.base_url}")
        for key, company in fake.api_keys.items():
            print(f"API key: {key}  (company {company!r})")
        print(f"  export HELLOTRACKS_BASE_URL={fake.base_url}")
        print(f"  export HELLOTRACKS_API_KEY={fake.api_key}")
        if fault_rate > 0:
            kinds = ", ".join(FAULT_KINDS)
            print(f"Injecting faults on {fault_rate:.0%} of requests ({kinds}), seed {seed}")
        if not store_jobs:
            print("Keeping no job: createjobs answers as usual, editjobs/getjobs see none.")
        print("Press Ctrl+C to stop.", flush=True)
        await asyncio.Event().wait()

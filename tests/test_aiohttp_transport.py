"""hellotracks_async.aiohttp_transport: single requests through aiohttp.

Against aioresponses: the request body and headers, and how aiohttp's errors and HTTP
answers map onto retried and fatal errors. Against real local aiohttp servers (127.0.0.1,
ephemeral ports): caller-owned sessions, redirects, event loops, cancellation, refused
connections.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aioresponses import aioresponses

from hellotracks_async import (
    APIError,
    AuthenticationError,
    BulkError,
    HellotracksClient,
    HellotracksError,
    Job,
    RateLimitError,
    RetryPolicy,
    TransportError,
)
from hellotracks_async.aiohttp_transport import AiohttpTransport, _abandon

from ._helpers import (
    CREATE,
    DOCS_CREATE,
    DOCS_EDIT,
    EDIT,
    KEY,
    aio_echo,
    aio_sent,
    local_server,
    quick_client,
    start_server,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Server:
    """A local server at ``host`` recording each request's headers."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.headers: list[dict[str, str]] = []
        self._handler = handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        await request.read()
        if self._handler is not None:
            return await self._handler(request)
        return web.json_response({"status": 0, "jobs": [{"id": "j1", "uidSecondary": "k1"}]})


async def _serve(server: _Server, host: str = "127.0.0.1") -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/api/{endpoint}", server.handle)
    return await start_server(app, host)


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[_Server, str]]:
    server = _Server()
    runner, url = await _serve(server)
    yield server, url
    await runner.cleanup()


async def test_a_caller_owned_session_sends_the_same_headers(
    recorder: tuple[_Server, str],
) -> None:
    server, url = recorder
    async with HellotracksClient(KEY, base_url=url) as client:
        await client.create_jobs([Job(uid_secondary="k1")])
    async with (
        aiohttp.ClientSession() as session,
        HellotracksClient(KEY, base_url=url, session=session) as client,
    ):
        await client.create_jobs([Job(uid_secondary="k1")])
        assert not session.closed  # used, never closed by the client
    own, callers = server.headers
    assert own["Content-Type"] == callers["Content-Type"] == "application/json"
    assert own["API-Key"] == callers["API-Key"] == KEY
    assert set(own) == set(callers)


async def test_a_redirect_to_another_host_is_not_followed() -> None:
    target = _Server()
    target_runner, target_url = await _serve(target, host="127.0.0.2")

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(target_url + "createjobs")

    origin = _Server(redirect)
    origin_runner, origin_url = await _serve(origin)
    try:
        async with HellotracksClient(KEY, base_url=origin_url) as client:
            with pytest.raises(BulkError) as caught:
                await client.create_jobs([Job(uid_secondary="k1")])
    finally:
        await origin_runner.cleanup()
        await target_runner.cleanup()
    assert target.headers == []  # nothing reached the other host
    (failure,) = caught.value.result.failures
    error = failure.exception
    assert isinstance(error, APIError)
    assert error.http_status == 307
    assert "redirect to 127.0.0.2 not followed" in str(error)
    assert KEY not in str(error)
    assert KEY not in repr(error)


class _ThreadedServer:
    """A recording server on its own event loop in a thread, for tests that run
    ``asyncio.run`` themselves."""

    def __init__(self) -> None:
        self.server = _Server()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(_serve(self.server), self.loop)
        self.runner, url = future.result(timeout=10)
        return url

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def test_one_client_in_two_event_loops_rebinds_its_session() -> None:
    with _ThreadedServer() as url, warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Unclosed connector" either
        client = HellotracksClient(KEY, base_url=url)

        async def create() -> int:
            result = await client.create_jobs([Job(uid_secondary="k1")])
            return result.succeeded

        assert asyncio.run(create()) == 1
        assert asyncio.run(create()) == 1  # a new loop, the old one closed
        asyncio.run(client.aclose())
        gc.collect()


def test_a_caller_session_from_another_loop_is_refused_clearly() -> None:
    with _ThreadedServer() as url:

        async def first() -> tuple[HellotracksClient, aiohttp.ClientSession]:
            # no pooled connection outlives this loop: only the session's binding does
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
            client = HellotracksClient(KEY, base_url=url, session=session)
            await client.create_jobs([Job(uid_secondary="k1")])
            return client, session

        client, session = asyncio.run(first())

        async def second() -> None:
            with pytest.raises(HellotracksError, match="another event loop"):
                await client.create_jobs([Job(uid_secondary="k1")], raise_on_error=False)

        try:
            asyncio.run(second())
        finally:  # the session's loop is gone: close it as the transport does its own
            _abandon(session)
            assert session.closed


# -- single requests against aioresponses: payloads, headers, error mapping --------------


async def test_create_payload_matches_docs_and_sends_key(mocked: aioresponses) -> None:
    mocked.post(CREATE, callback=aio_echo)
    job = DOCS_CREATE["data"]["jobs"][0]  # type: ignore[index]
    async with quick_client() as client:
        result = await client.create_jobs([job], idempotency=False)
    assert aio_sent(mocked, CREATE) == [DOCS_CREATE]
    (call,) = next(iter(mocked.requests.values()))
    assert call.kwargs["headers"]["API-Key"] == KEY
    assert call.kwargs["headers"]["Content-Type"] == "application/json"
    assert result.jobs[0].destination_name == "Job in San Francisco created via API"


async def test_caller_owned_session_gets_the_key_and_stays_open(mocked: aioresponses) -> None:
    seen: list[str] = []
    mocked.post(CREATE, callback=aio_echo)
    async with aiohttp.ClientSession() as session:
        async with quick_client(session=session) as client:
            await client.create_jobs([Job(destination_name="x")])
        (call,) = next(iter(mocked.requests.values()))
        seen.append(call.kwargs["headers"]["API-Key"])
        assert not session.closed  # a caller-owned session is never closed
    assert seen == [KEY]


async def test_edit_payload_matches_docs(mocked: aioresponses) -> None:
    mocked.post(EDIT, callback=aio_echo)
    ((job_id, fields),) = DOCS_EDIT["data"]["jobs"].items()  # type: ignore[attr-defined]
    async with quick_client() as client:
        result = await client.edit_jobs({job_id: fields}, notify=False)
    assert aio_sent(mocked, EDIT) == [DOCS_EDIT]
    assert result.jobs[0].id == job_id


TRANSIENT: list[dict[str, Any]] = [
    {"status": 500, "body": '{"status": 500}'},
    {"status": 502, "body": "<html><body>Bad Gateway</body></html>"},
    {"status": 503, "body": ""},
    {"status": 504, "body": "gateway timeout"},
    {"status": 429, "headers": {"Retry-After": "0"}, "body": ""},
    {"status": 200, "body": "<html>captive proxy</html>"},
    {"exception": aiohttp.ServerDisconnectedError()},
    {"exception": aiohttp.ClientOSError(104, "Connection reset by peer")},
    {"exception": asyncio.TimeoutError()},
    # a fault inside aiohttp itself, seen once under load: retried like a lost answer
    {"exception": AttributeError("'NoneType' object has no attribute 'getall'")},
]


def _failure_id(failure: dict[str, Any]) -> str:
    return str(failure.get("status", failure.get("exception")))


@pytest.mark.parametrize("failure", TRANSIENT, ids=_failure_id)
async def test_transient_failures_are_retried(
    mocked: aioresponses, failure: dict[str, Any]
) -> None:
    mocked.post(CREATE, **failure)
    mocked.post(CREATE, callback=aio_echo)
    async with quick_client() as client:
        result = await client.create_jobs([Job(destination_name="a")])
    assert (result.ok, result.requests, result.retries) == (True, 2, 1)
    first, second = aio_sent(mocked, CREATE)
    assert first == second  # the retry resends the same keyed jobs: an upsert, not a copy


@pytest.mark.parametrize(
    ("failure", "error", "http_status", "api_status"),
    [
        ({"status": 400, "body": '{"status": 3}'}, APIError, 400, 3),
        ({"status": 401, "body": '{"status": 401}'}, AuthenticationError, 401, None),
        ({"status": 403, "body": ""}, AuthenticationError, 403, None),
        ({"status": 404, "body": "nope"}, APIError, 404, None),
        ({"status": 200, "body": '{"status": 2, "message": "unknown"}'}, APIError, 200, 2),
    ],
)
async def test_fatal_failures_are_not_retried(
    mocked: aioresponses,
    failure: dict[str, Any],
    error: type[APIError],
    http_status: int,
    api_status: int | None,
) -> None:
    mocked.post(CREATE, **failure)
    jobs = [Job(destination_name="a")]
    async with quick_client() as client:
        with pytest.raises(BulkError) as caught:
            await client.create_jobs(jobs)
    result = caught.value.result
    assert (result.requests, result.retries, result.succeeded, result.failed) == (1, 0, 0, 1)
    (batch_failure,) = result.failures
    assert type(batch_failure.exception) is error
    assert batch_failure.exception.http_status == http_status
    assert batch_failure.exception.api_status == api_status
    assert batch_failure.inputs == tuple(jobs)
    assert batch_failure.indices == (0,)


async def test_a_connect_timeout_is_surely_unsent_and_retried_without_keys(
    mocked: aioresponses,
) -> None:
    mocked.post(CREATE, exception=aiohttp.ConnectionTimeoutError())
    mocked.post(CREATE, callback=aio_echo)
    async with quick_client() as client:
        result = await client.create_jobs([{"destinationName": "a"}], idempotency=False)
    assert (result.ok, result.retries) == (True, 1)


async def test_lower_case_header_names_reach_the_client(mocked: aioresponses) -> None:
    # aiohttp's headers are case-insensitive; they used to be copied into a plain dict.
    mocked.post(CREATE, status=429, headers={"retry-after": "3600"})
    async with quick_client(max_retry_after=60) as client:
        result = await client.create_jobs([Job(destination_name="a")], raise_on_error=False)
    (failure,) = result.failures
    assert isinstance(failure.exception, RateLimitError)
    assert failure.exception.retry_after == 3600.0


async def test_a_fault_inside_aiohttp_is_a_transport_error_without_key_or_chain(
    mocked: aioresponses,
) -> None:
    mocked.post(CREATE, exception=RuntimeError(f"broken state near API-Key: {KEY}"))
    transport = AiohttpTransport(CREATE.removesuffix("createjobs"), KEY)
    with pytest.raises(TransportError) as caught:
        await transport.post("createjobs", b"{}", timeout=5)
    await transport.aclose()
    error = caught.value
    assert error.maybe_sent  # it may have reached the server: only keyed jobs are resent
    assert str(error) == "unexpected RuntimeError in aiohttp: broken state near API-Key: ***"
    assert error.__context__ is None
    assert error.__cause__ is None


# -- against a local aiohttp server: cancellation, refused connections -------------------


class _EchoServer:
    """Answers createjobs with every job back plus an id; can be made to hang."""

    def __init__(self) -> None:
        self.requests = 0
        self.hang = asyncio.Event()
        self.release = asyncio.Event()
        self.in_handler = 0
        self.window_full = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.in_handler += 1
        if self.in_handler == 4:
            self.window_full.set()
        try:
            if self.hang.is_set():
                await self.release.wait()
            data = orjson.loads(await request.read())["data"]
            jobs = [{**job, "id": f"j{job['uidSecondary']}"} for job in data["jobs"]]
            return web.Response(body=orjson.dumps({"status": 0, "jobs": jobs}))
        finally:
            self.in_handler -= 1


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[_EchoServer, str]]:
    server = _EchoServer()
    app = web.Application()
    app.router.add_post("/api/createjobs", server.handle)
    async with local_server(app) as url:
        yield server, url
        server.release.set()


def _jobs(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"destinationName": f"job {i}", "destinationLat": 37.7, "day": 20261123}


async def test_cancelling_create_jobs_leaves_nothing_running(
    echo_server: tuple[_EchoServer, str],
) -> None:
    server, base_url = echo_server
    server.hang.set()
    before = asyncio.all_tasks()
    client = HellotracksClient("k", base_url=base_url, batch_size=10, max_concurrency=4)
    async with client:
        run = asyncio.create_task(client.create_jobs(_jobs(1_000)))
        await asyncio.wait_for(server.window_full.wait(), 10)  # 4 requests, all hanging
        assert server.requests == 4
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        session = client._transport._session  # type: ignore[attr-defined]
        assert session is not None
    assert session.closed
    leftover = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()}
    client_tasks = [t for t in leftover if "BatchSender.send" in repr(t.get_coro())]
    assert client_tasks == []


async def test_refused_connection_is_a_transport_error_and_surely_unsent() -> None:
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with HellotracksClient(
        "k", base_url=f"http://127.0.0.1:{port}/api/", retry=RetryPolicy(max_retries=2, backoff=0)
    ) as client:
        with pytest.raises(BulkError) as caught:
            await client.create_jobs(_jobs(3), idempotency=False)
    result = caught.value.result
    exc = result.failures[0].exception
    assert isinstance(exc, TransportError)
    assert exc.maybe_sent is False
    assert result.requests == 3  # retried even without idempotency: it never arrived

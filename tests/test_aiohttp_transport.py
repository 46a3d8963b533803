"""The aiohttp transport against real local aiohttp servers: headers, redirects, loops."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from hellotracks_async import APIError, BulkError, HellotracksClient, HellotracksError, Job

KEY = "sk-live-SECRET-4f9a"
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
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://{host}:{port}/api/"


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
        finally:  # the session's loop is gone: mark it closed, as its owner would have
            connector = session.connector
            session.detach()
            assert connector is not None
            connector._close()

"""The API key never leaves: not in errors, their chains, logs, or requests elsewhere.

Cross-cutting (client, sender, aiohttp transport and error mapping all take part), so
these live together here rather than spread over the modules' files.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import date

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses

from hellotracks_async import BulkError, HellotracksClient, Job, RetryPolicy, ServerError

from ._helpers import CREATE, KEY, local_server, quick_client


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


async def _echo_key_badly(request: web.Request) -> web.Response:
    """A success answer whose ``jobs`` is no list, echoing the request headers."""
    return web.json_response({"status": 0, "jobs": "none", "headers": dict(request.headers)})


@pytest.fixture
async def echoing_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/api/{endpoint}", _echo_key_badly)
    async with local_server(app) as url:
        yield url


async def test_an_echoed_key_in_a_malformed_answer_never_shows(
    echoing_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with HellotracksClient(KEY, base_url=echoing_server) as client:
        with pytest.raises(BulkError) as caught:
            await client.create_jobs([Job(destination_name="a")])
    failure = caught.value.result.failures[0]
    for exc in [*_chain(caught.value), *_chain(failure.exception)]:
        assert KEY not in str(exc)
        assert KEY not in repr(exc)
    assert "***" in str(failure.exception)  # the excerpt is there, redacted
    assert all(KEY not in record.getMessage() for record in caplog.records)
    assert KEY not in caplog.text


async def test_transport_errors_carry_no_aiohttp_exception() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    retry = RetryPolicy(max_retries=0)
    async with HellotracksClient(KEY, base_url=f"http://127.0.0.1:{port}/api/", retry=retry) as c:
        result = await c.create_jobs([Job(destination_name="a")], raise_on_error=False)
    error = result.failures[0].exception
    assert error.__cause__ is None
    assert error.__context__ is None
    assert KEY not in repr(error)


async def test_key_never_in_logs_or_errors(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.post(CREATE, status=401, body=f'{{"status": 401, "echoed API-Key": "{KEY}"}}')
    mocked.post(CREATE, exception=aiohttp.ServerDisconnectedError())
    mocked.post(CREATE, status=502, body="<html>bad gateway</html>")
    mocked.post(CREATE, exception=asyncio.TimeoutError())
    mocked.post(CREATE, status=429, headers={"Retry-After": "9999"})
    texts: list[str] = []
    async with quick_client(batch_size=1, max_concurrency=1, max_retries=1) as client:
        texts += [repr(client), str(client), repr(vars(client))]
        try:
            await client.create_jobs([Job(destination_name=str(i)) for i in range(3)])
        except BulkError as exc:
            texts += [str(exc), repr(exc), repr(exc.result)]
            for failure in exc.result.failures:
                texts += [str(failure.exception), repr(failure.exception), repr(failure)]
                cause = failure.exception.__cause__ or failure.exception.__context__
                texts.append(repr(cause))
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    assert len(caplog.records) >= 3
    assert all(KEY not in text for text in texts)


async def _echo_key_as_an_error(request: web.Request) -> web.Response:
    """A 500 whose body echoes the request headers, the key among them."""
    return web.json_response({"status": 1, "headers": dict(request.headers)}, status=500)


async def test_an_echoed_key_never_shows_on_reads_and_deletes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = web.Application()
    app.router.add_post("/api/{endpoint}", _echo_key_as_an_error)
    retry = RetryPolicy(max_retries=1, backoff=0)
    texts: list[str] = []
    async with local_server(app) as url, HellotracksClient(KEY, base_url=url, retry=retry) as c:
        for call in (c.get_jobs, c.delete_jobs):
            result = await call(["a", "b"], raise_on_error=False)
            texts += [repr(result), *(str(f.exception) for f in result.failures)]
        with pytest.raises(ServerError) as caught:
            await c.find_jobs(day=date(2026, 11, 23))
        texts += [*(repr(exc) for exc in _chain(caught.value)), str(caught.value)]
    assert "***" in str(caught.value)  # the excerpt is there, redacted
    texts += [record.getMessage() for record in caplog.records] + [caplog.text]
    assert all(KEY not in text for text in texts)

"""The client against a tiny local aiohttp handler: memory, cancellation, refused connections.

The handler stores nothing, so tracemalloc sees only the client's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from hellotracks_async import BulkError, HellotracksClient, RetryPolicy, TransportError


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
async def echo() -> AsyncIterator[tuple[_EchoServer, str]]:
    server = _EchoServer()
    app = web.Application()
    app.router.add_post("/api/createjobs", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}/api/"
    server.release.set()
    await runner.cleanup()


def _jobs(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"destinationName": f"job {i}", "destinationLat": 37.7, "day": 20261123}


async def _peak_streaming(base_url: str, count: int) -> tuple[int, int]:
    """Stream ``count`` generated jobs; return (traced peak bytes, jobs seen)."""
    seen = 0
    gc.collect()
    tracemalloc.start()
    try:
        client = HellotracksClient("k", base_url=base_url, batch_size=500)
        async with client, contextlib.aclosing(client.stream_create_jobs(_jobs(count))) as stream:
            async for outcome in stream:
                assert outcome.ok
                seen += len(outcome.jobs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, seen


@pytest.fixture
def echo_process() -> Iterator[str]:
    """The echo server in a process of its own, so tracemalloc sees only the client."""
    script = Path(__file__).with_name("_echo_server.py")
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        try:
            yield f"http://127.0.0.1:{port}/api/"
        finally:
            process.kill()


async def test_streaming_memory_does_not_grow_with_input(echo_process: str) -> None:
    base_url = echo_process
    await _peak_streaming(base_url, 2_000)  # warm caches and imports
    small_peak, small_seen = await _peak_streaming(base_url, 20_000)
    large_peak, large_seen = await _peak_streaming(base_url, 200_000)
    assert (small_seen, large_seen) == (20_000, 200_000)
    # 10x the input; the window (4 batches of 500) bounds memory, not the input size.
    assert large_peak < small_peak * 1.5 + 256 * 1024, (small_peak, large_peak)
    assert large_peak < 32 * 1024 * 1024


async def test_cancelling_create_jobs_leaves_nothing_running(
    echo: tuple[_EchoServer, str],
) -> None:
    server, base_url = echo
    server.hang.set()
    before = asyncio.all_tasks()
    async with HellotracksClient("k", base_url=base_url, batch_size=10) as client:
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

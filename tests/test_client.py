"""hellotracks_async.client: the facade's settings, lifecycle and streaming.

Settings: the API key and base URL (arguments, environment, https only off localhost).
Lifecycle: a closed client refuses. Streaming: ``stream_create_jobs`` holds a window, not
the input, in memory (against the echo server of tests/_echo_server.py, run in its own
process so that tracemalloc sees only the client).
"""

from __future__ import annotations

import contextlib
import gc
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hellotracks_async import (
    ConfigurationError,
    HellotracksClient,
    HellotracksError,
    MockTransport,
    RetryPolicy,
)

from ._helpers import KEY, Upserting, mock_client, numbered_jobs

# -- settings -----------------------------------------------------------------------------


def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELLOTRACKS_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="no API key"):
        HellotracksClient()


def test_key_and_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELLOTRACKS_API_KEY", KEY)
    monkeypatch.setenv("HELLOTRACKS_BASE_URL", "http://localhost:9999/api")
    client = HellotracksClient()
    assert client.base_url == "http://localhost:9999/api/"
    assert KEY not in repr(client)
    assert HellotracksClient(KEY, base_url=None).base_url == "http://localhost:9999/api/"
    assert HellotracksClient(KEY, base_url="https://x.test/v2").base_url == "https://x.test/v2/"
    monkeypatch.delenv("HELLOTRACKS_BASE_URL")
    assert HellotracksClient(KEY).base_url == "https://api.hellotracks.com/api/"


@pytest.mark.parametrize(
    "url", ["http://api.hellotracks.com/api/", "ftp://127.0.0.1/", "http://10.0.0.8/api/"]
)
def test_plain_http_only_to_localhost(url: str) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        HellotracksClient(KEY, base_url=url)
    HellotracksClient(KEY, base_url="http://127.0.0.1:8080/api/")
    HellotracksClient(KEY, base_url="http://[::1]:8080/api/")


# -- lifecycle ----------------------------------------------------------------------------


async def test_a_closed_client_refuses_at_once() -> None:
    client = mock_client(MockTransport(Upserting()))
    await client.aclose()
    with pytest.raises(HellotracksError, match="closed"):
        await client.create_jobs(numbered_jobs(10))


# -- streaming ----------------------------------------------------------------------------


def _jobs(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"destinationName": f"job {i}", "destinationLat": 37.7, "day": 20261123}


async def _peak_streaming(base_url: str, count: int) -> tuple[int, int]:
    """Stream ``count`` generated jobs; return (traced peak bytes, jobs seen)."""
    seen = 0
    gc.collect()
    tracemalloc.start()
    try:
        # a ceiling of 4: the adaptive limit would grow with a longer run on a fast server
        client = HellotracksClient("k", base_url=base_url, batch_size=500, max_concurrency=4)
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


@pytest.mark.slow
async def test_streaming_memory_does_not_grow_with_input(echo_process: str) -> None:
    base_url = echo_process
    await _peak_streaming(base_url, 2_000)  # warm caches and imports
    # 5k and 50k inputs (2.5 and 25 windows): the same 10x as the 20k and 200k this test
    # once streamed, at a quarter of the time (it was the slowest test of the suite).
    small_peak, small_seen = await _peak_streaming(base_url, 5_000)
    large_peak, large_seen = await _peak_streaming(base_url, 50_000)
    assert (small_seen, large_seen) == (5_000, 50_000)
    # 10x the input; the window (4 batches of 500) bounds memory, not the input size.
    assert large_peak < small_peak * 1.5 + 256 * 1024, (small_peak, large_peak)
    assert large_peak < 32 * 1024 * 1024


async def test_a_bad_deadline_is_refused_naming_it() -> None:
    async with mock_client(MockTransport(Upserting())) as client:
        with pytest.raises(ConfigurationError, match="deadline must be a positive number"):
            await client.create_jobs(numbered_jobs(1), deadline=-1)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a whole number of at least 1"),
        ({"max_concurrency": True}, "max_concurrency must be a whole number"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"max_rate": -2}, "max_rate must be a positive number"),
        ({"unreachable_after": -1}, "unreachable_after must be a whole number of at least 0"),
        ({"max_retries": 3, "retry": RetryPolicy()}, "not both"),
    ],
)
def test_a_bad_client_setting_names_the_argument(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        HellotracksClient(KEY, **settings)


async def test_a_session_with_a_transport_is_refused_not_dropped() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigurationError, match="session= or transport="):
            HellotracksClient(KEY, session=session, transport=MockTransport(Upserting()))

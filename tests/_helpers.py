"""Helpers shared by several test files (fixtures are in conftest.py).

- ``DOCS``, ``DOCS_CREATE``, ``DOCS_EDIT``, :func:`docs_request`: the API docs' request
  examples;
- ``KEY``: a secret-looking API key that must never show anywhere;
- :class:`Upserting`: a :class:`~hellotracks_async.MockTransport` handler that keeps jobs
  by ``uidSecondary``, as the API does;
- :func:`mock_client`, :func:`numbered_jobs`: a client over a MockTransport, and numbered jobs;
- :func:`until`: let the event loop run until a condition holds (no timing);
- ``FAKE_KEY``, :func:`fake_call`, :func:`fake_create`, :func:`fake_edit`,
  :func:`storeless_requests`, :func:`without_clock`: plain HTTP to a FakeHellotracks;
- :func:`start_server`, :func:`local_server`: a real aiohttp server on 127.0.0.1 at an
  ephemeral port.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aioresponses import CallbackResult, aioresponses

from hellotracks_async import (
    HellotracksClient,
    Job,
    MockTransport,
    Request,
    Response,
    RetryPolicy,
    Transport,
    TransportError,
)
from hellotracks_async.testing import FakeHellotracks, serve

DOCS = Path(__file__).parents[2] / "shared" / "api-docs"
KEY = "sk-live-SECRET-4f9a"

#: Where aioresponses answers the aiohttp transport (see the ``mocked`` fixture).
BASE = "https://api.example.test/api/"
CREATE = BASE + "createjobs"
EDIT = BASE + "editjobs"


def docs_request(name: str) -> dict[str, Any]:
    """The request example of ``api-docs/<name>``, parsed."""
    text = (DOCS / name).read_text()
    start = text.index('{\n"data"') if name == "editjobs.txt" else text.index('{\n    "data"')
    body, _ = json.JSONDecoder().raw_decode(text, start)
    return body  # type: ignore[no-any-return]


DOCS_CREATE = {
    "data": {
        "jobs": [
            {
                "destinationLat": 37.7749,
                "destinationLng": -122.4194,
                "destinationName": "Job in San Francisco created via API",
                "worker": "username@company.com",
                "day": 20231110,
            }
        ]
    }
}
DOCS_EDIT = {
    "data": {
        "jobs": {
            "65e6d8f2abc1234567890001": {
                "customFields": [
                    {"key": "PO_Number", "val": "PO-2026-1234"},
                    {"key": "Department", "val": "Facilities"},
                ]
            }
        },
        "notify": False,
    }
}


class Upserting:
    """A MockTransport handler that keeps jobs by uidSecondary, as the API does."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)

    def __call__(self, request: Request) -> Response:
        answered = []
        for job in request.json()["data"]["jobs"]:
            key = job["uidSecondary"]
            stored = self.jobs.setdefault(key, {"id": f"j{next(self.ids)}"})
            stored.update(job)
            answered.append(stored)
        return Response(200, {}, orjson.dumps({"status": 0, "jobs": answered}))


def echo(request: Request) -> Response:
    """Answer like the API: every sent job back (in reverse order), with an id; edits by id."""
    data = request.json()["data"]
    if isinstance(data["jobs"], dict):
        answered = [{"id": job_id, **fields} for job_id, fields in data["jobs"].items()]
    else:
        answered = [{"id": f"id-{job.get('uidSecondary')}", **job} for job in data["jobs"]]
    return Response(200, {}, orjson.dumps({"status": 0, "jobs": answered[::-1]}))


Answer = Response | TransportError | Callable[[Request], Response]


class Scripted:
    """A MockTransport handler that gives ``answers`` in turn, then ``then`` for the rest.

    An answer is a :class:`Response`, a :class:`TransportError` to raise (a lost
    connection), or a handler to call.
    """

    def __init__(self, *answers: Answer, then: Answer | None = echo) -> None:
        self.answers = list(answers)
        self.then = then

    def __call__(self, request: Request) -> Response:
        if self.answers:
            answer = self.answers.pop(0)
        else:
            assert self.then is not None, "more requests than scripted answers"
            answer = self.then
        if isinstance(answer, TransportError):
            raise answer
        return answer if isinstance(answer, Response) else answer(request)


def aio_echo(url: Any, **kwargs: Any) -> CallbackResult:
    """:func:`echo` as an aioresponses callback."""
    answer = echo(Request("", kwargs["data"]))
    return CallbackResult(status=answer.status, body=answer.body.decode())


def aio_sent(mocked: aioresponses, url: str) -> list[dict[str, Any]]:
    """The decoded bodies aioresponses received for ``url``, in order."""
    found = [c for (_, u), calls in mocked.requests.items() if str(u) == url for c in calls]
    return [json.loads(call.kwargs["data"]) for call in found]


def sent(transport: MockTransport, endpoint: str = "createjobs") -> list[dict[str, Any]]:
    """The decoded bodies ``transport`` received for ``endpoint``, in order."""
    return [request.json() for request in transport.requests if request.endpoint == endpoint]


def mock_client(transport: MockTransport, **kwargs: Any) -> HellotracksClient:
    """A client over ``transport`` with batches of 10 (unless ``batch_size`` is given)."""
    kwargs.setdefault("batch_size", 10)
    return HellotracksClient("key", transport=transport, **kwargs)


_RETRY_FIELDS = ("max_retries", "deadline", "backoff", "max_backoff", "max_retry_after")


def quick_client(transport: Transport | None = None, **kwargs: Any) -> HellotracksClient:
    """A client with key ``KEY`` and no backoff; retry settings go into its RetryPolicy.

    Over ``transport`` if given, else over aiohttp to ``BASE`` (for aioresponses).
    """
    retry: dict[str, Any] = {"backoff": 0.0, "max_backoff": 0.0}
    retry |= {name: kwargs.pop(name) for name in _RETRY_FIELDS if name in kwargs}
    if transport is None:
        kwargs["base_url"] = BASE
    else:
        kwargs["transport"] = transport
    return HellotracksClient(KEY, retry=RetryPolicy(**retry), **kwargs)


def numbered_jobs(count: int) -> list[Job]:
    """``count`` minimal jobs named ``Stop 0``, ``Stop 1``, ..."""
    return [Job(destination_name=f"Stop {i}") for i in range(count)]


async def start_server(app: web.Application, host: str = "127.0.0.1") -> tuple[web.AppRunner, str]:
    """Serve ``app`` on ``host`` at an ephemeral port: its runner and ``/api/`` base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://{host}:{port}/api/"


@contextlib.asynccontextmanager
async def local_server(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` on ``host`` at an ephemeral port; yield its ``/api/`` base URL."""
    runner, url = await start_server(app, host)
    try:
        yield url
    finally:
        await runner.cleanup()


async def until(condition: Any) -> None:
    """Let the loop run until ``condition()`` holds (no timing involved)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


# -- the fake server over plain HTTP (test_fake_*.py) -----------------------------------

#: The key FakeHellotracks accepts by default.
FAKE_KEY = "test-key"


async def fake_call(
    session: aiohttp.ClientSession,
    fake: FakeHellotracks,
    endpoint: str,
    data: Any,
    *,
    key: str | None = FAKE_KEY,
) -> tuple[int, Any]:
    """POST ``{"data": data}`` and return (HTTP status, decoded JSON body)."""
    headers = {} if key is None else {"API-Key": key}
    async with session.post(
        fake.base_url + endpoint, json={"data": data, "ver": 2}, headers=headers
    ) as response:
        return response.status, await response.json(content_type=None)


async def fake_create(
    session: aiohttp.ClientSession, fake: FakeHellotracks, *jobs: dict[str, Any], **extra: Any
) -> list[dict[str, Any]]:
    status, body = await fake_call(session, fake, "createjobs", {"jobs": list(jobs), **extra})
    assert (status, body["status"]) == (200, 0), body
    created: list[dict[str, Any]] = body["jobs"]
    return created


async def fake_edit(
    session: aiohttp.ClientSession, fake: FakeHellotracks, updates: dict[str, Any], **extra: Any
) -> list[dict[str, Any]]:
    status, body = await fake_call(session, fake, "editjobs", {"jobs": updates, **extra})
    assert (status, body["status"]) == (200, 0), body
    edited: list[dict[str, Any]] = body["jobs"]
    return edited


# The server sets these to the time of the request, so two servers' answers differ there.
_CLOCK_FIELDS = ("tsCreated", "tsSaved", "tsAssigned")


def storeless_requests(seed_job: dict[str, Any]) -> list[dict[str, Any]]:
    """A few createjobs requests that use every feature of the create path."""
    full = {key: value for key, value in seed_job.items() if key != "id"}
    return [
        {
            "jobs": [
                {
                    "destinationName": "HQ",
                    "destinationLat": 37.77,
                    "day": 20261123,
                    "worker": "jane@acme.com",
                },
                full,
                {},
            ]
        },
        {
            "jobs": [{"receiverUid": ""}, {"custom_PO": "7", "customFields": None}],
            "autoassign": True,
        },
        {
            "jobs": [
                {"uidSecondary": "A", "priority": 1},
                {"uidSecondary": "A", "priority": 2},
                {"uidSecondary": "B"},
            ]
        },
        {"jobs": [{"destinationName": "Tpl", "windowStart": 800}], "isTemplate": True},
    ]


def without_clock(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in job.items() if k not in _CLOCK_FIELDS} for job in jobs]


async def serve_until_banner(capsys: Any, **settings: Any) -> tuple[asyncio.Task[None], str]:
    """Start ``testing.serve(port=0, **settings)`` in a task; return it and what it
    printed up to its "Press Ctrl+C" line. No assertion depends on how long that takes."""
    task = asyncio.create_task(serve(port=0, **settings))
    printed = ""
    for _ in range(500):
        await asyncio.sleep(0.01)
        printed += capsys.readouterr().out
        if "Press Ctrl+C" in printed:
            break
    return task, printed

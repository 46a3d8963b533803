"""Shared fixtures (helpers are in _helpers.py and _cli.py; tests/README.md maps the files).

The API docs' example answer, aioresponses for the aiohttp transport, a FakeHellotracks and
a bare session for the fake-server tests, logging restored after every test, and one
hypothesis profile.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import aiohttp
import aioresponses
import aioresponses.core
import pytest
from aiohttp import ClientResponse
from hypothesis import settings

from hellotracks_async.testing import FakeHellotracks

DATA = Path(__file__).parent / "data"

# Property tests draw the same examples on every run and in every xdist worker, and
# keep no example database in the checkout; HYPOTHESIS_PROFILE=default explores afresh.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """main() configures logging for the process; later tests must not inherit it."""
    root, package = logging.getLogger(), logging.getLogger("hellotracks_async")
    handlers, level = list(root.handlers), package.level
    yield
    root.handlers[:] = handlers
    package.setLevel(level)


@pytest.fixture
def mocked() -> Iterator[aioresponses.aioresponses]:
    """aioresponses in place of the network, for single requests of the aiohttp transport."""
    with aioresponses.aioresponses() as m:
        yield m


@pytest.fixture
def seed_response() -> dict[str, Any]:
    """The response example of api-docs/createjobs.txt, verbatim."""
    return json.loads((DATA / "createjobs_response.json").read_text())


@pytest.fixture
def seed_job(seed_response: dict[str, Any]) -> dict[str, Any]:
    job: dict[str, Any] = seed_response["jobs"][0]
    return job


class _ClientResponseWithWriter(ClientResponse):
    """aioresponses 0.7.9 builds ClientResponse without the ``stream_writer`` that
    aiohttp 3.14 requires (pnuckowski/aioresponses#289, fix pending in #288); supply the
    one attribute aiohttp reads from it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", Mock(output_size=0))
        super().__init__(*args, **kwargs)


@pytest.fixture(autouse=True)
def _aioresponses_on_aiohttp_314(monkeypatch: pytest.MonkeyPatch) -> None:
    if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
        monkeypatch.setattr(aioresponses.core, "ClientResponse", _ClientResponseWithWriter)


# -- the fake server and a bare aiohttp session (test_fake_*.py) ----------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeHellotracks]:
    async with FakeHellotracks() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session

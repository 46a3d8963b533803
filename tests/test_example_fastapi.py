"""examples/fastapi_app.py driven in-process (httpx ASGITransport, the app's lifespan
run by hand) against a FakeHellotracks in the same event loop."""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from hellotracks_async.testing import FakeHellotracks

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module("fastapi_app")


@pytest.fixture
async def http(
    example: ModuleType, fake_hellotracks: FakeHellotracks, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("HELLOTRACKS_API_KEY", fake_hellotracks.api_key)
    monkeypatch.setenv("HELLOTRACKS_BASE_URL", fake_hellotracks.base_url)
    app = example.app
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            yield client


async def _finished(http: httpx.AsyncClient, import_id: str) -> dict[str, Any]:
    for _ in range(1000):  # the background task may still be running: poll, no timing
        response = await http.get(f"/imports/{import_id}")
        assert response.status_code == 200
        status: dict[str, Any] = response.json()
        if status["state"] in ("done", "failed"):
            return status
        await asyncio.sleep(0.01)
    raise AssertionError("the import never finished")


async def test_posted_jobs_land_on_the_server(
    http: httpx.AsyncClient, fake_hellotracks: FakeHellotracks
) -> None:
    jobs = [{"destinationName": f"Stop {i}", "day": 20261123} for i in range(250)]

    response = await http.post("/imports", json=jobs)

    assert response.status_code == 202
    accepted = response.json()
    assert accepted["total"] == 250
    assert accepted["state"] in ("queued", "running", "done")
    status = await _finished(http, accepted["id"])
    assert status["state"] == "done"
    assert (status["succeeded"], status["failed"], status["requests"]) == (250, 0, 3)
    stored = {job["id"]: job for job in fake_hellotracks.jobs()}
    assert sorted(stored) == sorted(status["job_ids"])
    names = sorted(str(job["destinationName"]) for job in jobs)
    assert sorted(job["destinationName"] for job in stored.values()) == names


async def test_invalid_jobs_are_refused_before_anything_is_sent(
    http: httpx.AsyncClient, fake_hellotracks: FakeHellotracks
) -> None:
    response = await http.post("/imports", json=[{"destinationName": "A"}, {"priority": 11}])

    assert response.status_code == 422
    assert response.json()["detail"] == "job #1: priority=11 must be within [0, 10]"
    assert sum(fake_hellotracks.requests.values()) == 0


async def test_failures_are_reported(
    http: httpx.AsyncClient, fake_hellotracks: FakeHellotracks
) -> None:
    fake_hellotracks.api_keys.clear()
    fake_hellotracks.api_keys["another-key"] = "acme"  # the app's key is refused now

    accepted = (await http.post("/imports", json=[{"destinationName": "A"}])).json()

    status = await _finished(http, accepted["id"])
    assert status["state"] == "done"
    assert (status["succeeded"], status["failed"]) == (0, 1)
    assert status["failures"][0]["indices"] == [0]
    assert status["failures"][0]["error"].startswith("AuthenticationError")


async def test_unknown_import_is_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/imports/nope")).status_code == 404


def test_the_examples_extra_installs_what_the_run_command_needs(example: ModuleType) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((EXAMPLES.parent / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["examples"]
    assert {re.split(r"[<>=\[ ]", spec)[0] for spec in extra} >= {"fastapi", "uvicorn"}
    doc = example.__doc__ or ""
    assert "pip install 'hellotracks-async[examples]'" in doc
    assert "uvicorn fastapi_app:app" in doc

"""Shared fixtures: the API docs' example answer, loaded once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def seed_response() -> dict[str, Any]:
    """The response example of api-docs/createjobs.txt, verbatim."""
    return json.loads((DATA / "createjobs_response.json").read_text())


@pytest.fixture
def seed_job(seed_response: dict[str, Any]) -> dict[str, Any]:
    job: dict[str, Any] = seed_response["jobs"][0]
    return job

"""The two job shapes every benchmark uses, as :class:`Job` objects and as wire dicts.

- ``minimal``: name, lat/lng, day and worker: what most imports send.
- ``full``: every field of the response example of the ``createjobs`` API page
  (``tests/data/createjobs_response.json``), without ``id`` (never sent on a create),
  with a distinct ``uidSecondary`` per job (one shared key would upsert one job) and,
  so that no cache flatters the SDK, a distinct name, ``day`` (over a year) and set of
  job-specific timestamps (a minute apart) per job.

Example::

    >>> sorted(wire_job("minimal", 7))
    ['day', 'destinationLat', 'destinationLng', 'destinationName', 'worker']
    >>> wire_job("full", 7)["uidSecondary"], "id" in wire_job("full", 7)
    ('EXT-7', False)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from hellotracks_async import Job
from hellotracks_async.converter import converter

__all__ = ["SHAPES", "Shape", "job", "jobs", "response_example", "wire_job"]

Shape = Literal["minimal", "full"]
SHAPES: Final[tuple[Shape, ...]] = ("minimal", "full")

_EXAMPLE: Final = Path(__file__).parents[1] / "tests" / "data" / "createjobs_response.json"
_DAY: Final = date(2026, 11, 23)
_DAYS: Final = tuple(
    int((date(2026, 1, 1) + timedelta(days=offset)).strftime("%Y%m%d")) for offset in range(365)
)
#: The timestamps that differ from job to job (the server sets tsCreated and tsSaved).
_PER_JOB_TIMESTAMPS: Final = (
    "tsAssigned",
    "tsAccepted",
    "tsScheduled",
    "tsCheckIn",
    "tsCheckOut",
    "tsDoneSuccess",
    "scheduledStart",
    "scheduledEnd",
    "tsSignature",
)


@cache
def response_example() -> dict[str, Any]:
    """The one job of the API docs' ``createjobs`` response example (a wire dict)."""
    answer: dict[str, Any] = json.loads(_EXAMPLE.read_text())
    example: dict[str, Any] = answer["jobs"][0]
    return example


def wire_job(shape: Shape, index: int) -> dict[str, Any]:
    """Job number ``index`` of ``shape`` as a wire-format dict (a fresh one each call)."""
    if shape == "minimal":
        return {
            "destinationName": f"Job {index}",
            "destinationLat": 37.7749 + (index % 1000) * 1e-4,
            "destinationLng": -122.4194,
            "day": 20261123,
            "worker": "worker@company.com",
        }
    wire = {key: value for key, value in response_example().items() if key != "id"}
    wire["uidSecondary"] = f"EXT-{index}"
    wire["destinationName"] = f"Acme Corp - Site {index}"
    wire["day"] = _DAYS[index % len(_DAYS)]
    for key in _PER_JOB_TIMESTAMPS:
        wire[key] += index * 60_000
    return wire


def job(shape: Shape, index: int) -> Job:
    """Job number ``index`` of ``shape`` as a :class:`Job`.

    Example::

        >>> job("minimal", 3).day
        datetime.date(2026, 11, 23)
    """
    if shape == "minimal":
        return Job(
            destination_name=f"Job {index}",
            destination_lat=37.7749 + (index % 1000) * 1e-4,
            destination_lng=-122.4194,
            day=_DAY,
            worker="worker@company.com",
        )
    structured: Job = converter.structure(wire_job(shape, index), Job)
    return structured


def jobs(shape: Shape, count: int, *, start: int = 0) -> Iterator[Job]:
    """``count`` jobs of ``shape``, generated lazily.

    Example::

        >>> [j.destination_name for j in jobs("minimal", 2, start=5)]
        ['Job 5', 'Job 6']
    """
    for index in range(start, start + count):
        yield job(shape, index)

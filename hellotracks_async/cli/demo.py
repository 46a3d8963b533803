"""The demo behind ``make demo`` / ``hellotracks-async demo``.

It starts :class:`~hellotracks_async.testing.FakeHellotracks` in-process with seeded
faults of every kind (429, 5xx, proxy pages, dropped connections, slow answers, and
requests applied but never answered), creates ``jobs`` realistic jobs with
:meth:`HellotracksClient.create_jobs`, reassigns and reprioritises all of them with
:meth:`HellotracksClient.edit_jobs`, then checks the fake's own store: every job there
once, every edit applied.

Example::

    >>> import asyncio
    >>> report = asyncio.run(run_demo(jobs=200, fault_rate=0.0))
    >>> report.verified, report.stored, report.distinct_keys
    (True, 200, 200)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Final

import attrs

from ..client import HellotracksClient
from ..models import CustomField, Job, JobType, JobUpdate
from ..results import Progress
from ..retrying import RetryPolicy
from ..testing import FAULT_KINDS, FakeHellotracks, Faults

__all__ = ["DemoReport", "generate_jobs", "run_demo"]

#: A "slow" fault answers after this long; the client gives up on an attempt after
#: ``_TIMEOUT``, well above a normal answer of the in-process server, and retries.
_SLOW_SECONDS: Final = 1.0
_TIMEOUT: Final = 0.5

_CITIES: Final = (
    ("San Francisco", 37.7749, -122.4194, ("Market St", "Mission St", "Valencia St")),
    ("Berlin", 52.5200, 13.4050, ("Torstrasse", "Karl-Marx-Allee", "Friedrichstrasse")),
    ("London", 51.5074, -0.1278, ("Baker St", "Old Kent Rd", "Whitechapel Rd")),
    ("Austin", 30.2672, -97.7431, ("Congress Ave", "Lamar Blvd", "E 6th St")),
    ("Sao Paulo", -23.5505, -46.6333, ("Av Paulista", "Rua Augusta", "Rua Oscar Freire")),
)
_COMPANIES: Final = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foods",
    "Hooli",
    "Vandelay Imports",
)
_SITES: Final = ("Headquarters", "Warehouse", "Store", "Clinic", "Depot", "Back office")
_PEOPLE: Final = (
    "Maria Garcia",
    "John Smith",
    "Aisha Okafor",
    "Chen Wei",
    "Lukas Müller",
    "Sofia Rossi",
    "Omar Haddad",
    "Emma Brown",
)
_DEPARTMENTS: Final = ("Facilities", "Retail", "Medical", "Catering", "IT")
_WORKERS: Final = tuple(
    f"{name}@fleet.example" for name in ("alex", "sam", "jordan", "taylor", "casey", "riley")
)


def generate_jobs(
    count: int, *, seed: int | None = None, start: date | None = None
) -> Iterator[Job]:
    """``count`` realistic jobs, made one at a time: places around a few cities, days in
    the week from ``start`` (default today), workers, time windows, custom fields.

    Example::

        >>> job = next(generate_jobs(1, seed=1, start=date(2026, 11, 23)))
        >>> job.destination_name, job.day.year, job.window_start < job.window_end
        ('Vandelay Imports - Clinic', 2026, True)
    """
    rng = random.Random(seed)
    first_day = start or date.today()
    for number in range(count):
        city, lat, lng, streets = rng.choice(_CITIES)
        opens = rng.randrange(7, 16)
        kind = rng.choice((JobType.WORK, JobType.WORK, JobType.PICKUP, JobType.DROPOFF))
        contact = rng.choice(_PEOPLE)
        yield Job(
            type=kind,
            destination_name=f"{rng.choice(_COMPANIES)} - {rng.choice(_SITES)}",
            destination_text=f"{rng.randrange(1, 2500)} {rng.choice(streets)}, {city}",
            destination_lat=round(lat + rng.uniform(-0.08, 0.08), 6),
            destination_lng=round(lng + rng.uniform(-0.08, 0.08), 6),
            day=first_day + timedelta(days=rng.randrange(7)),
            worker=rng.choice(_WORKERS),
            priority=rng.randrange(3, 8),
            window_start=opens * 100,
            window_end=(opens + rng.randrange(2, 5)) * 100,
            on_site_seconds=rng.choice((300, 600, 900, 1800)),
            items_to_pickup=rng.randrange(1, 6) if kind is JobType.PICKUP else None,
            items_to_dropoff=rng.randrange(1, 6) if kind is JobType.DROPOFF else None,
            contact_name=contact,
            contact_phone=f"+1415555{rng.randrange(10_000):04d}",
            contact_email=f"{contact.split()[0].lower()}@example.com",
            order_id=100_000 + number,
            custom_fields=[
                CustomField("PO_Number", f"PO-{first_day.year}-{number:06d}"),
                CustomField("Department", rng.choice(_DEPARTMENTS)),
            ],
        )


@attrs.frozen
class DemoReport:
    """What the demo did and what the fake server holds afterwards.

    ``stored`` and ``distinct_keys`` count the jobs and distinct ``uidSecondary`` values
    in the fake's store; ``edits_applied`` the stored jobs that carry their edit.

    Example::

        >>> report = DemoReport(jobs=2, created=2, edited=2, failed=0, requests=2,
        ...                     retries=0, faults={}, stored=2, distinct_keys=2,
        ...                     edits_applied=2, create_seconds=0.1, edit_seconds=0.1)
        >>> report.verified
        True
    """

    jobs: int
    created: int
    edited: int
    failed: int
    requests: int
    retries: int
    faults: dict[str, int]
    stored: int
    distinct_keys: int
    edits_applied: int
    create_seconds: float
    edit_seconds: float

    @property
    def verified(self) -> bool:
        """True if every job was created once and edited, with nothing failed."""
        counts = (self.created, self.edited, self.stored, self.distinct_keys, self.edits_applied)
        return self.failed == 0 and all(count == self.jobs for count in counts)

    def lines(self) -> list[str]:
        """The printed summary.

        Example::

            >>> report = DemoReport(jobs=2, created=2, edited=2, failed=0, requests=2,
            ...                     retries=0, faults={"429": 1}, stored=2, distinct_keys=2,
            ...                     edits_applied=2, create_seconds=0.5, edit_seconds=0.5)
            >>> print(report.lines()[-1])
            nothing lost, no duplicates: 2 jobs on the server, 2 distinct uidSecondary,
            2 edits applied
        """
        faults = " ".join(f"{kind}:{self.faults.get(kind, 0)}" for kind in FAULT_KINDS)
        injected = sum(self.faults.values())
        lines = [
            f"created {self.created:,} jobs in {self.create_seconds:.1f} s "
            f"({_rate(self.created, self.create_seconds)} jobs/s), edited {self.edited:,} "
            f"in {self.edit_seconds:.1f} s ({_rate(self.edited, self.edit_seconds)} jobs/s)",
            f"{self.requests:,} requests, {self.retries:,} retries; {injected:,} faults "
            f"injected: {faults}",
        ]
        if self.verified:
            lines.append(
                f"nothing lost, no duplicates: {self.stored:,} jobs on the server, "
                f"{self.distinct_keys:,} distinct uidSecondary, {self.edits_applied:,} edits "
                "applied"
            )
        else:
            lines.append(
                f"VERIFICATION FAILED: expected {self.jobs:,} jobs; {self.failed:,} failed, "
                f"{self.stored:,} on the server, {self.distinct_keys:,} distinct "
                f"uidSecondary, {self.edits_applied:,} edits applied"
            )
        return lines


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "-"


PhaseProgress = Callable[[str, Progress], object]


async def run_demo(
    jobs: int = 10_000,
    fault_rate: float = 0.05,
    seed: int | None = 2026,
    *,
    progress: PhaseProgress | None = None,
) -> DemoReport:
    """Create and edit ``jobs`` jobs against a faulty in-process fake; verify its store.

    ``progress`` gets ``("create" | "edit", Progress)`` as batches finish.

    Example::

        report = await run_demo(jobs=1_000, fault_rate=0.1, seed=7)
        print("\\n".join(report.lines()))
    """
    faults = Faults(rate=fault_rate, seed=seed, slow_seconds=_SLOW_SECONDS, retry_after=0.05)

    def phase(name: str) -> Callable[[Progress], object] | None:
        if progress is None:
            return None
        return lambda totals: progress(name, totals)

    fake = FakeHellotracks(faults=faults)
    async with (
        fake,
        HellotracksClient(
            api_key=fake.api_key,
            base_url=fake.base_url,
            batch_size=100,
            max_concurrency=4,
            timeout=_TIMEOUT,
            retry=RetryPolicy(backoff=0.05, max_backoff=0.5),
        ) as client,
    ):
        started = time.perf_counter()
        created = await client.create_jobs(
            generate_jobs(jobs, seed=seed), raise_on_error=False, progress=phase("create")
        )
        create_seconds = time.perf_counter() - started
        # Let late "slow" creates land now, or one could overwrite an edit below.
        await fake.settle()
        plan = {
            job.id: _edit(number, job.priority) for number, job in enumerate(created.jobs) if job.id
        }
        started = time.perf_counter()
        edited = await client.edit_jobs(plan, raise_on_error=False, progress=phase("edit"))
        edit_seconds = time.perf_counter() - started
    # Closed: every delayed request has been applied. Read the server's own store.
    stored = fake.jobs()
    applied = sum(
        1
        for job in stored
        if (update := plan.get(job["id"])) is not None
        and job.get("worker") == update.worker
        and job.get("priority") == update.priority
    )
    return DemoReport(
        jobs=jobs,
        created=created.succeeded,
        edited=edited.succeeded,
        failed=created.failed + edited.failed,
        requests=created.requests + edited.requests,
        retries=created.retries + edited.retries,
        faults=dict(fake.injected),
        stored=len(stored),
        distinct_keys=len({job.get("uidSecondary") for job in stored if job.get("uidSecondary")}),
        edits_applied=applied,
        create_seconds=create_seconds,
        edit_seconds=edit_seconds,
    )


def _edit(number: int, priority: int | None) -> JobUpdate:
    """Hand job ``number`` to another worker and raise its priority."""
    worker = _WORKERS[number % len(_WORKERS)]
    return JobUpdate(
        worker=worker, priority=min(10, (priority or 5) + 2), text_dispatcher="Reassigned"
    )

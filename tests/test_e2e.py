"""End to end against FakeHellotracks with seeded faults of every kind.

These are the guarantees users pick the SDK for: under 20% injected faults, 10,000 jobs
end up on the server exactly once each, and an edit of all of them lands everywhere.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from hellotracks_async import (
    APIError,
    AuthenticationError,
    BulkError,
    HellotracksClient,
    Job,
    JobUpdate,
    RetryPolicy,
    ServerError,
    TransportError,
    ValidationError,
)
from hellotracks_async.testing import FAULT_KINDS, FakeHellotracks, Faults

COUNT = 10_000
EVERY_FAULT = Faults(rate=0.2, kinds=FAULT_KINDS, seed=20261123, retry_after=0.01, slow_seconds=0.6)


def _client(fake: FakeHellotracks, **kwargs: Any) -> HellotracksClient:
    options: dict[str, Any] = {
        "timeout": 0.3,  # the "slow" fault answers after 0.6 s: past it
        # 0.2**13: a batch failing every attempt is not expected
        "retry": RetryPolicy(backoff=0.01, max_backoff=0.05, max_retries=12),
        "batch_size": 50,  # 200 requests a pass, so that every fault kind comes up
    }
    return HellotracksClient(fake.api_key, base_url=fake.base_url, **(options | kwargs))


def _jobs(count: int) -> list[Job]:
    return [
        Job(
            destination_name=f"Stop {i}",
            destination_lat=37.0 + i / 100_000,
            destination_lng=-122.0,
            day=date(2026, 11, 24),
            worker=f"driver{i % 7}@company.com",
            order_id=i,
        )
        for i in range(count)
    ]


@pytest.mark.slow
async def test_ten_thousand_creates_and_edits_under_every_fault() -> None:
    jobs = _jobs(COUNT)
    async with FakeHellotracks(faults=EVERY_FAULT) as fake, _client(fake) as client:
        created = await client.create_jobs(jobs)

        assert created.ok
        assert created.succeeded == COUNT
        stored = fake.jobs()
        assert len(stored) == COUNT  # nothing lost, nothing duplicated
        keys = Counter(job["uidSecondary"] for job in stored)
        assert len(keys) == COUNT
        assert {job["orderId"]: job["destinationName"] for job in stored} == {
            i: f"Stop {i}" for i in range(COUNT)
        }
        # each result job is the server's job for the input at its index
        by_id = {job["id"]: job for job in stored}
        for index, job in zip(created.indices, created.jobs, strict=True):
            assert job.order_id == index
            assert by_id[job.id]["uidSecondary"] == job.uid_secondary
        assert created.retries > 0
        injected_on_create = Counter(fake.injected)
        assert set(injected_on_create) == set(FAULT_KINDS)  # every kind happened

        await fake.settle()  # a timed-out "slow" create lands late: before the edits, not after
        night = JobUpdate(priority=9, worker="night@company.com")
        updates = {job.id: night for job in created.jobs if job.id is not None}
        edited = await client.edit_jobs(updates)

        assert edited.ok
        assert edited.succeeded == COUNT
        stored = fake.jobs()
        assert len(stored) == COUNT
        assert all(job["priority"] == 9 for job in stored)
        assert all(job["worker"] == "night@company.com" for job in stored)
        assert set(fake.injected - injected_on_create) == set(FAULT_KINDS)


@pytest.mark.slow
async def test_without_idempotency_ambiguous_failures_are_reported_not_retried() -> None:
    """Why the default exists. Without keys the client cannot tell a lost answer from a
    lost request, so it refuses to resend after a reset, a timeout, a 500 or a 502, and
    reports those inputs as failed. Yet some of them are on the server: the "slow" and
    "commit_then_drop" faults committed them. Resending those inputs (what a hand-written
    retry loop does) would duplicate them; with the default keys the client resends
    safely and nothing is reported failed (the test above)."""
    jobs = _jobs(COUNT)
    async with FakeHellotracks(faults=EVERY_FAULT) as fake, _client(fake) as client:
        result = await client.create_jobs(jobs, idempotency=False, raise_on_error=False)
        stored = fake.jobs()

    assert result.failed > 0
    assert result.succeeded + result.failed == COUNT
    for failure in result.failures:
        exc = failure.exception
        ambiguous = (isinstance(exc, TransportError) and exc.maybe_sent) or (
            isinstance(exc, ServerError) and exc.http_status in (500, 502)
        )
        assert ambiguous, exc
    assert result.retries > 0  # 429 and 503 prove the request was not taken: retried
    names = Counter(job["destinationName"] for job in stored)
    assert max(names.values()) == 1  # the client itself never duplicated anything
    failed_names = {job.destination_name for f in result.failures for job in f.inputs}
    committed_but_failed = failed_names & set(names)
    assert committed_but_failed  # on the server, yet reported failed: resending duplicates
    assert len(stored) == result.succeeded + len(committed_but_failed)
    assert all("uidSecondary" not in job for job in stored)


async def test_wrong_key_fails_every_input_and_loses_none() -> None:
    async with FakeHellotracks() as fake:
        client = HellotracksClient(
            "not-the-key", base_url=fake.base_url, batch_size=7, max_concurrency=1
        )
        async with client:
            with pytest.raises(BulkError) as caught:
                await client.create_jobs(_jobs(30))
        assert fake.jobs() == []
    result = caught.value.result
    assert result.succeeded == 0
    assert sorted(i for f in result.failures for i in f.indices) == list(range(30))
    assert all(isinstance(f.exception, AuthenticationError) for f in result.failures)
    assert all(f.exception.http_status == 401 for f in result.failures)  # type: ignore[attr-defined]
    assert "not-the-key" not in str(caught.value)
    assert result.requests == 1  # not retried; later batches not even sent
    assert fake.requests["createjobs"] == 1


async def test_unknown_job_id_fails_alone() -> None:
    async with FakeHellotracks() as fake, _client(fake, batch_size=10) as client:
        created = await client.create_jobs(_jobs(30))
        ids = [job.id for job in created.jobs]
        updates = [(job_id, JobUpdate(priority=1)) for job_id in ids]
        updates[15] = ("65f000000000000000000bad", JobUpdate(priority=1))
        with pytest.raises(BulkError) as caught:
            await client.edit_jobs(updates)
        stored = {job["id"]: job for job in fake.jobs()}

    result = caught.value.result
    (failure,) = result.failures  # the batch was halved until only the bad id failed
    assert failure.indices == (15,)
    assert failure.inputs == (updates[15],)
    assert isinstance(failure.exception, APIError)
    assert failure.exception.api_status == 2
    assert result.indices == tuple(i for i in range(30) if i != 15)
    assert all(stored[ids[i]]["priority"] == 1 for i in result.indices)


async def test_malformed_job_is_refused_before_sending_and_reported() -> None:
    """A wire dict carrying a value of the wrong type fails alone, never sent; the other
    jobs of its batch and the other batches land."""
    jobs: list[Any] = [{"destinationName": f"n{i}"} for i in range(9)]
    jobs[4] = {"destinationName": "bad", "worker": 42}
    async with FakeHellotracks() as fake, _client(fake, batch_size=3) as client:
        result = await client.create_jobs(iter(jobs), raise_on_error=False)
        stored = fake.jobs()
    (failure,) = result.failures
    assert failure.indices == (4,)
    assert isinstance(failure.exception, ValidationError)
    assert failure.exception.field == "worker"
    assert failure.wire == ()  # never sent
    assert result.indices == (0, 1, 2, 3, 5, 6, 7, 8)
    assert len(stored) == result.succeeded


async def test_ten_unknown_ids_among_a_hundred_edits_fail_alone() -> None:
    """Only the refused jobs fail, however many: the halving has no fixed budget."""
    async with FakeHellotracks() as fake, _client(fake, batch_size=100) as client:
        created = await client.create_jobs(_jobs(100))
        ids = [job.id for job in created.jobs]
        bad = set(range(3, 100, 10))  # 10 unknown ids spread over the batch
        updates = [
            (f"unknown-{i:02d}" if i in bad else job_id, JobUpdate(priority=1))
            for i, job_id in enumerate(ids)
        ]
        result = await client.edit_jobs(updates, raise_on_error=False)
        stored = {job["id"]: job for job in fake.jobs()}
    assert sorted(i for f in result.failures for i in f.indices) == sorted(bad)
    assert all(len(f.indices) == 1 for f in result.failures)
    assert result.succeeded == 90
    assert all(stored[ids[i]]["priority"] == 1 for i in result.indices)
    # each bad job costs about 2 log2(100) requests, the good ones nothing extra
    assert result.requests <= 1 + len(bad) * 2 * (100).bit_length()

"""The bulk engine over the in-memory transport: windows, stops, partial results."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from hellotracks_async import (
    BulkInterrupted,
    ConfigurationError,
    HellotracksClient,
    HellotracksError,
    Job,
    JobUpdate,
    MockTransport,
    Progress,
    Request,
    Response,
    RetryPolicy,
    TransportError,
    ValidationError,
)
from hellotracks_async.batching import Batch
from hellotracks_async.operations import CreateJobs


class _Upserting:
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


def _client(transport: MockTransport, **kwargs: Any) -> HellotracksClient:
    return HellotracksClient("key", transport=transport, batch_size=10, **kwargs)


def _jobs(count: int) -> list[Job]:
    return [Job(destination_name=f"Stop {i}") for i in range(count)]


async def test_an_invalid_job_in_a_list_fails_alone_without_raise_on_error() -> None:
    server = _Upserting()
    jobs: list[Job] = [*_jobs(3), Job(destination_lat=95.0), *_jobs(2)]
    async with _client(MockTransport(server)) as client:
        result = await client.create_jobs(jobs, raise_on_error=False)
    assert result.indices == (0, 1, 2, 4, 5)
    (failure,) = result.failures
    assert failure.indices == (3,)
    assert isinstance(failure.exception, ValidationError)
    assert len(server.jobs) == 5


async def test_an_invalid_job_in_a_stream_stops_it_with_raise_on_error() -> None:
    server = _Upserting()
    transport = MockTransport(server)

    def jobs() -> Iterator[Job]:
        yield from _jobs(25)
        yield Job(destination_lat=95.0)  # index 25, in the third batch
        yield from _jobs(30)

    async with _client(transport) as client:
        with pytest.raises(ValidationError) as caught:
            await client.create_jobs(jobs())
    assert (caught.value.index, caught.value.field) == (25, "destinationLat")
    result = caught.value.result
    assert result is not None
    assert result.succeeded == 20  # the two batches before it
    assert len(transport.requests) == 2  # nothing from its batch on was sent
    assert sorted(i for f in result.failures for i in f.indices) == list(range(20, 30))


async def test_a_source_that_raises_leaves_a_complete_partial_result() -> None:
    server = _Upserting()

    def jobs() -> Iterator[Job]:
        yield from _jobs(2_500)
        raise RuntimeError("database went away")

    async with _client(MockTransport(server), max_concurrency=8) as client:
        with pytest.raises(BulkInterrupted) as caught:
            await client.create_jobs(jobs())
    error = caught.value
    assert isinstance(error.__cause__, RuntimeError)
    assert error.result.succeeded + error.result.failed == 2_500
    assert len(server.jobs) == error.result.succeeded == 2_500


async def test_a_raising_progress_callback_stops_reading_and_keeps_results() -> None:
    server = _Upserting()
    transport = MockTransport(server)
    seen: list[Progress] = []

    def progress(totals: Progress) -> None:
        seen.append(totals)
        if totals.succeeded >= 50:
            raise KeyError("the progress bar broke")

    async with _client(transport, max_concurrency=2) as client:
        with pytest.raises(BulkInterrupted) as caught:
            await client.create_jobs(_jobs(1_000), progress=progress)
    result = caught.value.result
    read = result.succeeded + result.failed
    assert 50 <= read < 1_000  # it stopped reading
    assert result.succeeded == len(server.jobs)
    assert len(transport.requests) * 10 == read


async def test_resending_failures_plus_unread_inputs_gives_one_job_each() -> None:
    server = _Upserting()
    flaky_calls = itertools.count()

    def flaky(request: Request) -> Response:
        answer = server(request)  # committed, but every third answer is lost
        return Response(502) if next(flaky_calls) % 3 == 2 else answer

    inputs = _jobs(300)

    def jobs() -> Iterator[Job]:
        yield from inputs[:150]
        raise RuntimeError("killed")

    async with _client(MockTransport(flaky), max_retries=0) as client:
        with pytest.raises(BulkInterrupted) as caught:
            await client.create_jobs(jobs())
    result = caught.value.result
    assert result.failed > 0
    resend = [wire for failure in result.failures for wire in failure.wire]
    unread = inputs[result.succeeded + result.failed :]
    async with _client(MockTransport(server)) as client:
        await client.create_jobs([*resend, *unread])
    assert len(server.jobs) == 300  # exactly one job per input


async def test_a_run_id_gives_a_rerun_the_same_keys() -> None:
    server = _Upserting()
    inputs = _jobs(100)

    def first_run() -> Iterator[Job]:
        yield from inputs[:55]
        raise RuntimeError("killed at 55")

    async with _client(MockTransport(server)) as client:
        with pytest.raises(BulkInterrupted):
            await client.create_jobs(first_run(), run_id="import-2026-11-29")
        assert len(server.jobs) == 55
        again = await client.create_jobs(inputs, run_id="import-2026-11-29")
        fresh = await client.create_jobs(inputs[:3])  # no run_id: a fresh intent
    assert len(server.jobs) == 103
    assert [job.id for job in again.jobs[:55]] == [f"j{i}" for i in range(1, 56)]
    assert not {job.uid_secondary for job in fresh.jobs} & {job.uid_secondary for job in again.jobs}


async def test_a_dead_server_fails_3000_jobs_fast_after_k_failed_requests() -> None:
    retry = RetryPolicy(max_retries=3, deadline=0.3, backoff=0.01, max_backoff=0.02)
    k = 3

    def refuse(request: Request) -> Response:
        raise TransportError("cannot connect to api:443", maybe_sent=False)

    transport = MockTransport(refuse)
    started = time.monotonic()
    async with _client(transport, retry=retry, unreachable_after=k, max_concurrency=2) as client:
        result = await client.create_jobs(_jobs(3_000), raise_on_error=False)
    elapsed = time.monotonic() - started
    assert result.failed == 3_000
    assert elapsed < k * retry.deadline
    # the window's requests and their retries, then nothing: no request per batch
    assert len(transport.requests) <= (k + 1) * (retry.max_retries + 1)
    unsent = [f for f in result.failures if "not sent" in str(f.exception)]
    assert sum(len(f.indices) for f in unsent) >= 3_000 - (k + 1) * 10
    assert all(isinstance(f.exception, TransportError) for f in result.failures)


async def test_a_call_deadline_stops_sending_and_fails_the_rest_as_not_sent() -> None:
    release = asyncio.Event()

    async def hang(request: Request) -> Response:
        await release.wait()  # never set: every attempt ends at its timeout
        return Response(200)

    transport = MockTransport(hang)
    async with HellotracksClient(
        "key", transport=transport, batch_size=10, max_concurrency=2, timeout=0.2
    ) as client:
        result = await client.create_jobs(_jobs(1_000), raise_on_error=False, deadline=0.05)
    assert result.failed == 1_000
    assert len(transport.requests) == 2  # the first window; no retry after the deadline
    assert any("deadline" in str(f.exception) for f in result.failures)


async def test_a_closed_client_refuses_at_once() -> None:
    client = _client(MockTransport(_Upserting()))
    await client.aclose()
    with pytest.raises(HellotracksError, match="closed"):
        await client.create_jobs(_jobs(10))


class _SlowUpserting(_Upserting):
    """Upserts after a random delay per request, so that requests overtake each other."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.keys_per_request: list[list[str]] = []

    async def answer(self, request: Request) -> Response:
        data = request.json()["data"]["jobs"]
        keys = list(data) if isinstance(data, dict) else [job["uidSecondary"] for job in data]
        self.keys_per_request.append(keys)
        await asyncio.sleep(self.rng.random() * 0.005)
        if isinstance(data, dict):  # editjobs: fields by job id
            for job_id, fields in data.items():
                self.jobs[job_id].update(fields)
            answered = [{"id": job_id, **self.jobs[job_id]} for job_id in data]
            return Response(200, {}, orjson.dumps({"status": 0, "jobs": answered}))
        return self(request)


@pytest.mark.parametrize("seed", range(12))
async def test_inputs_sharing_a_key_land_in_input_order(seed: int) -> None:
    server = _SlowUpserting(seed)
    rng = random.Random(seed)
    keys = [f"order-{rng.randrange(8)}" for _ in range(120)]  # each key about 15 times
    jobs = [
        Job(uid_secondary=key, priority=i % 11, destination_name=str(i))
        for i, key in enumerate(keys)
    ]
    async with _client(MockTransport(server.answer), max_concurrency=8) as client:
        created = await client.create_jobs(jobs)
        last = {key: str(i) for i, key in enumerate(keys)}
        assert {k: server.jobs[k]["destinationName"] for k in last} == last
        assert all(len(set(ks)) == len(ks) for ks in server.keys_per_request)
        assert created.succeeded == 120
        by_key = {job.uid_secondary: job.id for job in created.jobs}
        assert all(job.id == by_key[job.uid_secondary] for job in created.jobs)
        assert created.repeated_keys > 0

        ids = [server.jobs[key]["id"] for key in keys]  # many edits of few jobs
        server.jobs = {job["id"]: job for job in server.jobs.values()}
        edits = [(job_id, JobUpdate(destination_name=f"edit {i}")) for i, job_id in enumerate(ids)]
        await client.edit_jobs(edits)
    final = {job_id: f"edit {i}" for i, job_id in enumerate(ids)}
    assert {job_id: server.jobs[job_id]["destinationName"] for job_id in final} == final
    assert all(len(set(ks)) == len(ks) for ks in server.keys_per_request)


def test_a_job_json_cannot_encode_fails_alone_even_unvalidated() -> None:
    create = CreateJobs(validated=True)  # as for a list checked up front
    batch = Batch(0, [{"destinationName": "a"}, {"destinationName": Decimal("1.5")}])
    prepared, rejected = create.prepare(batch)
    assert prepared is not None
    assert prepared.indices == (0,)
    (failure,) = rejected
    assert failure.indices == (1,)
    assert isinstance(failure.exception, ValidationError)
    assert "cannot be encoded as JSON" in str(failure.exception)


@pytest.mark.parametrize("bad", [Decimal("1.5"), 2**70])
async def test_an_unencodable_value_mid_stream_leaves_a_complete_result(bad: object) -> None:
    server = _Upserting()

    def jobs() -> Iterator[Any]:
        yield from _jobs(2_500)
        yield {"destinationName": "bad", "priority": bad}
        yield from _jobs(500)

    async with _client(MockTransport(server)) as client:
        result = await client.create_jobs(jobs(), raise_on_error=False)
        assert (result.succeeded, result.failed) == (3_000, 1)
        assert result.failures[0].indices == (2_500,)
        with pytest.raises(ValidationError) as caught:
            await client.create_jobs(jobs())
    partial = caught.value.result
    assert partial is not None
    assert partial.succeeded + partial.failed == 2_510  # every input read is accounted for


async def test_a_bad_deadline_is_refused_naming_it() -> None:
    async with _client(MockTransport(_Upserting())) as client:
        with pytest.raises(ConfigurationError, match="deadline must be a positive number"):
            await client.create_jobs(_jobs(1), deadline=-1)

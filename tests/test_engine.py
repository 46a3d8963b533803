"""hellotracks_async.engine (and the gate's slots): batching, input order, the window, stops,
partial results, per-key order. Over the in-memory MockTransport: no sockets."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest

from hellotracks_async import (
    AuthenticationError,
    BulkError,
    BulkInterrupted,
    HellotracksClient,
    Job,
    JobUpdate,
    MockTransport,
    NotSentError,
    Progress,
    Request,
    Response,
    RetryPolicy,
    TransportError,
    ValidationError,
)
from hellotracks_async.batching import Batch
from hellotracks_async.operations import CreateJobs

from ._helpers import Scripted, Upserting, echo, mock_client, numbered_jobs, quick_client, sent


async def test_an_invalid_job_in_a_list_fails_alone_without_raise_on_error() -> None:
    server = Upserting()
    jobs: list[Job] = [*numbered_jobs(3), Job(destination_lat=95.0), *numbered_jobs(2)]
    async with mock_client(MockTransport(server)) as client:
        result = await client.create_jobs(jobs, raise_on_error=False)
    assert result.indices == (0, 1, 2, 4, 5)
    (failure,) = result.failures
    assert failure.indices == (3,)
    assert isinstance(failure.exception, ValidationError)
    assert len(server.jobs) == 5


async def test_an_invalid_job_in_a_stream_stops_it_with_raise_on_error() -> None:
    server = Upserting()
    transport = MockTransport(server)

    def jobs() -> Iterator[Job]:
        yield from numbered_jobs(25)
        yield Job(destination_lat=95.0)  # index 25, in the third batch
        yield from numbered_jobs(30)

    async with mock_client(transport) as client:
        with pytest.raises(ValidationError) as caught:
            await client.create_jobs(jobs())
    assert (caught.value.index, caught.value.field) == (25, "destinationLat")
    result = caught.value.result
    assert result is not None
    assert result.succeeded == 20  # the two batches before it
    assert len(transport.requests) == 2  # nothing from its batch on was sent
    assert sorted(i for f in result.failures for i in f.indices) == list(range(20, 30))


async def test_a_source_that_raises_leaves_a_complete_partial_result() -> None:
    server = Upserting()

    def jobs() -> Iterator[Job]:
        yield from numbered_jobs(2_500)
        raise RuntimeError("database went away")

    async with mock_client(MockTransport(server), max_concurrency=8) as client:
        with pytest.raises(BulkInterrupted) as caught:
            await client.create_jobs(jobs())
    error = caught.value
    assert isinstance(error.__cause__, RuntimeError)
    assert error.result.succeeded + error.result.failed == 2_500
    assert len(server.jobs) == error.result.succeeded == 2_500


async def test_a_raising_progress_callback_stops_reading_and_keeps_results() -> None:
    server = Upserting()
    transport = MockTransport(server)
    seen: list[Progress] = []

    def progress(totals: Progress) -> None:
        seen.append(totals)
        if totals.succeeded >= 50:
            raise KeyError("the progress bar broke")

    async with mock_client(transport, max_concurrency=2) as client:
        with pytest.raises(BulkInterrupted) as caught:
            await client.create_jobs(numbered_jobs(1_000), progress=progress)
    result = caught.value.result
    read = result.succeeded + result.failed
    assert 50 <= read < 1_000  # it stopped reading
    assert result.succeeded == len(server.jobs)
    assert len(transport.requests) * 10 == read


async def test_resending_failures_plus_unread_inputs_gives_one_job_each() -> None:
    server = Upserting()
    flaky_calls = itertools.count()

    def flaky(request: Request) -> Response:
        answer = server(request)  # committed, but every third answer is lost
        return Response(502) if next(flaky_calls) % 3 == 2 else answer

    inputs = numbered_jobs(300)

    def jobs() -> Iterator[Job]:
        yield from inputs[:150]
        raise RuntimeError("killed")

    async with mock_client(MockTransport(flaky), max_retries=0) as client:
        with pytest.raises(BulkInterrupted) as caught:
            await client.create_jobs(jobs())
    result = caught.value.result
    assert result.failed > 0
    resend = [wire for failure in result.failures for wire in failure.wire]
    unread = inputs[result.succeeded + result.failed :]
    async with mock_client(MockTransport(server)) as client:
        await client.create_jobs([*resend, *unread])
    assert len(server.jobs) == 300  # exactly one job per input


async def test_a_run_id_gives_a_rerun_the_same_keys() -> None:
    server = Upserting()
    inputs = numbered_jobs(100)

    def first_run() -> Iterator[Job]:
        yield from inputs[:55]
        raise RuntimeError("killed at 55")

    async with mock_client(MockTransport(server)) as client:
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
    async with mock_client(
        transport, retry=retry, unreachable_after=k, max_concurrency=2
    ) as client:
        result = await client.create_jobs(numbered_jobs(3_000), raise_on_error=False)
    elapsed = time.monotonic() - started
    assert result.failed == 3_000
    assert elapsed < k * retry.deadline
    # the window's requests and their retries, then nothing: no request per batch
    assert len(transport.requests) <= (k + 1) * (retry.max_retries + 1)
    unsent = [f for f in result.failures if "not sent" in str(f.exception)]
    assert sum(len(f.indices) for f in unsent) >= 3_000 - (k + 1) * 10
    sent = [f for f in result.failures if f.sent]
    assert all(isinstance(f.exception, TransportError) for f in sent)
    # what the client gave up on is its own decision, not a server's error type
    assert all(isinstance(f.exception, NotSentError) for f in unsent)
    assert not any(f.sent for f in unsent)


async def test_a_call_deadline_stops_sending_and_fails_the_rest_as_not_sent() -> None:
    release = asyncio.Event()

    async def hang(request: Request) -> Response:
        await release.wait()  # never set: every attempt ends at its timeout
        return Response(200)

    transport = MockTransport(hang)
    async with HellotracksClient(
        "key", transport=transport, batch_size=10, max_concurrency=2, timeout=0.2
    ) as client:
        result = await client.create_jobs(numbered_jobs(1_000), raise_on_error=False, deadline=0.05)
    assert result.failed == 1_000
    assert len(transport.requests) == 2  # the first window; no retry after the deadline
    assert any("deadline" in str(f.exception) for f in result.failures)


class _SlowUpserting(Upserting):
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
    async with mock_client(MockTransport(server.answer), max_concurrency=8) as client:
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


# -- batches, keys, input order (formerly through aioresponses in test_client.py) ----------


async def test_jobs_are_batched_and_keyed_and_returned_in_input_order() -> None:
    transport = MockTransport(echo)
    jobs = [Job(destination_name=f"job {i}") for i in range(25)]
    async with quick_client(transport, batch_size=10) as client:
        result = await client.create_jobs(jobs)
    bodies = sent(transport)
    assert [len(body["data"]["jobs"]) for body in bodies] == [10, 10, 5]
    keys = [job["uidSecondary"] for body in bodies for job in body["data"]["jobs"]]
    assert len(set(keys)) == 25
    assert all(key.startswith("hta-") for key in keys)
    assert [job.destination_name for job in result.jobs] == [f"job {i}" for i in range(25)]
    assert result.indices == tuple(range(25))
    assert (result.requests, result.retries, result.ok) == (3, 0, True)


async def test_async_iterable_and_pairs_inputs() -> None:
    async def jobs() -> AsyncIterator[Job]:
        for i in range(7):
            yield Job(destination_name=str(i))

    async def pairs() -> AsyncIterator[tuple[str, JobUpdate]]:
        for i in range(7):
            yield f"id{i}", JobUpdate(priority=i)

    async with quick_client(MockTransport(echo), batch_size=3) as client:
        created = await client.create_jobs(jobs())
        edited = await client.edit_jobs(pairs())
    assert [job.destination_name for job in created.jobs] == [str(i) for i in range(7)]
    assert [job.priority for job in edited.jobs] == list(range(7))


# -- stops and BulkError ------------------------------------------------------------------


async def test_every_batch_finishes_before_bulk_error() -> None:
    transport = MockTransport(Scripted(Response(404, {}, b"no such endpoint")))  # fatal
    seen: list[Progress] = []
    async with quick_client(transport, batch_size=2, max_concurrency=1) as client:
        with pytest.raises(BulkError) as caught:
            await client.create_jobs(
                [Job(destination_name=str(i)) for i in range(6)], progress=seen.append
            )
    result = caught.value.result
    assert result.failures[0].indices == (0, 1)
    assert result.indices == (2, 3, 4, 5)
    assert attrs.evolve(seen[-1], concurrency=0) == Progress(
        succeeded=4, failed=2, requests=3, retries=0
    )
    assert 1 <= seen[-1].concurrency <= 64
    assert len(seen) == 3
    assert "2 of 6 jobs failed" in str(caught.value)


async def test_a_refused_key_stops_sending_but_reports_every_input() -> None:
    transport = MockTransport(lambda request: Response(401, {}, b'{"status": 401}'))
    async with quick_client(transport, batch_size=2, max_concurrency=1) as client:
        result = await client.create_jobs(
            [Job(destination_name=str(i)) for i in range(6)], raise_on_error=False
        )
    assert result.requests == 1
    assert [f.indices for f in result.failures] == [(0, 1), (2, 3), (4, 5)]
    assert all(isinstance(f.exception, AuthenticationError) for f in result.failures)
    assert "not sent" in str(result.failures[1].exception)


# -- invalid inputs: a list or mapping is checked before sending, a stream as it is read --


async def test_a_bad_job_in_a_list_stops_everything_before_sending() -> None:
    transport = MockTransport(echo)
    async with quick_client(transport) as client:
        with pytest.raises(ValidationError) as caught:
            await client.create_jobs([Job(destination_name="ok"), Job(destination_lng=200.0)])
    assert (caught.value.index, caught.value.field) == (1, "destinationLng")
    assert transport.requests == []


async def test_a_bad_update_in_a_mapping_stops_everything_before_sending() -> None:
    transport = MockTransport(echo)
    async with quick_client(transport) as client:
        with pytest.raises(ValidationError, match=r"job #1: day=20231350"):
            await client.edit_jobs({"a": JobUpdate(priority=1), "b": {"day": 20231350}})
    assert transport.requests == []


async def test_a_list_of_updates_with_a_non_pair_is_a_validation_error() -> None:
    transport = MockTransport(echo)
    async with quick_client(transport) as client:
        with pytest.raises(ValidationError, match=r"job #1: update='just-an-id'"):
            await client.edit_jobs([("a", JobUpdate(priority=1)), "just-an-id"])  # type: ignore[list-item]
    assert transport.requests == []


async def test_a_bad_job_in_a_stream_is_reported_and_the_rest_sent() -> None:
    transport = MockTransport(echo)
    jobs = (Job(destination_lat=95.0) if i == 3 else Job(destination_name=str(i)) for i in range(5))
    async with quick_client(transport) as client:
        result = await client.create_jobs(jobs, raise_on_error=False)
    assert result.indices == (0, 1, 2, 4)
    (failure,) = result.failures
    assert failure.indices == (3,)
    assert isinstance(failure.exception, ValidationError)
    assert failure.inputs == (Job(destination_lat=95.0),)
    assert len(sent(transport)[0]["data"]["jobs"]) == 4


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
    server = Upserting()

    def jobs() -> Iterator[Any]:
        yield from numbered_jobs(2_500)
        yield {"destinationName": "bad", "priority": bad}
        yield from numbered_jobs(500)

    async with mock_client(MockTransport(server)) as client:
        result = await client.create_jobs(jobs(), raise_on_error=False)
        assert (result.succeeded, result.failed) == (3_000, 1)
        assert result.failures[0].indices == (2_500,)
        with pytest.raises(ValidationError) as caught:
            await client.create_jobs(jobs())
    partial = caught.value.result
    assert partial is not None
    assert partial.succeeded + partial.failed == 2_510  # every input read is accounted for

"""Reading back and deleting over a MockTransport: get_jobs, find_jobs, delete_jobs.

The request shapes, matching answers to ids, JobNotFoundError, halving refused deletes,
``maybe_deleted`` after a lost answer, and refusing bad ids before sending. The same
calls against the real fake server, with faults, are in test_e2e_get_delete.py.
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson
import pytest

from hellotracks_async import (
    AuthenticationError,
    BulkError,
    JobNotFoundError,
    MockTransport,
    Request,
    Response,
    TransportError,
    ValidationError,
)
from hellotracks_async.operations import find_query

from ._helpers import Scripted, quick_client, sent


class _Jobs:
    """A MockTransport handler holding jobs by id: getjobs answers the known ones,
    deletejobs refuses a request naming any unknown id (the fake's reading too)."""

    def __init__(self, ids: list[str]) -> None:
        self.jobs = {job_id: {"id": job_id, "destinationName": f"at {job_id}"} for job_id in ids}

    def __call__(self, request: Request) -> Response:
        data = request.json()["data"]
        if request.endpoint == "getjobs":
            if "ids" in data:
                found = [self.jobs[i] for i in data["ids"] if i in self.jobs]
            else:
                found = list(self.jobs.values())
            return _ok({"status": 0, "jobs": found})
        assert request.endpoint == "deletejobs"
        if any(job_id not in self.jobs for job_id in data["jobs"]):
            return _ok({"status": 4, "message": "unknown job id"})
        for job_id in data["jobs"]:
            del self.jobs[job_id]
        return _ok({"status": 0})


def _ok(body: dict[str, Any]) -> Response:
    return Response(200, {}, orjson.dumps(body))


# -- get_jobs -------------------------------------------------------------------------


async def test_get_jobs_reads_back_in_input_order_and_batches() -> None:
    handler = _Jobs([f"j{i}" for i in range(25)])
    transport = MockTransport(handler)
    async with quick_client(transport, batch_size=10) as client:
        result = await client.get_jobs(f"j{i}" for i in range(24, -1, -1))
    assert [job.id for job in result.jobs] == [f"j{i}" for i in range(24, -1, -1)]
    assert result.indices == tuple(range(25))
    assert result.jobs[0].destination_name == "at j24"
    bodies = sent(transport, "getjobs")
    assert [len(body["data"]["ids"]) for body in bodies] == [10, 10, 5]
    assert set(bodies[0]["data"]) == {"ids"}  # nothing else is guessed into the query


async def test_an_id_the_server_does_not_return_fails_alone_with_job_not_found() -> None:
    handler = _Jobs(["a", "c"])
    async with quick_client(MockTransport(handler), batch_size=10) as client:
        result = await client.get_jobs(["a", "b", "c", "d"], raise_on_error=False)
    assert [job.id for job in result.jobs] == ["a", "c"]
    assert result.indices == (0, 2)
    assert [(f.indices, f.inputs) for f in result.failures] == [((1,), ("b",)), ((3,), ("d",))]
    assert all(isinstance(f.exception, JobNotFoundError) for f in result.failures)
    assert result.failures[0].exception.job_id == "b"  # type: ignore[attr-defined]


async def test_get_jobs_raises_bulk_error_with_every_id_accounted_for() -> None:
    async with quick_client(MockTransport(_Jobs(["a"]))) as client:
        with pytest.raises(BulkError) as raised:
            await client.get_jobs(["a", "zz"])
    assert raised.value.result.succeeded == 1
    assert raised.value.result.failed == 1


async def test_a_template_id_is_matched_to_the_template_answer() -> None:
    transport = MockTransport(lambda request: _ok({"status": 0, "jobs": [{"id": "7"}]}))
    async with quick_client(transport) as client:
        result = await client.get_jobs(["tpl-7"])
    assert result.jobs[0].id == "7"


@pytest.mark.parametrize("bad", ["", 7, None])
async def test_a_bad_id_in_a_list_is_refused_before_anything_is_sent(bad: Any) -> None:
    transport = MockTransport(_Jobs(["a"]))
    async with quick_client(transport) as client:
        for call in (client.get_jobs, client.delete_jobs):
            with pytest.raises(ValidationError) as raised:
                await call(["a", "a", bad])
            assert raised.value.index == 2
            assert raised.value.field == "id"
    assert transport.requests == []


async def test_a_bad_id_without_raise_on_error_fails_alone_unsent() -> None:
    transport = MockTransport(_Jobs(["a"]))
    async with quick_client(transport) as client:
        result = await client.get_jobs(["a", "bad\ud800"], raise_on_error=False)
    assert [job.id for job in result.jobs] == ["a"]
    (failure,) = result.failures
    assert failure.sent is False
    assert isinstance(failure.exception, ValidationError)


async def test_get_jobs_retries_a_lost_answer() -> None:
    handler = _Jobs(["a", "b"])
    transport = MockTransport(Scripted(TransportError("reset"), then=handler))
    async with quick_client(transport) as client:
        result = await client.get_jobs(["a", "b"])
    assert [job.id for job in result.jobs] == ["a", "b"]
    assert result.requests == 2


async def test_stream_get_jobs_yields_every_id_once() -> None:
    async with quick_client(MockTransport(_Jobs(["a", "b", "c"])), batch_size=2) as client:
        seen = [
            (index, job.id)
            async for outcome in client.stream_get_jobs(iter(["a", "x", "c"]))
            for index, job in zip(outcome.indices, outcome.jobs, strict=True)
        ]
    assert sorted(seen) == [(0, "a"), (2, "c")]


# -- delete_jobs ----------------------------------------------------------------------


async def test_delete_jobs_sends_arrays_of_ids_and_reports_each_deleted() -> None:
    handler = _Jobs([f"j{i}" for i in range(5)] + ["tpl-9"])
    transport = MockTransport(handler)
    async with quick_client(transport, batch_size=4) as client:
        result = await client.delete_jobs([*(f"j{i}" for i in range(5)), "tpl-9"])
    assert sent(transport, "deletejobs")[0] == {"data": {"jobs": ["j0", "j1", "j2", "j3"]}}
    assert [job.id for job in result.jobs] == ["j0", "j1", "j2", "j3", "j4", "tpl-9"]
    assert result.ok
    assert handler.jobs == {}


async def test_unknown_ids_among_many_are_isolated_by_halving() -> None:
    known = [f"j{i}" for i in range(90)]
    ids = known[:45] + [f"unknown{i}" for i in range(10)] + known[45:]
    handler = _Jobs(known)
    async with quick_client(MockTransport(handler), batch_size=100) as client:
        result = await client.delete_jobs(ids, raise_on_error=False)
    assert sorted(f.inputs[0] for f in result.failures) == sorted(f"unknown{i}" for i in range(10))
    assert result.succeeded == 90
    assert handler.jobs == {}
    assert result.maybe_deleted == ()


async def test_a_refusal_after_a_lost_answer_is_maybe_deleted_not_a_failure() -> None:
    handler = _Jobs(["a", "b", "c", "d"])

    def commit_then_drop(request: Request) -> Response:
        handler(request)  # applied, but the answer never arrives
        raise TransportError("connection reset")

    transport = MockTransport(Scripted(commit_then_drop, then=handler))
    async with quick_client(transport, batch_size=4) as client:
        result = await client.delete_jobs(["a", "b", "c", "d"])  # raises on a plain failure
    assert handler.jobs == {}
    assert result.failures == ()
    assert sorted(f.inputs[0] for f in result.maybe_deleted) == ["a", "b", "c", "d"]
    assert result.ok
    assert result.succeeded == 0


@pytest.mark.parametrize(("status", "maybe"), [(502, True), (504, True), (503, False)])
async def test_a_refusal_after_a_server_error_is_maybe_deleted_unless_503(
    status: int, maybe: bool
) -> None:
    handler = _Jobs(["a"])
    transport = MockTransport(Scripted(Response(status, {}, b""), then=handler))
    async with quick_client(transport, batch_size=4) as client:
        result = await client.delete_jobs(["a", "b"], raise_on_error=False)
    assert [job.id for job in result.jobs] == ["a"]  # the retry's first half
    # a 502/504 may have been applied (a proxy lost the answer); a 503 was not taken
    assert [f.inputs for f in result.maybe_deleted] == ([("b",)] if maybe else [])
    assert [f.inputs for f in result.failures] == ([] if maybe else [("b",)])


async def test_a_refusal_without_an_earlier_failure_stays_a_failure() -> None:
    handler = _Jobs(["a"])
    async with quick_client(MockTransport(handler), batch_size=4) as client:
        result = await client.delete_jobs(["a", "b"], raise_on_error=False)
    assert [f.inputs for f in result.failures] == [("b",)]
    assert result.maybe_deleted == ()


async def test_a_refused_key_stops_the_delete_call_early() -> None:
    transport = MockTransport(lambda request: Response(403, {}, b'{"status": 1}'))
    async with quick_client(transport, batch_size=2, max_concurrency=1) as client:
        result = await client.delete_jobs([f"j{i}" for i in range(10)], raise_on_error=False)
    assert len(transport.requests) == 1
    assert result.failed == 10
    assert all(isinstance(f.exception, AuthenticationError) for f in result.failures)


# -- find_jobs ------------------------------------------------------------------------


async def test_find_jobs_is_one_query_with_the_documented_parameters() -> None:
    transport = MockTransport(
        lambda request: _ok({"status": 0, "jobs": [{"id": "a", "day": 20261123}]})
    )
    async with quick_client(transport) as client:
        jobs = await client.find_jobs(
            day=datetime.date(2026, 11, 23), worker="w@x.com", team=2, order_ids=[5], active=True
        )
    assert [job.day for job in jobs] == [datetime.date(2026, 11, 23)]
    assert sent(transport, "getjobs") == [
        {
            "data": {
                "day": 20261123,
                "worker": "w@x.com",
                "team": 2,
                "orderIds": [5],
                "progressActive": 1,
            }
        }
    ]


async def test_find_jobs_retries_then_raises_the_last_error() -> None:
    transport = MockTransport(lambda request: Response(502, {}, b"<html>bad gateway</html>"))
    async with quick_client(transport, max_retries=2) as client:
        with pytest.raises(Exception, match="server error") as raised:
            await client.find_jobs(day=datetime.date(2026, 11, 23))
    assert len(transport.requests) == 3
    assert raised.value.__context__ is None  # nothing chained that could show headers


async def test_stream_find_jobs_yields_each_day_in_order() -> None:
    def by_day(request: Request) -> Response:
        day = request.json()["data"]["day"]
        return _ok({"status": 0, "jobs": [{"id": str(day)}] * (day % 10)})

    start = datetime.date(2026, 11, 1)
    days = [start + datetime.timedelta(n) for n in range(9)]
    async with quick_client(MockTransport(by_day), max_concurrency=3) as client:
        found = [(day, len(jobs)) async for day, jobs in client.stream_find_jobs(days=days)]
    assert found == [(day, day.day) for day in days]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"day": "2026-11-23"}, "day"),
        ({"day": datetime.date(2026, 1, 1), "worker": ""}, "worker"),
        ({"day": datetime.date(2026, 1, 1), "team": "3"}, "team"),
        ({"day": datetime.date(2026, 1, 1), "active": False}, "active"),
        ({"day": datetime.date(2026, 1, 1), "order_ids": [1.5]}, "order_ids"),
    ],
)
def test_find_query_refuses_what_the_api_cannot_take(arguments: Any, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        find_query(**arguments)
    assert raised.value.field == field

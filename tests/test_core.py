"""The I/O-free core: chunking, answer classification, matching, retry policy, assembly."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hellotracks_async import (
    APIError,
    AuthenticationError,
    BatchFailure,
    BatchOutcome,
    Job,
    JobUpdate,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from hellotracks_async.batching import Batch, Chunker, batches
from hellotracks_async.operations import CreateJobs, EditJobs
from hellotracks_async.results import ResultAssembler
from hellotracks_async.retrying import RetryPolicy, blames_input
from hellotracks_async.sansio import (
    match_created,
    match_edited,
    parse_answer,
    parse_retry_after,
)

DOCS = Path(__file__).parents[2] / "shared" / "api-docs"

# -- chunking ---------------------------------------------------------------------------


def test_chunker_numbers_batches_and_flushes() -> None:
    chunker = Chunker[int](size=3)
    full = [batch for batch in map(chunker.feed, range(8)) if batch is not None]
    assert full == [Batch(0, [0, 1, 2]), Batch(3, [3, 4, 5])]
    assert chunker.flush() == Batch(6, [6, 7])
    assert chunker.flush() is None


def test_chunker_refuses_size_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Chunker[int](0)


async def test_batches_of_sync_and_async_sources_agree() -> None:
    async def agen() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    from_sync = [b async for b in batches(iter(range(10)), 4)]
    from_async = [b async for b in batches(agen(), 4)]
    assert (
        from_sync
        == from_async
        == [
            Batch(0, [0, 1, 2, 3]),
            Batch(4, [4, 5, 6, 7]),
            Batch(8, [8, 9]),
        ]
    )
    assert [b async for b in batches([], 4)] == []


async def test_batches_consume_lazily() -> None:
    pulled = []

    def source() -> Any:
        for i in range(1_000_000):
            pulled.append(i)
            yield i

    async for batch in batches(source(), 5):
        assert batch.start == 0
        break
    assert len(pulled) == 5


# -- answer classification --------------------------------------------------------------


def test_success_answer_is_returned() -> None:
    assert parse_answer(200, {}, b'{"status":0,"jobs":[]}') == {"status": 0, "jobs": []}


@pytest.mark.parametrize(
    ("http_status", "body", "error", "api_status"),
    [
        (401, b'{"status":401}', AuthenticationError, None),
        (403, b"forbidden", AuthenticationError, None),
        (400, b'{"status":3,"message":"bad"}', APIError, 3),
        (404, b"<html>not found</html>", APIError, None),
        (500, b'{"status":500}', ServerError, None),
        (502, b"<html>Bad Gateway</html>", ServerError, None),
        (503, b"", ServerError, None),
        (200, b"<html>proxy login</html>", ServerError, None),
        (200, b"[1, 2]", ServerError, None),
        (200, b'{"status":2,"message":"unknown job id"}', APIError, 2),
        (200, b'{"message":"no status"}', APIError, None),
    ],
)
def test_error_answers_are_typed(
    http_status: int, body: bytes, error: type[APIError], api_status: int | None
) -> None:
    with pytest.raises(error) as caught:
        parse_answer(http_status, {}, body)
    assert type(caught.value) is error
    assert caught.value.http_status == http_status
    assert caught.value.api_status == api_status
    assert caught.value.body == body.decode()[:200]


def test_rate_limit_carries_retry_after() -> None:
    with pytest.raises(RateLimitError) as caught:
        parse_answer(429, {"Retry-After": "7"}, b"")
    assert caught.value.retry_after == 7.0


def test_retry_after_forms() -> None:
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


def test_body_excerpt_is_short() -> None:
    with pytest.raises(ServerError) as caught:
        parse_answer(502, {}, b"x" * 10_000)
    assert len(caught.value.body) == 200


def test_an_echoed_key_is_redacted_from_the_excerpt() -> None:
    with pytest.raises(APIError) as caught:
        parse_answer(400, {}, b'{"status": 1, "headers": {"API-Key": "k-123"}}', redact="k-123")
    assert "k-123" not in str(caught.value)
    assert '"API-Key": "***"' in caught.value.body


def test_answer_without_jobs_list_is_an_error_with_the_key_redacted() -> None:
    body = b'{"status": 0, "jobs": {"a": 1}, "echo": "sk-live-SECRET"}'
    with pytest.raises(APIError, match="without a list of job objects") as caught:
        parse_answer(200, {}, body, redact="sk-live-SECRET")
    assert "sk-live-SECRET" not in str(caught.value)
    assert "***" in caught.value.body


@pytest.mark.parametrize("status", [b'"0"', b"0.0", b"false", b"null"])
def test_a_status_that_is_not_the_integer_0_is_an_api_error_not_blamed_on_input(
    status: bytes,
) -> None:
    with pytest.raises(APIError, match=r"not an integer|API error") as caught:
        parse_answer(200, {}, b'{"status": ' + status + b', "jobs": []}')
    assert not blames_input(caught.value)


# -- matching ---------------------------------------------------------------------------


def test_created_jobs_matched_by_key_not_position() -> None:
    answered = [{"id": "3", "uidSecondary": "c"}, {"id": "1", "uidSecondary": "a"}]
    matched = match_created(["a", "b", "c"], answered)
    assert [m and m["id"] for m in matched] == ["1", None, "3"]


def test_unkeyed_jobs_fall_back_to_position() -> None:
    answered = [{"id": "x"}, {"id": "k1", "uidSecondary": "k"}, {"id": "y"}]
    assert [m and m["id"] for m in match_created(["k", None, ""], answered)] == ["k1", "x", "y"]
    # counts disagree: no guessing
    assert match_created([None, None], [{"id": "x"}]) == [None, None]


def test_edited_jobs_matched_by_id_and_template_id() -> None:
    matched = match_edited(["b", "tpl-9", "gone"], [{"id": "9"}, {"id": "b"}])
    assert matched == [{"id": "b"}, {"id": "9"}, None]


# -- operations -------------------------------------------------------------------------


def _docs_request(name: str) -> dict[str, Any]:
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


@pytest.mark.skipif(not DOCS.exists(), reason="../shared/api-docs is not beside this checkout")
def test_request_fixtures_are_the_docs_examples() -> None:
    assert _docs_request("createjobs.txt") == DOCS_CREATE
    assert _docs_request("editjobs.txt") == DOCS_EDIT


def test_create_body_without_idempotency_is_the_docs_example() -> None:
    wire = DOCS_CREATE["data"]["jobs"][0]  # type: ignore[index]
    prepared, rejected = CreateJobs(idempotency=False).prepare(Batch(0, [wire]))
    assert rejected == []
    assert prepared is not None
    assert json.loads(prepared.body) == DOCS_CREATE
    assert prepared.idempotent is False


def test_create_assigns_one_key_per_job_and_keeps_given_ones() -> None:
    create = CreateJobs(send_route_change=True, autoassign=True, is_template=True)
    prepared, _ = create.prepare(Batch(5, [Job(destination_name="a"), {"uidSecondary": "mine"}]))
    assert prepared is not None
    body = json.loads(prepared.body)["data"]
    generated, given = (job["uidSecondary"] for job in body["jobs"])
    assert generated.startswith("hta-")
    assert generated.endswith("-5")
    assert given == "mine"
    assert (body["sendRouteChange"], body["autoassign"], body["isTemplate"]) == (True,) * 3
    assert prepared.idempotent is True
    assert prepared.inputs[0] == Job(destination_name="a")  # the original, without the key
    assert prepared.wire[0]["uidSecondary"] == generated  # the sent form, with it


def test_a_prepared_create_keeps_keys_and_gives_back_the_wire_it_sent() -> None:
    prepared, _ = CreateJobs().prepare(Batch(0, [Job(destination_name="a"), {"uidSecondary": "k"}]))
    assert prepared is not None
    sent = json.loads(prepared.body)["data"]["jobs"]
    assert prepared.keys == (sent[0]["uidSecondary"], "k")
    assert prepared.wire == tuple(sent)
    unkeyed, _ = CreateJobs(idempotency=False).prepare(Batch(0, [Job(destination_name="a")]))
    assert unkeyed is not None
    assert (unkeyed.keys, unkeyed.idempotent) == ((None,), False)


def test_create_sets_invalid_jobs_aside() -> None:
    prepared, rejected = CreateJobs().prepare(
        Batch(10, [Job(destination_name="ok"), Job(destination_lat=99.0), {"id": "x"}])
    )
    assert prepared is not None
    assert prepared.indices == (10,)
    assert [(f.indices, type(f.exception)) for f in rejected] == [
        ((11,), ValidationError),
        ((12,), ValidationError),
    ]
    assert rejected[0].inputs == (Job(destination_lat=99.0),)


def test_edit_body_is_the_docs_example() -> None:
    fields = DOCS_EDIT["data"]["jobs"]["65e6d8f2abc1234567890001"]  # type: ignore[index]
    prepared, _ = EditJobs(notify=False).prepare(Batch(0, [("65e6d8f2abc1234567890001", fields)]))
    assert prepared is not None
    assert json.loads(prepared.body) == DOCS_EDIT


def test_edit_merges_repeated_ids_in_order() -> None:
    batch = Batch(
        0,
        [
            ("a", JobUpdate(worker="w1", priority=1)),
            ("tpl-b", JobUpdate(receiver_uid="")),
            ("a", JobUpdate(worker="w2")),
        ],
    )
    prepared, _ = EditJobs(send_route_change=True).prepare(batch)
    assert prepared is not None
    assert json.loads(prepared.body) == {
        "data": {
            "jobs": {"a": {"worker": "w2", "priority": 1}, "tpl-b": {"receiverUid": ""}},
            "notify": True,
            "sendRouteChange": True,
        }
    }
    outcome = EditJobs().outcome(prepared, {"status": 0, "jobs": [{"id": "b"}, {"id": "a"}]})
    assert outcome.indices == (0, 1, 2)
    assert [job.id for job in outcome.jobs] == ["a", "b", "a"]


def test_edit_rejects_non_pairs() -> None:
    prepared, rejected = EditJobs().prepare(Batch(0, ["just-an-id"]))  # type: ignore[list-item]
    assert prepared is None
    assert isinstance(rejected[0].exception, ValidationError)


def test_outcome_reports_inputs_missing_from_answer() -> None:
    create = CreateJobs()
    prepared, _ = create.prepare(Batch(0, [Job(destination_name="a"), Job(destination_name="b")]))
    assert prepared is not None
    first = prepared.wire[0]
    outcome = create.outcome(prepared, {"status": 0, "jobs": [{**first, "id": "1"}]})
    assert [job.id for job in outcome.jobs] == ["1"]
    (failure,) = outcome.failures
    assert failure.indices == (1,)
    assert failure.inputs == (Job(destination_name="b"),)
    assert failure.wire == (prepared.wire[1],)


# -- retry policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "idempotent", "retryable"),
    [
        (TransportError("reset", maybe_sent=True), True, True),
        (TransportError("reset", maybe_sent=True), False, False),
        (TransportError("refused", maybe_sent=False), False, True),
        (ServerError("x", http_status=500), True, True),
        (ServerError("x", http_status=502), False, False),
        (ServerError("x", http_status=503), False, True),
        (RateLimitError("x", http_status=429, retry_after=1.0), False, True),
        (RateLimitError("x", http_status=429, retry_after=61.0), True, False),
        (RateLimitError("x", http_status=429), True, True),
        (APIError("x", http_status=400), True, False),
        (APIError("x", http_status=200, api_status=2), True, False),
        (AuthenticationError("x", http_status=401), True, False),
        (ValidationError(0, "day", 1, "bad"), True, False),
        (RuntimeError("bug"), True, False),
    ],
)
def test_retry_classification(exc: Exception, idempotent: bool, retryable: bool) -> None:
    assert RetryPolicy(max_retry_after=60).is_retryable(exc, idempotent=idempotent) is retryable


def test_backoff_grows_and_is_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0)
    assert [policy.wait_seconds(None, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    limited = RateLimitError("x", http_status=429, retry_after=9.0)
    assert policy.wait_seconds(limited, 1) == 9.0


# -- assembly ---------------------------------------------------------------------------


def test_assembly_restores_input_order_and_keeps_every_input() -> None:
    assembler = ResultAssembler()
    failure = BatchFailure((2, 3), ("c", "d"), ServerError("x", http_status=500))
    assembler.add(BatchOutcome(indices=(4,), jobs=(Job(id="e"),), requests=1))
    assembler.add(BatchOutcome(failures=(failure,), requests=3, retries=2))
    assembler.add(BatchOutcome(indices=(0, 1), jobs=(Job(id="a"), Job(id="b")), requests=1))
    result = assembler.result(elapsed=1.5)
    assert [job.id for job in result.jobs] == ["a", "b", "e"]
    assert result.indices == (0, 1, 4)
    assert (result.succeeded, result.failed, result.ok) == (3, 2, False)
    assert (result.requests, result.retries, result.elapsed) == (5, 2, 1.5)
    assert sorted([*result.indices, *failure.indices]) == list(range(5))

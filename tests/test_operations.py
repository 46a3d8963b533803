"""hellotracks_async.operations: request bodies of createjobs/editjobs (the docs' examples),
idempotency keys, invalid inputs set aside, outcomes of answers. Pure, no I/O."""

from __future__ import annotations

import json

import pytest

from hellotracks_async import (
    Job,
    ValidationError,
)
from hellotracks_async.batching import Batch
from hellotracks_async.operations import CreateJobs, EditJobs

from ._helpers import DOCS, DOCS_CREATE, DOCS_EDIT, docs_request


@pytest.mark.skipif(not DOCS.exists(), reason="../shared/api-docs is not beside this checkout")
def test_request_fixtures_are_the_docs_examples() -> None:
    assert docs_request("createjobs.txt") == DOCS_CREATE
    assert docs_request("editjobs.txt") == DOCS_EDIT


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

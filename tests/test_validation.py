"""Client-side validation: every check names the job's index, the field and the value."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest

from hellotracks_async import (
    CustomField,
    HellotracksClient,
    Job,
    JobType,
    JobUpdate,
    MockTransport,
    ValidationError,
    validation,
)
from hellotracks_async.converter import converter
from hellotracks_async.errors import short_repr
from hellotracks_async.validation import (
    validate_create,
    validate_edit,
    validate_edit_pair,
)

from ._helpers import echo


class _Text(str):
    """A str subclass: still a text."""


@pytest.mark.parametrize(
    ("job", "field", "value"),
    [
        (Job(destination_lat=90.5), "destinationLat", 90.5),
        (Job(destination_lat=-91.0), "destinationLat", -91.0),
        (Job(destination_lng=180.01), "destinationLng", 180.01),
        (Job(destination_lat=float("nan")), "destinationLat", None),
        ({"destinationLng": "12"}, "destinationLng", "12"),
        ({"day": 20230230}, "day", 20230230),
        ({"day": "2023-11-10"}, "day", "2023-11-10"),
        (Job(id="64d88ed519c0ae41096aa4b4"), "id", "64d88ed519c0ae41096aa4b4"),
        ({"id": "x"}, "id", "x"),
        (Job(custom_fields=[CustomField(1, "v")]), "customFields", None),  # type: ignore[arg-type]
        ({"customFields": [{"key": 5, "val": "v"}]}, "customFields", None),
        (Job(window_start=2460), "windowStart", 2460),
        (Job(window_end=2401), "windowEnd", 2401),
        (Job(priority=11), "priority", 11),
        ({"type": 7}, "type", 7),
        # Issue 11: refused before sending, naming the field.
        (Job(priority=5.5), "priority", 5.5),  # type: ignore[arg-type]
        ({"priority": True}, "priority", True),
        ({"type": 1.0}, "type", 1.0),
        ({"day": "20231110"}, "day", "20231110"),  # was accepted; the API takes an int
        (Job(day=20231110), "day", 20231110),  # type: ignore[arg-type]
        ({"windowStart": 800.0}, "windowStart", 800.0),
        (Job(worker=5), "worker", 5),  # type: ignore[arg-type]
        ({"receiverUid": None, "worker": ["a"]}, "worker", ["a"]),
        ({"uidSecondary": 12}, "uidSecondary", 12),
        ({"destinationName": b"Acme"}, "destinationName", b"Acme"),
        ({"customFields": [{"key": "PO", "val": {"a": 1}}]}, "customFields", None),
        (Job(custom_fields=[CustomField("PO", [1])]), "customFields", None),  # type: ignore[arg-type]
        ({"custom_PO": [1, 2]}, "custom_PO", [1, 2]),
        (Job(extras={"custom_PO": {"a": 1}}), "custom_PO", {"a": 1}),
        (Job(extras={"x": Decimal("1.5")}), "x", Decimal("1.5")),
        (Job(extras={"x": [1, {"y": {2**64}}]}), "x", None),
        (Job(extras={"x": {1: "a"}}), "x", {1: "a"}),
        (Job(extras={"x": float("inf")}), "x", float("inf")),
        (Job(extras={"day": "soon"}), "day", "soon"),
        ({"orderId": 2**63}, "orderId", 2**63),
        ({"destinationLat": Decimal("1.5")}, "destinationLat", Decimal("1.5")),
        (Job(extra_number_1_val=float("nan")), "extra_number_1_val", None),
        ({"tsCreated": -1}, "tsCreated", -1),
        ({"destination_lat": 91}, "destination_lat", 91),
        ({"notes": "ring twice"}, "notes", "ring twice"),
        ({1: "a"}, "1", "a"),
        (Job(ts_created=datetime(2026, 1, 1)), "tsCreated", None),
        # A value whose exact type decides nothing (a subclass) is still checked.
        (Job(priority=True), "priority", True),
        (Job(is_template=1), "isTemplate", 1),  # type: ignore[arg-type]
        (Job(type=3), "type", 3),
    ],
)
def test_bad_input_names_index_field_and_value(job: Any, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_create(job, index=17)
    err = caught.value
    assert (err.index, err.field) == (17, field)
    assert str(err).startswith(f"job #17: {field}=")
    if value is not None:
        assert err.value == value
        assert short_repr(value) in str(err)  # a container by its size: no user data


@pytest.mark.parametrize(
    "job",
    [
        Job(destination_lat=90.0, destination_lng=-180.0, day=date(2024, 2, 29)),
        {"destinationLat": 37.77, "destinationLng": -122.42, "day": 20231110},
        {"day": 20231110, "windowStart": 704, "windowEnd": 2400},
        {"custom_PO": "PO-1", "customFields": [{"key": "n", "val": 1.5}], "tsCreated": 0},
        Job(type=JobType.PICKUP, extras={"custom_PO": 5, "newField": {"a": [1, None]}}),
        Job(ts_created=datetime(2026, 1, 1, tzinfo=timezone.utc), is_template=True),
        Job(custom_fields=[CustomField("PO", "1")], priority=0),
        {"customFields": [{"key": "PO", "val": "1"}], "day": 0},
        Job(worker=_Text("w@x.y"), day=datetime(2026, 1, 1, tzinfo=timezone.utc), type=1),
    ],
)
def test_good_input_passes(job: Any) -> None:
    validate_create(job, index=0)


def test_jobs_sharing_a_pattern_of_types_are_each_checked() -> None:
    # What a job needs checked is decided once per pattern of attribute types; the
    # values are still checked on every job.
    validate_create(Job(destination_lat=45.0, worker="a"), index=0)
    with pytest.raises(ValidationError, match=r"job #1: destinationLat=91.0"):
        validate_create(Job(destination_lat=91.0, worker="b"), index=1)
    validate_edit("abc", JobUpdate(day=None, priority=1), index=0)
    with pytest.raises(ValidationError, match=r"job #2: priority=11"):
        validate_edit("abc", JobUpdate(day=None, priority=11), index=2)


def test_many_patterns_of_types_keep_the_plans_bounded() -> None:
    job_fields = attrs.fields(attrs.resolve_types(Job))
    texts = [f.name for f in job_fields if f.type == str | None and f.name != "id"][:10]
    assert len(texts) == 10
    for pattern in range(2 ** len(texts)):  # 1,024 patterns: more than are kept
        fields = {name: "x" for bit, name in enumerate(texts) if pattern >> bit & 1}
        validate_create(Job(**fields, destination_lat=1.0), index=pattern)
    assert len(validation._PLANS[Job]) <= validation._MAX_PLANS
    with pytest.raises(ValidationError, match=r"job #5: destinationLat=-91.0"):
        validate_create(Job(**dict.fromkeys(texts, "x"), destination_lat=-91.0), index=5)


def test_create_refuses_other_types() -> None:
    with pytest.raises(ValidationError, match="job #2: job="):
        validate_create(["not", "a", "job"], index=2)  # type: ignore[arg-type]


def test_edit_checks_id_and_fields() -> None:
    validate_edit("tpl-42", JobUpdate(priority=3), index=0)
    validate_edit("abc", {"receiverUid": ""}, index=0)
    validate_edit("abc", JobUpdate(day=None), index=0)
    with pytest.raises(ValidationError, match=r"job #1: id=''"):
        validate_edit("", JobUpdate(worker="w"), index=1)
    with pytest.raises(ValidationError, match=r"job #2: id=42"):
        validate_edit(42, JobUpdate(worker="w"), index=2)
    with pytest.raises(ValidationError, match=r"job #3: destinationLat=100"):
        validate_edit("abc", JobUpdate(destination_lat=100), index=3)
    with pytest.raises(ValidationError, match=r"job #4: update="):
        validate_edit("abc", "worker=x", index=4)  # type: ignore[arg-type]


def test_seed_job_and_docs_examples_pass(seed_job: dict[str, Any]) -> None:
    job = converter.structure(seed_job, Job)
    validate_create(Job(**{**attrs.asdict(job, recurse=False), "id": None}), index=0)
    validate_create({k: v for k, v in seed_job.items() if k != "id"}, index=0)
    validate_edit("tpl-1", {k: v for k, v in seed_job.items() if k != "id"}, index=0)


@pytest.mark.parametrize("update", [JobUpdate(), {}], ids=repr)
def test_an_edit_with_no_fields_is_refused(update: Any) -> None:
    with pytest.raises(ValidationError, match=r"job #3: update=.* sets no field") as caught:
        validate_edit("abc", update, index=3)
    assert caught.value.field == "update"


def test_job_update_none_only_clears_dates_and_times() -> None:
    validate_edit("abc", JobUpdate(scheduled_start=None, ts_scheduled=None), index=0)
    with pytest.raises(ValidationError, match="worker=None"):
        validate_edit("abc", JobUpdate(worker=None), index=0)  # type: ignore[arg-type]


def test_edit_pair_checks_fields() -> None:
    assert validate_edit_pair(("abc", {"worker": "w"}), index=0) == ("abc", {"worker": "w"})
    with pytest.raises(ValidationError) as caught:
        validate_edit_pair(("abc", {"priority": 5.5}), index=9)
    assert (caught.value.index, caught.value.field) == (9, "priority")
    with pytest.raises(ValidationError, match="extras"):
        validate_edit_pair(("abc", {"extras": {"a": 1}}), index=0)


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("destination_lat", "destinationLat"),
        ("DestinationName", "destinationName"),
        ("destinatonName", "destinationName"),
        ("uid_secondry", "uidSecondary"),
        ("name", "destinationName"),
        ("notes", "textDispatcher"),
    ],
)
def test_unknown_wire_name_is_refused_with_a_suggestion(key: str, suggestion: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_create({"destinationName": "Acme", key: 1}, index=5)
    assert (caught.value.index, caught.value.field) == (5, key)
    assert f"did you mean {suggestion}?" in str(caught.value)


def test_unknown_names_pass_only_when_allowed() -> None:
    job = {"destinationName": "Acme", "newField2027": {"a": [1]}}
    with pytest.raises(ValidationError, match=r"newField2027=.* is not a known field"):
        validate_create(job, index=0)
    validate_create(job, index=0, allow_unknown=True)
    validate_edit("abc", {"newField2027": 1}, index=0, allow_unknown=True)
    with pytest.raises(ValidationError, match="JSON cannot carry"):
        validate_create({"newField2027": Decimal(1)}, index=0, allow_unknown=True)
    with pytest.raises(ValidationError, match="not a string"):
        validate_create({1: "x"}, index=0, allow_unknown=True)  # type: ignore[dict-item]


# -- a list is checked whole: nothing JSON cannot carry is ever sent --------------------

_BAD = b"bad\x80".decode("utf-8", "surrogateescape")  # a lone surrogate, as a file gives it


@pytest.mark.parametrize(
    "bad",
    [
        Job(destination_name=_BAD),
        Job(destination_name="ok", worker=_BAD),
        Job(custom_fields=[CustomField("PO", _BAD)]),
        Job(custom_fields=[CustomField(_BAD, "1")]),
        Job(extras={"futureField": _BAD}),
        {"destinationName": _BAD},
        {"customFields": [{"key": "PO", "val": _BAD}]},
    ],
)
async def test_a_list_with_an_unencodable_job_sends_nothing(bad: Any) -> None:
    transport = MockTransport(echo)
    jobs: list[Any] = [Job(destination_name=f"Stop {i}") for i in range(6)]
    jobs[5] = bad
    async with HellotracksClient("k", transport=transport, batch_size=2) as client:
        with pytest.raises(ValidationError) as caught:
            await client.create_jobs(jobs)
    assert transport.requests == []
    assert caught.value.index == 5
    assert "lone surrogate" in str(caught.value)


async def test_an_unencodable_update_or_id_sends_nothing() -> None:
    transport = MockTransport(echo)
    async with HellotracksClient("k", transport=transport) as client:
        with pytest.raises(ValidationError, match="lone surrogate"):
            await client.edit_jobs({"a": JobUpdate(priority=1), "b": JobUpdate(worker=_BAD)})
        with pytest.raises(ValidationError, match="lone surrogate"):
            await client.edit_jobs({"a": JobUpdate(priority=1), _BAD: JobUpdate(priority=2)})
    assert transport.requests == []


def test_a_message_holds_a_short_excerpt_never_the_whole_job() -> None:
    secret = "Jane Doe, 221B Baker Street, +44 20 7946 0000 " * 10
    with pytest.raises(ValidationError) as caught:
        validate_create(Job(destination_name=secret, destination_lat=91.0), 3)
    assert "Jane Doe" not in str(caught.value)  # the bad field is the latitude
    with pytest.raises(ValidationError) as caught:
        validate_create(Job(destination_name=secret + _BAD), 3)
    message = str(caught.value)
    assert len(message) < 120
    assert secret not in message
    with pytest.raises(ValidationError) as caught:
        validate_create({"destinationName": secret, "notAField": 1}, 3)
    assert secret not in str(caught.value)

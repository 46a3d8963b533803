"""The wire mapping: the docs' example round trip, unknown fields, updates, property tests."""

from __future__ import annotations

import copy
import json
import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hellotracks_async import UNSET, CustomField, Job, JobType, JobUpdate
from hellotracks_async.converter import converter
from hellotracks_async.wire import to_wire_name

DOCS = Path(__file__).parents[2] / "shared" / "api-docs" / "createjobs.txt"


def test_seed_example_round_trips_exactly(seed_job: dict[str, Any]) -> None:
    original = copy.deepcopy(seed_job)
    job = converter.structure(seed_job, Job)
    assert converter.unstructure(job) == original
    assert json.dumps(converter.unstructure(job), sort_keys=True) == json.dumps(
        original, sort_keys=True
    )
    assert job.extras == {}  # every documented field has an attribute


def test_seed_example_gets_pythonic_types(seed_job: dict[str, Any]) -> None:
    job = converter.structure(seed_job, Job)
    assert job.id == "64d88ed519c0ae41096aa4b4"
    assert job.day == date(2025, 10, 8)
    assert job.type is JobType.WORK
    assert job.ts_check_in == datetime(2023, 10, 8, 8, 0, tzinfo=timezone.utc)
    assert job.scheduled_end == datetime(2023, 10, 8, 7, 15, tzinfo=timezone.utc)
    assert (job.window_start, job.window_end) == (800, 1500)
    assert job.custom_fields == [
        CustomField("PO_Number", "PO-2024-5678"),
        CustomField("Department", "Facilities"),
    ]
    assert job.extra_number_1_val == 45.5
    assert job.is_template is False
    assert job.carry_over == 0


@pytest.mark.skipif(not DOCS.exists(), reason="../shared/api-docs is not beside this checkout")
def test_fixture_is_the_docs_example_verbatim(seed_response: dict[str, Any]) -> None:
    text = DOCS.read_text()
    documented, _ = json.JSONDecoder().raw_decode(text, text.index('{\n    "status": 0'))
    assert documented == seed_response


def test_unknown_server_field_survives(seed_job: dict[str, Any]) -> None:
    wire = {**seed_job, "newFieldFrom2027": 1, "tsRejected": 1696752950000}
    job = converter.structure(wire, Job)
    assert job.extras == {"newFieldFrom2027": 1, "tsRejected": 1696752950000}
    assert converter.unstructure(job) == wire


def test_zero_means_unset() -> None:
    job = converter.structure({"tsCheckIn": 0, "day": 0, "scheduledStart": 0}, Job)
    assert (job.ts_check_in, job.day, job.scheduled_start) == (None, None, None)
    assert converter.unstructure(job) == {}


def test_loose_day_string_is_accepted() -> None:
    assert converter.structure({"day": "20231110"}, Job).day == date(2023, 11, 10)


def test_create_payload_omits_none() -> None:
    job = Job(destination_name="Acme", destination_lat=1.5, day=date(2026, 2, 24))
    assert converter.unstructure(job) == {
        "destinationName": "Acme",
        "destinationLat": 1.5,
        "day": 20260224,
    }


def test_job_update_sends_only_set_fields() -> None:
    assert converter.unstructure(JobUpdate(worker="a@b.c")) == {"worker": "a@b.c"}
    assert converter.unstructure(JobUpdate(receiver_uid="")) == {"receiverUid": ""}
    assert converter.unstructure(JobUpdate()) == {}


def test_job_update_none_clears_dates_and_times() -> None:
    update = JobUpdate(day=None, scheduled_start=None, priority=3)
    assert converter.unstructure(update) == {"day": 0, "scheduledStart": 0, "priority": 3}


def test_job_update_types_and_extras() -> None:
    update = JobUpdate(
        day=date(2026, 1, 2),
        type=JobType.DROPOFF,
        scheduled_end=datetime(2026, 1, 2, 9, tzinfo=timezone.utc),
        custom_fields=[CustomField("PO", "1")],
        extras={"custom_Department": "Ops"},
    )
    assert converter.unstructure(update) == {
        "day": 20260102,
        "type": 2,
        "scheduledEnd": 1767344400000,
        "customFields": [{"key": "PO", "val": "1"}],
        "custom_Department": "Ops",
    }
    assert JobUpdate().worker is UNSET


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        converter.unstructure(Job(ts_created=datetime(2026, 1, 1)))


# -- property tests ---------------------------------------------------------------------

_text = st.text(max_size=20)
_ms = st.integers(min_value=1, max_value=4_102_444_800_000)  # up to 2100
_aware = _ms.map(lambda ms: datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms))
_day = st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 12, 31))
_float = st.floats(allow_nan=False, allow_infinity=False)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


_jobs = st.builds(
    Job,
    id=_optional(_text),
    day=_optional(_day),
    type=_optional(st.sampled_from(JobType)),
    priority=_optional(st.integers(0, 10)),
    destination_name=_optional(_text),
    destination_lat=_optional(st.floats(-90, 90)),
    destination_lng=_optional(st.floats(-180, 180)),
    window_start=_optional(st.integers(0, 2400)),
    ts_created=_optional(_aware),
    ts_check_in=_optional(_aware),
    scheduled_start=_optional(_aware),
    uid_secondary=_optional(_text),
    custom_fields=_optional(st.lists(st.builds(CustomField, _text, _text), max_size=3)),
    extra_number_1_val=_optional(_float),
    is_template=_optional(st.booleans()),
    extras=st.dictionaries(
        st.text(min_size=1).map(lambda key: "x" + key), st.integers() | _text, max_size=3
    ),
)


@given(_jobs)
def test_job_round_trip(job: Job) -> None:
    wire = converter.unstructure(job)
    assert converter.structure(wire, Job) == job
    assert converter.unstructure(converter.structure(wire, Job)) == wire


@given(st.dictionaries(st.sampled_from(["tsCheckIn", "tsSaved", "scheduledEnd"]), _ms))
def test_wire_timestamps_round_trip(wire: dict[str, int]) -> None:
    assert converter.unstructure(converter.structure(wire, Job)) == wire


# -- answers are survivable ---------------------------------------------------------------


def test_unknown_job_type_is_kept_as_its_int(seed_job: dict[str, Any]) -> None:
    job = converter.structure({**seed_job, "type": 7}, Job)
    assert job.type == 7
    assert not isinstance(job.type, JobType)
    assert job.extras == {}
    assert converter.unstructure(job) == {**seed_job, "type": 7}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("day", "soon"),
        ("day", 20231399),
        ("destinationLat", "x"),
        ("customFields", 5),
        ("customFields", [{"key": "PO"}]),
        ("customFields", [{"key": "PO", "val": None}]),
        ("tsCheckIn", "yesterday"),
        ("tsCheckIn", 10**30),
        ("priority", 5.5),
        ("type", "work"),
        ("isTemplate", "no"),
        ("destinationName", 5),
    ],
)
def test_odd_answer_field_is_kept_raw_with_a_warning(
    seed_job: dict[str, Any], key: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    wire = {**seed_job, key: value, "newField": 1}
    with caplog.at_level(logging.WARNING, logger="hellotracks_async"):
        job = converter.structure(wire, Job)
    assert job.id == seed_job["id"]
    assert job.extras == {key: value, "newField": 1}
    assert job.destination_lng == seed_job["destinationLng"]
    assert converter.unstructure(job) == wire
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert key in record.getMessage()
    assert seed_job["contactPhone"] not in record.getMessage()  # never the whole job


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
_keys = st.sampled_from(sorted(to_wire_name(f) for f in Job.__annotations__ if f != "extras"))


@given(st.dictionaries(_keys | st.text(max_size=8), _json, max_size=12))
def test_any_json_answer_job_structures(wire: dict[str, Any]) -> None:
    job = converter.structure(wire, Job)
    assert isinstance(job, Job)
    assert converter.unstructure(job).keys() <= wire.keys()


@given(_jobs, st.dictionaries(_keys, _json, max_size=6))
def test_known_good_fields_survive_odd_neighbours(job: Job, odd: dict[str, Any]) -> None:
    good = converter.unstructure(job)
    wire = {**odd, **good}
    structured = converter.structure(wire, Job)
    for key, value in good.items():
        assert converter.unstructure(structured)[key] == value

"""Client-side validation: every check names the job's index, the field and the value."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from hellotracks_async import CustomField, Job, JobUpdate, ValidationError
from hellotracks_async.validation import validate_create, validate_edit


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
        (Job(ts_created=datetime(2026, 1, 1)), "tsCreated", None),
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
        assert repr(value) in str(err)


@pytest.mark.parametrize(
    "job",
    [
        Job(destination_lat=90.0, destination_lng=-180.0, day=date(2024, 2, 29)),
        {"destinationLat": 37.77, "destinationLng": -122.42, "day": 20231110},
        {"day": "20231110", "windowStart": 704, "windowEnd": 2400},
        Job(custom_fields=[CustomField("PO", "1")], priority=0),
        {"customFields": [{"key": "PO", "val": "1"}], "day": 0},
    ],
)
def test_good_input_passes(job: Any) -> None:
    validate_create(job, index=0)


def test_create_refuses_other_types() -> None:
    with pytest.raises(ValidationError, match="job #2: job="):
        validate_create(["not", "a", "job"], index=2)  # type: ignore[arg-type]


def test_edit_checks_id_and_fields() -> None:
    validate_edit("tpl-42", JobUpdate(priority=3), index=0)
    validate_edit("abc", {"receiverUid": ""}, index=0)
    validate_edit("abc", JobUpdate(day=None), index=0)
    with pytest.raises(ValidationError, match=r"job #1: id=''"):
        validate_edit("", JobUpdate(), index=1)
    with pytest.raises(ValidationError, match=r"job #2: id=42"):
        validate_edit(42, JobUpdate(), index=2)
    with pytest.raises(ValidationError, match=r"job #3: destinationLat=100"):
        validate_edit("abc", JobUpdate(destination_lat=100), index=3)
    with pytest.raises(ValidationError, match=r"job #4: update="):
        validate_edit("abc", "worker=x", index=4)  # type: ignore[arg-type]

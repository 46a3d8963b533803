"""Client-side checks of input jobs, run before anything is sent. No I/O.

Each check looks at one field in either form a caller may give: a :class:`Job` /
:class:`JobUpdate` attribute (``date``, ``datetime``, :class:`CustomField`) or a value of
a plain wire-format dict (``int`` day, ``dict`` custom field). The first problem found
raises :class:`~hellotracks_async.errors.ValidationError` naming the job's index, the
field's wire name and the value.

Example::

    >>> validate_create(Job(destination_lat=91.0), index=4)
    Traceback (most recent call last):
    ...
    hellotracks_async.errors.ValidationError: job #4: destinationLat=91.0 must be within [-90, 90]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final

from .errors import ValidationError
from .models import UNSET, CustomField, Job, JobType, JobUpdate
from .wire import date_from_yyyymmdd, to_wire_name

__all__ = ["validate_create", "validate_edit", "validate_edit_pair"]

_Check = Callable[[Any], "str | None"]


def _number_within(low: float, high: float) -> _Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        if math.isnan(value) or not low <= value <= high:
            return f"must be within [{low:g}, {high:g}]"
        return None

    return check


def _day(value: Any) -> str | None:
    if isinstance(value, date):
        return None
    try:
        number = int(value)
        if number:
            date_from_yyyymmdd(number)
    except (TypeError, ValueError):
        return "is not a real date (YYYYMMDD)"
    return None


def _hhmm(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an HHMM integer"
    hours, minutes = divmod(value, 100)
    if value == 2400 or (0 <= hours < 24 and 0 <= minutes < 60):
        return None
    return "must be an HHMM time between 0 and 2400"


def _timestamp(value: Any) -> str | None:
    if isinstance(value, datetime):
        return "must be timezone-aware" if value.tzinfo is None else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "must be an aware datetime or epoch milliseconds"
    return None


def _job_type(value: Any) -> str | None:
    if isinstance(value, JobType) or value in (0, 1, 2):
        return None
    return "must be a JobType (0 work, 1 pickup, 2 dropoff)"


def _custom_fields(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be a list of {key, val}"
    for item in value:
        key = (
            item.key
            if isinstance(item, CustomField)
            else (item.get("key") if isinstance(item, Mapping) else None)
        )
        if not isinstance(key, str):
            return f"has a custom field whose key {key!r} is not a string"
    return None


_TIMESTAMPS = (
    "ts_created",
    "ts_saved",
    "ts_assigned",
    "ts_accepted",
    "ts_scheduled",
    "ts_check_in",
    "ts_check_out",
    "ts_done_success",
    "ts_signature",
    "scheduled_start",
    "scheduled_end",
)

#: (attribute, wire name, check) for every checked field.
_CHECKS: Final[tuple[tuple[str, str, _Check], ...]] = (
    ("destination_lat", "destinationLat", _number_within(-90, 90)),
    ("destination_lng", "destinationLng", _number_within(-180, 180)),
    ("day", "day", _day),
    ("priority", "priority", _number_within(0, 10)),
    ("type", "type", _job_type),
    ("window_start", "windowStart", _hhmm),
    ("window_end", "windowEnd", _hhmm),
    ("custom_fields", "customFields", _custom_fields),
    *((name, to_wire_name(name), _timestamp) for name in _TIMESTAMPS),
)

#: Per wire name, an expression on ``value`` that is true only for values the check
#: passes: the usual good values, decided inline without calling the check.
_SURELY_VALID: Final[dict[str, str]] = {
    "destinationLat": "(type(value) is float or type(value) is int) and -90 <= value <= 90",
    "destinationLng": "(type(value) is float or type(value) is int) and -180 <= value <= 180",
    "day": "type(value) is date or type(value) is int and 19000101 <= value <= 21001231"
    " and 1 <= value // 100 % 100 <= 12 and 1 <= value % 100 <= 28",
    "priority": "type(value) is int and 0 <= value <= 10",
    "type": "type(value) is JobType",
    "windowStart": "type(value) is int and 0 <= value <= 2400 and value % 100 < 60",
    "windowEnd": "type(value) is int and 0 <= value <= 2400 and value % 100 < 60",
    **{
        to_wire_name(name): "type(value) is datetime and value.tzinfo is not None"
        for name in _TIMESTAMPS
    },
}

_CHECKS_BY_WIRE: Final = {wire: check for _, wire, check in _CHECKS}


def _check(wire: str, value: Any, index: int) -> None:
    if value is None or value is UNSET:
        return
    reason = _CHECKS_BY_WIRE[wire](value)
    if reason is not None:
        raise ValidationError(index, wire, value, reason)


def _check_fields(item: Any, index: int) -> None:
    if isinstance(item, Mapping):
        for wire in sorted(_CHECKS_BY_WIRE.keys() & item.keys()):  # only keys present
            _check(wire, item[wire], index)
    else:
        for attribute, wire, _ in _CHECKS:
            _check(wire, getattr(item, attribute, None), index)


def _make_checker(kind: type) -> Callable[[Any, int], None]:
    """Generate ``_check_fields`` for items of exactly type ``kind``, unrolled.

    One statement per checked field: read it (``dict.get`` for a dict, in the sorted
    order of the wire names; the attribute for a class that has it), skip it if unset,
    accept it inline if :data:`_SURELY_VALID` says so, and call the check only
    otherwise. Same checks, same order, same first error as :func:`_check_fields`.
    """
    if kind is dict:
        reads = [(wire, f"item.get({wire!r})") for wire in sorted(_CHECKS_BY_WIRE)]
    else:
        reads = [(wire, f"item.{name}") for name, wire, _ in _CHECKS if hasattr(kind, name)]
    namespace: dict[str, Any] = {
        "date": date,
        "datetime": datetime,
        "JobType": JobType,
        "UNSET": UNSET,
        "ValidationError": ValidationError,
    }
    lines = ["def check_fields(item, index):"]
    for number, (wire, read) in enumerate(reads):
        namespace[f"check_{number}"] = _CHECKS_BY_WIRE[wire]
        surely_valid = _SURELY_VALID.get(wire, "False")
        lines += [
            f"    value = {read}",
            f"    if value is not None and value is not UNSET and not ({surely_valid}):",
            f"        reason = check_{number}(value)",
            "        if reason is not None:",
            f"            raise ValidationError(index, {wire!r}, value, reason)",
        ]
    source = "\n".join(lines)
    exec(compile(source, f"<hellotracks_async checks of {kind.__name__}>", "exec"), namespace)
    checker: Callable[[Any, int], None] = namespace["check_fields"]
    return checker


#: The generated checkers of the types validated by the thousand.
_CHECKERS: Final[dict[type, Callable[[Any, int], None]]] = {
    kind: _make_checker(kind) for kind in (Job, JobUpdate, dict)
}


def validate_create(job: Job | Mapping[str, Any], index: int) -> None:
    """Check one job to create; raise :class:`ValidationError` on the first problem.

    Example::

        >>> validate_create({"destinationName": "Acme", "day": 20261123}, index=0)
    """
    if type(job) is Job:  # the usual case first: isinstance() with an ABC is slower
        job_id = job.id
    elif isinstance(job, Mapping):
        job_id = job.get("id")
    elif isinstance(job, Job):
        job_id = job.id
    else:
        raise ValidationError(index, "job", job, "must be a Job or a wire-format dict")
    if job_id is not None:
        raise ValidationError(index, "id", job_id, "must not be set on a job to create")
    checker = _CHECKERS.get(type(job))
    if checker is None:
        _check_fields(job, index)
    else:
        checker(job, index)


def validate_edit(job_id: Any, update: JobUpdate | Mapping[str, Any], index: int) -> None:
    """Check one ``(job_id, update)`` pair; raise :class:`ValidationError` on a problem.

    Example::

        >>> validate_edit("tpl-42", JobUpdate(priority=11), index=2)
        Traceback (most recent call last):
        ...
        hellotracks_async.errors.ValidationError: job #2: priority=11 must be within [0, 10]
    """
    if not isinstance(job_id, str) or not job_id:
        raise ValidationError(index, "id", job_id, "must be a non-empty string")
    if not isinstance(update, (JobUpdate, Mapping)):
        raise ValidationError(index, "update", update, "must be a JobUpdate or a wire dict")
    checker = _CHECKERS.get(type(update))
    if checker is None:
        _check_fields(update, index)
    else:
        checker(update, index)


def validate_edit_pair(item: Any, index: int) -> tuple[str, JobUpdate | Mapping[str, Any]]:
    """Check one ``(job_id, update)`` input, its shape included; return it unpacked.

    Example::

        >>> validate_edit_pair(("abc", JobUpdate(priority=3)), index=0)[0]
        'abc'
    """
    if not isinstance(item, tuple) or len(item) != 2:
        raise ValidationError(index, "update", item, "must be a (job_id, update) pair")
    job_id, update = item
    validate_edit(job_id, update, index)
    return job_id, update

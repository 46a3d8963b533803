"""What each field of a job may hold: one check per attribute type or wire name, in the
two forms a job comes in (a :class:`~hellotracks_async.models.Job` attribute, a wire
value). A check returns the reason a value is refused, or ``None``. No I/O.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

:mod:`hellotracks_async.validation` walks a job with these tables.

Example::

    >>> attribute, check = OBJECT_RULES["destinationLat"]
    >>> attribute, check(91.0)
    ('destination_lat', 'must be within [-90, 90]')
    >>> WIRE_RULES["day"][1](20230230)
    'is not a real date (YYYYMMDD)'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final

import attrs

from .errors import short_repr
from .models import CustomField, Job, JobType
from .wire import date_from_yyyymmdd, to_wire_name

__all__ = [
    "CLEARABLE",
    "OBJECT_RULES",
    "PASSED_BY_TYPE",
    "WIRE_RULES",
    "Check",
    "custom_value",
    "json_problem",
    "text_problem",
]

#: A check: the reason a value is refused, or ``None`` if it is fine.
Check = Callable[[Any], "str | None"]

_INT64: Final = range(-(2**63), 2**63)


def text_problem(value: str) -> str | None:
    """Why a string cannot be sent as UTF-8: a lone surrogate (what ``surrogateescape``
    decoding makes of bytes that are not UTF-8).

    Example::

        >>> text_problem("Zürich"), text_problem(b"bad\\x80".decode("utf-8", "surrogateescape"))
        (None, 'holds a lone surrogate (not valid UTF-8)')
    """
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "holds a lone surrogate (not valid UTF-8)"
    return None


def json_problem(value: Any) -> str | None:
    """Why JSON (as the client sends it) cannot carry ``value``, nested values included."""
    if isinstance(value, str):
        return text_problem(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if value in _INT64 else "is an integer beyond 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else "is not a finite number"
    if isinstance(value, (list, tuple)):
        return next(filter(None, map(json_problem, value)), None)
    if isinstance(value, dict):
        if not all(isinstance(key, str) and not text_problem(key) for key in value):
            return "has a dict key that is not a string of valid UTF-8"
        return next(filter(None, map(json_problem, value.values())), None)
    return f"is a {type(value).__name__}, which JSON cannot carry"


def _text(value: Any) -> str | None:
    return text_problem(value) if isinstance(value, str) else "must be a string"


def _integer(value: Any) -> str | None:
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        return None if value in _INT64 else "is an integer beyond 64 bits"
    return "must be an integer"


def _number(value: Any) -> str | None:
    if type(value) is float:  # the usual case first
        return None if math.isfinite(value) else "is not a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "must be a number"
    return json_problem(value)


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _within(check: Check, low: int, high: int, usual: tuple[type, ...]) -> Check:
    """``check``, and ``low <= value <= high``."""

    def within(value: Any) -> str | None:
        if type(value) in usual and low <= value <= high:
            return None  # the usual case, decided at once (nan fails the comparison)
        reason = check(value)
        if reason is None and not low <= value <= high:
            reason = f"must be within [{low:g}, {high:g}]"
        return reason

    return within


def _hhmm(value: Any) -> str | None:
    if _integer(value) is not None:
        return "must be an HHMM integer"
    hours, minutes = divmod(value, 100)
    if value == 2400 or (0 <= hours < 24 and 0 <= minutes < 60):
        return None
    return "must be an HHMM time between 0 and 2400"


def _job_type(value: Any) -> str | None:
    if isinstance(value, JobType) or (type(value) is int and value in (0, 1, 2)):
        return None
    return "must be a JobType (0 work, 1 pickup, 2 dropoff)"


def _yyyymmdd(value: Any) -> str | None:
    if type(value) is int and 10000101 <= value <= 99991231 and 1 <= value % 100 <= 28:
        return None  # surely a real date (or a year the API will refuse)
    if _integer(value) is not None:
        return "must be a YYYYMMDD integer"
    try:
        if value:
            date_from_yyyymmdd(value)
    except ValueError:
        return "is not a real date (YYYYMMDD)"
    return None


def _date(value: Any) -> str | None:
    return None if isinstance(value, date) else "must be a datetime.date"


def _epoch_ms(value: Any) -> str | None:
    reason = _integer(value)
    if reason is None and value < 0:
        return "must be epoch milliseconds (0 or more)"
    return reason


def _aware(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return "must be a timezone-aware datetime"
    return "must be timezone-aware" if value.utcoffset() is None else None


def custom_value(value: Any) -> str | None:
    """A custom field's value: a string, a number or a bool."""
    if isinstance(value, (str, int, float)):  # bool is an int
        return json_problem(value)
    return "is not a string, a number or a bool"


def _custom_fields(item_check: Check) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return "must be a list of custom fields"
        return next(filter(None, map(item_check, value)), None)

    return check


def _custom_item(key: Any, val: Any) -> str | None:
    if not isinstance(key, str):
        return f"has a custom field whose key {short_repr(key)} is not a string"
    if text_problem(key) is not None:
        return f"has a custom field whose key {short_repr(key)} {text_problem(key)}"
    reason = custom_value(val)
    if reason is not None:
        return f"has a custom field value {short_repr(val)} that {reason}"
    return None


def _custom_field_object(item: Any) -> str | None:
    if not isinstance(item, CustomField):
        return f"holds {short_repr(item)}, which is not a CustomField"
    return _custom_item(item.key, item.val)


def _custom_field_wire(item: Any) -> str | None:
    if not isinstance(item, dict):
        return f'holds {short_repr(item)}, which is not a {{"key": ..., "val": ...}} object'
    return _custom_item(item.get("key"), item.get("val")) or json_problem(item)


#: Each attribute type of :class:`Job` -> (check of the attribute, check of the wire value).
_BY_TYPE: Final[dict[Any, tuple[Check, Check]]] = {
    str | None: (_text, _text),
    int | None: (_integer, _integer),
    float | None: (_number, _number),
    bool | None: (_boolean, _boolean),
    date | None: (_date, _yyyymmdd),
    datetime | None: (_aware, _epoch_ms),
    JobType | int | None: (_job_type, _job_type),
    list[CustomField] | None: (
        _custom_fields(_custom_field_object),
        _custom_fields(_custom_field_wire),
    ),
}

#: Fields with a narrower check than their type's, in both forms.
_BY_NAME: Final[dict[str, Check]] = {
    "destinationLat": _within(_number, -90, 90, (float, int)),
    "destinationLng": _within(_number, -180, 180, (float, int)),
    "priority": _within(_integer, 0, 10, (int,)),
    "windowStart": _hhmm,
    "windowEnd": _hhmm,
}


def _rules(form: int) -> dict[str, tuple[str, Check]]:
    """wire name -> (attribute, check) of every :class:`Job` field; ``form`` 0 for
    attributes, 1 for wire values."""
    rules = {}
    for field in attrs.fields(attrs.resolve_types(Job)):
        if field.name != "extras":
            wire = to_wire_name(field.name)
            check = _BY_NAME.get(wire) or _BY_TYPE[field.type][form]
            rules[wire] = (field.name, check)
    return rules


OBJECT_RULES: Final = _rules(0)
WIRE_RULES: Final = _rules(1)


#: Dates and times a :class:`JobUpdate` clears with ``None``.
CLEARABLE: Final = frozenset(
    wire for wire, (_, check) in OBJECT_RULES.items() if check in (_date, _aware)
)
#: Checks that every value of these exact types passes: such a value needs no call.
#: (A ``str`` is checked for lone surrogates by the caller, all of a job's at once.)
PASSED_BY_TYPE: Final[dict[Check, tuple[type, ...]]] = {
    _text: (str,),
    _date: (date, datetime),
    _boolean: (bool,),
    _job_type: (JobType,),
}

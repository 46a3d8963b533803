"""Rows of an import file -> wire-format jobs: names, value types, validation. No I/O.

A row is a mapping from column (CSV) or key (JSONL) to value. Names may be wire names
(``destinationName``) or snake_case (``destination_name``); ``custom_<name>`` keys pass
through as they are (the API folds them into ``customFields``), and the ``error`` column
of a failures file is ignored. Text values (every CSV cell) of numeric fields become
numbers, ``customFields`` may be a JSON string, and empty cells are left out.

Example::

    >>> parse_create({"destination_name": "Acme", "day": "2026-11-23", "priority": "7",
    ...               "custom_PO": "PO-1", "error": "ServerError: ..."})
    {'destinationName': 'Acme', 'day': 20261123, 'priority': 7, 'custom_PO': 'PO-1'}
    >>> parse_edit({"id": "65f0", "window_start": "08:30"})
    ('65f0', {'windowStart': 830})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import orjson

from ..errors import ValidationError
from ..validation import validate_create, validate_edit
from ..wire import to_wire_name, unknown_wire_names

__all__ = [
    "ERROR_COLUMN",
    "RowError",
    "parse_create",
    "parse_edit",
    "unknown_columns",
    "wire_name",
]

#: The column a failures file adds; ignored when such a file is imported again.
ERROR_COLUMN: Final = "error"
_CUSTOM: Final = "custom_"


class RowError(ValueError):
    """A row that cannot become a job; the message says why (the caller adds the line).

    Example::

        >>> str(RowError("priority='high' is not a whole number"))
        "priority='high' is not a whole number"
    """


def wire_name(name: str) -> str:
    """The wire name of a column: snake_case becomes camelCase, ``custom_*`` stays.

    Example::

        >>> wire_name("destination_lat"), wire_name("destinationLat"), wire_name("custom_PO")
        ('destinationLat', 'destinationLat', 'custom_PO')
    """
    return name if name.startswith(_CUSTOM) else to_wire_name(name)


def unknown_columns(names: Iterable[str]) -> list[str]:
    """One message for each column (or JSONL key) that is no job field, with the
    likely meant one; the ``error`` column of a failures file is known.

    Example::

        >>> unknown_columns(["destination_name", "notes", "error", "colour", "custom_PO"])
        ["unknown column 'notes'; did you mean textDispatcher?", "unknown column 'colour'"]
    """
    found = unknown_wire_names(name for name in names if name != ERROR_COLUMN)
    return [
        f"unknown column {name!r}" + (f"; did you mean {guess}?" if guess else "")
        for name, guess in found.items()
    ]


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = float(text)  # "5.0" from a spreadsheet; ValueError if not a number
        if not number.is_integer():
            raise ValueError(text) from None
        return int(number)


def _decimal(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _day(text: str) -> int:
    """``YYYYMMDD`` or ``YYYY-MM-DD``."""
    digits = text.replace("-", "") if len(text) == 10 and text[4] == text[7] == "-" else text
    return _integer(digits)


def _hhmm(text: str) -> int:
    """``HHMM`` or ``HH:MM``."""
    if ":" in text:
        hours, _, minutes = text.partition(":")
        return int(hours) * 100 + int(minutes)
    return _integer(text)


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(text)


def _custom_fields(text: str) -> Any:
    return orjson.loads(text)


_INTEGERS: Final = (
    *("number", "type", "priority", "radius", "itemsToPickup", "itemsToDropoff"),
    *("onSiteSeconds", "orderId", "teamId", "carryOver", "scheduledStart", "scheduledEnd"),
    *("tsCreated", "tsSaved", "tsAssigned", "tsAccepted", "tsScheduled", "tsCheckIn"),
    *("tsCheckOut", "tsDoneSuccess", "tsSignature"),
)

#: How a text value of a typed field is read, and what to call it in an error.
_PARSERS: Final[dict[str, tuple[Callable[[str], Any], str]]] = {
    **{name: (_integer, "a whole number") for name in _INTEGERS},
    "day": (_day, "a day (YYYYMMDD or YYYY-MM-DD)"),
    "windowStart": (_hhmm, "a time (HHMM or HH:MM)"),
    "windowEnd": (_hhmm, "a time (HHMM or HH:MM)"),
    "destinationLat": (_decimal, "a number"),
    "destinationLng": (_decimal, "a number"),
    "extra_number_1_val": (_decimal, "a number"),
    "isTemplate": (_boolean, "true or false"),
    "customFields": (_custom_fields, 'a JSON list of {"key": ..., "val": ...}'),
}


def _wire_fields(row: Mapping[str, Any], keep_empty: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    for name, value in row.items():
        if name == ERROR_COLUMN or value is None or (value == "" and not keep_empty):
            continue
        key = wire_name(name)
        if key in wire:
            raise RowError(f"{key} is given twice")
        parser = _PARSERS.get(key)
        if parser is not None and isinstance(value, str):
            read, expected = parser
            try:
                value = read(value.strip())
            except ValueError:
                raise RowError(f"{key}={value!r} is not {expected}") from None
        wire[key] = value
    return wire


def _problem(exc: ValidationError) -> RowError:
    return RowError(f"{exc.field}={exc.value!r} {exc.reason}")


def parse_create(
    row: Mapping[str, Any], *, keep_empty: bool = False, allow_unknown: bool = False
) -> dict[str, Any]:
    """The wire-format job of one row, checked as :func:`validate_create` does.

    Raises :class:`RowError` for a value that cannot be read, a row with no fields, or
    a job the client would refuse (a field that is no job field too, unless
    ``allow_unknown``: then it is sent as it is). Empty strings are left out (an empty
    CSV cell means "not given") unless ``keep_empty`` (JSONL, where ``""`` is
    deliberate); ``null`` is always left out.

    Example::

        >>> parse_create({"destinationLat": "91"})
        Traceback (most recent call last):
        ...
        hellotracks_async.cli.cells.RowError: destinationLat=91.0 must be within [-90, 90]
    """
    wire = _wire_fields(row, keep_empty)
    if not wire:
        raise RowError("the row has no fields")
    try:
        validate_create(wire, 0, allow_unknown=allow_unknown)
    except ValidationError as exc:
        raise _problem(exc) from None
    return wire


def parse_edit(
    row: Mapping[str, Any], *, keep_empty: bool = False, allow_unknown: bool = False
) -> tuple[str, dict[str, Any]]:
    """The ``(job_id, fields)`` pair of one row of an edit file; ``id`` is required.

    Empty values as for :func:`parse_create` (in JSONL, ``"receiverUid": ""`` unassigns).

    Example::

        >>> parse_edit({"id": "65f0", "priority": "12"})
        Traceback (most recent call last):
        ...
        hellotracks_async.cli.cells.RowError: priority=12 must be within [0, 10]
    """
    fields = _wire_fields(row, keep_empty)
    job_id = fields.pop("id", None)
    if job_id is None or job_id == "":
        raise RowError("the row has no id (editing needs the id of each job)")
    if not isinstance(job_id, str):
        raise RowError(f"id={job_id!r} is not a string")
    job_id = job_id.strip()
    if not fields:
        raise RowError(f"the row for id {job_id} has no field to set")
    try:
        validate_edit(job_id, fields, 0, allow_unknown=allow_unknown)
    except ValidationError as exc:
        raise _problem(exc) from None
    return job_id, fields

"""The small facts of the wire format, each written once. No I/O.

- :func:`to_wire_name`: a snake_case attribute to its camelCase wire name.
- :func:`date_from_yyyymmdd` / :func:`yyyymmdd`: the API's ``day`` integer and
  :class:`datetime.date`.
- :data:`KNOWN_WIRE_NAMES`, :func:`is_custom_name`, :func:`suggest_wire_name` and
  :func:`unknown_wire_names`: which keys a job may have, and what a typo meant.

Example::

    >>> to_wire_name("destination_lat"), yyyymmdd(date_from_yyyymmdd(20261123))
    ('destinationLat', 20261123)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date
from typing import Any, Final

import attrs

from .models import Job

__all__ = [
    "KNOWN_WIRE_NAMES",
    "date_from_yyyymmdd",
    "is_custom_name",
    "suggest_wire_name",
    "to_wire_name",
    "unknown_wire_names",
    "yyyymmdd",
]


def to_wire_name(attribute: str) -> str:
    """The wire name of a job attribute: camelCase, except ``extra_*`` names.

    Example::

        >>> to_wire_name("ts_check_in"), to_wire_name("extra_number_1_key")
        ('tsCheckIn', 'extra_number_1_key')
    """
    if attribute.startswith("extra_"):
        return attribute
    head, *rest = attribute.split("_")
    return head + "".join(word.capitalize() for word in rest)


def date_from_yyyymmdd(number: int) -> date:
    """The date of a ``YYYYMMDD`` integer; :class:`ValueError` if it is no real date.

    Example::

        >>> date_from_yyyymmdd(20240229)
        datetime.date(2024, 2, 29)
        >>> date_from_yyyymmdd(20230229)
        Traceback (most recent call last):
        ...
        ValueError: day is out of range for month
    """
    return date(number // 10000, number // 100 % 100, number % 100)


def yyyymmdd(value: date) -> int:
    """The ``YYYYMMDD`` integer of a date.

    Example::

        >>> yyyymmdd(date(2026, 1, 2))
        20260102
    """
    return value.year * 10000 + value.month * 100 + value.day


#: The wire name of every :class:`~hellotracks_async.models.Job` field.
KNOWN_WIRE_NAMES: Final[frozenset[str]] = frozenset(
    to_wire_name(field.name) for field in attrs.fields(Job) if field.name != "extras"
)
_CUSTOM: Final = "custom_"
#: Usual column names that are no wire name, and the field they most likely mean.
_SYNONYMS: Final = {
    **dict.fromkeys(("name", "title"), "destinationName"),
    **dict.fromkeys(("notes", "note", "comment"), "textDispatcher"),
    **dict.fromkeys(("lat", "latitude"), "destinationLat"),
    **dict.fromkeys(("lng", "lon", "long", "longitude"), "destinationLng"),
    "address": "destinationText",
    "date": "day",
}
#: Each wire name in lower case without ``_``, to match ``destination_lat``, ``DAY``...
_SQUASHED: Final = {wire.replace("_", "").lower(): wire for wire in KNOWN_WIRE_NAMES}


def is_custom_name(name: Any) -> bool:
    """Whether ``name`` is a ``custom_<name>`` key (one custom field, documented).

    Example::

        >>> is_custom_name("custom_PO"), is_custom_name("custom_"), is_custom_name("PO")
        (True, False, False)
    """
    return isinstance(name, str) and name.startswith(_CUSTOM) and len(name) > len(_CUSTOM)


def suggest_wire_name(name: str) -> str | None:
    """The known wire name that ``name`` most likely means: its camelCase form, a usual
    synonym (``name``, ``notes``), or a near miss by edit distance; ``None`` if none.

    Example::

        >>> suggest_wire_name("destination_lat"), suggest_wire_name("notes")
        ('destinationLat', 'textDispatcher')
        >>> suggest_wire_name("uid_secondry"), suggest_wire_name("colour")
        ('uidSecondary', None)
    """
    squashed = name.replace("_", "").replace("-", "").replace(" ", "").lower()
    if squashed in _SQUASHED:
        return _SQUASHED[squashed]
    if squashed in _SYNONYMS:
        return _SYNONYMS[squashed]
    close = difflib.get_close_matches(squashed, _SQUASHED, n=1, cutoff=0.75)
    return _SQUASHED[close[0]] if close else None


def unknown_wire_names(names: Iterable[str]) -> dict[str, str | None]:
    """The names that are no job field, each with :func:`suggest_wire_name`'s guess.

    Known are wire names (``destinationLat``), snake_case attribute names
    (``destination_lat``) and ``custom_<name>``. For a header check before sending.

    Example::

        >>> unknown_wire_names(["destination_name", "custom_PO", "notes", "destinatonLat", "x"])
        {'notes': 'textDispatcher', 'destinatonLat': 'destinationLat', 'x': None}
    """
    return {
        name: suggest_wire_name(name)
        for name in names
        if not (
            name in KNOWN_WIRE_NAMES
            or to_wire_name(name) in KNOWN_WIRE_NAMES
            or is_custom_name(name)
        )
    }

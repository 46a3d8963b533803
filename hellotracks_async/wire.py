"""The small facts of the wire format, each written once. No I/O.

- :func:`to_wire_name`: a snake_case attribute to its camelCase wire name.
- :func:`date_from_yyyymmdd` / :func:`yyyymmdd`: the API's ``day`` integer and
  :class:`datetime.date`.

Example::

    >>> to_wire_name("destination_lat"), yyyymmdd(date_from_yyyymmdd(20261123))
    ('destinationLat', 20261123)
"""

from __future__ import annotations

from datetime import date

__all__ = ["date_from_yyyymmdd", "to_wire_name", "yyyymmdd"]


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

"""The fake server's request validation: which values a job or an update may hold.

Table-driven: one :class:`_Rule` per typed field. :func:`all_valid` checks a whole
request with a few C-level passes per field (the fast path); :func:`item_problem` finds
the culprit the slow, exact way once the fast check failed. No I/O; of the SDK's code
only :func:`~hellotracks_async.wire.date_from_yyyymmdd` (a calendar check), so that the
rules stay an independent reading of the docs that can catch the SDK's mistakes.

Example::

    >>> all_valid([{"day": 20261123, "priority": 5}]), all_valid([{"priority": 11}])
    (True, False)
    >>> item_problem({"priority": 11})
    'priority must be 0 to 10, got 11'
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, repeat
from typing import Any, Final, NamedTuple

from ..wire import date_from_yyyymmdd

__all__ = [
    "RequestRefused",
    "Wire",
    "all_valid",
    "checked_jobs",
    "excerpt",
    "item_problem",
]

Wire = dict[str, Any]

_dict_get: Final = dict.get
_NONE: Final = type(None)
_INT: Final[frozenset[type]] = frozenset((int, _NONE))
_STR: Final[frozenset[type]] = frozenset((str, _NONE))
_HHMM: Final = frozenset(h * 100 + m for h in range(24) for m in range(60)) | {2400, None}
_DICT: Final[frozenset[type]] = frozenset((dict,))
_KEY_TYPES: Final[frozenset[type]] = frozenset((str,))
_VAL_TYPES: Final[frozenset[type]] = frozenset((str, int, float))


class RequestRefused(Exception):
    """An API-level refusal: HTTP 200 with ``{"status": status, "message": message}``.

    Example::

        >>> RequestRefused(2, "unknown job id: x").status
        2
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _is_day(number: int) -> bool:
    """Whether ``number`` is the ``YYYYMMDD`` of a real date."""
    try:
        date_from_yyyymmdd(number)
    except ValueError:
        return False
    return True


# The checks below take all the values of one field in a request (None included, types
# already checked) and use C-level passes (set operations, map) instead of Python code
# per value where they can.


def _valid_days(values: list[Any]) -> bool:
    """Every day is ``None``, ``0`` or a real ``YYYYMMDD`` date.

    Each distinct day is decoded once (:func:`~hellotracks_async.wire.date_from_yyyymmdd`);
    a request rarely holds more than a few hundred distinct days.

    Example::

        >>> _valid_days([None, 0, 20261123, 20261231]), _valid_days([20261123, 20261301])
        (True, False)
        >>> _valid_days([20240229]), _valid_days([20230229])
        (True, False)
    """
    days = set(values)
    days.difference_update((None, 0))
    return all(map(_is_day, days))


def _valid_custom_fields(values: list[Any]) -> bool:
    """Every list (or ``None``) holds only ``{"key": str, "val": str | int | float}``.

    Example::

        >>> _valid_custom_fields([None, [], [{"key": "PO", "val": 1}]])
        True
        >>> _valid_custom_fields([[{"key": "PO", "val": None}]])
        False
    """
    items = list(chain.from_iterable(filter(None, values)))
    return (
        _DICT.issuperset(map(type, items))
        and _KEY_TYPES.issuperset(map(type, map(_dict_get, items, repeat("key"))))
        and _VAL_TYPES.issuperset(map(type, map(_dict_get, items, repeat("val"))))
    )


class _Rule(NamedTuple):
    """One typed field: allowed value types, allowed values (or a check), the message.

    ``check`` takes all the values of the field in a request at once (see above).
    """

    name: str
    types: frozenset[type]
    values: frozenset[object] | None
    check: Callable[[list[Any]], bool] | None
    message: str


# Stricter than the public docs where a value is surely a client bug.
_RULES: Final = (
    _Rule("day", _INT, None, _valid_days, "day must be a YYYYMMDD integer or 0"),
    _Rule("windowStart", _INT, _HHMM, None, "windowStart must be an HHMM integer, 0 to 2400"),
    _Rule("windowEnd", _INT, _HHMM, None, "windowEnd must be an HHMM integer, 0 to 2400"),
    _Rule("type", _INT, frozenset((0, 1, 2, None)), None, "type must be 0, 1 or 2"),
    _Rule("priority", _INT, frozenset((*range(11), None)), None, "priority must be 0 to 10"),
    _Rule("uidSecondary", _STR, None, None, "uidSecondary must be a string"),
    _Rule("worker", _STR, None, None, "worker must be a string"),
    _Rule("receiverUid", _STR, None, None, "receiverUid must be a string"),
    _Rule(
        "customFields",
        frozenset((list, _NONE)),
        None,
        _valid_custom_fields,
        'customFields must be a list of {"key": string, "val": string}',
    ),
)


def all_valid(items: list[Any]) -> bool:
    """The fast check of a whole request: every item a dict, every typed field valid.

    A few C-level passes per field instead of Python code per job; on ``False``,
    :func:`item_problem` finds the culprit.

    Example::

        >>> all_valid([{}, {"windowEnd": 2400}]), all_valid([{}, "not a job"])
        (True, False)
    """
    nones = [None] * len(items)
    try:
        for rule in _RULES:
            values = list(map(_dict_get, items, repeat(rule.name)))
            if values == nones:  # no item sets the field (stops at the first that does)
                continue
            if not rule.types.issuperset(map(type, values)):
                return False
            if rule.values is not None and not rule.values.issuperset(values):
                return False
            if rule.check is not None and not rule.check(values):
                return False
    except TypeError:  # an item that is not a dict
        return False
    return True


def item_problem(item: object) -> str | None:
    """What is wrong with one job (or update), or ``None``: the slow, exact check.

    Example::

        >>> item_problem("x"), item_problem({"windowStart": 800})
        ('not a JSON object', None)
    """
    if type(item) is not dict:
        return "not a JSON object"
    for rule in _RULES:
        value = item.get(rule.name)
        if (
            type(value) not in rule.types
            or (rule.values is not None and value not in rule.values)
            or (rule.check is not None and not rule.check([value]))
        ):
            return f"{rule.message}, got {excerpt(value)}"
    return None


def excerpt(value: object, limit: int = 80) -> str:
    """The ``repr`` of a value, cut to ``limit`` characters, for a refusal message.

    Example::

        >>> excerpt("x" * 100, limit=10)
        "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _locate_create_problem(jobs: list[Any]) -> RequestRefused:
    """The refusal naming the first bad job of a createjobs request."""
    for index, job in enumerate(jobs):
        problem = item_problem(job)
        if problem is None and job.get("id") is not None:
            problem = "do not set id on createjobs"
        if problem is not None:
            return RequestRefused(3, f"job {index}: {problem}")
    return RequestRefused(3, "invalid jobs")  # not reached: the fast check agrees


def checked_jobs(data: Wire) -> list[Wire]:
    """The jobs of a createjobs request, or the :class:`RequestRefused` it deserves.

    Example::

        >>> checked_jobs({"jobs": [{"priority": 1}]})
        [{'priority': 1}]
        >>> checked_jobs({"jobs": [{}, {"id": "x"}]})
        Traceback (most recent call last):
        ...
        hellotracks_async.testing._rules.RequestRefused: job 1: do not set id on createjobs
    """
    jobs = data.get("jobs")
    if type(jobs) is not list:
        raise RequestRefused(3, "data.jobs must be a list of job objects")
    if not (all_valid(jobs) and list(map(_dict_get, jobs, repeat("id"))).count(None) == len(jobs)):
        raise _locate_create_problem(jobs)
    return jobs

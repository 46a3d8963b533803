"""Client-side checks of input jobs, run before anything is sent. No I/O.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

A job comes in one of two forms, each with its own table of checks:

- a :class:`Job` / :class:`JobUpdate`: each attribute by its Python type (``date``,
  aware ``datetime``, :class:`JobType`, :class:`CustomField`...);
- a wire-format dict: each key must be a known wire name (or ``custom_<name>``), each
  value of the type the API takes (``int`` YYYYMMDD day, epoch milliseconds...).

The tables, a check per field in each form, are in
:mod:`~hellotracks_async.field_checks`; this module walks a job with them.

Everything must be JSON that the API can read: no ``Decimal``, ``set`` or other objects,
no ``nan``, no integer beyond 64 bits, no non-string dict key, nested values included.
The first problem raises :class:`~hellotracks_async.errors.ValidationError` naming the
job's index, the field's wire name and the value.

Fields this SDK does not know yet are sent in one explicit way: ``Job(extras={...})`` /
``JobUpdate(extras={...})`` (wire names, values sent as they are), or for a dict,
``allow_unknown=True``.

Example::

    >>> validate_create(Job(destination_lat=91.0), index=4)
    Traceback (most recent call last):
    ...
    hellotracks_async.errors.ValidationError: job #4: destinationLat=91.0 must be within [-90, 90]
    >>> validate_create({"destination_lat": 1.5}, index=0)
    Traceback (most recent call last):
    ...
    hellotracks_async.errors.ValidationError: job #0: destination_lat=1.5 is not a known
    field; did you mean destinationLat? ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter, itemgetter
from typing import Any, Final

import attrs

from .errors import ValidationError
from .field_checks import (
    CLEARABLE,
    OBJECT_RULES,
    PASSED_BY_TYPE,
    WIRE_RULES,
    Check,
    custom_value,
    json_problem,
    text_problem,
)
from .models import UNSET, Job, JobUpdate
from .wire import is_custom_name, suggest_wire_name

__all__ = [
    "validate_create",
    "validate_edit",
    "validate_edit_pair",
    "validate_id",
]


def _object_checks(cls: type) -> tuple[Callable[[Any], tuple[Any, ...]], tuple[Any, ...]]:
    """A getter of all checked attributes of ``cls`` at once, and (wire name, check) of each."""
    rules = [
        (attr, wire, check) for wire, (attr, check) in OBJECT_RULES.items() if hasattr(cls, attr)
    ]
    return attrgetter(*(attr for attr, _, _ in rules)), tuple((w, c) for _, w, c in rules)


_OBJECT_CHECKS: Final = {Job: _object_checks(Job), JobUpdate: _object_checks(JobUpdate)}
#: The attribute type that means "not set": ``None`` on a Job, ``UNSET`` on a JobUpdate.
_NOT_SET: Final[dict[type, type]] = {Job: type(None), JobUpdate: type(UNSET)}


def _cannot_clear(value: Any) -> str:
    return "only a date or time clears with None"


@attrs.frozen
class _Plan:
    """What a Job or JobUpdate whose attributes have certain types needs checked: how
    many fields it sets, (position, wire name, check) of each value a check must see,
    and (position, wire name) of its strings. Jobs of one import mostly share their
    types, so a plan is made once and reused."""

    fields_set: int
    checks: tuple[tuple[int, str, Check], ...]
    texts: tuple[tuple[int, str], ...]
    _strings: Callable[[tuple[Any, ...]], Any] = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        positions = [position for position, _ in self.texts]
        # itemgetter of two or more gives a tuple; of one, the string itself
        strings = itemgetter(*positions) if positions else (lambda _: "")
        object.__setattr__(self, "_strings", strings)

    def text_problem(self, values: tuple[Any, ...]) -> tuple[str, str] | None:
        """(wire name, reason) of the first string UTF-8 cannot carry, if any: all the
        job's strings checked at once (a lone surrogate stays one when joined), each
        string only if that finds one."""
        if text_problem("".join(self._strings(values))) is None:
            return None
        for position, wire in self.texts:
            reason = text_problem(values[position])
            if reason is not None:
                return wire, reason
        return None


#: class -> attribute types -> plan; cleared when it holds ``_MAX_PLANS`` plans.
_PLANS: Final[dict[type, dict[tuple[type, ...], _Plan]]] = {Job: {}, JobUpdate: {}}
_MAX_PLANS: Final = 512


def _plan(kind: type, types: tuple[type, ...]) -> _Plan:
    """The plan for an instance of ``kind`` whose attributes have ``types``."""
    plans = _PLANS[kind]
    plan = plans.get(types)
    if plan is not None:
        return plan
    rules, not_set = _OBJECT_CHECKS[kind][1], _NOT_SET[kind]
    fields_set, checks, texts = 0, [], []
    for position, ((wire, check), type_) in enumerate(zip(rules, types, strict=True)):
        if type_ is not_set:
            continue
        fields_set += 1
        if type_ is type(None):  # on a JobUpdate: clears the field
            if wire not in CLEARABLE:
                checks.append((position, wire, _cannot_clear))
        elif type_ not in PASSED_BY_TYPE.get(check, ()):
            checks.append((position, wire, check))
        elif type_ is str:
            texts.append((position, wire))
    if len(plans) >= _MAX_PLANS:
        plans.clear()
    plan = plans[types] = _Plan(fields_set, tuple(checks), tuple(texts))
    return plan


_HOW_TO_SEND_UNKNOWN: Final = (
    "(to send a field this SDK does not know, use Job(extras=...) or allow unknown fields)"
)


def _unknown(index: int, key: Any, value: Any) -> ValidationError:
    if not isinstance(key, str):
        return ValidationError(index, repr(key), value, "is a dict key that is not a string")
    suggestion = suggest_wire_name(key)
    guess = f"; did you mean {suggestion}?" if suggestion else ""
    reason = f"is not a known field{guess} {_HOW_TO_SEND_UNKNOWN}"
    return ValidationError(index, key, value, reason)


# -- the checks of one job


def _check_wire_dict(item: Mapping[Any, Any], index: int, allow_unknown: bool) -> None:
    """Every key of a wire-format dict (or of ``extras``, with ``allow_unknown``)."""
    for key, value in item.items():
        rule = WIRE_RULES.get(key)
        if rule is not None:
            reason = None if value is None else rule[1](value)
        elif is_custom_name(key):
            reason = None if value is None else custom_value(value)
        elif allow_unknown and isinstance(key, str):
            reason = text_problem(key) or json_problem(value)
        else:
            raise _unknown(index, key, value)
        if reason is not None:
            raise ValidationError(index, key, value, reason)


def _check_object(item: Job | JobUpdate, index: int) -> int:
    """Every attribute of a Job or JobUpdate, then its ``extras``; the number of fields
    set (``extras`` included)."""
    kind = Job if isinstance(item, Job) else JobUpdate
    values = _OBJECT_CHECKS[kind][0](item)
    plan = _plan(kind, tuple(map(type, values)))
    for position, wire, check in plan.checks:
        value = values[position]
        reason = check(value)
        if reason is not None:
            raise ValidationError(index, wire, value, reason)
    if (problem := plan.text_problem(values)) is not None:
        wire, reason = problem
        raise ValidationError(index, wire, values[_position(kind, wire)], reason)
    if item.extras:
        _check_wire_dict(item.extras, index, allow_unknown=True)
    return plan.fields_set + len(item.extras)


def _position(kind: type, wire: str) -> int:
    """Where the attribute of wire name ``wire`` is among ``kind``'s checked values."""
    return [name for name, _ in _OBJECT_CHECKS[kind][1]].index(wire)


def _check(item: Any, index: int, allow_unknown: bool) -> int:
    """Check a Job, JobUpdate or wire dict; the number of fields it sets."""
    if isinstance(item, (Job, JobUpdate)):
        return _check_object(item, index)
    if isinstance(item, Mapping):
        _check_wire_dict(item, index, allow_unknown)
        return len(item)
    raise ValidationError(index, "job", item, "must be a Job, a JobUpdate or a wire-format dict")


def validate_create(
    job: Job | Mapping[str, Any], index: int, *, allow_unknown: bool = False
) -> None:
    """Check one job to create; raise :class:`ValidationError` on the first problem.

    A dict may only use known wire names and ``custom_<name>`` keys unless
    ``allow_unknown``; a :class:`Job` sends unknown fields through ``extras``.

    Example::

        >>> validate_create({"destinationName": "Acme", "day": 20261123}, index=0)
        >>> validate_create({"destinationName": "Acme", "newField": 1}, 0, allow_unknown=True)
    """
    if isinstance(job, JobUpdate) or not isinstance(job, (Job, Mapping)):
        raise ValidationError(index, "job", job, "must be a Job or a wire-format dict")
    job_id = job.id if isinstance(job, Job) else job.get("id")
    if job_id is not None:
        raise ValidationError(index, "id", job_id, "must not be set on a job to create")
    _check(job, index, allow_unknown)


def validate_edit(
    job_id: Any,
    update: JobUpdate | Mapping[str, Any],
    index: int,
    *,
    allow_unknown: bool = False,
) -> None:
    """Check one ``(job_id, update)`` pair; raise :class:`ValidationError` on a problem.

    An update must set at least one field. ``None`` clears a date or time field.

    Example::

        >>> validate_edit("tpl-42", JobUpdate(priority=11), index=2)
        Traceback (most recent call last):
        ...
        hellotracks_async.errors.ValidationError: job #2: priority=11 must be within [0, 10]
    """
    validate_id(job_id, index)
    if isinstance(update, Job) or not isinstance(update, (JobUpdate, Mapping)):
        raise ValidationError(index, "update", update, "must be a JobUpdate or a wire dict")
    if not _check(update, index, allow_unknown):
        raise ValidationError(index, "update", update, "sets no field")


def validate_edit_pair(
    item: Any, index: int, *, allow_unknown: bool = False
) -> tuple[str, JobUpdate | Mapping[str, Any]]:
    """Check one ``(job_id, update)`` input, its shape included; return it unpacked.

    Example::

        >>> validate_edit_pair(("abc", JobUpdate(priority=3)), index=0)[0]
        'abc'
    """
    if not isinstance(item, tuple) or len(item) != 2:
        raise ValidationError(index, "update", item, "must be a (job_id, update) pair")
    job_id, update = item
    validate_edit(job_id, update, index, allow_unknown=allow_unknown)
    return job_id, update


def validate_id(job_id: Any, index: int) -> str:
    """Check one job id for ``get_jobs`` / ``delete_jobs``; return it.

    A non-empty string (``tpl-<id>`` for a template) that JSON can carry.

    Example::

        >>> validate_id("tpl-42", 0)
        'tpl-42'
        >>> validate_id("", 3)
        Traceback (most recent call last):
        ...
        hellotracks_async.errors.ValidationError: job #3: id...must be a non-empty string
    """
    if not isinstance(job_id, str) or not job_id:
        raise ValidationError(index, "id", job_id, "must be a non-empty string")
    if (reason := text_problem(job_id)) is not None:
        raise ValidationError(index, "id", job_id, reason)
    return job_id

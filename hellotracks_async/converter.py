"""The one cattrs converter that owns the wire mapping.

- Attribute names are snake_case in Python, camelCase on the wire
  (``destination_lat`` <-> ``destinationLat``); ``extra_*`` names stay as they are.
- ``day``: ``YYYYMMDD`` int (or string) <-> :class:`datetime.date`; ``0`` -> ``None``.
- ``ts*`` and ``scheduledStart/End``: epoch milliseconds <-> aware UTC
  :class:`datetime.datetime`; ``0`` -> ``None``.
- ``type``: int <-> :class:`~hellotracks_async.models.JobType`.
- Keys the server adds that :class:`~hellotracks_async.models.Job` does not know are
  kept in ``Job.extras`` and written back.
- Unstructuring a ``Job`` leaves out ``None`` fields; a ``JobUpdate`` leaves out
  ``UNSET`` fields, and ``None`` on a date or time field of an update is sent as ``0``.

Example::

    >>> job = converter.structure({"destinationName": "Acme", "day": 20261123}, Job)
    >>> job.day
    datetime.date(2026, 11, 23)
    >>> converter.unstructure(job)
    {'day': 20261123, 'destinationName': 'Acme'}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .models import CustomField, Job, JobType, JobUpdate

__all__ = ["converter", "to_wire_name"]

_T = TypeVar("_T")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS: Final = timedelta(milliseconds=1)


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


def _structure_day(value: Any, _: type) -> date | None:
    if not value:
        return None
    number = int(value)
    return date(number // 10000, number // 100 % 100, number % 100)


def _unstructure_day(value: date) -> int:
    return value.year * 10000 + value.month * 100 + value.day


def _structure_ms(value: Any, _: type) -> datetime | None:
    if not value:
        return None
    return _EPOCH + timedelta(milliseconds=value)


def _unstructure_ms(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give it a timezone (UTC is usual)")
    return (value - _EPOCH) // _MS


def _clearable(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """On a JobUpdate, ``None`` clears a date or time field, which the API spells ``0``."""

    def unstructure(value: Any) -> Any:
        return 0 if value is None else hook(value)

    return unstructure


def _wire_renames(cls: type) -> dict[str, str]:
    return {a.name: to_wire_name(a.name) for a in attrs.fields(cls) if a.name != "extras"}


def _install_job(conv: cattrs.Converter) -> None:
    renames = _wire_renames(Job)
    known: frozenset[str] = frozenset(renames.values())
    overrides: dict[str, Any] = {name: override(rename=wire) for name, wire in renames.items()}
    structure_fields = make_dict_structure_fn(
        Job, conv, extras=override(omit=True), **overrides
    )
    unstructure_fields = make_dict_unstructure_fn(
        Job, conv, _cattrs_omit_if_default=True, extras=override(omit=True), **overrides
    )

    def structure_job(wire: Mapping[str, Any], _: type) -> Job:
        job = structure_fields(wire, Job)
        unknown = wire.keys() - known
        if unknown:
            job.extras = {key: wire[key] for key in unknown}
        return job

    def unstructure_job(job: Job) -> dict[str, Any]:
        wire: dict[str, Any] = unstructure_fields(job)
        if job.extras:
            wire.update(job.extras)
        return wire

    conv.register_structure_hook(Job, structure_job)
    conv.register_unstructure_hook(Job, unstructure_job)


def _install_job_update(conv: cattrs.Converter) -> None:
    overrides: dict[str, Any] = {}
    for name, wire in _wire_renames(JobUpdate).items():
        job_type = attrs.fields_dict(Job)[name].type
        clears = name == "day" or name.startswith(("ts_", "scheduled_"))
        hook = _clearable(conv.get_unstructure_hook(job_type)) if clears else None
        overrides[name] = override(rename=wire, unstruct_hook=hook)
    unstructure_fields = make_dict_unstructure_fn(
        JobUpdate, conv, _cattrs_omit_if_default=True, extras=override(omit=True), **overrides
    )

    def unstructure_update(update: JobUpdate) -> dict[str, Any]:
        wire: dict[str, Any] = unstructure_fields(update)
        if update.extras:
            wire.update(update.extras)
        return wire

    conv.register_unstructure_hook(JobUpdate, unstructure_update)


def _optional(kind: Callable[[Any], Any]) -> Callable[[Any, type], Any]:
    """A direct hook for ``kind | None``: one call per field instead of cattrs' two."""

    def structure(value: Any, _: type) -> Any:
        return None if value is None else kind(value)

    return structure


def _make_converter() -> cattrs.Converter:
    # detailed_validation=False: the generated code is leaner; a malformed answer still
    # raises, naming the bad value rather than the field path.
    conv = cattrs.Converter(detailed_validation=False)
    for kind in (str, int, float, bool):
        conv.register_structure_hook(kind | None, _optional(kind))
    conv.register_structure_hook(date, _structure_day)
    conv.register_unstructure_hook(date, _unstructure_day)
    conv.register_structure_hook(datetime, _structure_ms)
    conv.register_unstructure_hook(datetime, _unstructure_ms)
    conv.register_structure_hook(JobType, lambda value, _: JobType(int(value)))
    conv.register_unstructure_hook(JobType, int)
    conv.register_unstructure_hook(
        CustomField, lambda field: {"key": field.key, "val": field.val}
    )
    attrs.resolve_types(Job)
    attrs.resolve_types(JobUpdate)
    _install_job(conv)
    _install_job_update(conv)
    return conv


#: The converter; ``converter.structure(wire_dict, Job)``, ``converter.unstructure(job)``.
converter: Final[cattrs.Converter] = _make_converter()

"""The one cattrs converter that owns the wire mapping.

- Attribute names are snake_case in Python, camelCase on the wire
  (``destination_lat`` <-> ``destinationLat``, see :func:`~.wire.to_wire_name`).
- ``day``: ``YYYYMMDD`` int (or digit string) <-> :class:`datetime.date`; ``0`` -> ``None``.
- ``ts*`` and ``scheduledStart/End``: epoch milliseconds <-> aware UTC
  :class:`datetime.datetime`; ``0`` -> ``None``.
- ``type``: a known int becomes a :class:`~.models.JobType`; an unknown one (a job type
  added after this release) stays a plain ``int``.
- Keys the server adds that :class:`~.models.Job` does not know are kept in
  ``Job.extras`` and written back.
- Unstructuring a ``Job`` leaves out ``None`` fields; a ``JobUpdate`` leaves out
  ``UNSET`` fields, and ``None`` on a date or time field of an update is sent as ``0``.
  ``extras`` are written as they are, after the attributes (an attribute wins).

Structuring an answer never raises for a dict: cattrs' generated function runs first;
if any field refuses its value (``"day": "soon"``, ``"customFields": 5``), the job is
built field by field instead, each refused value is kept raw in ``Job.extras`` under its
wire name (so it round-trips) and a WARNING on the ``hellotracks_async`` logger names
the field (never the value).

Example::

    >>> job = converter.structure({"destinationName": "Acme", "day": 20261123}, Job)
    >>> job.day
    datetime.date(2026, 11, 23)
    >>> converter.unstructure(job)
    {'day': 20261123, 'destinationName': 'Acme'}
    >>> converter.structure({"type": 7, "day": "soon"}, Job).extras
    {'day': 'soon'}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .models import CustomField, Job, JobType, JobUpdate
from .wire import KNOWN_WIRE_NAMES, date_from_yyyymmdd, to_wire_name, yyyymmdd

__all__ = ["converter", "to_wire_name"]

_log = logging.getLogger("hellotracks_async")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS: Final = timedelta(milliseconds=1)
_JOB_TYPES: Final[dict[int, JobType]] = {member.value: member for member in JobType}

_Structure = Callable[[Any, Any], Any]


# -- structure hooks: each takes ``value | None`` and raises on a value of another type


def _structure_str(value: Any, _: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_int(value: Any, _: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _structure_float(value: Any, _: Any) -> float | None:
    if value is None or type(value) is float:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _structure_bool(value: Any, _: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {type(value).__name__}")


def _structure_day(value: Any, _: Any) -> date | None:
    if not value:  # None, 0 (and "")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"expected a YYYYMMDD integer, got {type(value).__name__}")
    return date_from_yyyymmdd(int(value))


def _structure_ms(value: Any, _: Any) -> datetime | None:
    if not value:  # None, 0
        return None
    if type(value) is int:
        return _EPOCH + _MS * value
    if type(value) is float:
        return _EPOCH + timedelta(milliseconds=value)
    raise TypeError(f"expected epoch milliseconds, got {type(value).__name__}")


def _structure_job_type(value: Any, _: Any) -> JobType | int | None:
    """A :class:`JobType`, or the ``int`` of a type this release does not know."""
    if value is None or isinstance(value, JobType):
        return value
    if type(value) is int:
        return _JOB_TYPES.get(value, value)
    raise TypeError(f"expected an integer job type, got {type(value).__name__}")


def _custom_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):  # the server may answer a number (bool too)
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_custom_fields(value: Any, _: Any) -> list[CustomField] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return [CustomField(_custom_text(item["key"]), _custom_text(item["val"])) for item in value]


# -- unstructure hooks: called only for values that are set (not None, not UNSET)


def _unstructure_ms(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give it a timezone (UTC is usual)")
    return (value - _EPOCH) // _MS


def _unstructure_custom_fields(value: list[CustomField]) -> list[dict[str, Any]]:
    return [{"key": field.key, "val": field.val} for field in value]


def _clearable(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """On a JobUpdate, ``None`` clears a date or time field, which the API spells ``0``."""

    def unstructure(value: Any) -> Any:
        return 0 if value is None else hook(value)

    return unstructure


#: Each field type of :class:`Job` with its structure and unstructure hooks.
_HOOKS: Final[dict[Any, tuple[_Structure, Callable[[Any], Any]]]] = {
    str | None: (_structure_str, identity),
    int | None: (_structure_int, identity),
    float | None: (_structure_float, identity),
    bool | None: (_structure_bool, identity),
    date | None: (_structure_day, yyyymmdd),
    datetime | None: (_structure_ms, _unstructure_ms),
    JobType | int | None: (_structure_job_type, int),
    list[CustomField] | None: (_structure_custom_fields, _unstructure_custom_fields),
}

#: Every :class:`Job` attribute but ``extras`` -> its wire name.
_WIRE_NAMES: Final[dict[str, str]] = {
    field.name: to_wire_name(field.name) for field in attrs.fields(Job) if field.name != "extras"
}
_KNOWN: Final = KNOWN_WIRE_NAMES


def _renames(cls: type, hook: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """cattrs overrides of ``cls``: wire names, ``extras`` left to us."""
    overrides: dict[str, Any] = {"extras": override(omit=True)}
    for field in attrs.fields(cls):
        if field.name != "extras":
            wire = _WIRE_NAMES[field.name]
            unstruct = None if hook is None else hook(field.name)
            overrides[field.name] = override(rename=wire, unstruct_hook=unstruct)
    return overrides


class _JobHooks:
    """Structure and unstructure of :class:`Job`: cattrs' generated functions plus
    ``extras``, and the lenient field-by-field path for answers with odd values."""

    def __init__(self, conv: cattrs.Converter) -> None:
        overrides = _renames(Job)
        # detailed_validation off (on the converter): leaner code; the lenient path
        # below finds the culprit field itself.
        self._structure_fields = make_dict_structure_fn(Job, conv, **overrides)
        self._unstructure_fields = make_dict_unstructure_fn(
            Job, conv, _cattrs_omit_if_default=True, **overrides
        )
        #: wire name -> (attribute, structure hook, type), for the lenient path.
        self._fields: dict[str, tuple[str, _Structure, Any]] = {
            _WIRE_NAMES[field.name]: (field.name, _HOOKS[field.type][0], field.type)
            for field in attrs.fields(Job)
            if field.name != "extras"
        }

    def structure(self, wire: Mapping[str, Any], _: Any = Job) -> Job:
        """A wire dict to a :class:`Job`; never raises for a dict (see the module doc)."""
        try:
            job: Job = self._structure_fields(wire, Job)
        except Exception:
            return self._structure_leniently(wire)
        if not _KNOWN.issuperset(wire.keys()):
            job.extras = {key: value for key, value in wire.items() if key not in _KNOWN}
        return job

    def _structure_leniently(self, wire: Mapping[str, Any]) -> Job:
        values: dict[str, Any] = {}
        extras: dict[Any, Any] = {}
        for key, value in wire.items():
            field = self._fields.get(key)
            if field is None:
                extras[key] = value
                continue
            name, hook, kind = field
            try:
                values[name] = hook(value, kind)
            except Exception as exc:
                extras[key] = value
                _log.warning(
                    "answer job %s: field %s has an unexpected value (%s: %s); "
                    "kept raw in Job.extras",
                    _job_id(wire), key, type(value).__name__, type(exc).__name__,
                )  # fmt: skip
        return Job(**values, extras=extras)

    def unstructure(self, job: Job) -> dict[str, Any]:
        """A :class:`Job` to its wire dict: ``None`` left out, ``extras`` added."""
        wire: dict[str, Any] = self._unstructure_fields(job)
        if job.extras:
            return {**job.extras, **wire}
        return wire


def _job_id(wire: Mapping[str, Any]) -> str:
    """The id of an answer job for a log line: a short string, or ``?``."""
    job_id = wire.get("id")
    return job_id if isinstance(job_id, str) and len(job_id) <= 64 else "?"


def _update_hook(conv: cattrs.Converter) -> Callable[[JobUpdate], dict[str, Any]]:
    """The unstructure hook of :class:`JobUpdate`: set fields only, then ``extras``."""
    job_types = attrs.fields_dict(Job)

    def field_hook(name: str) -> Callable[[Any], Any]:
        field_type = job_types[name].type
        hook = _HOOKS[field_type][1]
        # dates and times clear with None (validation's rule: by type as well)
        return _clearable(hook) if field_type in (date | None, datetime | None) else hook

    unstructure_fields = make_dict_unstructure_fn(
        JobUpdate, conv, _cattrs_omit_if_default=True, **_renames(JobUpdate, field_hook)
    )

    def unstructure(update: JobUpdate) -> dict[str, Any]:
        wire: dict[str, Any] = unstructure_fields(update)
        if update.extras:
            return {**update.extras, **wire}
        return wire

    return unstructure


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False)
    attrs.resolve_types(Job)
    attrs.resolve_types(JobUpdate)
    for kind, (structure, unstructure) in _HOOKS.items():
        conv.register_structure_hook(kind, structure)
        conv.register_unstructure_hook(kind, unstructure)
    conv.register_unstructure_hook(JobType, int)
    conv.register_unstructure_hook(CustomField, lambda field: {"key": field.key, "val": field.val})
    job = _JobHooks(conv)
    conv.register_structure_hook(Job, job.structure)
    conv.register_unstructure_hook(Job, job.unstructure)
    conv.register_unstructure_hook(JobUpdate, _update_hook(conv))
    return conv


#: The converter; ``converter.structure(wire_dict, Job)``, ``converter.unstructure(job)``.
converter: Final[cattrs.Converter] = _make_converter()

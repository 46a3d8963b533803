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

import typing
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


#: How many distinct values each memo of a conversion (day, timestamp) keeps.
_MEMO_SIZE: Final = 4096
#: How many distinct key sequences (and type sequences per key sequence) are planned.
_PLANS: Final = 256


def _memo(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``hook`` with a bounded memo: one dict lookup for a value seen before.

    For pure conversions to immutable values (``date``, ``datetime``, ``int``), where
    values repeat a lot: every job of one answer has the same ``tsCreated``, most share
    a ``day``. Unhashable values and values the hook refuses are not memoized.
    """
    memo: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            pass
        except TypeError:  # unhashable
            return hook(value)
        result = hook(value)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[value] = result
        return result

    return convert


class _Plan:
    """How to structure a wire dict with one particular sequence of keys.

    ``attributes`` are the keys' attribute names (``None`` for a key Job does not know,
    which goes to ``extras``); ``hooked`` lists ``(key, attribute, hook)`` for the keys
    whose values convert, in attribute order; ``kept`` the types each key's value may
    have to be passed on unchanged (``None``: any); ``verified`` remembers type
    sequences already checked against ``kept``.
    """

    __slots__ = ("attributes", "extras", "hooked", "kept", "verified")

    def __init__(
        self,
        attributes: tuple[str | None, ...],
        extras: tuple[str, ...],
        hooked: tuple[tuple[str, str, Callable[[Any], Any]], ...],
        kept: tuple[frozenset[type] | None, ...],
    ) -> None:
        self.attributes = attributes
        self.extras = extras
        self.hooked = hooked
        self.kept = kept
        self.verified: set[tuple[type, ...]] = set()

    def accepts(self, types: tuple[type, ...]) -> bool:
        """Whether values of these types may take the fast path (remembered if so)."""
        if types in self.verified:
            return True
        if not all(
            allowed is None or kind in allowed
            for allowed, kind in zip(self.kept, types, strict=True)
        ):
            return False
        if len(self.verified) >= _PLANS:
            self.verified.clear()
        self.verified.add(types)
        return True


class _JobCodec:
    """The Job hooks: a fast path for the usual dicts and jobs, cattrs' code for the rest.

    Most fields are ``str | int | float | bool | None``, whose cattrs hooks hand back a
    value of the right type unchanged. Answers of one API come with the same keys in the
    same order, so structuring looks up a :class:`_Plan` by the tuple of keys, checks
    the tuple of value types once per plan, renames every key in one C-level
    ``dict(zip(...))`` and calls hooks only for the fields that convert (``day``,
    ``type``, timestamps, ``customFields``), memoized. Unstructuring reads every
    attribute once in generated code (like cattrs', minus the calls for fields that need
    no conversion).
    Anything unusual (a value to coerce, a hook that raises, a non-dict mapping) goes
    through the cattrs generated functions, so results and errors are exactly theirs.
    """

    def __init__(self, conv: cattrs.Converter) -> None:
        renames = _wire_renames(Job)
        self._known = frozenset(renames.values())
        overrides: dict[str, Any] = {
            name: override(rename=wire) for name, wire in renames.items()
        }
        self._structure_fields = make_dict_structure_fn(
            Job, conv, extras=override(omit=True), **overrides
        )
        self._unstructure_fields = make_dict_unstructure_fn(
            Job, conv, _cattrs_omit_if_default=True, extras=override(omit=True), **overrides
        )
        self._attribute_of = {wire: name for name, wire in renames.items()}
        self._order = {wire: position for position, wire in enumerate(renames.values())}
        self._kept: dict[str, frozenset[type]] = {}
        self._structure_hooks: dict[str, Callable[[Any], Any]] = {}
        self._unstructure_hooks: dict[str, Callable[[Any], Any]] = {}
        for field in attrs.fields(Job):
            if field.name == "extras":
                continue
            wire = renames[field.name]
            (kind,) = (arg for arg in typing.get_args(field.type) if arg is not type(None))
            if kind in (str, int, float, bool):
                self._kept[wire] = frozenset((kind, type(None)))
                continue
            structure = _none_or(conv.get_structure_hook(kind), kind)
            unstructure = conv.get_unstructure_hook(kind)
            if kind in (date, datetime, JobType):
                structure, unstructure = _memo(structure), _memo(unstructure)
            self._structure_hooks[wire] = structure
            self._unstructure_hooks[wire] = unstructure
        self._hooked = frozenset(self._structure_hooks)
        self._plans: dict[tuple[str, ...], _Plan] = {}
        #: A :class:`Job` to its wire dict (the unstructure hook); ``None`` left out.
        self.unstructure = self._make_unstructure()

    def _plan(self, keys: tuple[str, ...]) -> _Plan:
        plan = self._plans.get(keys)
        if plan is None:
            hooked = sorted(self._hooked.intersection(keys), key=self._order.__getitem__)
            plan = _Plan(
                attributes=tuple(map(self._attribute_of.get, keys)),
                extras=tuple(set(keys) - self._known),  # the order cattrs' path gives
                hooked=tuple(
                    (key, self._attribute_of[key], self._structure_hooks[key]) for key in hooked
                ),
                kept=tuple(map(self._kept.get, keys)),
            )
            if len(self._plans) >= _PLANS:
                self._plans.clear()
            self._plans[keys] = plan
        return plan

    def structure_slow(self, wire: Mapping[str, Any]) -> Job:
        """cattrs' generated structuring, plus the unknown keys into ``extras``."""
        job: Job = self._structure_fields(wire, Job)
        unknown = wire.keys() - self._known
        if unknown:
            job.extras = {key: wire[key] for key in unknown}
        return job

    def unstructure_slow(self, job: Job) -> dict[str, Any]:
        """cattrs' generated unstructuring, plus ``extras``."""
        wire: dict[str, Any] = self._unstructure_fields(job)
        if job.extras:
            wire.update(job.extras)
        return wire

    def structure(self, wire: Mapping[str, Any], _: type = Job) -> Job:
        """A wire dict to a :class:`Job` (the structure hook)."""
        if type(wire) is not dict:
            return self.structure_slow(wire)
        plan = self._plan(tuple(wire))
        if not plan.accepts(tuple(map(type, wire.values()))):
            return self.structure_slow(wire)
        fields: dict[Any, Any] = dict(zip(plan.attributes, wire.values(), strict=True))
        try:
            for key, attribute, hook in plan.hooked:
                fields[attribute] = hook(wire[key])
        except Exception:
            return self.structure_slow(wire)  # raises the error cattrs raises
        if plan.extras:
            del fields[None]
            job = Job(**fields)
            job.extras = {key: wire[key] for key in plan.extras}
            return job
        return Job(**fields)

    def _make_unstructure(self) -> Callable[[Job], dict[str, Any]]:
        """Generate the unstructure function: one ``is not None`` test per attribute,
        a hook call only for the fields that convert, in attribute order (so a naive
        datetime fails exactly as on cattrs' path)."""
        lines = ["def unstructure_job(job):", "    wire = {}"]
        namespace: dict[str, Any] = {}
        for name, wire in zip(self._attribute_of.values(), self._attribute_of, strict=True):
            hook = self._unstructure_hooks.get(wire)
            lines.append(f"    value = job.{name}")
            if hook is None:
                lines.append(f"    if value is not None: wire[{wire!r}] = value")
            else:
                namespace[f"hook_{name}"] = hook
                lines.append(f"    if value is not None: wire[{wire!r}] = hook_{name}(value)")
        lines += ["    if job.extras:", "        wire.update(job.extras)", "    return wire"]
        exec(compile("\n".join(lines), "<hellotracks_async unstructure Job>", "exec"), namespace)
        unstructure: Callable[[Job], dict[str, Any]] = namespace["unstructure_job"]
        return unstructure


def _install_job(conv: cattrs.Converter) -> None:
    codec = _JobCodec(conv)
    conv.register_structure_hook(Job, codec.structure)
    conv.register_unstructure_hook(Job, codec.unstructure)


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


def _none_or(hook: Callable[[Any, Any], Any], kind: Any) -> Callable[[Any], Any]:
    """A one-argument structure hook for ``kind | None``."""

    def structure(value: Any) -> Any:
        return None if value is None else hook(value, kind)

    return structure


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

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
from typing import Any, Final, NamedTuple, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .models import CustomField, Job, JobType, JobUpdate
from .wire import date_from_yyyymmdd, to_wire_name, yyyymmdd

__all__ = ["converter", "to_wire_name"]

_T = TypeVar("_T")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS: Final = timedelta(milliseconds=1)


def _structure_day(value: Any, _: type) -> date | None:
    if not value:
        return None
    return date_from_yyyymmdd(int(value))


def _unstructure_day(value: date) -> int:
    return yyyymmdd(value)


def _structure_ms(value: Any, _: type) -> datetime | None:
    if not value:
        return None
    if type(value) is int:  # exact integer arithmetic, twice as fast as the keyword form
        return _EPOCH + _MS * value
    return _EPOCH + timedelta(milliseconds=value)


def _unstructure_ms(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give it a timezone (UTC is usual)")
    return (value - _EPOCH) // _MS


#: ``(value - _EPOCH) // _MS`` for an aware datetime ``value``, exactly, in 25% fewer
#: instructions: ``timedelta // timedelta`` turns both operands into microseconds with
#: six big-int operations each. A timedelta is normalized (any ``days``,
#: ``0 <= seconds < 86400``, ``0 <= microseconds < 10**6``) and its first two parts
#: are whole milliseconds, so the floor of the total only needs ``microseconds // 1000``.
_EPOCH_MS: Final = (
    "(td := value - EPOCH).days * 86400000 + (td.seconds * 1000 + td.microseconds // 1000)"
)


def _clearable(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """On a JobUpdate, ``None`` clears a date or time field, which the API spells ``0``."""

    def unstructure(value: Any) -> Any:
        return 0 if value is None else hook(value)

    return unstructure


def _wire_renames(cls: type) -> dict[str, str]:
    return {a.name: to_wire_name(a.name) for a in attrs.fields(cls) if a.name != "extras"}


#: How many distinct values each memo of a conversion (``day``, ``type``) keeps.
_MEMO_SIZE: Final = 4096
_MISSING: Final = object()
#: How many distinct key sequences get a compiled structure function (never evicted:
#: input whose keys vary without end falls back on cattrs' code, compiling nothing).
_COMPILED_PLANS: Final = 256


class _Memo(NamedTuple):
    """A structure hook of ``kind | None`` that remembers what integer values gave.

    For pure conversions of answer values to immutable ones (``date``, ``datetime``,
    ``JobType``). The compiled structure functions inline all of it (a call of a Python
    function per converted field costs more than a dict lookup); see
    :meth:`_JobCodec._memoized` for the code. Only exact ``int`` values are memoized
    (what JSON gives): a value of another type that equals an ``int`` (``True``,
    ``20261123.0``, ``Decimal``) need not convert as that ``int`` does (``Decimal`` and
    ``complex`` are refused by some hooks), so it always gets its own conversion. A value
    the hook refuses is never remembered.

    Two ways to remember, depending on how values repeat:

    - ``values`` (``last_only=False``): up to :data:`_MEMO_SIZE` values, for fields
      with few distinct values: ``type``, and ``day``, which most jobs of an answer
      share.
    - ``last`` (``last_only=True``): only the last ``(int, result)``, for timestamps:
      most are each job's own, except in runs (the jobs of one ``createjobs`` answer
      share ``tsCreated`` and ``tsSaved``). A big memo there mostly misses, and a miss
      (store, growth, clearing, cache misses on a table of thousands) cost more than
      the hits saved: 1.6 us of a full job with 9 distinct timestamps.
    """

    #: cattrs' hook of ``kind``, called as ``hook(value, kind)``.
    hook: Callable[[Any, Any], Any]
    kind: Any
    #: Whether the compiled code remembers only ``last``, or ``values``.
    last_only: bool
    #: ``int`` values to their results, up to :data:`_MEMO_SIZE` of them.
    values: dict[int, Any]
    #: The last ``(int, result)``, as the one item of a list.
    last: list[tuple[Any, Any]]


def _memo(hook: Callable[[Any, Any], Any], kind: Any, *, last_only: bool) -> _Memo:
    """A fresh memo of ``hook`` (empty ``values``; ``last`` matching no ``int``)."""
    return _Memo(hook, kind, last_only, {}, [(None, None)])


#: The class of ``attrs.Factory(...)`` defaults (typed as a function in attrs' stubs).
_FACTORY: Final[type[Any]] = type(attrs.Factory(dict))


def _init_only_stores(cls: type) -> bool:
    """Whether ``cls``'s ``__init__`` only stores each argument, or its default, in the
    slot of the same name (through ``object.__setattr__`` if the class is frozen).

    Then ``cls.__new__(cls)`` plus one slot store per attribute gives an identical object
    for a fraction of the cost. Anything that makes ``__init__`` do more (a validator,
    converter, ``__attrs_pre_init__``/``__attrs_post_init__``, a factory taking
    ``self``, a custom ``__new__``) turns the shortcut off.
    """
    if not (
        attrs.has(cls)
        and "__slots__" in vars(cls)
        and cls.__new__ is object.__new__
        and not hasattr(cls, "__attrs_pre_init__")
        and not hasattr(cls, "__attrs_post_init__")
    ):
        return False
    return all(
        field.init
        and field.validator is None
        and field.converter is None
        and not (isinstance(field.default, _FACTORY) and field.default.takes_self)
        for field in attrs.fields(cls)
    )


def _builds_plainly(cls: type) -> bool:
    """Whether the compiled code may build ``cls`` as ``cls.__new__(cls)`` plus one
    ``job.attribute = value`` per attribute instead of ``cls(**kwargs)``.

    CPython matches each keyword of a call against the list of parameter names, which
    for ``Job``'s 62 keyword-only parameters costs more than all the rest of structuring
    a full job. Besides :func:`_init_only_stores`, attribute stores must store (no
    ``on_setattr`` hook, not frozen) and a missing key must get a default.
    """
    setattr_method: object = cls.__setattr__
    return (
        _init_only_stores(cls)
        and setattr_method is object.__setattr__
        and all(field.default is not attrs.NOTHING for field in attrs.fields(cls))
    )


def _structure_custom_fields_by_init(value: Any) -> list[CustomField] | None:
    """cattrs' hook for ``list[CustomField] | None`` (``str()`` of ``key`` and ``val``,
    other keys ignored), as one comprehension instead of two calls per item."""
    if value is None:
        return None
    return [CustomField(str(item["key"]), str(item["val"])) for item in value]


_new_custom_field: Final = CustomField.__new__
# The slots' own setters: what a frozen class's __init__ does, without the bound
# object.__setattr__ it makes per instance and the name lookup per attribute.
_set_key: Final = vars(CustomField)["key"].__set__
_set_val: Final = vars(CustomField)["val"].__set__


def _structure_custom_fields_by_slots(value: Any) -> list[CustomField] | None:
    """:func:`_structure_custom_fields_by_init` in 2/3 of the instructions: no ``str()``
    call on what is a ``str`` already (``str(text) is text``), and each CustomField
    built as :func:`_init_only_stores` allows."""
    if value is None:
        return None
    fields = []
    for item in value:
        key = item["key"]
        val = item["val"]
        field = _new_custom_field(CustomField)
        _set_key(field, key if type(key) is str else str(key))
        _set_val(field, val if type(val) is str else str(val))
        fields.append(field)
    return fields


_structure_custom_fields: Final = (
    _structure_custom_fields_by_slots
    if _init_only_stores(CustomField)
    and [field.name for field in attrs.fields(CustomField)] == ["key", "val"]
    else _structure_custom_fields_by_init
)


def _unstructure_custom_fields(value: list[CustomField]) -> list[dict[str, Any]]:
    """cattrs' hook for ``list[CustomField]``, as one comprehension."""
    return [{"key": field.key, "val": field.val} for field in value]


class _JobCodec:
    """The Job hooks: generated code for the usual dicts and jobs, cattrs' for the rest.

    Most fields are ``str | int | float | bool | None``, whose cattrs hooks hand back a
    value of the right type unchanged, and the answers of an API come with the same keys
    in the same order. So the second time a sequence of keys is seen, a structure
    function is compiled for it: it unpacks ``wire.values()`` at once, checks in one
    expression that every such value already has its exact type (or is ``None``),
    converts ``day``, ``type`` and timestamps inline with their memos (see
    :class:`_Memo`), calls the ``customFields`` hook and builds the ``Job`` with one slot
    store per attribute (what ``Job(...)`` would do, without matching 62 keywords;
    ``Job(...)`` with keywords if that ever stops being equivalent, see
    :func:`_builds_plainly`). Unstructuring is generated code too: one ``is not None``
    test per attribute, a conversion only where a field converts (inline for ``day`` and
    timestamps). Anything unusual (a value to coerce, a hook that raises, a key sequence
    seen once, a non-dict mapping, a naive datetime) goes through the cattrs generated
    functions, so results and errors are exactly theirs.
    """

    def __init__(self, conv: cattrs.Converter) -> None:
        renames = _wire_renames(Job)
        self._known = frozenset(renames.values())
        overrides: dict[str, Any] = {name: override(rename=wire) for name, wire in renames.items()}
        self._structure_fields = make_dict_structure_fn(
            Job, conv, extras=override(omit=True), **overrides
        )
        self._unstructure_fields = make_dict_unstructure_fn(
            Job, conv, _cattrs_omit_if_default=True, extras=override(omit=True), **overrides
        )
        self._attribute_of = {wire: name for name, wire in renames.items()}
        self._kept: dict[str, type] = {}
        #: The hooks of the fields that convert: memoized ones, or ``customFields``'.
        self._structure_hooks: dict[str, _Memo | Callable[[Any], Any]] = {}
        self._unstructure_hooks: dict[str, Callable[[Any], Any]] = {}
        for field in attrs.fields(Job):
            if field.name == "extras":
                continue
            wire = renames[field.name]
            (kind,) = (arg for arg in typing.get_args(field.type) if arg is not type(None))
            if kind in (str, int, float, bool):
                self._kept[wire] = kind
                continue
            structure: _Memo | Callable[[Any], Any]
            unstructure: Callable[[Any], Any]
            if field.name == "custom_fields":
                structure, unstructure = _structure_custom_fields, _unstructure_custom_fields
            else:
                hook = conv.get_structure_hook(kind)
                structure = _memo(hook, kind, last_only=kind is datetime)
                unstructure = conv.get_unstructure_hook(kind)
            self._structure_hooks[wire] = structure
            self._unstructure_hooks[wire] = unstructure
        #: Whether the compiled code may build a Job without calling ``Job(...)``.
        self._plain = _builds_plainly(Job)
        #: Compiled structure functions by key sequence; ``None``: seen once so far.
        self._compiled: dict[tuple[Any, ...], Callable[[Any], Job | None] | None] = {}
        #: A :class:`Job` to its wire dict (the unstructure hook); ``None`` left out.
        self.unstructure = self._make_unstructure()

    def _compile_structure(self, keys: tuple[str, ...]) -> Callable[[Any], Job | None]:
        """Generate the structure function of dicts with exactly these keys, in order.

        It returns ``None`` when a value would need coercing; a hook that raises
        propagates (the caller then takes cattrs' path for the error).
        """
        namespace: dict[str, Any] = {"Job": Job, "new": Job.__new__, "MISSING": _MISSING}
        checks: list[str] = []
        conversions: list[str] = []
        #: The expression of each attribute present in ``keys``.
        values: dict[str, str] = {}
        for number, key in enumerate(keys):
            value = f"v{number}"
            attribute = self._attribute_of.get(key)
            if attribute is None:
                continue  # goes to extras
            hook = self._structure_hooks.get(key)
            if hook is None:
                namespace[f"kind{number}"] = self._kept[key]
                checks.append(f"(type({value}) is kind{number} or {value} is None)")
                values[attribute] = value
            elif isinstance(hook, _Memo):
                conversions += self._memoized(hook, number, namespace)
                values[attribute] = f"r{number}"
            else:
                namespace[f"hook{number}"] = hook
                values[attribute] = f"hook{number}({value})"
        unpack = "".join(f"v{number}, " for number in range(len(keys)))
        lines = ["def structure_job(wire):"]
        if keys:
            lines.append(f"    ({unpack}) = wire.values()")
        if checks:
            lines += [f"    if not ({' and '.join(checks)}):", "        return None"]
        lines += conversions
        # The unknown keys go to extras in the order cattrs' path gives them.
        unknown = dict.fromkeys(keys).keys() - self._known
        extras = "{" + ", ".join(f"{key!r}: v{keys.index(key)}" for key in unknown) + "}"
        if self._plain:
            # What Job(...) would do, minus matching 62 keywords: every slot gets its
            # value or its default (``extras`` a fresh dict).
            lines.append("    job = new(Job)")
            for field in attrs.fields(Job):
                if field.name in values:
                    value = values[field.name]
                elif field.name == "extras" and unknown:
                    value = extras
                elif isinstance(field.default, _FACTORY):
                    namespace[f"default_{field.name}"] = field.default.factory
                    value = f"default_{field.name}()"
                elif field.default is None:
                    value = "None"
                else:
                    namespace[f"default_{field.name}"] = field.default
                    value = f"default_{field.name}"
                lines.append(f"    job.{field.name} = {value}")
        else:
            arguments = ", ".join(f"{name}={value}" for name, value in values.items())
            lines.append(f"    job = Job({arguments})")
            if unknown:
                lines.append(f"    job.extras = {extras}")
        lines.append("    return job")
        source = "\n".join(lines)
        exec(compile(source, "<hellotracks_async structure Job>", "exec"), namespace)
        compiled: Callable[[Any], Job | None] = namespace["structure_job"]
        return compiled

    @staticmethod
    def _memoized(memo: _Memo, number: int, namespace: dict[str, Any]) -> list[str]:
        """The lines converting ``v{number}`` into ``r{number}`` with ``memo``, inline."""
        value, result = f"v{number}", f"r{number}"
        hook, kind = f"hook{number}", f"kind{number}"
        namespace.update({hook: memo.hook, kind: memo.kind})
        if memo.hook is _structure_ms:
            # Its branch for an int, without the call.
            convert = f"(EPOCH + MS * {value} if {value} else None)"
            namespace.update(EPOCH=_EPOCH, MS=_MS)
        else:
            convert = f"{hook}({value}, {kind})"
        if memo.last_only:
            # One list item holding a tuple, read and replaced whole: threads sharing
            # the codec see a consistent pair.
            namespace[f"last{number}"] = memo.last
            remember = [
                f"        last = last{number}[0]",
                f"        if last[0] == {value}:",
                f"            {result} = last[1]",
                "        else:",
                f"            {result} = {convert}",
                f"            last{number}[0] = ({value}, {result})",
            ]
        else:
            namespace.update({f"memo{number}": memo.values, f"lookup{number}": memo.values.get})
            remember = [
                f"        {result} = lookup{number}({value}, MISSING)",
                f"        if {result} is MISSING:",
                f"            {result} = memo{number}[{value}] = {convert}",
                f"            if len(memo{number}) > {_MEMO_SIZE}:",
                f"                memo{number}.clear()",
            ]
        return [
            f"    if type({value}) is int:",
            *remember,
            f"    elif {value} is None:",
            f"        {result} = None",
            "    else:",
            f"        {result} = {hook}({value}, {kind})",
        ]

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
        if type(wire) is dict:
            keys = tuple(wire)
            # The usual case inline: a call less per job than always asking _compiled_for.
            compiled = self._compiled.get(keys)
            if compiled is None:
                compiled = self._compiled_for(keys)
            if compiled is not None:
                try:
                    job = compiled(wire)
                except Exception:
                    job = None  # cattrs' path raises its own error
                if job is not None:
                    return job
        return self.structure_slow(wire)

    def _compiled_for(self, keys: tuple[Any, ...]) -> Callable[[Any], Job | None] | None:
        """The compiled function for this key sequence, compiled the second time it is
        seen (only plain string keys, a bounded number of sequences)."""
        compiled = self._compiled.get(keys, _MISSING)
        if compiled is None:
            compiled = self._compiled[keys] = self._compile_structure(keys)
        elif compiled is _MISSING:
            if (
                len(self._compiled) < _COMPILED_PLANS
                and len(keys) <= 4 * len(self._kept)
                and all(type(key) is str for key in keys)  # also: their repr is safe code
            ):
                self._compiled[keys] = None
            return None
        return compiled  # type: ignore[return-value]

    def _make_unstructure(self) -> Callable[[Job], dict[str, Any]]:
        """Generate the unstructure function: one ``is not None`` test per attribute, a
        conversion only for the fields that convert, inline for ``day`` and timestamps.

        If anything raises (a naive datetime, a value of the wrong type), cattrs' path
        runs instead, for exactly its result or error.
        """
        lines = ["def unstructure_job(job):", "  try:", "    wire = {}"]
        namespace: dict[str, Any] = {
            "datetime": datetime,
            "EPOCH": _EPOCH,
            "unstructure_slow": self.unstructure_slow,
        }
        for name, wire in zip(self._attribute_of.values(), self._attribute_of, strict=True):
            hook = self._unstructure_hooks.get(wire)
            if hook is None:
                convert = "value"
            elif hook is _unstructure_day:
                convert = "value.year * 10000 + value.month * 100 + value.day"  # its code
            else:
                namespace[f"hook_{name}"] = hook
                convert = f"hook_{name}(value)"
                if hook is _unstructure_ms:
                    # Its result without the call (~12 a full job) nor the check for a
                    # naive datetime: subtracting an aware one from that raises TypeError,
                    # and cattrs' path then raises the hook's ValueError. See _EPOCH_MS.
                    convert = f"{_EPOCH_MS} if type(value) is datetime else {convert}"
            lines.append(f"    value = job.{name}")
            lines.append(f"    if value is not None: wire[{wire!r}] = {convert}")
        lines += [
            "    if job.extras:",
            "        wire.update(job.extras)",
            "    return wire",
            "  except Exception:",
            "    return unstructure_slow(job)",
        ]
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
    conv.register_unstructure_hook(CustomField, lambda field: {"key": field.key, "val": field.val})
    attrs.resolve_types(Job)
    attrs.resolve_types(JobUpdate)
    _install_job(conv)
    _install_job_update(conv)
    return conv


#: The converter; ``converter.structure(wire_dict, Job)``, ``converter.unstructure(job)``.
converter: Final[cattrs.Converter] = _make_converter()

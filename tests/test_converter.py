"""The wire mapping: the docs' example round trip, unknown fields, updates, property tests."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hellotracks_async import UNSET, CustomField, Job, JobType, JobUpdate
from hellotracks_async import converter as module
from hellotracks_async.converter import converter
from hellotracks_async.wire import to_wire_name

DOCS = Path(__file__).parents[2] / "shared" / "api-docs" / "createjobs.txt"


def test_seed_example_round_trips_exactly(seed_job: dict[str, Any]) -> None:
    original = copy.deepcopy(seed_job)
    job = converter.structure(seed_job, Job)
    assert converter.unstructure(job) == original
    assert json.dumps(converter.unstructure(job), sort_keys=True) == json.dumps(
        original, sort_keys=True
    )
    assert job.extras == {}  # every documented field has an attribute


def test_seed_example_gets_pythonic_types(seed_job: dict[str, Any]) -> None:
    job = converter.structure(seed_job, Job)
    assert job.id == "64d88ed519c0ae41096aa4b4"
    assert job.day == date(2025, 10, 8)
    assert job.type is JobType.WORK
    assert job.ts_check_in == datetime(2023, 10, 8, 8, 0, tzinfo=timezone.utc)
    assert job.scheduled_end == datetime(2023, 10, 8, 7, 15, tzinfo=timezone.utc)
    assert (job.window_start, job.window_end) == (800, 1500)
    assert job.custom_fields == [
        CustomField("PO_Number", "PO-2024-5678"),
        CustomField("Department", "Facilities"),
    ]
    assert job.extra_number_1_val == 45.5
    assert job.is_template is False
    assert job.carry_over == 0


@pytest.mark.skipif(not DOCS.exists(), reason="../shared/api-docs is not beside this checkout")
def test_fixture_is_the_docs_example_verbatim(seed_response: dict[str, Any]) -> None:
    text = DOCS.read_text()
    documented, _ = json.JSONDecoder().raw_decode(text, text.index('{\n    "status": 0'))
    assert documented == seed_response


def test_unknown_server_field_survives(seed_job: dict[str, Any]) -> None:
    wire = {**seed_job, "newFieldFrom2027": 1, "tsRejected": 1696752950000}
    job = converter.structure(wire, Job)
    assert job.extras == {"newFieldFrom2027": 1, "tsRejected": 1696752950000}
    assert converter.unstructure(job) == wire


def test_zero_means_unset() -> None:
    job = converter.structure({"tsCheckIn": 0, "day": 0, "scheduledStart": 0}, Job)
    assert (job.ts_check_in, job.day, job.scheduled_start) == (None, None, None)
    assert converter.unstructure(job) == {}


def test_loose_day_string_is_accepted() -> None:
    assert converter.structure({"day": "20231110"}, Job).day == date(2023, 11, 10)


def test_create_payload_omits_none() -> None:
    job = Job(destination_name="Acme", destination_lat=1.5, day=date(2026, 2, 24))
    assert converter.unstructure(job) == {
        "destinationName": "Acme",
        "destinationLat": 1.5,
        "day": 20260224,
    }


def test_job_update_sends_only_set_fields() -> None:
    assert converter.unstructure(JobUpdate(worker="a@b.c")) == {"worker": "a@b.c"}
    assert converter.unstructure(JobUpdate(receiver_uid="")) == {"receiverUid": ""}
    assert converter.unstructure(JobUpdate()) == {}


def test_job_update_none_clears_dates_and_times() -> None:
    update = JobUpdate(day=None, scheduled_start=None, priority=3)
    assert converter.unstructure(update) == {"day": 0, "scheduledStart": 0, "priority": 3}


def test_job_update_types_and_extras() -> None:
    update = JobUpdate(
        day=date(2026, 1, 2),
        type=JobType.DROPOFF,
        scheduled_end=datetime(2026, 1, 2, 9, tzinfo=timezone.utc),
        custom_fields=[CustomField("PO", "1")],
        extras={"custom_Department": "Ops"},
    )
    assert converter.unstructure(update) == {
        "day": 20260102,
        "type": 2,
        "scheduledEnd": 1767344400000,
        "customFields": [{"key": "PO", "val": "1"}],
        "custom_Department": "Ops",
    }
    assert JobUpdate().worker is UNSET


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        converter.unstructure(Job(ts_created=datetime(2026, 1, 1)))


@pytest.mark.parametrize(
    ("attribute", "wire"),
    [
        ("destination_lat", "destinationLat"),
        ("ts_check_in", "tsCheckIn"),
        ("ts_done_success", "tsDoneSuccess"),
        ("uid_secondary", "uidSecondary"),
        ("extra_number_1_key", "extra_number_1_key"),
        ("id", "id"),
    ],
)
def test_wire_names(attribute: str, wire: str) -> None:
    assert to_wire_name(attribute) == wire


# -- property tests ---------------------------------------------------------------------

_text = st.text(max_size=20)
_ms = st.integers(min_value=1, max_value=4_102_444_800_000)  # up to 2100
_aware = _ms.map(lambda ms: datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms))
_day = st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 12, 31))
_float = st.floats(allow_nan=False, allow_infinity=False)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


_jobs = st.builds(
    Job,
    id=_optional(_text),
    day=_optional(_day),
    type=_optional(st.sampled_from(JobType)),
    priority=_optional(st.integers(0, 10)),
    destination_name=_optional(_text),
    destination_lat=_optional(st.floats(-90, 90)),
    destination_lng=_optional(st.floats(-180, 180)),
    window_start=_optional(st.integers(0, 2400)),
    ts_created=_optional(_aware),
    ts_check_in=_optional(_aware),
    scheduled_start=_optional(_aware),
    uid_secondary=_optional(_text),
    custom_fields=_optional(st.lists(st.builds(CustomField, _text, _text), max_size=3)),
    extra_number_1_val=_optional(_float),
    is_template=_optional(st.booleans()),
    extras=st.dictionaries(
        st.text(min_size=1).map(lambda key: "x" + key), st.integers() | _text, max_size=3
    ),
)


@given(_jobs)
def test_job_round_trip(job: Job) -> None:
    wire = converter.unstructure(job)
    assert converter.structure(wire, Job) == job
    assert converter.unstructure(converter.structure(wire, Job)) == wire


@given(st.dictionaries(st.sampled_from(["tsCheckIn", "tsSaved", "scheduledEnd"]), _ms))
def test_wire_timestamps_round_trip(wire: dict[str, int]) -> None:
    assert converter.unstructure(converter.structure(wire, Job)) == wire


# -- the compiled fast path --------------------------------------------------------------


def _codec() -> module._JobCodec:
    """A fresh codec: nothing compiled yet, empty memos."""
    return module._JobCodec(module._make_converter())


def _compiled(codec: module._JobCodec, wire: dict[str, Any]) -> Job:
    """``wire`` structured by the function compiled for its keys (which must accept it)."""
    codec.structure(wire)  # the first time a key sequence is seen: cattrs' path
    function = codec._compiled_for(tuple(wire))
    assert function is not None
    job = function(wire)
    assert job is not None
    return job


@pytest.mark.parametrize("plain", [True, False])
def test_compiled_structure_of_every_field_agrees(
    seed_job: dict[str, Any], plain: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of building the Job: slot stores (``plain``) and ``Job(...)``."""
    monkeypatch.setattr(module, "_builds_plainly", lambda cls: plain)
    codec = _codec()
    assert codec._plain is plain
    for wire in (seed_job, {**seed_job, "newKey": [1], "tsRejected": 5}, {}, {"day": 0}):
        assert _compiled(codec, wire) == codec.structure_slow(wire)


def test_job_is_built_plainly() -> None:
    """The fast path builds a Job without ``Job(...)`` only while that is equivalent."""
    assert module._builds_plainly(Job)
    assert _codec()._plain

    @attrs.define(kw_only=True)
    class Plain:
        a: int | None = None
        b: dict[str, Any] = attrs.field(factory=dict)

    @attrs.define(kw_only=True)
    class PostInit:
        a: int | None = None

        def __attrs_post_init__(self) -> None:
            pass

    @attrs.define(kw_only=True)
    class Validated:
        a: int | None = attrs.field(default=None, validator=attrs.validators.instance_of(int))

    @attrs.define(kw_only=True)
    class Converted:
        a: int | None = attrs.field(default=None, converter=int)

    @attrs.define(kw_only=True)
    class Required:
        a: int

    @attrs.define(kw_only=True)
    class FactoryTakingSelf:
        a: int = attrs.field(default=attrs.Factory(lambda self: 1, takes_self=True))

    @attrs.frozen(kw_only=True)
    class Frozen:
        a: int | None = None

    @attrs.define(kw_only=True, slots=False)
    class NoSlots:
        a: int | None = None

    assert module._builds_plainly(Plain)
    for cls in (PostInit, Validated, Converted, Required, FactoryTakingSelf, Frozen, NoSlots):
        assert not module._builds_plainly(cls), cls
    # A frozen class's __init__ stores through object.__setattr__: slot setters will do.
    assert module._init_only_stores(Frozen)
    assert module._init_only_stores(Required)
    for cls in (PostInit, Validated, Converted, FactoryTakingSelf, NoSlots):
        assert not module._init_only_stores(cls), cls


class _Text(str):
    """A str subclass: cattrs' ``str()`` makes it a plain str."""


_field_part = st.one_of(
    _text, _text.map(_Text), st.integers(), st.floats(), st.booleans(), st.none()
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"key": _field_part, "val": _field_part},
            optional={"other": _field_part},
        ),
        max_size=4,
    )
    | st.none()
)
def test_custom_fields_built_by_slots_as_by_init(value: list[dict[str, Any]] | None) -> None:
    assert module._structure_custom_fields is module._structure_custom_fields_by_slots
    fast = module._structure_custom_fields_by_slots(value)
    expected = module._structure_custom_fields_by_init(value)
    assert fast == expected
    assert repr(fast) == repr(expected)
    assert [(type(f.key), type(f.val), hash(f)) for f in fast or []] == [
        (str, str, hash(f)) for f in expected or []
    ]


def test_compiled_jobs_get_their_own_extras(seed_job: dict[str, Any]) -> None:
    codec = _codec()
    first, second = _compiled(codec, seed_job), _compiled(codec, seed_job)
    assert first == second == Job(**attrs.asdict(first, recurse=False))
    first.extras["mine"] = 1
    assert second.extras == {}
    assert first.extras is not second.extras


def _outcome(function: Any, argument: Any) -> tuple[Any, ...]:
    """What ``function(argument)`` gives or raises, comparable (``repr`` tells
    ``JobType.PICKUP`` from ``1`` and ``date`` from ``datetime``)."""
    try:
        result = function(argument)
    except Exception as error:  # the error is the outcome
        return ("raises", type(error), str(error))
    return ("gives", result, repr(result))


_MEMOIZED = ("day", "type", "tsCheckIn", "scheduledEnd")


def _memo_agrees(field: str, primed: int, value: Any) -> None:
    """With the memo of ``field`` holding ``primed`` (and, for the timestamps' memo of
    the last value, having it last), ``value`` structures as on cattrs' path."""
    codec = _codec()
    wire = {key: primed if key == field else 0 for key in _MEMOIZED}
    for _ in range(3):  # compiled the second time, the memo filled from then on
        _outcome(codec.structure, wire)  # (a primed value the hook refuses raises)
    wire[field] = value
    assert _outcome(codec.structure, wire) == _outcome(codec.structure_slow, wire)
    assert codec._compiled_for(tuple(wire)) is not None  # the compiled path did run


def test_memos_remember_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "_MEMO_SIZE", 3)
    codec = _codec()
    jobs = [
        codec.structure({"day": 20260101 + number % 5, "tsCreated": 1, "tsCheckIn": number})
        for number in range(20)
    ]
    assert [job.day for job in jobs] == [date(2026, 1, 1 + n % 5) for n in range(20)]
    assert [job.ts_check_in for job in jobs[1:]] == [
        datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=n) for n in range(1, 20)
    ]
    # From the compiled function on (the second job), a value repeated in a run is
    # converted once and shared, like cattrs' path could not tell.
    assert len({id(job.ts_created) for job in jobs[1:]}) == 1
    again = {"day": 20260103, "tsCreated": 1, "tsCheckIn": 7}
    assert codec.structure(again).day is codec.structure(again).day
    (memo,) = {id(hook): hook for hook in codec._structure_hooks.values()
               if isinstance(hook, module._Memo) and hook.kind is date}.values()  # fmt: skip
    assert 0 < len(memo.values) <= 4


_ODD_VALUES = [
    True, False, -0.0, 0.0, 1.0, 1.5, "1", "", Decimal(1), Fraction(1), complex(1),
    -1, 2**64, float("nan"), float("inf"), [1], {"a": 1},
]  # fmt: skip


@pytest.mark.parametrize("value", _ODD_VALUES, ids=repr)
@pytest.mark.parametrize(
    ("field", "primed"),
    [("day", 1), ("type", 1), ("tsCheckIn", 1), ("scheduledEnd", 1), ("day", 20261123)],
)
def test_memo_keeps_values_equal_to_an_int_apart(field: str, primed: int, value: Any) -> None:
    """``True``, ``1.0``, ``Decimal(1)``... hash and compare equal to ``1`` but must
    convert (or fail) as cattrs' hook does with them, not as with ``1``; unhashable
    values must end on cattrs' path too."""
    _memo_agrees(field, primed, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        _memo_agrees(field, primed, value * 20261123)  # a day and a timestamp


@given(
    st.sampled_from(_MEMOIZED),
    st.integers(-(2**40), 2**45),
    st.one_of(
        st.integers(-(2**40), 2**45),
        st.booleans(),
        st.floats(),
        st.text(max_size=12),
        st.decimals(),
        st.fractions(),
        st.none(),
    ),
)
def test_memoized_fields_agree_with_plain_cattrs(field: str, primed: int, value: Any) -> None:
    _memo_agrees(field, primed, value)
    if isinstance(value, float) and value == value and abs(value) < 2**60:
        _memo_agrees(field, int(value), value)  # an integral float hitting its int


@given(_jobs)
def test_fast_path_agrees_with_plain_cattrs(job: Job) -> None:
    """The compiled fast path must give what cattrs' generated functions give."""
    codec = _codec()
    wire = converter.unstructure(job)
    for _ in range(2):  # the second time a key set is seen, the compiled function runs
        assert codec.structure(wire) == codec.structure_slow(wire)
    assert codec.unstructure(job) == codec.unstructure_slow(job)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_offsets = st.timedeltas(-timedelta(hours=23, minutes=59), timedelta(hours=23, minutes=59))
_any_aware = st.datetimes(timezones=st.just(timezone.utc) | st.builds(timezone, _offsets))


@given(_any_aware)
def test_inline_epoch_ms_is_exact(value: datetime) -> None:
    """Any aware datetime, any offset, microseconds that are not whole milliseconds,
    before 1970 or after: the floor of the milliseconds since the epoch."""
    codec = _codec()
    assert codec._unstructure_hooks["tsCheckIn"] is module._unstructure_ms  # inlined
    job = Job(ts_check_in=value, scheduled_end=value)
    wire = codec.unstructure(job)
    expected = (value - _EPOCH) // timedelta(milliseconds=1)
    assert wire == {"tsCheckIn": expected, "scheduledEnd": expected}
    assert wire == codec.unstructure_slow(job)


class _NoOffset(tzinfo):
    """A tzinfo whose datetimes are aware by ``tzinfo`` but naive by ``utcoffset()``."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


class _Moment(datetime):
    """A datetime subclass, as pandas' Timestamp is."""


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 1),  # naive: the hook's ValueError
        datetime(2026, 1, 1, tzinfo=_NoOffset()),
        _Moment(2026, 1, 1, 0, 0, 0, 1500, tzinfo=timezone.utc),
        _Moment(2026, 1, 1),
        date(2026, 1, 1),
        1696752000000,
        "2026-01-01T00:00:00Z",
    ],
    ids=repr,
)
def test_odd_timestamps_unstructure_as_on_cattrs_path(value: Any) -> None:
    codec = _codec()
    job = Job(destination_name="x", ts_created=value, day=date(2026, 1, 1))
    assert _outcome(codec.unstructure, job) == _outcome(codec.unstructure_slow, job)


@pytest.mark.parametrize(
    "value",
    [date(2026, 11, 23), datetime(2026, 11, 23, 23, 59, tzinfo=timezone.utc), 20261123],
    ids=repr,
)
def test_odd_days_unstructure_as_on_cattrs_path(value: Any) -> None:
    codec = _codec()
    job = Job(day=value, ts_created=_EPOCH)
    assert _outcome(codec.unstructure, job) == _outcome(codec.unstructure_slow, job)

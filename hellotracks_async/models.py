"""The job classes: :class:`Job` as the server returns it, :class:`JobUpdate` for edits.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

Attribute names are snake_case; :mod:`hellotracks_async.converter` maps them to the
camelCase wire names. Types are Pythonic: ``day`` is a :class:`datetime.date`, every
``ts_*`` and ``scheduled_*`` field an aware UTC :class:`datetime.datetime`, ``type`` a
:class:`JobType`. ``window_start`` / ``window_end`` stay ``HHMM`` integers because the
API's end of day, ``2400``, has no :class:`datetime.time`; use :func:`hhmm_to_time` and
:func:`time_to_hhmm` to convert.

Example::

    >>> from datetime import date
    >>> Job(destination_name="Acme HQ", destination_lat=37.77, destination_lng=-122.42,
    ...     day=date(2026, 11, 23), worker="jane@company.com").destination_name
    'Acme HQ'
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any, Final, Literal

import attrs

__all__ = [
    "END_OF_DAY",
    "UNSET",
    "CustomField",
    "Job",
    "JobType",
    "JobUpdate",
    "UnsetType",
    "hhmm_to_time",
    "time_to_hhmm",
]

#: The ``windowEnd`` value that means "until the end of the day" (the API default).
END_OF_DAY: Final = 2400


class UnsetType(enum.Enum):
    """The type of :data:`UNSET`; a one-member enum so type checkers can narrow it.

    Example::

        >>> isinstance(UNSET, UnsetType)
        True
    """

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: The sentinel for "not sent" on a :class:`JobUpdate` field.
#:
#: Example::
#:
#:     >>> JobUpdate().worker is UNSET
#:     True
UNSET: Final = UnsetType.UNSET

_Unset = Literal[UnsetType.UNSET]


class JobType(enum.IntEnum):
    """What a job is: work at a place, a pickup, or a dropoff.

    Example::

        >>> JobType(1)
        <JobType.PICKUP: 1>
    """

    WORK = 0
    PICKUP = 1
    DROPOFF = 2


@attrs.frozen
class CustomField:
    """One custom job field, ``{"key": ..., "val": ...}`` on the wire.

    Example::

        >>> CustomField("PO_Number", "PO-2026-1234").key
        'PO_Number'
    """

    key: str
    val: str


def hhmm_to_time(value: int) -> time | None:
    """Turn an ``HHMM`` window value into a :class:`datetime.time`.

    ``2400`` (:data:`END_OF_DAY`) has no ``time``, so it gives ``None``: "no end".

    Example::

        >>> hhmm_to_time(704)
        datetime.time(7, 4)
        >>> hhmm_to_time(2400) is None
        True
    """
    if value == END_OF_DAY:
        return None
    hours, minutes = divmod(value, 100)
    return time(hours, minutes)


def time_to_hhmm(value: time | None) -> int:
    """Turn a :class:`datetime.time` into the ``HHMM`` integer the API takes.

    ``None`` means the end of the day and gives ``2400`` (:data:`END_OF_DAY`);
    seconds are dropped.

    Example::

        >>> time_to_hhmm(time(8, 30))
        830
        >>> time_to_hhmm(None)
        2400
    """
    if value is None:
        return END_OF_DAY
    return value.hour * 100 + value.minute


@attrs.define(kw_only=True)
class Job:
    """One job, with every field of the API's job object; all optional.

    To create jobs, set what you know and leave the rest ``None`` (``None`` is never
    sent). ``id`` is assigned by the server and must stay ``None`` on a job to create.
    Fields the server sends that this class does not know yet are kept in ``extras``
    (wire names) and written back unchanged. Jobs are mutable (a frozen class of 60
    fields costs several microseconds per job to build); use :func:`attrs.evolve` for
    a changed copy.

    Example::

        >>> from datetime import date
        >>> job = Job(destination_name="Acme", day=date(2026, 11, 23), priority=7)
        >>> job.priority
        7
    """

    id: str | None = None
    day: date | None = None
    number: int | None = None
    #: A :class:`JobType`, or a plain ``int`` for a type the server added after this release.
    type: JobType | int | None = None
    priority: int | None = None
    destination_name: str | None = None
    destination_text: str | None = None
    destination_lat: float | None = None
    destination_lng: float | None = None
    radius: int | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    worker: str | None = None
    worker_name: str | None = None
    worker_email: str | None = None
    worker_phone: str | None = None
    receiver_uid: str | None = None
    assignee_name: str | None = None
    assignee_username: str | None = None
    dispatcher_name: str | None = None
    dispatcher_uid: str | None = None
    text_dispatcher: str | None = None
    text_receiver: str | None = None
    items_to_pickup: int | None = None
    items_to_dropoff: int | None = None
    on_site_seconds: int | None = None
    window_start: int | None = None
    window_end: int | None = None
    ts_created: datetime | None = None
    ts_saved: datetime | None = None
    ts_assigned: datetime | None = None
    ts_accepted: datetime | None = None
    ts_scheduled: datetime | None = None
    ts_check_in: datetime | None = None
    ts_check_out: datetime | None = None
    ts_done_success: datetime | None = None
    scheduled_start: datetime | None = None
    scheduled_end: datetime | None = None
    order_id: int | None = None
    file_number: str | None = None
    uid_secondary: str | None = None
    labels: str | None = None
    carry_over: int | None = None
    place_name: str | None = None
    place_uid: str | None = None
    linked_forms: str | None = None
    linked_zones: str | None = None
    team_id: int | None = None
    confirmation_emails: str | None = None
    custom_fields: list[CustomField] | None = None
    extra_number_1_key: str | None = None
    extra_number_1_val: float | None = None
    extra_text_1_key: str | None = None
    extra_text_1_val: str | None = None
    signature_name: str | None = None
    signature_svg: str | None = None
    ts_signature: datetime | None = None
    created_by: str | None = None
    created_via: str | None = None
    is_template: bool | None = None
    job_type: str | None = None
    extras: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class JobUpdate:
    """The fields to change on one job with ``editjobs``; only fields you set are sent.

    Every field defaults to :data:`UNSET`. ``receiver_uid=""`` unassigns the job;
    ``custom_fields`` replaces *all* custom fields of the job. ``None`` on a date or time
    field clears it (sends ``0``). Wire keys this class does not know go in ``extras``.

    Example::

        >>> from hellotracks_async.converter import converter
        >>> converter.unstructure(JobUpdate(worker="a@b.c"))
        {'worker': 'a@b.c'}
    """

    day: date | _Unset | None = UNSET
    number: int | _Unset = UNSET
    type: JobType | _Unset = UNSET
    priority: int | _Unset = UNSET
    destination_name: str | _Unset = UNSET
    destination_text: str | _Unset = UNSET
    destination_lat: float | _Unset = UNSET
    destination_lng: float | _Unset = UNSET
    radius: int | _Unset = UNSET
    contact_name: str | _Unset = UNSET
    contact_phone: str | _Unset = UNSET
    contact_email: str | _Unset = UNSET
    worker: str | _Unset = UNSET
    receiver_uid: str | _Unset = UNSET
    dispatcher_uid: str | _Unset = UNSET
    text_dispatcher: str | _Unset = UNSET
    text_receiver: str | _Unset = UNSET
    items_to_pickup: int | _Unset = UNSET
    items_to_dropoff: int | _Unset = UNSET
    on_site_seconds: int | _Unset = UNSET
    window_start: int | _Unset = UNSET
    window_end: int | _Unset = UNSET
    ts_scheduled: datetime | _Unset | None = UNSET
    scheduled_start: datetime | _Unset | None = UNSET
    scheduled_end: datetime | _Unset | None = UNSET
    order_id: int | _Unset = UNSET
    file_number: str | _Unset = UNSET
    uid_secondary: str | _Unset = UNSET
    labels: str | _Unset = UNSET
    carry_over: int | _Unset = UNSET
    place_name: str | _Unset = UNSET
    place_uid: str | _Unset = UNSET
    linked_forms: str | _Unset = UNSET
    linked_zones: str | _Unset = UNSET
    team_id: int | _Unset = UNSET
    confirmation_emails: str | _Unset = UNSET
    custom_fields: list[CustomField] | _Unset = UNSET
    extra_number_1_key: str | _Unset = UNSET
    extra_number_1_val: float | _Unset = UNSET
    extra_text_1_key: str | _Unset = UNSET
    extra_text_1_val: str | _Unset = UNSET
    job_type: str | _Unset = UNSET
    extras: dict[str, Any] = attrs.field(factory=dict)

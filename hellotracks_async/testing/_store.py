"""The fake server's in-memory job store: the ``createjobs`` / ``editjobs`` / ``getjobs``
semantics on plain wire dicts, with no I/O and no SDK code (so it can catch SDK bugs).

Every operation validates the whole request first and only then changes anything, so a
refused request leaves no trace. Nothing here awaits, so a request is applied at once.

:class:`StorelessJobStore` answers ``createjobs`` the same way but keeps no job.

Example::

    >>> store = JobStore()
    >>> [job] = store.create("acme", {"jobs": [{"destinationName": "HQ"}]})
    >>> job["number"], job["priority"], job["windowEnd"], len(job["id"])
    (1, 5, 2400, 24)
    >>> store.edit("acme", {"jobs": {job["id"]: {"priority": 9}}})[0]["priority"]
    9
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from itertools import chain, repeat
from operator import floordiv, mod
from typing import Any, Final, NamedTuple

__all__ = ["TEMPLATE_PREFIX", "CompanyJobs", "JobStore", "RequestRefused", "StorelessJobStore"]

Wire = dict[str, Any]

#: Templates are addressed as ``tpl-<id>`` in ``editjobs`` and ``getjobs``.
TEMPLATE_PREFIX: Final = "tpl-"

_CUSTOM: Final = "custom_"
_dict_get: Final = dict.get
# Ids are 24 hex digits, like the real API's: a counter from this base.
_ID_BASE: Final = 0x65F0_0000_0000_0000_0000_0000
# StorelessJobStore forgets the worker names it knows beyond this many.
_MAX_WORKERS: Final = 65_536
_DEFAULTS: Final[Wire] = {
    "type": 0,
    "priority": 5,
    "windowStart": 0,
    "windowEnd": 2400,
    "radius": 100,
}
_DEFAULT_KEYS: Final = frozenset(_DEFAULTS)
_DEFAULT_ITEMS: Final = tuple(_DEFAULTS.items())
# Set by the server on create, kept on a createjobs upsert.
_SERVER_MANAGED: Final = ("id", "number", "tsCreated", "createdVia", "isTemplate")


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


class CompanyJobs:
    """One company's jobs and templates, each keyed by id, plus the uidSecondary indexes.

    Example::

        >>> CompanyJobs().jobs
        {}
    """

    __slots__ = ("job_uids", "jobs", "number", "template_uids", "templates")

    def __init__(self) -> None:
        self.jobs: dict[str, Wire] = {}
        self.templates: dict[str, Wire] = {}
        self.job_uids: dict[str, str] = {}
        self.template_uids: dict[str, str] = {}
        self.number = 0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _is_int(value: object) -> bool:
    return type(value) is int  # bool is not an int on the wire


_NONE: Final = type(None)
_INT: Final[frozenset[type]] = frozenset((int, _NONE))
_STR: Final[frozenset[type]] = frozenset((str, _NONE))
_HHMM: Final = frozenset(h * 100 + m for h in range(24) for m in range(60)) | {2400, None}
_MONTHS: Final = frozenset(range(1, 13))
_DAYS_OF_MONTH: Final = frozenset(range(1, 32))
_DICT: Final[frozenset[type]] = frozenset((dict,))
_KEY_TYPES: Final[frozenset[type]] = frozenset((str,))
_VAL_TYPES: Final[frozenset[type]] = frozenset((str, int, float))

# The checks below take all the values of one field in a request (None included, types
# already checked) and use C-level passes (map, set operations) instead of Python code
# per value.


def _valid_days(values: list[Any]) -> bool:
    """Every day is ``None``, ``0`` or a plausible ``YYYYMMDD`` (month 1-12, day 1-31).

    Example::

        >>> _valid_days([None, 0, 20261123, 20261231]), _valid_days([20261123, 20261301])
        (True, False)
    """
    days = set(values)
    days.difference_update((None, 0))
    return not days or (
        min(days) >= 10000101
        and max(days) <= 99991231
        and _MONTHS.issuperset(map(mod, map(floordiv, days, repeat(100)), repeat(100)))
        and _DAYS_OF_MONTH.issuperset(map(mod, days, repeat(100)))
    )


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


def _all_valid(items: list[Any]) -> bool:
    """The fast check of a whole request: every item a dict, every typed field valid.

    A few C-level passes per field instead of Python code per job; on ``False``,
    :func:`_item_problem` finds the culprit.
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


def _item_problem(item: object) -> str | None:
    """What is wrong with one job (or update), or ``None``: the slow, exact check."""
    if type(item) is not dict:
        return "not a JSON object"
    for rule in _RULES:
        value = item.get(rule.name)
        if (
            type(value) not in rule.types
            or (rule.values is not None and value not in rule.values)
            or (rule.check is not None and not rule.check([value]))
        ):
            return f"{rule.message}, got {_excerpt(value)}"
    return None


def _excerpt(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _locate_create_problem(jobs: list[Any]) -> RequestRefused:
    """The refusal naming the first bad job of a createjobs request."""
    for index, job in enumerate(jobs):
        problem = _item_problem(job)
        if problem is None and job.get("id") is not None:
            problem = "do not set id on createjobs"
        if problem is not None:
            return RequestRefused(3, f"job {index}: {problem}")
    return RequestRefused(3, "invalid jobs")  # not reached: the fast check agrees


def _checked_jobs(data: Wire) -> list[Wire]:
    """The jobs of a createjobs request, or the :class:`RequestRefused` it deserves."""
    jobs = data.get("jobs")
    if type(jobs) is not list:
        raise RequestRefused(3, "data.jobs must be a list of job objects")
    if not (_all_valid(jobs) and list(map(_dict_get, jobs, repeat("id"))).count(None) == len(jobs)):
        raise _locate_create_problem(jobs)
    return jobs


def _managed(data: Wire, now: int) -> Wire:
    """The fields the server sets on every job a createjobs request creates."""
    return {
        "tsCreated": now,
        "tsSaved": now,
        "createdVia": "api",
        "isTemplate": data.get("isTemplate") is True,
    }


def _fold_custom(job: Wire, source: Wire) -> None:
    """Move the ``custom_<name>`` keys of ``source`` from ``job`` into ``customFields``,
    replacing an entry with the same key (the list is copied, never changed in place)."""
    names = [key for key in source if key.startswith(_CUSTOM)]
    if not names:
        return
    fields: list[Wire] = list(job.get("customFields") or ())  # copy on write
    for name in names:
        entry = {"key": name[len(_CUSTOM) :], "val": job.pop(name)}
        for position, field in enumerate(fields):
            if field.get("key") == entry["key"]:
                fields[position] = entry
                break
        else:
            fields.append(entry)
    job["customFields"] = fields


class JobStore:
    """All companies' jobs; the three operations take a request's ``data`` object.

    Each operation returns the list of job dicts to answer with, or raises
    :class:`RequestRefused` having changed nothing. The returned dicts may be the stored
    ones: serialize them before anything else touches the store.

    Example::

        >>> store = JobStore()
        >>> _ = store.create("acme", {"jobs": [{"uidSecondary": "A", "priority": 1}]})
        >>> _ = store.create("acme", {"jobs": [{"uidSecondary": "A", "priority": 2}]})
        >>> [(job["uidSecondary"], job["priority"]) for job in store.company("acme").jobs.values()]
        [('A', 2)]
    """

    def __init__(self) -> None:
        self._companies: dict[str, CompanyJobs] = {}
        self._last_id = _ID_BASE
        self._uid_of_worker: dict[str, str] = {}
        self._worker_of_uid: dict[str, str] = {}

    def company(self, name: str) -> CompanyJobs:
        """The store of company ``name`` (created empty on first use).

        Example::

            >>> JobStore().company("acme").number
            0
        """
        found = self._companies.get(name)
        if found is None:
            found = self._companies[name] = CompanyJobs()
        return found

    def reset(self) -> None:
        """Forget every job and template of every company (ids keep counting up).

        Example::

            >>> store = JobStore()
            >>> _ = store.create("acme", {"jobs": [{}]})
            >>> store.reset()
            >>> store.company("acme").jobs
            {}
        """
        self._companies.clear()

    # -- createjobs ------------------------------------------------------------------

    def create(self, company: str, data: Wire, *, custom: bool = True) -> list[Wire]:
        """Apply a ``createjobs`` request; upserts on ``uidSecondary``.

        ``custom=False`` promises that no job has a ``custom_<name>`` key (the server
        knows from the raw body) and skips looking for them.

        Example::

            >>> JobStore().create("acme", {"jobs": [{}, {"id": "x"}]})
            Traceback (most recent call last):
            ...
            hellotracks_async.testing._store.RequestRefused: job 1: do not set id on createjobs
        """
        return self._create(company, _checked_jobs(data), data, custom=custom, keep=True)

    def _create(
        self, company: str, jobs: list[Wire], data: Wire, *, custom: bool, keep: bool
    ) -> list[Wire]:
        """Create checked ``jobs``. ``keep=False`` (:class:`StorelessJobStore`) completes
        the request's own dicts in place and stores nothing; the caller makes sure no
        ``uidSecondary`` repeats, so every job is new."""
        now = _now_ms()
        managed = _managed(data, now)
        autoassign = data.get("autoassign") is True
        owner = self.company(company)
        stored = owner.templates if managed["isTemplate"] else owner.jobs
        by_uid = owner.template_uids if managed["isTemplate"] else owner.job_uids
        uid_of_worker = self._uid_of_worker
        last_id, number = self._last_id, owner.number
        answer: list[Wire] = []
        # The hot path: a few C-level dict operations per job, no Python call on the way.
        for source in jobs:
            uid = source.get("uidSecondary")
            known = by_uid.get(uid) if uid else None
            if known is None:
                last_id += 1
                number += 1
                # copy() clones the hash table; _DEFAULTS | source would insert every key.
                job = source.copy() if keep else source
                if not job.keys() >= _DEFAULT_KEYS:
                    for key, value in _DEFAULT_ITEMS:
                        job.setdefault(key, value)
                job.update(managed)
                job["id"] = job_id = hex(last_id)[2:]
                job["number"] = number
                if custom:
                    _fold_custom(job, source)
                worker = source.get("worker")
                if worker:  # the usual assignment, inline; _assign does the same
                    job["receiverUid"] = uid_of_worker.get(worker) or self._uid_for(worker)
                    job["tsAssigned"] = now
                elif "worker" in source or "receiverUid" in source:
                    self._assign(job, source, now)
                if keep:
                    stored[job_id] = job
                    if uid:
                        by_uid[uid] = job_id
            else:
                # A new dict: an earlier answer entry of this request may hold the old one.
                job = stored[known] = self._merged(stored[known], source, now, custom)
            if autoassign and not job.get("worker"):
                self._assign(job, {"worker": "auto@fake"}, now)
            answer.append(job)
        self._last_id, owner.number = last_id, number
        return answer

    def _merged(self, old: Wire, source: Wire, now: int, custom: bool) -> Wire:
        job = old | source
        for name in _SERVER_MANAGED:
            job[name] = old[name]
        if custom:
            _fold_custom(job, source)
        if "worker" in source or "receiverUid" in source:
            self._assign(job, source, now)
        job["tsSaved"] = max(now, old["tsSaved"] + 1)
        return job

    # -- editjobs --------------------------------------------------------------------

    def edit(self, company: str, data: Wire, *, custom: bool = True) -> list[Wire]:
        """Apply an ``editjobs`` request: set only the given fields of each job.

        ``custom`` as for :meth:`create`.

        Example::

            >>> JobStore().edit("acme", {"jobs": {"nope": {"priority": 1}}})
            Traceback (most recent call last):
            ...
            hellotracks_async.testing._store.RequestRefused: unknown job id: nope
        """
        updates = data.get("jobs")
        if type(updates) is not dict:
            raise RequestRefused(3, "data.jobs must be an object {job_id: {fields}}")
        owner = self.company(company)
        targets: list[tuple[Wire, Wire, dict[str, str]]] = []
        for job_id, fields in updates.items():
            if job_id.startswith(TEMPLATE_PREFIX):
                bare, stored, by_uid = job_id[4:], owner.templates, owner.template_uids
            else:
                bare, stored, by_uid = job_id, owner.jobs, owner.job_uids
            job = stored.get(bare)
            if job is None:
                raise RequestRefused(2, f"unknown job id: {job_id}")
            if type(fields) is not dict:
                raise RequestRefused(3, f"job {job_id}: the update is not a JSON object")
            if fields.get("id", bare) not in (bare, job_id):
                raise RequestRefused(3, f"job {job_id}: the id of a job cannot change")
            targets.append((job, fields, by_uid))
        if not _all_valid([fields for _, fields, _ in targets]):
            for job_id, fields in updates.items():
                problem = _item_problem(fields)
                if problem is not None:
                    raise RequestRefused(3, f"job {job_id}: {problem}")
            raise RequestRefused(3, "invalid updates")  # not reached: the fast check agrees
        now = _now_ms()
        for job, fields, by_uid in targets:
            self._update(job, fields, by_uid, now, custom)
        return [job for job, _, _ in targets]

    def _update(
        self, job: Wire, fields: Wire, by_uid: dict[str, str], now: int, custom: bool
    ) -> None:
        job_id = job["id"]
        old_uid = job.get("uidSecondary")
        job.update(fields)
        job["id"] = job_id
        if custom:
            _fold_custom(job, fields)
        if "worker" in fields or "receiverUid" in fields:
            self._assign(job, fields, now)
        if "uidSecondary" in fields:
            if old_uid and by_uid.get(old_uid) == job_id:
                del by_uid[old_uid]
            if job["uidSecondary"]:
                by_uid[job["uidSecondary"]] = job_id
        job["tsSaved"] = max(now, job["tsSaved"] + 1)

    # -- assignment ------------------------------------------------------------------

    def _assign(self, job: Wire, fields: Wire, now: int) -> None:
        """Assign by ``worker`` (wins) or ``receiverUid``; an empty one unassigns."""
        if "worker" in fields:
            worker = fields["worker"]
            uid = self._uid_for(worker) if worker else None
        else:
            uid = fields["receiverUid"]
            worker = self._worker_of_uid.get(uid) if uid else None
        if uid:
            job["receiverUid"] = uid
            job["tsAssigned"] = now
            if worker:
                job["worker"] = worker
            else:
                job.pop("worker", None)
        else:
            job.pop("worker", None)
            job.pop("receiverUid", None)

    def _uid_for(self, worker: str) -> str:
        uid = self._uid_of_worker.get(worker)
        if uid is None:
            uid = hashlib.blake2b(worker.encode(), digest_size=8).hexdigest()
            self._uid_of_worker[worker] = uid
            self._worker_of_uid[uid] = worker
        return uid

    # -- getjobs ---------------------------------------------------------------------

    def get(self, company: str, data: Wire) -> list[Wire]:
        """Answer a ``getjobs`` request: filter by ``ids``, ``day`` and ``worker``.

        No ``day`` means every day (a job without a day has day ``0``); no ``worker``
        or ``"*"`` means every worker. ``ids`` may name templates as ``tpl-<id>``;
        unknown ids are skipped.

        Example::

            >>> store = JobStore()
            >>> _ = store.create("acme", {"jobs": [{"day": 20260101}, {"day": 20260102}]})
            >>> [job["day"] for job in store.get("acme", {"day": 20260102, "worker": "*"})]
            [20260102]
        """
        day, worker, ids = data.get("day"), data.get("worker"), data.get("ids")
        if day is not None and not _is_int(day):
            raise RequestRefused(3, f"day must be a YYYYMMDD integer, got {_excerpt(day)}")
        if worker is not None and type(worker) is not str:
            raise RequestRefused(3, f"worker must be a string, got {_excerpt(worker)}")
        if ids is not None and not (type(ids) is list and all(type(i) is str for i in ids)):
            raise RequestRefused(3, "ids must be a list of job ids")
        owner = self.company(company)
        if ids is None:
            found = list(owner.jobs.values())
        else:
            found = []
            for job_id in ids:
                if job_id.startswith(TEMPLATE_PREFIX):
                    job = owner.templates.get(job_id[4:])
                else:
                    job = owner.jobs.get(job_id)
                if job is not None:
                    found.append(job)
        if day is not None:
            found = [job for job in found if job.get("day", 0) == day]
        if worker is not None and worker != "*":
            found = [job for job in found if job.get("worker") == worker]
        return found


class StorelessJobStore(JobStore):
    """A :class:`JobStore` that keeps no job, so memory stays flat in a load test.

    :meth:`create` validates and answers as :meth:`JobStore.create` would with no job
    stored (ids and each company's numbers still count up, one ``uidSecondary`` twice in
    a request is still one job), then forgets the jobs: :meth:`~JobStore.edit` refuses
    their ids as unknown and :meth:`~JobStore.get` finds nothing. It keeps only the
    names of the workers it assigned (to map a ``receiverUid`` back), at most 65,536.

    To be cheap, :meth:`create` completes the request's own job dicts in place and
    answers with them: pass dicts nothing else uses (the server passes the parsed body).

    Example::

        >>> store = StorelessJobStore()
        >>> jobs = [{"destinationName": "HQ"}, {"priority": 9}]
        >>> answer = store.create("acme", {"jobs": jobs})
        >>> answer is jobs, [(job["number"], job["priority"]) for job in answer]
        (True, [(1, 5), (2, 9)])
        >>> store.company("acme").jobs, store.get("acme", {})
        ({}, [])
    """

    def create(self, company: str, data: Wire, *, custom: bool = True) -> list[Wire]:
        """Answer a ``createjobs`` request as an empty :class:`JobStore` would; keep nothing.

        Example::

            >>> store = StorelessJobStore()
            >>> [first] = store.create("acme", {"jobs": [{"uidSecondary": "A"}]})
            >>> [again] = store.create("acme", {"jobs": [{"uidSecondary": "A"}]})
            >>> again["number"], again["id"] == first["id"]  # not an upsert: A was forgotten
            (2, False)
            >>> store.edit("acme", {"jobs": {first["id"]: {"priority": 1}}})
            Traceback (most recent call last):
            ...
            hellotracks_async.testing._store.RequestRefused: unknown job id: 65f0...01
        """
        jobs = _checked_jobs(data)
        uids = list(filter(None, map(_dict_get, jobs, repeat("uidSecondary"))))
        if len(set(uids)) != len(uids):  # an upsert within the request: rare, take the long way
            return self._create_and_forget(company, data, custom)
        self._create(company, jobs, data, custom=custom, keep=False)  # completes jobs
        if len(self._uid_of_worker) > _MAX_WORKERS:
            self._uid_of_worker.clear()
            self._worker_of_uid.clear()
        return jobs

    def _create_and_forget(self, company: str, data: Wire, custom: bool) -> list[Wire]:
        answer = super().create(company, data, custom=custom)
        owner = self.company(company)
        for kept in (owner.jobs, owner.templates, owner.job_uids, owner.template_uids):
            kept.clear()
        return answer

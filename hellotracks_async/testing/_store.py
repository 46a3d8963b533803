"""The fake server's in-memory job store: the ``createjobs`` / ``editjobs`` / ``getjobs`` /
``deletejobs`` semantics on plain wire dicts, with no I/O and no SDK code (so it can
catch SDK bugs).

Every operation validates the whole request first (see :mod:`._rules`) and only then
changes anything, so a refused request leaves no trace. Nothing here awaits, so a
request is applied at once. :class:`~._storeless.StorelessJobStore` answers
``createjobs`` the same way but keeps no job.

Where the docs are silent (getjobs' filters, unknown ids, deletejobs' refusals) the
store follows "the fake's reading", written down on :meth:`JobStore.get` and
:meth:`JobStore.delete`; each guess is marked there as one.

Example::

    >>> store = JobStore()
    >>> [job] = store.create("acme", {"jobs": [{"destinationName": "HQ"}]})
    >>> job["number"], job["priority"], job["windowEnd"], len(job["id"])
    (1, 5, 2400, 24)
    >>> store.edit("acme", {"jobs": {job["id"]: {"priority": 9}}})[0]["priority"]
    9
    >>> [found["id"] for found in store.get("acme", {"ids": [job["id"], "nope"]})] == [job["id"]]
    True
    >>> store.delete("acme", {"jobs": [job["id"]]}), store.get("acme", {"id": job["id"]})
    (None, [])
"""

from __future__ import annotations

import hashlib
import time
from typing import Final

from ._rules import RequestRefused, Wire, all_valid, checked_jobs, excerpt, item_problem

__all__ = ["TEMPLATE_PREFIX", "CompanyJobs", "JobStore", "RequestRefused", "Wire", "Workers"]

#: Templates are addressed as ``tpl-<id>`` in ``editjobs``, ``getjobs`` and ``deletejobs``.
TEMPLATE_PREFIX: Final = "tpl-"

_CUSTOM: Final = "custom_"
# Ids are 24 hex digits, like the real API's: a counter from this base.
_ID_BASE: Final = 0x65F0_0000_0000_0000_0000_0000
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


class Workers:
    """The workers the server knows: each name's ``receiverUid`` and back; assignment.

    Example::

        >>> workers, job = Workers(), {}
        >>> workers.assign(job, {"worker": "jane@acme.com"}, now=1)
        >>> job["worker"], job["receiverUid"] == workers.uid_for("jane@acme.com")
        ('jane@acme.com', True)
        >>> workers.assign(job, {"receiverUid": ""}, now=2)
        >>> "worker" in job, "receiverUid" in job
        (False, False)
    """

    __slots__ = ("uid_of_worker", "worker_of_uid")

    def __init__(self) -> None:
        self.uid_of_worker: dict[str, str] = {}
        self.worker_of_uid: dict[str, str] = {}

    def uid_for(self, worker: str) -> str:
        """The ``receiverUid`` of a worker name (made up, stable, on first use)."""
        uid = self.uid_of_worker.get(worker)
        if uid is None:
            uid = hashlib.blake2b(worker.encode(), digest_size=8).hexdigest()
            self.uid_of_worker[worker] = uid
            self.worker_of_uid[uid] = worker
        return uid

    def assign(self, job: Wire, fields: Wire, now: int) -> None:
        """Assign by ``worker`` (wins) or ``receiverUid``; an empty one unassigns."""
        if "worker" in fields:
            worker = fields["worker"]
            uid = self.uid_for(worker) if worker else None
        else:
            uid = fields["receiverUid"]
            worker = self.worker_of_uid.get(uid) if uid else None
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

    def forget(self) -> None:
        """Forget every worker (a uid then maps back to no name)."""
        self.uid_of_worker.clear()
        self.worker_of_uid.clear()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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


def _reassigns(fields: Wire, assigned: tuple[object, object]) -> bool:
    """Whether an edit's ``worker`` / ``receiverUid`` differ from the job's assignment
    (the fake's reading: assigning a job to its own worker again changes nothing)."""
    worker, receiver = assigned
    if "worker" in fields:
        return worker is None or fields["worker"] != worker
    return receiver is None or fields["receiverUid"] != receiver


def _edit_targets(owner: CompanyJobs, data: Wire) -> list[tuple[Wire, Wire, dict[str, str]]]:
    """(stored job, fields, its uid index) per update of an editjobs request, all checked."""
    updates = data.get("jobs")
    if type(updates) is not dict:
        raise RequestRefused(3, "data.jobs must be an object {job_id: {fields}}")
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
    if not all_valid([fields for _, fields, _ in targets]):
        for job_id, fields in updates.items():
            problem = item_problem(fields)
            if problem is not None:
                raise RequestRefused(3, f"job {job_id}: {problem}")
        raise RequestRefused(3, "invalid updates")  # not reached: the fast check agrees
    return targets


def _lookup(owner: CompanyJobs, job_id: str) -> tuple[dict[str, Wire], str]:
    """The dict holding ``job_id`` (jobs, or templates for ``tpl-<id>``) and its bare id."""
    if job_id.startswith(TEMPLATE_PREFIX):
        return owner.templates, job_id[len(TEMPLATE_PREFIX) :]
    return owner.jobs, job_id


def _flag(data: Wire, name: str) -> bool:
    """Whether the optional ``name`` filter is on (``1`` or ``true``); 0/absent: off.

    Example::

        >>> _flag({"progressActive": 1}, "progressActive"), _flag({}, "progressActive")
        (True, False)
    """
    value = data.get(name)
    if value is None or value == 0:
        return False
    if value is True or value == 1:
        return True
    raise RequestRefused(3, f"{name} must be 1 (or absent), got {excerpt(value)}")


def _order_ids(data: Wire) -> set[int] | None:
    """The ``orderId`` / ``orderIds`` filter as one set (both given: either matches), or
    None without one.

    Example::

        >>> sorted(_order_ids({"orderId": 7, "orderIds": [8, 9]})), _order_ids({})
        ([7, 8, 9], None)
    """
    if "orderId" not in data and "orderIds" not in data:
        return None
    wanted: set[int] = set()
    if "orderIds" in data:
        orders = data["orderIds"]
        if not (type(orders) is list and all(type(o) is int for o in orders)):
            raise RequestRefused(3, "orderIds must be a list of numbers")
        wanted.update(orders)
    if "orderId" in data:
        if type(data["orderId"]) is not int:
            raise RequestRefused(3, f"orderId must be a number, got {excerpt(data['orderId'])}")
        wanted.add(data["orderId"])
    return wanted


def _job_ids(data: Wire) -> list[str] | None:
    """The ids of a getjobs request: ``id`` then ``ids`` (both may be given), or None.

    Example::

        >>> _job_ids({"id": "a", "ids": ["b"]}), _job_ids({"day": 20261123})
        (['a', 'b'], None)
    """
    if "id" not in data and "ids" not in data:
        return None
    ids: list[str] = []
    if "id" in data:
        if type(data["id"]) is not str:
            raise RequestRefused(3, f"id must be a job id string, got {excerpt(data['id'])}")
        ids.append(data["id"])
    if "ids" in data:
        more = data["ids"]
        if not (type(more) is list and all(type(i) is str for i in more)):
            raise RequestRefused(3, "ids must be a list of job id strings")
        ids.extend(more)
    return ids


def _typed(data: Wire, name: str, kind: type, what: str) -> object:
    """The optional parameter ``name``, refused unless absent, null or of type ``kind``
    (exactly: ``true`` is no number on the wire)."""
    value = data.get(name)
    if value is not None and type(value) is not kind:
        raise RequestRefused(3, f"{name} must be {what}, got {excerpt(value)}")
    return value


def _select(owner: CompanyJobs, data: Wire) -> list[Wire]:
    """The jobs a getjobs request asks for (see :meth:`JobStore.get`)."""
    day = _typed(data, "day", int, "a YYYYMMDD integer")
    worker = _typed(data, "worker", str, 'a username or "*"')
    team = _typed(data, "team", int, "a team number")
    ids = _job_ids(data)
    orders = _order_ids(data)
    active, done = _flag(data, "progressActive"), _flag(data, "progressSuccess")
    if ids is None:
        found = list(owner.jobs.values())  # a query: jobs, never templates
    else:
        found = []
        for job_id in ids:
            stored, bare = _lookup(owner, job_id)
            job = stored.get(bare)
            if job is not None:
                found.append(job)
    if day is not None:
        found = [job for job in found if job.get("day", 0) == day]
    if worker is not None and worker != "*":
        found = [job for job in found if job.get("worker") == worker]
    if team is not None:
        found = [job for job in found if job.get("teamId") == team]
    if orders is not None:
        found = [job for job in found if job.get("orderId") in orders]
    if active:
        found = [job for job in found if not _finished(job)]
    if done:
        found = [job for job in found if job.get("tsDoneSuccess")]
    return found


def _finished(job: Wire) -> bool:
    """Done, well or not: the fake's reading of "active" is "not finished yet"."""
    return bool(job.get("tsDoneSuccess") or job.get("tsDoneFailed"))


class JobStore:
    """All companies' jobs; the four operations take a request's ``data`` object.

    :meth:`create`, :meth:`edit` and :meth:`get` return the list of job dicts to answer
    with (``{"status": 0, "jobs": [...]}``), :meth:`delete` returns ``None`` (the answer
    is ``{"status": 0}`` alone); each raises :class:`RequestRefused` having changed
    nothing. The returned dicts may be the stored ones: serialize them before anything
    else touches the store.

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
        self._workers = Workers()

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
            hellotracks_async.testing._rules.RequestRefused: job 1: do not set id on createjobs
        """
        return self._create(company, checked_jobs(data), data, custom=custom, keep=True)

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
        workers = self._workers
        uid_of_worker = workers.uid_of_worker
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
                if worker:  # the usual assignment, inline; Workers.assign does the same
                    job["receiverUid"] = uid_of_worker.get(worker) or workers.uid_for(worker)
                    job["tsAssigned"] = now
                elif "worker" in source or "receiverUid" in source:
                    workers.assign(job, source, now)
                if keep:
                    stored[job_id] = job
                    if uid:
                        by_uid[uid] = job_id
            else:
                # A new dict: an earlier answer entry of this request may hold the old one.
                job = stored[known] = self._merged(stored[known], source, now, custom)
            if autoassign and not job.get("worker"):
                workers.assign(job, {"worker": "auto@fake"}, now)
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
            self._workers.assign(job, source, now)
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
            hellotracks_async.testing._rules.RequestRefused: unknown job id: nope
        """
        targets = _edit_targets(self.company(company), data)
        now = _now_ms()
        for job, fields, by_uid in targets:
            self._update(job, fields, by_uid, now, custom)
        return [job for job, _, _ in targets]

    def _update(
        self, job: Wire, fields: Wire, by_uid: dict[str, str], now: int, custom: bool
    ) -> None:
        job_id = job["id"]
        old_uid = job.get("uidSecondary")
        assigned = (job.get("worker"), job.get("receiverUid"))
        job.update(fields)
        job["id"] = job_id
        if custom:
            _fold_custom(job, fields)
        if "worker" in fields or "receiverUid" in fields:
            if _reassigns(fields, assigned):
                self._workers.assign(job, fields, now)
            else:  # to the worker it has: nothing changes (tsAssigned stays)
                for key, value in zip(("worker", "receiverUid"), assigned, strict=True):
                    job[key] = value
        if "uidSecondary" in fields:
            if old_uid and by_uid.get(old_uid) == job_id:
                del by_uid[old_uid]
            if job["uidSecondary"]:
                by_uid[job["uidSecondary"]] = job_id
        job["tsSaved"] = max(now, job["tsSaved"] + 1)

    # -- getjobs ---------------------------------------------------------------------

    def get(self, company: str, data: Wire) -> list[Wire]:
        """Answer a ``getjobs`` request: the jobs matching every filter given.

        The fake's reading of the documented parameters (the docs list them, nothing
        more; "a guess" marks where the fake decides what they leave open):

        - ``id`` (one id) and/or ``ids`` (a list): only those, in the order named (both
          given: ``id`` first, a guess); ``tpl-<id>`` names a template. An unknown id is
          simply absent from the answer (a guess), an id named twice is answered twice.
          Without ``id``/``ids`` the query covers the jobs, never the templates.
        - ``day``: ``YYYYMMDD``; absent: every day. A job without a day has day ``0``.
        - ``worker``: a username; absent or ``"*"``: all workers (and unassigned jobs).
        - ``team``: a team number, matched against the job's ``teamId`` field (the job
          field the createjobs docs show; a guess). A job without one is in no team.
        - ``orderId`` / ``orderIds``: the job's numeric ``orderId`` is one of them.
        - ``progressActive: 1``: active, read as "not finished": neither
          ``tsDoneSuccess`` nor ``tsDoneFailed`` set (a guess; the docs do not define it).
        - ``progressSuccess: 1``: ``tsDoneSuccess`` set. ``0``/``false``/absent: no filter.

        Filters combine with "and". No paging: every match in one answer. A parameter
        of the wrong type (``day: "20261123"``, ``team: true``, ``ids: "x"``,
        ``progressActive: 2``) refuses the request with status 3.

        Example::

            >>> store = JobStore()
            >>> _ = store.create("acme", {"jobs": [{"day": 20260101}, {"day": 20260102}]})
            >>> [job["day"] for job in store.get("acme", {"day": 20260102, "worker": "*"})]
            [20260102]
        """
        return _select(self.company(company), data)

    # -- deletejobs ------------------------------------------------------------------

    def delete(self, company: str, data: Wire) -> None:
        """Apply a ``deletejobs`` request: ``{"jobs": [id, "tpl-<id>", ...]}``.

        The answer is ``{"status": 0}`` alone (no ``jobs``), as documented. Deletion is
        permanent. ``tpl-<id>`` deletes a template. Where the docs are silent, the
        fake's reading (a guess): the whole request or nothing.

        - ``jobs`` not a list, or an entry not a string: status 3, nothing deleted.
        - An id unknown to the company (never made, deleted already, another company's,
          a template's id without ``tpl-``): status 4, ``"<n> unknown job id(s), e.g.
          '<the first, cut to 40 characters>'"``, nothing deleted.
        - An empty list: status 0, nothing to do. An id named twice is deleted once.

        A deleted job's ``uidSecondary`` is forgotten with it, so a later createjobs
        with that key makes a new job (a new id), not an upsert.

        Example::

            >>> store = JobStore()
            >>> [job] = store.create("acme", {"jobs": [{"uidSecondary": "A"}]})
            >>> store.delete("acme", {"jobs": [job["id"], "nope"]})
            Traceback (most recent call last):
            ...
            hellotracks_async.testing._rules.RequestRefused: 1 unknown job id(s), e.g. 'nope'
            >>> store.delete("acme", {"jobs": [job["id"]]})
            >>> store.company("acme").jobs, store.company("acme").job_uids
            ({}, {})
        """
        ids = data.get("jobs")
        if type(ids) is not list or not all(type(job_id) is str for job_id in ids):
            raise RequestRefused(3, "data.jobs must be a list of job ids")
        owner = self.company(company)
        targets = [_lookup(owner, job_id) for job_id in ids]
        pairs = zip(ids, targets, strict=True)
        unknown = [job_id for job_id, (stored, bare) in pairs if bare not in stored]
        if unknown:
            raise RequestRefused(
                4, f"{len(unknown)} unknown job id(s), e.g. {excerpt(unknown[0], 40)}"
            )
        for stored, bare in targets:
            job = stored.pop(bare, None)
            if job is None:
                continue  # named twice in the request
            by_uid = owner.template_uids if stored is owner.templates else owner.job_uids
            uid = job.get("uidSecondary")
            if uid and by_uid.get(uid) == bare:
                del by_uid[uid]

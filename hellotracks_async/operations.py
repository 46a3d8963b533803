"""The bulk operations as pure steps: prepare a batch, then read its answer. No I/O.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

:class:`CreateJobs`, :class:`EditJobs`, :class:`GetJobs` and :class:`DeleteJobs` turn a
:class:`~hellotracks_async.batching.Batch` of inputs into a :class:`Prepared` request
(validated, in wire format, the body encoded, idempotency keys assigned) and turn the
server's answer, or the final exception, into a
:class:`~hellotracks_async.results.BatchOutcome`; :func:`find_query` and
:func:`found_jobs` are the one-request ``getjobs`` query by day. The client only moves
bytes between them.

Example::

    >>> from hellotracks_async.batching import Batch
    >>> create = CreateJobs(idempotency=False)
    >>> prepared, rejected = create.prepare(Batch(0, [Job(destination_name="Acme")]))
    >>> prepared.body
    b'{"data":{"jobs":[{"destinationName":"Acme"}]}}'
    >>> create.outcome(prepared, {"status": 0, "jobs": [{"id": "j1"}]}).jobs
    (Job(id='j1', ...),)
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
import orjson

from .batching import Batch
from .converter import converter
from .errors import APIError, JobNotFoundError, ValidationError
from .models import Job, JobUpdate
from .results import BatchFailure, BatchOutcome, JobList
from .sansio import answer_jobs, encode_body, match_created, match_edited
from .validation import validate_create, validate_edit_pair, validate_id

__all__ = [
    "IDEMPOTENCY_PREFIX",
    "CreateJobs",
    "DeleteJobs",
    "EditJobs",
    "GetJobs",
    "Operation",
    "Prepared",
    "find_query",
    "found_jobs",
    "key_prefix",
]

#: Generated ``uidSecondary`` keys look like ``hta-<run>-<input index>``, where ``<run>`` is
#: a fresh uuid4 per call, or derived from the caller's ``run_id`` (then a re-run of the
#: same input gives the same keys).
IDEMPOTENCY_PREFIX: Final = "hta-"


def key_prefix(run_id: str | None) -> str:
    """The prefix of a call's generated keys: from ``run_id``, or fresh without one.

    Example::

        >>> key_prefix("import-2026-11-29") == key_prefix("import-2026-11-29")
        True
        >>> key_prefix(None) == key_prefix(None)
        False
        >>> key_prefix("import-2026-11-29")
        'hta-e8f17b78820a23ba643cc5b6-'
    """
    if run_id is None:
        return f"{IDEMPOTENCY_PREFIX}{uuid.uuid4().hex}-"
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:24]
    return f"{IDEMPOTENCY_PREFIX}{digest}-"


@attrs.frozen
class Prepared:
    """One batch ready to send: the valid inputs, what their answers are matched by, and
    the request body.

    ``keys`` are what each input's answer job is found by: the ``uidSecondary`` of a job
    to create (``None`` if it has none), the job id of an edit. ``idempotent`` says
    whether sending it twice is harmless (every job to create has a ``uidSecondary``;
    edits always are).
    """

    indices: tuple[int, ...]
    inputs: tuple[Any, ...]
    keys: tuple[Any, ...]
    body: bytes
    idempotent: bool
    label: str
    #: Each input's wire form when the body does not hold it as a list (edits keyed
    #: by id, ids); ``None``: decoded from the body's ``jobs`` when asked for.
    _wire: tuple[Any, ...] | None = None

    @property
    def wire(self) -> tuple[Any, ...]:
        """Each input's wire form, as sent.

        A create's wire dicts are not kept while the request is in flight: they are
        decoded from the body again when needed (a failure, a split), which is rare.
        Keeping a few hundred large dicts alive across each request made the garbage
        collector traverse them over and over.
        """
        if self._wire is not None:
            return self._wire
        jobs: list[Any] = orjson.loads(self.body)["data"]["jobs"]
        return tuple(jobs)

    def failed(self, exc: BaseException, *, requests: int, retries: int) -> BatchOutcome:
        """The outcome when the whole request failed with ``exc``."""
        failure = BatchFailure(self.indices, self.inputs, exc, self.wire, sent=requests > 0)
        return BatchOutcome(failures=(failure,), requests=requests, retries=retries)

    def matched(
        self, answers: Sequence[dict[str, Any] | None], *, requests: int, retries: int
    ) -> BatchOutcome:
        """The outcome from answer jobs paired with inputs (``None``: no answer for it).

        An input succeeds only with an answer job that has an id; one without an answer
        job, or whose answer job has no id, fails with an :class:`APIError` saying so.
        """
        if all(map(_has_id, answers)):  # the usual case
            jobs = JobList(answers)  # type: ignore[arg-type]  # no None: checked above
            return BatchOutcome(self.indices, jobs, (), requests, retries)
        good = [i for i, answer in enumerate(answers) if answer is not None and _has_id(answer)]
        missing = [i for i, answer in enumerate(answers) if answer is None]
        no_id = [
            i for i, answer in enumerate(answers) if answer is not None and not _has_id(answer)
        ]
        failures = tuple(
            self._failure(
                positions, APIError(f"{what} for {len(positions)} input(s) of {self.label}")
            )
            for positions, what in (
                (missing, "the answer holds no job"),
                (no_id, "the answer job has no id"),
            )
            if positions
        )
        jobs = JobList([answers[i] for i in good])  # type: ignore[misc]  # not None
        return BatchOutcome(tuple(self.indices[i] for i in good), jobs, failures, requests, retries)

    def _failure(self, positions: Sequence[int], exc: BaseException) -> BatchFailure:
        wire = self.wire
        return BatchFailure(
            tuple(self.indices[i] for i in positions),
            tuple(self.inputs[i] for i in positions),
            exc,
            tuple(wire[i] for i in positions),
        )


def _has_id(answer: Mapping[str, Any] | None) -> bool:
    if answer is None:
        return False
    job_id = answer.get("id")
    return isinstance(job_id, str) and job_id != ""


class Operation(Protocol):
    """What the client needs of an operation: an endpoint, ``prepare`` and ``outcome``."""

    @property
    def endpoint(self) -> str:
        """The API action, e.g. ``createjobs``."""
        ...

    @property
    def with_jobs(self) -> bool:
        """Whether a success answer carries a ``jobs`` list (``deletejobs``' does not)."""
        ...

    def after_lost_answer(self, outcome: BatchOutcome) -> BatchOutcome:
        """The outcome of a refused request one of whose earlier attempts may have
        been applied (its answer was lost); usually ``outcome`` itself."""
        ...

    def prepare(self, batch: Batch[Any]) -> tuple[Prepared | None, list[BatchFailure]]:
        """Validate and encode a batch; invalid inputs come back as failures."""
        ...

    def outcome(
        self, prepared: Prepared, answer: Mapping[str, Any], *, requests: int = 1, retries: int = 0
    ) -> BatchOutcome:
        """Read a success answer into the batch's outcome."""
        ...

    def split(self, prepared: Prepared, at: int | None = None) -> tuple[Prepared, Prepared]:
        """Two requests: the inputs before position ``at`` (default: half) and the rest."""
        ...


class _Halving:
    """``split`` for an operation that can rebuild a request from part of its inputs."""

    with_jobs = True

    def after_lost_answer(self, outcome: BatchOutcome) -> BatchOutcome:
        """A refusal stands as it is (a create's keys or an edit's values upsert)."""
        return outcome

    def _prepared(
        self, indices: tuple[int, ...], inputs: tuple[Any, ...], wires: tuple[Any, ...]
    ) -> Prepared:
        raise NotImplementedError

    def split(self, prepared: Prepared, at: int | None = None) -> tuple[Prepared, Prepared]:
        """Two requests: the inputs before position ``at`` (default: half) and the rest,
        in order; created jobs keep their keys."""
        middle = len(prepared.indices) // 2 if at is None else at
        parts = (prepared.indices, prepared.inputs, prepared.wire)
        return (
            self._prepared(*(part[:middle] for part in parts)),
            self._prepared(*(part[middle:] for part in parts)),
        )

    def _encoded(
        self,
        indices: list[int],
        inputs: list[Any],
        wires: list[Any],
        rejected: list[BatchFailure],
    ) -> tuple[Prepared | None, list[BatchFailure]]:
        """The request of the valid inputs; one JSON cannot encode fails alone.

        Validation refuses what JSON cannot carry, so this is a last guard: only when
        the whole body fails to encode is each input encoded alone to find the culprit.
        """
        if not wires:
            return None, rejected
        try:
            return self._prepared(tuple(indices), tuple(inputs), tuple(wires)), rejected
        except (TypeError, ValueError):
            pass
        keep = []
        for position, (index, item, wire) in enumerate(zip(indices, inputs, wires, strict=True)):
            try:
                orjson.dumps(wire)
            except (TypeError, ValueError) as exc:
                error = ValidationError(index, "job", item, f"cannot be encoded as JSON ({exc})")
                rejected.append(_rejected(index, item, error))
            else:
                keep.append(position)
        if not keep:
            return None, rejected
        good = tuple(indices[i] for i in keep), tuple(inputs[i] for i in keep)
        return self._prepared(*good, tuple(wires[i] for i in keep)), rejected


def _label(endpoint: str, indices: Sequence[int]) -> str:
    return f"{endpoint} #{indices[0]}-{indices[-1]}" if indices else endpoint


def _rejected(index: int, item: Any, exc: ValidationError) -> BatchFailure:
    return BatchFailure((index,), (item,), exc, sent=False)


class CreateJobs(_Halving):
    """``createjobs``: jobs (``Job`` or wire dicts) to create, with idempotency keys.

    With ``idempotency=True`` every job without ``uid_secondary`` gets a generated one
    (``hta-<uuid4 hex>-<index>``) before the first attempt, so that a retry after a lost
    answer updates the job the first attempt made instead of making a second one.
    """

    endpoint: Final = "createjobs"

    def __init__(
        self,
        *,
        autoassign: bool = False,
        send_route_change: bool = False,
        is_template: bool = False,
        idempotency: bool = True,
        run_id: str | None = None,
        allow_unknown: bool = False,
        validated: bool = False,
    ) -> None:
        self._validated = validated
        self._allow_unknown = allow_unknown
        flags = {
            "sendRouteChange": send_route_change,
            "autoassign": autoassign,
            "isTemplate": is_template,
        }
        self._flags = {name: True for name, value in flags.items() if value}
        self._key_prefix = key_prefix(run_id) if idempotency else None

    def prepare(
        self, batch: Batch[Job | Mapping[str, Any]]
    ) -> tuple[Prepared | None, list[BatchFailure]]:
        """Validate, convert and key each job; encode the batch's request body."""
        indices: list[int] = []
        inputs: list[Any] = []
        wires: list[dict[str, Any]] = []
        rejected: list[BatchFailure] = []
        unstructure = converter.get_unstructure_hook(Job)  # once, not a dispatch per job
        prefix = self._key_prefix
        for index, item in zip(batch.indices, batch.items, strict=True):
            try:
                if not self._validated:
                    validate_create(item, index, allow_unknown=self._allow_unknown)
            except ValidationError as exc:
                rejected.append(_rejected(index, item, exc))
                continue
            wire: dict[str, Any] = unstructure(item) if isinstance(item, Job) else dict(item)
            if prefix is not None and not wire.get("uidSecondary"):
                wire["uidSecondary"] = f"{prefix}{index}"
            indices.append(index)
            inputs.append(item)
            wires.append(wire)
        return self._encoded(indices, inputs, wires, rejected)

    def _prepared(
        self, indices: tuple[int, ...], inputs: tuple[Any, ...], wires: tuple[Any, ...]
    ) -> Prepared:
        keys = tuple([wire.get("uidSecondary") or None for wire in wires])
        return Prepared(
            indices=indices,
            inputs=inputs,
            keys=keys,
            body=encode_body({"jobs": wires, **self._flags}),
            idempotent=None not in keys,
            label=_label(self.endpoint, indices),
        )

    def outcome(
        self, prepared: Prepared, answer: Mapping[str, Any], *, requests: int = 1, retries: int = 0
    ) -> BatchOutcome:
        """Match the answer's jobs to the inputs by ``uidSecondary``."""
        answers = match_created(prepared.keys, answer_jobs(answer))
        return prepared.matched(answers, requests=requests, retries=retries)


class EditJobs(_Halving):
    """``editjobs``: ``(job_id, JobUpdate | wire dict)`` pairs; setting fields is idempotent.

    A request never carries one id twice: the engine sends a repeated id in a later
    request, after the earlier one has landed (see :mod:`hellotracks_async.window`).
    """

    endpoint: Final = "editjobs"

    def __init__(
        self,
        *,
        notify: bool = True,
        send_route_change: bool = False,
        allow_unknown: bool = False,
        validated: bool = False,
    ) -> None:
        self._validated = validated
        self._allow_unknown = allow_unknown
        self._flags: dict[str, bool] = {"notify": notify}
        if send_route_change:
            self._flags["sendRouteChange"] = True

    def prepare(
        self, batch: Batch[tuple[str, JobUpdate | Mapping[str, Any]]]
    ) -> tuple[Prepared | None, list[BatchFailure]]:
        """Validate and convert each update; encode the batch's request body."""
        indices: list[int] = []
        inputs: list[Any] = []
        wires: list[tuple[str, dict[str, Any]]] = []
        rejected: list[BatchFailure] = []
        for index, item in zip(batch.indices, batch.items, strict=True):
            try:
                job_id, update = (
                    item
                    if self._validated
                    else validate_edit_pair(item, index, allow_unknown=self._allow_unknown)
                )
            except ValidationError as exc:
                rejected.append(_rejected(index, item, exc))
                continue
            fields: dict[str, Any] = (
                converter.unstructure(update) if isinstance(update, JobUpdate) else dict(update)
            )
            indices.append(index)
            inputs.append(item)
            wires.append((job_id, fields))
        return self._encoded(indices, inputs, wires, rejected)

    def _prepared(
        self, indices: tuple[int, ...], inputs: tuple[Any, ...], wires: tuple[Any, ...]
    ) -> Prepared:
        return Prepared(
            indices=indices,
            inputs=inputs,
            keys=tuple([job_id for job_id, _ in wires]),
            body=encode_body({"jobs": dict(wires), **self._flags}),
            idempotent=True,
            label=_label(self.endpoint, indices),
            wire=wires,  # the body's jobs are keyed by id: keep each pair as given
        )

    def outcome(
        self, prepared: Prepared, answer: Mapping[str, Any], *, requests: int = 1, retries: int = 0
    ) -> BatchOutcome:
        """Match the answer's jobs to the inputs by job id."""
        answers = match_edited(prepared.keys, answer_jobs(answer))
        return prepared.matched(answers, requests=requests, retries=retries)


class _ByIds(_Halving):
    """The operations on job ids: each input is an id (``tpl-<id>`` for a template),
    checked, sent in a list under the endpoint's ``field``; reading and deleting are
    idempotent, so a refused request is halved to find the refused ids."""

    endpoint: str
    field: str

    def prepare(self, batch: Batch[Any]) -> tuple[Prepared | None, list[BatchFailure]]:
        """Check each id; encode the batch's request body."""
        indices: list[int] = []
        ids: list[str] = []
        rejected: list[BatchFailure] = []
        for index, item in zip(batch.indices, batch.items, strict=True):
            try:
                ids.append(validate_id(item, index))
            except ValidationError as exc:
                rejected.append(_rejected(index, item, exc))
                continue
            indices.append(index)
        if not ids:
            return None, rejected
        return self._prepared(tuple(indices), tuple(ids), tuple(ids)), rejected

    def _prepared(
        self, indices: tuple[int, ...], inputs: tuple[Any, ...], wires: tuple[Any, ...]
    ) -> Prepared:
        return Prepared(
            indices=indices,
            inputs=inputs,
            keys=inputs,
            body=encode_body({self.field: list(inputs)}),
            idempotent=True,
            label=_label(self.endpoint, indices),
            wire=inputs,
        )


class GetJobs(_ByIds):
    """``getjobs`` by ``ids``: every id ends as its :class:`Job` or a failure with
    :class:`JobNotFoundError` (the answer held no job with that id).

    Example::

        >>> get = GetJobs()
        >>> prepared, _ = get.prepare(Batch(0, ["a", "tpl-7"]))
        >>> prepared.body
        b'{"data":{"ids":["a","tpl-7"]}}'
        >>> outcome = get.outcome(prepared, {"status": 0, "jobs": [{"id": "7"}]})
        >>> [job.id for job in outcome.jobs], outcome.failures[0].exception.job_id
        (['7'], 'a')
    """

    endpoint = "getjobs"
    field = "ids"

    def outcome(
        self, prepared: Prepared, answer: Mapping[str, Any], *, requests: int = 1, retries: int = 0
    ) -> BatchOutcome:
        """Match the answer's jobs to the ids; an id without one is not found."""
        answers = match_edited(prepared.keys, answer_jobs(answer))
        if None not in answers:
            return prepared.matched(answers, requests=requests, retries=retries)
        indices, jobs, failures = [], [], []
        for index, job_id, job in zip(prepared.indices, prepared.inputs, answers, strict=True):
            if job is None:
                missing = JobNotFoundError(job_id)
                failures.append(BatchFailure((index,), (job_id,), missing, (job_id,)))
            else:
                indices.append(index)
                jobs.append(job)
        return BatchOutcome(tuple(indices), JobList(jobs), tuple(failures), requests, retries)


class DeleteJobs(_ByIds):
    """``deletejobs``: every id ends deleted (its outcome holds ``Job(id=...)``) or a
    failure. The answer is ``{"status": 0}`` alone: a success deletes every id sent.

    An id refused on a retry after an attempt whose answer was lost (it may have been
    applied) is reported apart, in ``maybe_deleted``: most likely it is already gone.

    Example::

        >>> delete = DeleteJobs()
        >>> prepared, _ = delete.prepare(Batch(0, ["a", "b"]))
        >>> prepared.body
        b'{"data":{"jobs":["a","b"]}}'
        >>> [job.id for job in delete.outcome(prepared, {"status": 0}).jobs]
        ['a', 'b']
    """

    endpoint = "deletejobs"
    field = "jobs"
    with_jobs = False

    def outcome(
        self, prepared: Prepared, answer: Mapping[str, Any], *, requests: int = 1, retries: int = 0
    ) -> BatchOutcome:
        """Every id sent is deleted."""
        jobs = JobList([{"id": job_id} for job_id in prepared.inputs])
        return BatchOutcome(prepared.indices, jobs, (), requests, retries)

    def after_lost_answer(self, outcome: BatchOutcome) -> BatchOutcome:
        """A refusal after a lost answer: the ids were most likely deleted by it."""
        return attrs.evolve(outcome, failures=(), maybe_deleted=outcome.failures)


def find_query(
    *,
    day: datetime.date,
    worker: str = "*",
    team: int | None = None,
    order_ids: Iterable[int] | None = None,
    active: bool | None = None,
    done: bool | None = None,
) -> bytes:
    """The body of one ``getjobs`` query by day (see ``HellotracksClient.find_jobs``).

    The API offers only "active jobs" and "jobs done successfully" as progress filters,
    so ``active`` and ``done`` take ``True`` or ``None``; ``False`` is refused rather
    than sent as a guess.

    Example::

        >>> find_query(day=datetime.date(2026, 11, 23), team=3, done=True)
        b'{"data":{"day":20261123,"worker":"*","team":3,"progressSuccess":1}}'
    """
    if not isinstance(day, datetime.date):
        raise ValidationError(None, "day", day, "must be a datetime.date")
    if not isinstance(worker, str) or not worker:
        raise ValidationError(None, "worker", worker, 'must be a username or "*"')
    data: dict[str, Any] = {"day": day.year * 10000 + day.month * 100 + day.day}
    data["worker"] = worker
    if team is not None:
        data["team"] = _whole("team", team)
    if order_ids is not None:
        data["orderIds"] = [_whole("order_ids", order_id) for order_id in order_ids]
    filters = (("active", active, "progressActive"), ("done", done, "progressSuccess"))
    for name, value, field in filters:
        if value is True:
            data[field] = 1
        elif value is not None:
            raise ValidationError(None, name, value, "can only be True or None (the API's filter)")
    return encode_body(data)


def _whole(name: str, value: Any) -> int:
    if type(value) is not int:
        raise ValidationError(None, name, value, "must be an integer")
    return value


def found_jobs(answer: Mapping[str, Any]) -> list[Job]:
    """The jobs of a ``getjobs`` answer, structured.

    Example::

        >>> found_jobs({"status": 0, "jobs": [{"id": "a", "day": 20261123}]})[0].day
        datetime.date(2026, 11, 23)
    """
    structure = converter.get_structure_hook(Job)
    return [structure(job, Job) for job in answer_jobs(answer)]

"""The two bulk operations as pure steps: prepare a batch, then read its answer. No I/O.

:class:`CreateJobs` and :class:`EditJobs` turn a :class:`~hellotracks_async.batching.Batch`
of inputs into a :class:`Prepared` request (validated, in wire format, the body encoded,
idempotency keys assigned) and turn the server's answer, or the final exception, into a
:class:`~hellotracks_async.results.BatchOutcome`. The client only moves bytes between them.

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

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
import orjson

from .batching import Batch
from .converter import converter
from .errors import APIError, ValidationError
from .models import Job, JobUpdate
from .results import BatchFailure, BatchOutcome
from .sansio import answer_jobs, encode_body, match_created, match_edited
from .validation import validate_create, validate_edit_pair

__all__ = [
    "IDEMPOTENCY_PREFIX",
    "CreateJobs",
    "EditJobs",
    "Operation",
    "Prepared",
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
    #: Each input's wire form, when the body cannot give it back (merged edits);
    #: ``None``: decoded from the body when asked for.
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
        structure = converter.get_structure_hook(Job)  # once, not a dispatch per job
        if all(answer is not None and _has_id(answer) for answer in answers):  # usual case
            jobs = tuple([structure(answer, Job) for answer in answers])
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
        jobs = tuple(structure(answers[i], Job) for i in good)
        return BatchOutcome(tuple(self.indices[i] for i in good), jobs, failures, requests, retries)

    def _failure(self, positions: Sequence[int], exc: BaseException) -> BatchFailure:
        wire = self.wire
        return BatchFailure(
            tuple(self.indices[i] for i in positions),
            tuple(self.inputs[i] for i in positions),
            exc,
            tuple(wire[i] for i in positions),
        )


def _has_id(answer: Mapping[str, Any]) -> bool:
    job_id = answer.get("id")
    return isinstance(job_id, str) and job_id != ""


class Operation(Protocol):
    """What the client needs of an operation: an endpoint, ``prepare`` and ``outcome``."""

    @property
    def endpoint(self) -> str:
        """The API action, e.g. ``createjobs``."""
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

    Two updates of one id in the same batch are merged in input order, which is what
    sending them one after the other would do.
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
        body_jobs: dict[str, dict[str, Any]] = {}
        for job_id, fields in wires:
            body_jobs.setdefault(job_id, {}).update(fields)
        return Prepared(
            indices=indices,
            inputs=inputs,
            keys=tuple([job_id for job_id, _ in wires]),
            body=encode_body({"jobs": body_jobs, **self._flags}),
            idempotent=True,
            label=_label(self.endpoint, indices),
            wire=wires,  # merged in the body: keep each update as given
        )

    def outcome(
        self, prepared: Prepared, answer: Mapping[str, Any], *, requests: int = 1, retries: int = 0
    ) -> BatchOutcome:
        """Match the answer's jobs to the inputs by job id."""
        answers = match_edited(prepared.keys, answer_jobs(answer))
        return prepared.matched(answers, requests=requests, retries=retries)

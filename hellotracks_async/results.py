"""What a bulk call gives back, and the pure assembly of per-batch outcomes into it.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

Every input of a bulk call ends in exactly one place: its :class:`Job` in
:attr:`BulkResult.jobs` (at the position of its index in :attr:`BulkResult.indices`), or
in one :class:`BatchFailure` together with the original input and the exception.

Example::

    >>> assembler = ResultAssembler()
    >>> assembler.add(BatchOutcome(indices=(0,), jobs=(Job(id="a"),)))
    Progress(succeeded=1, failed=0, requests=0, retries=0, concurrency=0)
    >>> assembler.result(elapsed=0.1).ok
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

import attrs

from .converter import converter
from .models import Job

__all__ = [
    "BatchFailure",
    "BatchOutcome",
    "BulkResult",
    "JobList",
    "Progress",
    "ResultAssembler",
    "Tally",
]


class JobList(Sequence[Job]):
    """The jobs of a result, read-only, structured into :class:`Job` s when first read.

    A bulk call keeps each answer job as the decoded wire dict until the caller reads
    the jobs (``result.jobs[0]``, iterating, ``len`` does not count): the collector
    need not walk a hundred thousand ``Job`` s of ~65 slots on every full collection
    during the call, and a caller that needs only counts or ids never pays for
    structuring. :attr:`ids` reads the ids without structuring anything. The first
    read structures every job at once, with the one converter; a job whose answer had
    odd values is logged then (see :mod:`hellotracks_async.converter`).

    Example::

        >>> jobs = JobList([{"id": "a", "day": 20261123}, Job(id="b")])
        >>> jobs.ids
        ('a', 'b')
        >>> jobs[0].day, len(jobs), jobs == (Job(id="a", day=jobs[0].day), Job(id="b"))
        (datetime.date(2026, 11, 23), 2, True)
    """

    __slots__ = ("_chunks", "_jobs", "_len")

    def __init__(self, items: Iterable[Job | Mapping[str, Any]] = ()) -> None:
        chunk = list(items)
        self._chunks: list[Sequence[Job | Mapping[str, Any]]] | None = [chunk]
        self._len = len(chunk)
        self._jobs: tuple[Job, ...] | None = None

    @classmethod
    def _joined(cls, parts: Iterable[JobList]) -> JobList:
        """The items of ``parts`` one after the other, without copying them: a result of
        a hundred thousand jobs is assembled from a thousand batches' lists (touching
        every item would cost a cache miss each)."""
        joined = cls()
        joined._chunks = [chunk for part in parts for chunk in part._parts()]
        joined._len = sum(map(len, joined._chunks))
        return joined

    def _parts(self) -> list[Sequence[Job | Mapping[str, Any]]]:
        return [self._jobs] if self._chunks is None else self._chunks  # type: ignore[list-item]

    def _raw(self) -> list[Job | Mapping[str, Any]]:
        """The items as kept (dicts not yet structured), in one list."""
        return list(itertools.chain.from_iterable(self._parts()))

    @property
    def ids(self) -> tuple[str | None, ...]:
        """Each job's id, without structuring the jobs."""
        return tuple(
            item.id if isinstance(item, Job) else _id_of(item)
            for item in itertools.chain.from_iterable(self._parts())
        )

    def _structured(self) -> tuple[Job, ...]:
        if self._jobs is None:
            structure = converter.get_structure_hook(Job)
            items = itertools.chain.from_iterable(self._chunks or ())
            self._jobs = tuple(
                [item if isinstance(item, Job) else structure(item, Job) for item in items]
            )
            self._chunks = None
        return self._jobs

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> Job: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Job, ...]: ...

    def __getitem__(self, index: int | slice) -> Job | tuple[Job, ...]:
        return self._structured()[index]

    def __iter__(self) -> Iterator[Job]:
        return iter(self._structured())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and self._structured() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # Jobs are mutable

    def __repr__(self) -> str:
        return repr(self._structured())


def _id_of(answer: Mapping[str, Any]) -> str | None:
    job_id = answer.get("id")
    return job_id if isinstance(job_id, str) else None


def _job_list(items: Iterable[Job | Mapping[str, Any]]) -> JobList:
    return items if isinstance(items, JobList) else JobList(items)


@attrs.frozen
class BatchFailure:
    """Inputs that failed together, with the exception that failed them.

    ``indices`` are the inputs' positions, ``inputs`` the objects exactly as passed in
    (for edits, ``(job_id, update)`` pairs). ``wire`` is what was sent (or was about to
    be), in wire format: for creates it carries the generated ``uidSecondary`` keys, so
    sending ``wire`` again upserts instead of duplicating jobs that did reach the server.
    It is empty for inputs that failed validation, which never got a wire form.
    ``sent`` is ``False`` when no request with these inputs was made (invalid input,
    or the call had stopped sending): sending them again is surely safe.

    Example::

        >>> from hellotracks_async.errors import ServerError
        >>> failure = BatchFailure((7,), ({"destinationName": "x"},), ServerError("boom"))
        >>> failure.indices, type(failure.exception).__name__
        ((7,), 'ServerError')
    """

    indices: tuple[int, ...]
    inputs: tuple[Any, ...]
    exception: BaseException
    wire: tuple[Any, ...] = ()
    sent: bool = True


@attrs.frozen
class BatchOutcome:
    """The outcome of one batch, as :meth:`HellotracksClient.stream_create_jobs` yields it.

    ``jobs[i]`` is the server's job for input ``indices[i]`` (ascending: a batch's inputs
    keep their order, halves and parts included); ``failures`` lists the inputs
    of this batch that failed (usually none, or the whole batch). ``requests`` counts the
    HTTP attempts made, ``retries`` the ones after the first.

    Example::

        >>> BatchOutcome(indices=(0, 1), jobs=(Job(id="a"), Job(id="b"))).ok
        True
    """

    indices: tuple[int, ...] = ()
    jobs: JobList = attrs.field(factory=JobList, converter=_job_list)
    failures: tuple[BatchFailure, ...] = ()
    requests: int = 0
    retries: int = 0
    #: inputs of this batch whose key an earlier input of the call still had in flight
    repeated_keys: int = 0
    #: ``delete_jobs`` only: ids probably deleted by an attempt whose answer was lost,
    #: then refused on retry (see :attr:`BulkResult.maybe_deleted`)
    maybe_deleted: tuple[BatchFailure, ...] = ()

    @property
    def ok(self) -> bool:
        """True if nothing in this batch failed."""
        return not self.failures


@attrs.frozen
class Progress:
    """Running totals handed to a ``progress`` callback after each batch.

    ``concurrency`` is the client's limit of batches in flight at that moment (it
    adapts to the server unless the client was made with ``adaptive=False``).

    Example::

        >>> Progress(succeeded=100, failed=0, requests=1, retries=0).succeeded
        100
    """

    succeeded: int
    failed: int
    requests: int
    retries: int
    concurrency: int = 0


def _as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


@attrs.frozen
class BulkResult:
    """The outcome of :meth:`HellotracksClient.create_jobs` / ``edit_jobs``; immutable.

    ``jobs`` are the server's jobs in input order, ``indices[i]`` the input position of
    ``jobs[i]``; ``failures`` hold every input that did not succeed. ``requests`` and
    ``retries`` count HTTP attempts; ``elapsed`` is wall time in seconds. The sequences
    are tuples (a list passed in is turned into one).

    Example::

        >>> result = BulkResult(jobs=[Job(id="a")], indices=[0])
        >>> result.ok, result.succeeded, result.failed
        (True, 1, 0)
        >>> result.jobs
        (Job(id='a', ...),)
    """

    jobs: JobList = attrs.field(factory=JobList, converter=_job_list)
    indices: tuple[int, ...] = attrs.field(default=(), converter=_as_tuple)
    failures: tuple[BatchFailure, ...] = attrs.field(default=(), converter=_as_tuple)
    requests: int = 0
    retries: int = 0
    elapsed: float = 0.0
    #: inputs that shared their key (``uidSecondary``, or the job id of an edit) with an
    #: earlier input still in flight: held back and sent after it, they updated the job
    #: it created or edited. Only keys in flight are tracked, so a key repeated far
    #: apart updates its job just the same but is not counted.
    repeated_keys: int = 0
    #: ``delete_jobs`` only: ids whose deletion an attempt probably applied (its answer
    #: was lost) and whose retry the server then refused, most likely because they were
    #: already gone. They are neither in ``jobs`` nor counted in ``failed``; read them
    #: back with ``get_jobs`` where certainty matters.
    maybe_deleted: tuple[BatchFailure, ...] = attrs.field(default=(), converter=_as_tuple)

    @property
    def succeeded(self) -> int:
        """How many inputs succeeded."""
        return len(self.jobs)

    @property
    def failed(self) -> int:
        """How many inputs failed."""
        return sum(len(failure.indices) for failure in self.failures)

    @property
    def ok(self) -> bool:
        """True if every input succeeded."""
        return not self.failures

    def by_index(self) -> dict[int, Job]:
        """The succeeded jobs keyed by input position.

        Example::

            >>> BulkResult(jobs=[Job(id="a")], indices=[3]).by_index()[3].id
            'a'
        """
        return dict(zip(self.indices, self.jobs, strict=True))


class Tally:
    """Running totals over batch outcomes, without keeping them.

    Example::

        >>> Tally().add(BatchOutcome(indices=(0, 1), jobs=(Job(), Job()), requests=2, retries=1))
        Progress(succeeded=2, failed=0, requests=2, retries=1, concurrency=0)
    """

    def __init__(self) -> None:
        self.succeeded = 0
        self.failed = 0
        self.repeated_keys = 0
        self.requests = 0
        self.retries = 0

    def add(self, outcome: BatchOutcome, *, concurrency: int = 0) -> Progress:
        """Count one batch's outcome; return the running totals."""
        self.succeeded += len(outcome.jobs)
        self.failed += sum(len(failure.indices) for failure in outcome.failures)
        self.requests += outcome.requests
        self.retries += outcome.retries
        self.repeated_keys += outcome.repeated_keys
        return Progress(self.succeeded, self.failed, self.requests, self.retries, concurrency)


class ResultAssembler:
    """Collects :class:`BatchOutcome` s in any order into one :class:`BulkResult`.

    Outcomes arrive in completion order; :meth:`result` puts them back in input order by
    sorting whole batches (a few thousand) rather than every job.

    Example::

        >>> assembler = ResultAssembler()
        >>> _ = assembler.add(BatchOutcome(indices=(1,), jobs=(Job(id="b"),)))
        >>> _ = assembler.add(BatchOutcome(indices=(0,), jobs=(Job(id="a"),)))
        >>> [job.id for job in assembler.result(elapsed=0.0).jobs]
        ['a', 'b']
    """

    def __init__(self) -> None:
        self._outcomes: list[BatchOutcome] = []
        self._tally = Tally()

    def add(self, outcome: BatchOutcome) -> Progress:
        """Take one batch's outcome; return the running totals."""
        self._outcomes.append(outcome)
        return self._tally.add(outcome)

    def result(self, elapsed: float) -> BulkResult:
        """The assembled result, jobs and failures in input order."""
        outcomes = sorted(self._outcomes, key=_first_index)
        indices: list[int] = []
        failures: list[BatchFailure] = []
        maybe_deleted: list[BatchFailure] = []
        ascending, last = True, -1
        for outcome in outcomes:
            if outcome.indices:  # each outcome's own are ascending: compare where they meet
                ascending = ascending and last < outcome.indices[0]
                last = outcome.indices[-1]
            indices.extend(outcome.indices)
            failures.extend(outcome.failures)
            maybe_deleted.extend(outcome.maybe_deleted)
        jobs = JobList._joined(outcome.jobs for outcome in outcomes)  # not copied
        if not ascending:  # batches split in parts whose indices interleave
            order = sorted(range(len(indices)), key=indices.__getitem__)
            raw = jobs._raw()
            indices = [indices[i] for i in order]
            jobs = JobList([raw[i] for i in order])
        failures.sort(key=_first_of)
        maybe_deleted.sort(key=_first_of)
        tally = self._tally
        return BulkResult(
            jobs,
            indices,
            failures,
            tally.requests,
            tally.retries,
            elapsed,
            tally.repeated_keys,
            maybe_deleted,
        )


def _first_of(failure: BatchFailure) -> int:
    return failure.indices[0] if failure.indices else -1


def _first_index(outcome: BatchOutcome) -> int:
    failures = (*outcome.failures, *outcome.maybe_deleted)
    firsts = [*outcome.indices[:1], *(f.indices[0] for f in failures if f.indices)]
    return min(firsts, default=-1)

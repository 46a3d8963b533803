"""The client: a thin facade holding settings and lifecycle over the bulk engine.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

:class:`HellotracksClient` checks its settings, owns the transport (aiohttp by default)
and offers the public calls. The work happens below it: the pure operations and sans-I/O
code prepare and read requests, the :class:`~hellotracks_async.engine.BulkEngine` keeps the
window of batches in flight, and the :class:`~hellotracks_async.sender.BatchSender` sends
each batch with retries.

Rules every bulk call follows:

- **Keys.** Without ``run_id`` each create call is a fresh intent with fresh keys; with
  it, the same input in the same order gets the same keys, so running it again after an
  interruption updates the jobs the first run made instead of duplicating them.
- **Invalid inputs are never sent**, one rule for lists and lazy iterables. With
  ``raise_on_error=True`` (the default) the first invalid input raises its
  :class:`ValidationError` before anything after it is sent: a list, tuple or mapping
  is checked whole first, so nothing at all is sent; a lazy iterable is checked as it
  is read, so the batches before it finish and are in the error's ``result``. With
  ``raise_on_error=False`` an invalid input fails alone (a :class:`BatchFailure` with
  ``sent=False``) and the rest is sent.
- **Other failures**: with ``raise_on_error`` every batch is finished first, then
  :class:`BulkError` is raised carrying the :class:`BulkResult`.
- **Stopping early.** A call that cannot succeed stops sending; its other inputs fail at
  once as not sent (safe to re-run): :class:`AuthenticationError` once the key is
  refused, :class:`NotSentError` once ``unreachable_after`` requests in a row failed
  or ``deadline`` seconds (for the whole call) passed. ``deadline`` is hard: at it the
  attempts in flight are cancelled too, and fail as :class:`TransportError` with
  ``maybe_sent``.
- **Interruptions.** If the input iterable or ``progress`` raises, the call stops
  reading, finishes the batches in flight and raises :class:`BulkInterrupted` carrying
  everything done so far (``stream_*`` yield every outcome, then re-raise).

Example::

    async with HellotracksClient(api_key="...") as client:
        result = await client.create_jobs(jobs)
        print(result.succeeded, "created")
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import os
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final

import aiohttp

from .aiohttp_transport import AiohttpTransport
from .batching import Breather
from .concurrency import INITIAL_LIMIT, AdaptiveLimit, ConcurrencyLimit, FixedLimit
from .engine import BulkEngine, Interrupted, ProgressCallback
from .errors import ConfigurationError, HellotracksError
from .gate import AdmissionGate
from .models import Job, JobUpdate
from .operations import (
    CreateJobs,
    DeleteJobs,
    EditJobs,
    GetJobs,
    Operation,
    find_query,
    found_jobs,
)
from .results import BatchOutcome, BulkResult
from .retrying import RetryPolicy, retry_policy
from .sender import BatchSender
from .settings import check_base_url, number, positive_or_none, whole_number
from .throttle import Throttle
from .transport import Transport
from .validation import validate_create, validate_edit_pair, validate_id

__all__ = ["DEFAULT_BASE_URL", "HellotracksClient", "IdsInput", "JobsInput", "UpdatesInput"]

DEFAULT_BASE_URL: Final = "https://api.hellotracks.com/api/"

#: What ``create_jobs`` takes: an iterable or async iterable of jobs or wire dicts.
JobsInput = Iterable[Job | Mapping[str, Any]] | AsyncIterable[Job | Mapping[str, Any]]
#: What ``get_jobs`` / ``delete_jobs`` take: an iterable or async iterable of job ids.
IdsInput = Iterable[str] | AsyncIterable[str]
_Update = JobUpdate | Mapping[str, Any]
#: What ``edit_jobs`` takes: ``{job_id: update}`` or (async) iterable of pairs.
UpdatesInput = (
    Mapping[str, _Update] | Iterable[tuple[str, _Update]] | AsyncIterable[tuple[str, _Update]]
)


class HellotracksClient:
    """Async client for ``createjobs`` / ``editjobs`` in bounded, retried batches.

    Arguments: ``api_key`` (default: env ``HELLOTRACKS_API_KEY``); ``base_url``
    (default: env ``HELLOTRACKS_BASE_URL`` or the public API; https except to
    localhost); ``batch_size`` (jobs per request); ``max_concurrency`` (the most
    requests in flight: a ceiling the number in flight adapts below, from 10 up while
    the server answers as fast as ever, down on 429, 503, timeouts or queueing;
    ``adaptive=False`` keeps exactly this many); ``max_rate`` (a known quota in
    requests/s; without it a rate is learned once 429s recur, and every 429 pauses the
    whole client for its ``Retry-After``); ``retry`` (a :class:`RetryPolicy`;
    ``max_retries`` is a shorthand for its first field); ``timeout`` (seconds per
    attempt); ``unreachable_after`` (stop sending after this many failed requests in a
    row; 0: never); ``session`` (a caller-owned ``aiohttp.ClientSession``, used with
    the same headers, never closed); ``transport`` (a
    :class:`~hellotracks_async.transport.Transport` such as
    :class:`~hellotracks_async.transport.MockTransport` instead of aiohttp).
    A bad setting raises :class:`ConfigurationError` naming it.

    Example::

        async with HellotracksClient(api_key=key, batch_size=200,
                                     retry=RetryPolicy(max_retries=8)) as client:
            result = await client.create_jobs(Job(destination_name=n) for n in names)
            await client.edit_jobs({job.id: JobUpdate(priority=9) for job in result.jobs})
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        batch_size: int = 100,
        max_concurrency: int = 64,
        adaptive: bool = True,
        max_rate: float | None = None,
        max_retries: int | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        unreachable_after: int = 5,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("HELLOTRACKS_API_KEY")
        if not key:
            raise ConfigurationError("no API key: pass api_key= or set HELLOTRACKS_API_KEY")
        self._batch_size = whole_number("batch_size", batch_size, 1)
        self._max_concurrency = whole_number("max_concurrency", max_concurrency, 1)
        number("timeout", timeout, low=0, above=True)
        self._retry = retry_policy(retry, max_retries)
        if session is not None and transport is not None:
            raise ConfigurationError("pass session= or transport=, not both (a transport sends)")
        self._base_url = check_base_url(
            base_url or os.environ.get("HELLOTRACKS_BASE_URL") or DEFAULT_BASE_URL
        )
        self._aiohttp = (
            None
            if transport is not None
            else AiohttpTransport(
                self._base_url, key, session=session, connection_limit=self._max_concurrency * 2
            )
        )
        self._transport: Transport = transport or self._aiohttp  # type: ignore[assignment]
        self._gate = _gate(self._max_concurrency, adaptive, max_rate, self._retry)
        self._sender = BatchSender(
            self._transport, retry=self._retry, timeout=timeout, redact=key, gate=self._gate
        )
        self._engine = BulkEngine(
            self._sender,
            batch_size=self._batch_size,
            unreachable_after=whole_number("unreachable_after", unreachable_after, 0),
        )
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"HellotracksClient(base_url={self._base_url!r}, api_key='***', "
            f"batch_size={self._batch_size}, max_concurrency={self._max_concurrency})"
        )

    @property
    def base_url(self) -> str:
        """The API root, ending in ``/``; endpoints are appended to it."""
        return self._base_url

    @property
    def concurrency(self) -> int:
        """How many requests the client lets be in flight now (adaptive by default)."""
        return self._gate.limit

    @property
    def retry(self) -> RetryPolicy:
        """The :class:`RetryPolicy` in force."""
        return self._retry

    async def __aenter__(self) -> HellotracksClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport (its own session; a caller-owned one stays open)."""
        self._closed = True
        await self._transport.aclose()

    def _checked(self, deadline: float | None) -> float | None:
        """Refuse at once a call on a closed client or with a bad ``deadline``."""
        if self._closed:
            raise HellotracksError("this client is closed; make a new HellotracksClient")
        if self._aiohttp is not None:
            self._aiohttp.check_loop()
        return positive_or_none("deadline", deadline)

    # -- public API ---------------------------------------------------------------------

    async def create_jobs(
        self,
        jobs: JobsInput,
        *,
        autoassign: bool = False,
        send_route_change: bool = False,
        is_template: bool = False,
        idempotency: bool = True,
        run_id: str | None = None,
        allow_unknown_fields: bool = False,
        raise_on_error: bool = True,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> BulkResult:
        """Create jobs in batches; return every created :class:`Job` in input order.

        ``jobs``: any iterable or async iterable of :class:`Job` or wire-format dicts,
        read lazily. Every job without ``uid_secondary`` gets a generated key, so a
        retry cannot duplicate it (``idempotency=False``: none; then a create is retried
        only where it surely never arrived). ``run_id`` makes the keys, and so the call,
        re-runnable. Dicts may use only known wire names unless
        ``allow_unknown_fields``. Invalid jobs, early stops, ``deadline`` and
        interruptions follow the rules in this module's docstring.

        Example::

            result = await client.create_jobs([Job(destination_name="Acme")])
            print(result.jobs[0].id)
        """
        deadline = self._checked(deadline)
        validated = raise_on_error and isinstance(jobs, (list, tuple))
        if validated:  # then prepare() need not check each job again
            await _validate_all(jobs, validate_create, allow_unknown_fields)  # type: ignore[arg-type]
        operation = CreateJobs(
            autoassign=autoassign,
            send_route_change=send_route_change,
            is_template=is_template,
            idempotency=idempotency,
            run_id=run_id,
            allow_unknown=allow_unknown_fields,
            validated=validated,
        )
        return await self._engine.run(
            operation, jobs, progress, raise_on_error=raise_on_error, deadline=deadline
        )

    async def edit_jobs(
        self,
        updates: UpdatesInput,
        *,
        notify: bool = True,
        send_route_change: bool = False,
        allow_unknown_fields: bool = False,
        raise_on_error: bool = True,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> BulkResult:
        """Edit jobs in batches: ``{job_id: JobUpdate | dict}`` or (async) iterable of pairs.

        Only the fields set on each update are sent; template ids keep their ``tpl-``
        prefix. Invalid updates and failures are handled as in :meth:`create_jobs`
        (a mapping is checked whole first, like a list).

        Example::

            await client.edit_jobs({"64d88ed519c0ae41096aa4b4": JobUpdate(worker="a@b.c")})
        """
        deadline = self._checked(deadline)
        pairs = _pairs(updates)
        validated = raise_on_error and isinstance(pairs, (list, tuple))
        if validated:  # then prepare() need not check each again
            await _validate_all(pairs, validate_edit_pair, allow_unknown_fields)  # type: ignore[arg-type]
        operation = EditJobs(
            notify=notify,
            send_route_change=send_route_change,
            allow_unknown=allow_unknown_fields,
            validated=validated,
        )
        return await self._engine.run(
            operation, pairs, progress, raise_on_error=raise_on_error, deadline=deadline
        )

    def stream_create_jobs(
        self,
        jobs: JobsInput,
        *,
        autoassign: bool = False,
        send_route_change: bool = False,
        is_template: bool = False,
        idempotency: bool = True,
        run_id: str | None = None,
        allow_unknown_fields: bool = False,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """Like :meth:`create_jobs`, but yield each batch's :class:`BatchOutcome` as it
        finishes (completion order; ``outcome.indices`` say which inputs), so memory stays
        bounded by the window however long the input. Failures are in the outcomes; nothing
        is raised for them. Close it early with ``contextlib.aclosing``.

        Example::

            async with contextlib.aclosing(client.stream_create_jobs(rows)) as outcomes:
                async for outcome in outcomes:
                    save(outcome.jobs)
        """
        deadline = self._checked(deadline)
        operation = CreateJobs(
            autoassign=autoassign,
            send_route_change=send_route_change,
            is_template=is_template,
            idempotency=idempotency,
            run_id=run_id,
            allow_unknown=allow_unknown_fields,
        )
        return self._stream(operation, jobs, progress, deadline)

    def stream_edit_jobs(
        self,
        updates: UpdatesInput,
        *,
        notify: bool = True,
        send_route_change: bool = False,
        allow_unknown_fields: bool = False,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """Like :meth:`edit_jobs`, yielding each batch's :class:`BatchOutcome` as it finishes.

        Example::

            async for outcome in client.stream_edit_jobs(pairs):
                print(len(outcome.jobs), "edited")
        """
        deadline = self._checked(deadline)
        operation = EditJobs(
            notify=notify, send_route_change=send_route_change, allow_unknown=allow_unknown_fields
        )
        return self._stream(operation, _pairs(updates), progress, deadline)

    # -- reading back and deleting ----------------------------------------------------

    async def get_jobs(
        self,
        ids: IdsInput,
        *,
        raise_on_error: bool = True,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> BulkResult:
        """Read jobs back by id, in batches (``getjobs`` with ``ids``), in input order.

        ``ids``: any (async) iterable of job ids (``tpl-<id>`` for templates), read
        lazily, sent through the same window, retries and throttle as creates. Every id
        ends as its :class:`Job` in ``result.jobs`` or a failure: an id the server does
        not return fails with :class:`JobNotFoundError`. A bad id (not a string, empty)
        raises :class:`ValidationError` before anything is sent (a list is checked whole).

        Example::

            result = await client.get_jobs(["64d88ed519c0ae41096aa4b4"], raise_on_error=False)
            missing = [f.inputs[0] for f in result.failures]
        """
        return await self._by_ids(GetJobs(), ids, raise_on_error, progress, deadline)

    async def delete_jobs(
        self,
        ids: IdsInput,
        *,
        raise_on_error: bool = True,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> BulkResult:
        """Delete jobs by id, in batches (``deletejobs``); deleting is permanent.

        Retried like an edit (deleting twice leaves the same state). A refused request
        is sent again in halves, so ids the server refuses (unknown, already deleted)
        fail alone. An id refused on a retry after an attempt whose answer was lost is
        in ``result.maybe_deleted``, not in ``failures``: that attempt most likely
        deleted it. Deleted ids are in ``result.jobs`` as ``Job(id=...)``.

        Example::

            result = await client.delete_jobs(job.id for job in created.jobs)
            print(result.succeeded, "deleted")
        """
        return await self._by_ids(DeleteJobs(), ids, raise_on_error, progress, deadline)

    def stream_get_jobs(
        self,
        ids: IdsInput,
        *,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """Like :meth:`get_jobs`, yielding each batch's :class:`BatchOutcome` as it
        finishes, so memory stays bounded however many ids.

        Example::

            async for outcome in client.stream_get_jobs(ids):
                check(outcome.jobs)
        """
        return self._stream(GetJobs(), ids, progress, self._checked(deadline))

    def stream_delete_jobs(
        self,
        ids: IdsInput,
        *,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """Like :meth:`delete_jobs`, yielding each batch's :class:`BatchOutcome`.

        Example::

            async for outcome in client.stream_delete_jobs(ids):
                print(len(outcome.jobs), "deleted,", len(outcome.maybe_deleted), "maybe")
        """
        return self._stream(DeleteJobs(), ids, progress, self._checked(deadline))

    async def find_jobs(
        self,
        *,
        day: datetime.date,
        worker: str = "*",
        team: int | None = None,
        order_ids: Iterable[int] | None = None,
        active: bool | None = None,
        done: bool | None = None,
        deadline: float | None = None,
    ) -> list[Job]:
        """The jobs of one day: one ``getjobs`` query (retried, throttled), every match.

        ``worker``: a username, ``"*"`` for all; ``team``: a team number; ``order_ids``:
        numeric order ids; ``active=True``: only active jobs; ``done=True``: only jobs
        done successfully. The API documents no paging: one answer holds every match.
        A failure raises its :class:`HellotracksError`.

        Example::

            jobs = await client.find_jobs(day=datetime.date(2026, 11, 23), worker="*")
        """
        body = find_query(
            day=day, worker=worker, team=team, order_ids=order_ids, active=active, done=done
        )
        deadline = self._checked(deadline)
        until = None if deadline is None else time.monotonic() + deadline
        answer = await self._sender.query("getjobs", body, label=f"getjobs {day}", until=until)
        return found_jobs(answer)

    async def stream_find_jobs(
        self,
        *,
        days: Iterable[datetime.date],
        worker: str = "*",
        team: int | None = None,
        order_ids: Iterable[int] | None = None,
        active: bool | None = None,
        done: bool | None = None,
    ) -> AsyncGenerator[tuple[datetime.date, list[Job]], None]:
        """``(day, jobs)`` for each of ``days``, in order, several days in flight (up to
        the client's concurrency limit). The first failure is raised after the days
        before it were yielded.

        Example::

            days = (start + datetime.timedelta(n) for n in range(7))
            async for day, jobs in client.stream_find_jobs(days=days):
                print(day, len(jobs))
        """
        orders = None if order_ids is None else list(order_ids)

        def find(day: datetime.date) -> asyncio.Task[list[Job]]:
            query = self.find_jobs(
                day=day, worker=worker, team=team, order_ids=orders, active=active, done=done
            )
            return asyncio.ensure_future(query)

        pending: collections.deque[tuple[datetime.date, asyncio.Task[list[Job]]]] = (
            collections.deque()
        )
        try:
            for day in days:
                pending.append((day, find(day)))
                while len(pending) >= max(1, self.concurrency):
                    first, task = pending.popleft()
                    yield first, await task
            while pending:
                first, task = pending.popleft()
                yield first, await task
        finally:
            for _, task in pending:
                task.cancel()
            await asyncio.gather(*(task for _, task in pending), return_exceptions=True)

    async def _by_ids(
        self,
        operation: Operation,
        ids: IdsInput,
        raise_on_error: bool,
        progress: ProgressCallback | None,
        deadline: float | None,
    ) -> BulkResult:
        deadline = self._checked(deadline)
        if raise_on_error and isinstance(ids, (list, tuple)):
            await _validate_all(ids, _check_id, False)
        return await self._engine.run(
            operation, ids, progress, raise_on_error=raise_on_error, deadline=deadline
        )

    async def _stream(
        self,
        operation: Operation,
        source: Any,
        progress: ProgressCallback | None,
        deadline: float | None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """The engine's outcomes; an early stop re-raises its cause after the last one."""
        stopped: BaseException | None = None
        outcomes = self._engine.stream(operation, source, progress, deadline=deadline)
        async with contextlib.aclosing(outcomes) as outs:
            try:
                async for outcome in outs:
                    yield outcome
            except Interrupted as interrupted:
                stopped = interrupted.cause
        if stopped is not None:
            raise stopped


def _gate(
    max_concurrency: int, adaptive: bool, max_rate: float | None, retry: RetryPolicy
) -> AdmissionGate:
    limit: ConcurrencyLimit = (
        AdaptiveLimit(initial=min(INITIAL_LIMIT, max_concurrency), max_limit=max_concurrency)
        if adaptive
        else FixedLimit(max_concurrency)
    )
    throttle = Throttle(
        max_rate=positive_or_none("max_rate", max_rate), max_pause=retry.max_retry_after
    )
    return AdmissionGate(limit, throttle)


async def _validate_all(items: Sequence[Any], check: Callable[..., object], allow: bool) -> None:
    """Check every item, yielding to the event loop every few milliseconds (a list can
    hold a million jobs; the loop must stay responsive)."""
    breather = Breather()
    for index, item in enumerate(items):
        check(item, index, allow_unknown=allow)
        if breather.due():
            await asyncio.sleep(0)


def _check_id(item: Any, index: int, *, allow_unknown: bool) -> None:
    validate_id(item, index)


def _pairs(updates: UpdatesInput) -> Iterable[Any] | AsyncIterable[Any]:
    if isinstance(updates, Mapping):
        return list(updates.items())
    return updates

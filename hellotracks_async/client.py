"""The async client: a thin shell of I/O around the pure operations.

It owns three things: the aiohttp session, the tenacity loop around each request, and
the window that keeps at most ``max_concurrency`` requests in flight while consuming the
input lazily. Everything else (validation, wire format, idempotency keys, classifying
answers, matching them to inputs) happens in pure code it calls.

Example::

    async with HellotracksClient(api_key="...") as client:
        result = await client.create_jobs(jobs)
        print(result.succeeded, "created")
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from .batching import batches
from .errors import (
    AuthenticationError,
    BulkError,
    ConfigurationError,
    HellotracksError,
    TransportError,
)
from .models import Job, JobUpdate
from .operations import CreateJobs, EditJobs, Operation, Prepared
from .results import BatchOutcome, BulkResult, Progress, ResultAssembler, Tally
from .retrying import RetryPolicy, blames_input
from .sansio import parse_answer
from .validation import validate_create, validate_edit_pair

__all__ = ["DEFAULT_BASE_URL", "HellotracksClient", "JobsInput", "UpdatesInput"]

logger = logging.getLogger("hellotracks_async")

DEFAULT_BASE_URL: Final = "https://api.hellotracks.com/api/"

#: What ``create_jobs`` takes: an iterable or async iterable of jobs or wire dicts.
JobsInput = Iterable[Job | Mapping[str, Any]] | AsyncIterable[Job | Mapping[str, Any]]
_Update = JobUpdate | Mapping[str, Any]
#: What ``edit_jobs`` takes: ``{job_id: update}`` or (async) iterable of pairs.
UpdatesInput = (
    Mapping[str, _Update] | Iterable[tuple[str, _Update]] | AsyncIterable[tuple[str, _Update]]
)
ProgressCallback = Callable[[Progress], object]


class _Secret:
    """Holds the API key; its ``repr`` and ``str`` never show it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def _is_local(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_local(parts.hostname)):
        return base_url if base_url.endswith("/") else base_url + "/"
    raise ConfigurationError(
        f"base_url must be https (plain http only to localhost), got {base_url!r}"
    )


class HellotracksClient:
    """Async client for ``createjobs`` / ``editjobs`` in bounded, retried batches.

    Arguments:
        api_key: the key; defaults to env ``HELLOTRACKS_API_KEY``.
        base_url: defaults to env ``HELLOTRACKS_BASE_URL`` or the public API; https is
            required except on localhost.
        batch_size: jobs per request. max_concurrency: requests in flight at once.
        max_retries: retries per request after the first attempt (transient failures only).
        timeout: seconds per attempt. retry_deadline: seconds from a request's first
            attempt after which no retry starts. backoff / max_backoff: exponential
            backoff bounds, in seconds. max_retry_after: the longest ``Retry-After``
            waited for; a longer one fails the batch with :class:`RateLimitError`.
        session: a caller-owned ``aiohttp.ClientSession``; used, never closed.

    Example::

        async with HellotracksClient(api_key=key, batch_size=200) as client:
            result = await client.create_jobs(Job(destination_name=n) for n in names)
            await client.edit_jobs({job.id: JobUpdate(priority=9) for job in result.jobs})
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        batch_size: int = 100,
        max_concurrency: int = 4,
        max_retries: int = 5,
        timeout: float = 30.0,
        retry_deadline: float = 120.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 60.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("HELLOTRACKS_API_KEY")
        if not key:
            raise ConfigurationError("no API key: pass api_key= or set HELLOTRACKS_API_KEY")
        if batch_size < 1 or max_concurrency < 1:
            raise ConfigurationError("batch_size and max_concurrency must be at least 1")
        if timeout <= 0:
            raise ConfigurationError("timeout must be positive")
        self._api_key = _Secret(key)
        self._base_url = _check_base_url(
            base_url or os.environ.get("HELLOTRACKS_BASE_URL") or DEFAULT_BASE_URL
        )
        self._batch_size = batch_size
        self._max_concurrency = max_concurrency
        self._retry = RetryPolicy(
            max_retries=max_retries,
            deadline=retry_deadline,
            backoff=backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
        )
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None
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
        """Close the session if this client made it; a caller-owned one stays open."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise HellotracksError("this client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_concurrency * 2),
                headers={"API-Key": self._api_key.value, "Content-Type": "application/json"},
            )
        return self._session

    # -- one request --------------------------------------------------------------------

    async def _post(self, endpoint: str, body: bytes, label: str) -> dict[str, Any]:
        """One attempt: POST the body, return the success answer or raise a typed error."""
        session = self._get_session()
        headers = None if self._owns_session else {"API-Key": self._api_key.value}
        try:
            async with session.post(
                self._base_url + endpoint, data=body, headers=headers, timeout=self._timeout
            ) as response:
                raw = await response.read()
                logger.debug("%s: HTTP %d, %d bytes", label, response.status, len(raw))
                return parse_answer(
                    response.status, response.headers, raw, redact=self._api_key.value
                )
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(
                f"cannot connect to {exc.host}:{exc.port}", maybe_sent=False
            ) from None
        except aiohttp.ConnectionTimeoutError:
            raise TransportError(
                f"no connection within {self._timeout.total} s", maybe_sent=False
            ) from None
        except asyncio.TimeoutError:
            raise TransportError(
                f"no answer within {self._timeout.total} s", maybe_sent=True
            ) from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", maybe_sent=True) from None

    async def _attempts(self, operation: Operation, prepared: Prepared) -> BatchOutcome:
        """Send one prepared request with retries; failures come back in the outcome.

        The first attempt is made directly: most requests succeed at once, and building
        a tenacity loop costs more than the rest of the request's own Python. Only after
        a retryable failure does tenacity take over, the failure replayed as its first
        attempt, so the policy (stop, wait, logs) sees exactly what happened.
        """
        started = time.monotonic()
        try:
            answer = await self._post(operation.endpoint, prepared.body, prepared.label)
            return operation.outcome(prepared, answer, requests=1, retries=0)
        except Exception as exc:
            if not self._retry.is_retryable(exc, idempotent=prepared.idempotent):
                return self._failed(prepared, exc, requests=1)
            first: Exception | None = exc
        requests = 1
        try:
            async for attempt in self._retry.retrying(
                idempotent=prepared.idempotent,
                label=prepared.label,
                spent=time.monotonic() - started,
            ):
                with attempt:
                    if first is not None:
                        replayed, first = first, None
                        raise replayed
                    requests += 1
                    answer = await self._post(operation.endpoint, prepared.body, prepared.label)
                    return operation.outcome(
                        prepared, answer, requests=requests, retries=requests - 1
                    )
        except Exception as exc:
            return self._failed(prepared, exc, requests=requests)
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    @staticmethod
    def _failed(prepared: Prepared, exc: Exception, *, requests: int) -> BatchOutcome:
        logger.warning("%s failed after %d attempt(s): %s", prepared.label, requests, exc)
        return prepared.failed(exc, requests=requests, retries=requests - 1)

    async def _send(self, operation: Operation, prepared: Prepared) -> BatchOutcome:
        """Send one batch; never raises but for cancellation.

        When the server refuses the batch's content (see :func:`blames_input`), the batch
        is sent again in halves, and so on, so that only the jobs it refuses fail. A few
        bad jobs cost about ``2 log2(batch_size)`` extra requests each; a budget of
        ``4 log2(batch_size)`` bounds the cost of a batch where every job is refused.
        """
        parts = [prepared]
        budget = 4 * len(prepared.indices).bit_length()
        done: list[BatchOutcome] = []
        requests = retries = 0
        while parts:
            part = parts.pop()
            outcome = await self._attempts(operation, part)
            requests += outcome.requests
            retries += outcome.retries
            refused = outcome.failures and blames_input(outcome.failures[0].exception)
            if refused and len(part.indices) > 1 and part.idempotent and budget >= 2:
                budget -= 2
                first, second = operation.split(part)
                parts += [second, first]  # a stack: the first half goes next
                logger.info("%s refused; sending it in halves to find the job", part.label)
                continue
            done.append(outcome)
        if len(done) == 1:  # never split: its own counts are the batch's
            return done[0]
        return BatchOutcome(
            indices=tuple(i for outcome in done for i in outcome.indices),
            jobs=tuple(job for outcome in done for job in outcome.jobs),
            failures=tuple(f for outcome in done for f in outcome.failures),
            requests=requests,
            retries=retries,
        )

    # -- the window ---------------------------------------------------------------------

    async def _stream(
        self,
        operation: Operation,
        source: Iterable[Any] | AsyncIterable[Any],
        progress: ProgressCallback | None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """Run batches with at most ``max_concurrency`` in flight; yield as they finish."""
        tally = Tally()
        running: set[asyncio.Task[BatchOutcome]] = set()
        refused: list[AuthenticationError] = []  # once the key is refused, stop sending

        def report(outcome: BatchOutcome) -> BatchOutcome:
            for failure in outcome.failures:
                if isinstance(failure.exception, AuthenticationError) and not refused:
                    refused.append(failure.exception)
            totals = tally.add(outcome)
            if progress is not None:
                progress(totals)
            return outcome

        try:
            async for batch in batches(source, self._batch_size):
                prepared, rejected = operation.prepare(batch)
                for failure in rejected:
                    yield report(BatchOutcome(failures=(failure,)))
                if prepared is None:
                    continue
                while len(running) >= self._max_concurrency:
                    done, running = await asyncio.wait(
                        running, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        yield report(task.result())
                if refused:
                    yield report(prepared.failed(_not_sent(refused[0]), requests=0, retries=0))
                    continue
                running.add(asyncio.create_task(self._send(operation, prepared)))
            while running:
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield report(task.result())
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _collect(
        self,
        operation: Operation,
        source: Iterable[Any] | AsyncIterable[Any],
        progress: ProgressCallback | None,
        raise_on_error: bool,
    ) -> BulkResult:
        started = time.perf_counter()
        assembler = ResultAssembler()
        async with contextlib.aclosing(self._stream(operation, source, progress)) as outcomes:
            async for outcome in outcomes:
                assembler.add(outcome)
        result = assembler.result(elapsed=time.perf_counter() - started)
        logger.info(
            "%s: %d succeeded, %d failed, %d requests, %d retries in %.2f s",
            operation.endpoint,
            result.succeeded,
            result.failed,
            result.requests,
            result.retries,
            result.elapsed,
        )
        if raise_on_error and result.failures:
            raise BulkError(result)
        return result

    # -- public API ---------------------------------------------------------------------

    async def create_jobs(
        self,
        jobs: JobsInput,
        *,
        autoassign: bool = False,
        send_route_change: bool = False,
        is_template: bool = False,
        idempotency: bool = True,
        raise_on_error: bool = True,
        progress: ProgressCallback | None = None,
    ) -> BulkResult:
        """Create jobs in batches; return every created :class:`Job` in input order.

        ``jobs`` is any iterable or async iterable of :class:`Job` or wire-format dicts,
        consumed lazily. A list or tuple is validated whole before anything is sent
        (:class:`ValidationError`); in a lazy stream, an invalid job is reported as a
        failure of its own and never sent. Every job without ``uid_secondary`` gets a
        generated one so that retries cannot duplicate it (``idempotency=False`` turns
        that off; then a create is retried only when it surely never arrived).

        With ``raise_on_error`` (the default) every batch is finished first, then
        :class:`BulkError` is raised carrying the :class:`BulkResult`. Once the server
        refuses the API key, the batches not yet sent fail with
        :class:`AuthenticationError` without being sent.

        Example::

            result = await client.create_jobs([Job(destination_name="Acme")])
            print(result.jobs[0].id)
        """
        validated = False
        if isinstance(jobs, (list, tuple)):  # then prepare() need not check each job again
            validated = True
            for index, job in enumerate(jobs):
                validate_create(job, index)
        operation = CreateJobs(
            autoassign=autoassign,
            send_route_change=send_route_change,
            is_template=is_template,
            idempotency=idempotency,
            validated=validated,
        )
        return await self._collect(operation, jobs, progress, raise_on_error)

    async def edit_jobs(
        self,
        updates: UpdatesInput,
        *,
        notify: bool = True,
        send_route_change: bool = False,
        raise_on_error: bool = True,
        progress: ProgressCallback | None = None,
    ) -> BulkResult:
        """Edit jobs in batches: ``{job_id: JobUpdate | dict}`` or (async) iterable of pairs.

        Only the fields set on each update are sent; template ids keep their ``tpl-``
        prefix. A mapping, list or tuple is validated whole before anything is sent.
        Failure handling and the result are as for :meth:`create_jobs`.

        Example::

            await client.edit_jobs({"64d88ed519c0ae41096aa4b4": JobUpdate(worker="a@b.c")})
        """
        pairs = _pairs(updates)
        validated = False
        if isinstance(pairs, (list, tuple)):  # then prepare() need not check each again
            validated = True
            for index, pair in enumerate(pairs):
                validate_edit_pair(pair, index)
        operation = EditJobs(
            notify=notify, send_route_change=send_route_change, validated=validated
        )
        return await self._collect(operation, pairs, progress, raise_on_error)

    async def stream_create_jobs(
        self,
        jobs: JobsInput,
        *,
        autoassign: bool = False,
        send_route_change: bool = False,
        is_template: bool = False,
        idempotency: bool = True,
        progress: ProgressCallback | None = None,
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
        operation = CreateJobs(
            autoassign=autoassign,
            send_route_change=send_route_change,
            is_template=is_template,
            idempotency=idempotency,
        )
        async with contextlib.aclosing(self._stream(operation, jobs, progress)) as outcomes:
            async for outcome in outcomes:
                yield outcome

    async def stream_edit_jobs(
        self,
        updates: UpdatesInput,
        *,
        notify: bool = True,
        send_route_change: bool = False,
        progress: ProgressCallback | None = None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """Like :meth:`edit_jobs`, yielding each batch's :class:`BatchOutcome` as it finishes.

        Example::

            async for outcome in client.stream_edit_jobs(pairs):
                print(len(outcome.jobs), "edited")
        """
        operation = EditJobs(notify=notify, send_route_change=send_route_change)
        async with contextlib.aclosing(
            self._stream(operation, _pairs(updates), progress)
        ) as outcomes:
            async for outcome in outcomes:
                yield outcome


def _not_sent(refusal: AuthenticationError) -> AuthenticationError:
    return AuthenticationError(
        "not sent: the API key was refused on an earlier request",
        http_status=refusal.http_status,
        api_status=refusal.api_status,
        body=refusal.body,
    )


def _pairs(updates: UpdatesInput) -> Iterable[Any] | AsyncIterable[Any]:
    if isinstance(updates, Mapping):
        return list(updates.items())
    return updates


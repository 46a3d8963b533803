"""Sending one prepared batch: attempts under the retry policy, and halving refused batches.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

:class:`BatchSender` is the part of the bulk engine that talks to the transport. It never
raises for a failed batch (only for cancellation): every outcome, good or bad, comes back
as a :class:`~hellotracks_async.results.BatchOutcome`.

Example::

    >>> import asyncio
    >>> from hellotracks_async.operations import CreateJobs
    >>> from hellotracks_async.batching import Batch
    >>> from hellotracks_async.models import Job
    >>> from hellotracks_async.transport import MockTransport, Response
    >>> transport = MockTransport(lambda request: Response(200, {}, b'{"status": 0, '
    ...     b'"jobs": [{"id": "j1", "uidSecondary": "k1"}]}'))
    >>> create = CreateJobs()
    >>> prepared, _ = create.prepare(Batch(0, [Job(uid_secondary="k1")]))
    >>> outcome = asyncio.run(BatchSender(transport).send(create, prepared))
    >>> outcome.jobs[0].id, outcome.requests
    ('j1', 1)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Coroutine
from typing import Any

from .concurrency import FixedLimit
from .errors import HellotracksError, NotSentError, ServerError, TransportError, unchained
from .gate import AdmissionGate
from .operations import Operation, Prepared
from .results import BatchOutcome, JobList
from .retrying import RetryPolicy, blames_input
from .sansio import parse_answer
from .throttle import Throttle
from .transport import Transport

__all__ = ["BatchSender"]

logger = logging.getLogger("hellotracks_async")


async def _by_deadline(
    request: Coroutine[Any, Any, dict[str, Any]], until: float | None, attempts: _Attempts
) -> dict[str, Any]:
    """Await ``request``, cancelling it at ``until`` (a ``time.monotonic()`` value, the
    call's hard deadline): then it fails as in flight if an attempt went out, else as
    not sent."""
    if until is None:
        return await request
    try:
        return await asyncio.wait_for(request, timeout=max(0.0, until - time.monotonic()))
    except asyncio.TimeoutError:
        if attempts.requests:
            raise TransportError(
                "the call's deadline passed with the request in flight (it may have arrived)"
            ) from None
        raise NotSentError("not sent: the call's deadline passed") from None


def _maybe_applied(exc: TransportError | ServerError) -> bool:
    """Whether the failed attempt may still have been applied: its answer was lost, or a
    server error other than 503 (which, as for retrying creates, means not taken)."""
    if isinstance(exc, TransportError):
        return exc.maybe_sent
    return exc.http_status != 503


class _Attempts:
    """What the attempts of one request did: how many went out, and whether one that
    failed may still have been applied (its answer was lost, or a server error)."""

    __slots__ = ("maybe_applied", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.maybe_applied = False


class BatchSender:
    """Sends prepared batches through a transport, with retries and halving.

    ``redact`` (the API key) is blanked out of every text built from an answer.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        redact: str | None = None,
        gate: AdmissionGate | None = None,
    ) -> None:
        self._transport = transport
        #: the client's flow control, which every attempt passes (the engine admits
        #: batches through the same gate)
        self.gate = gate or AdmissionGate(FixedLimit(4), Throttle())
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._redact = redact

    async def send(
        self, operation: Operation, prepared: Prepared, *, until: float | None = None
    ) -> BatchOutcome:
        """Send one batch; when the server refuses its content, send it again in halves.

        A refusal that blames the input (see :func:`blames_input`) splits the batch in
        two, and so on down to single jobs, so that only the jobs the server refuses
        fail. The extra requests grow with the number of bad jobs (about
        ``2 log2(batch_size)`` each), never with the good ones. A refused request one
        of whose earlier attempts may have been applied is handed to the operation's
        ``after_lost_answer`` (a delete reports its ids as ``maybe_deleted``).

        ``until`` (a ``time.monotonic()`` value) is the call's hard deadline: no
        attempt starts after it, and one still running then is cancelled, failing as
        :class:`TransportError` (``maybe_sent``) if a request went out, else as
        :class:`NotSentError`.
        """
        parts = [(prepared, False)]  # and whether an earlier attempt may have applied it
        done: list[BatchOutcome] = []
        requests = retries = 0
        while parts:
            part, maybe_applied = parts.pop()
            attempts = _Attempts()
            outcome = await self._attempts(operation, part, until, attempts)
            maybe_applied = maybe_applied or attempts.maybe_applied
            requests += outcome.requests
            retries += outcome.retries
            refused = outcome.failures and blames_input(outcome.failures[0].exception)
            if refused and len(part.indices) > 1 and part.idempotent:
                first, second = operation.split(part)
                parts += [(second, maybe_applied), (first, maybe_applied)]  # first goes next
                logger.info("%s refused; sending it in halves to find the job", part.label)
                continue
            if refused and maybe_applied:
                outcome = operation.after_lost_answer(outcome)
            done.append(outcome)
        if len(done) == 1:  # never split: its own counts are the batch's
            return done[0]
        return BatchOutcome(
            indices=tuple(i for outcome in done for i in outcome.indices),
            jobs=JobList._joined(outcome.jobs for outcome in done),
            failures=tuple(f for outcome in done for f in outcome.failures),
            requests=requests,
            retries=retries,
            maybe_deleted=tuple(f for outcome in done for f in outcome.maybe_deleted),
        )

    async def _attempts(
        self, operation: Operation, prepared: Prepared, until: float | None, attempts: _Attempts
    ) -> BatchOutcome:
        """Send one request under the retry policy; failures come back in the outcome.

        ``requests`` counts the attempts that went out: one the throttle held past its
        deadline was never sent, and a batch with none is reported as not sent.
        """
        request = self._request(
            operation.endpoint,
            prepared.body,
            idempotent=prepared.idempotent,
            label=prepared.label,
            until=until,
            with_jobs=operation.with_jobs,
            attempts=attempts,
        )
        try:
            answer = await _by_deadline(request, until, attempts)
        except Exception as exc:
            error = self._as_ours(exc)
            requests = attempts.requests
            logger.warning("%s failed after %d request(s): %s", prepared.label, requests, error)
            return prepared.failed(error, requests=requests, retries=max(0, requests - 1))
        requests = attempts.requests
        return operation.outcome(prepared, answer, requests=requests, retries=requests - 1)

    async def query(
        self, endpoint: str, body: bytes, *, label: str, until: float | None = None
    ) -> dict[str, Any]:
        """One read-only request under the retry policy; the success answer, or the
        last attempt's error (a :class:`HellotracksError`, redacted) is raised.

        Example::

            answer = await sender.query("getjobs", encode_body({"day": 20261204}),
                                        label="getjobs 2026-12-04")
        """
        attempts = _Attempts()
        request = self._request(
            endpoint, body, idempotent=True, label=label, until=until, attempts=attempts
        )
        try:
            return await _by_deadline(request, until, attempts)
        except Exception as exc:
            raise self._as_ours(exc) from None

    async def _request(
        self,
        endpoint: str,
        body: bytes,
        *,
        idempotent: bool,
        label: str,
        until: float | None,
        attempts: _Attempts,
        with_jobs: bool = True,
    ) -> dict[str, Any]:
        """The attempts of one request: the success answer, or the last error raised.

        The first attempt runs alone; only when it fails with a retryable error does a
        tenacity loop take over, its failure replayed as that loop's first attempt (so
        the policy counts, waits and logs as if tenacity had made it). Most requests
        succeed at once, and a tenacity loop costs some 45 objects in reference cycles
        that only the collector's full passes free.
        """
        started = time.monotonic()
        give_up = started + self._retry.deadline
        if until is not None:
            give_up = min(give_up, until)
        send = functools.partial(self._attempt, endpoint, body, label, give_up, with_jobs, attempts)
        try:
            return await send()
        except Exception as exc:
            if not self._retry.is_retryable(exc, idempotent=idempotent):
                raise
            failed: Exception | None = exc
        retrying = self._retry.retrying(
            idempotent=idempotent, label=label, until=until, started=started
        )
        async for attempt in retrying:
            with attempt:
                if failed is not None:  # the first attempt, already made
                    replay, failed = failed, None
                    raise replay
                return await send()
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _attempt(
        self,
        endpoint: str,
        body: bytes,
        label: str,
        give_up: float,
        with_jobs: bool,
        attempts: _Attempts,
    ) -> dict[str, Any]:
        """One attempt through the gate: the success answer, or the typed error raised."""
        try:
            async with self.gate.attempt(deadline=give_up):
                attempts.requests += 1
                response = await self._transport.post(endpoint, body, timeout=self._timeout)
                logger.debug("%s: HTTP %d, %d bytes", label, response.status, len(response.body))
                return parse_answer(  # raises the typed error the gate learns from
                    response.status,
                    response.headers,
                    response.body,
                    redact=self._redact,
                    with_jobs=with_jobs,
                )
        except (TransportError, ServerError) as exc:
            attempts.maybe_applied |= _maybe_applied(exc)
            raise

    def _as_ours(self, exc: Exception) -> HellotracksError:
        """``exc`` as a :class:`HellotracksError` with no chained exceptions, redacted."""
        if isinstance(exc, HellotracksError):
            return unchained(exc)
        text = f"unexpected {type(exc).__name__}: {exc}"[:300]
        if self._redact:
            text = text.replace(self._redact, "***")
        return HellotracksError(text)

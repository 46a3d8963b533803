"""The bulk engine: read the input lazily, keep a window of batches in flight, assemble.

:class:`BulkEngine` turns an operation (:class:`~hellotracks_async.operations.CreateJobs`
or :class:`~hellotracks_async.operations.EditJobs`) and an (async) iterable of inputs into
batch outcomes, with at most ``max_concurrency`` requests in flight. Each batch goes
through a :class:`~hellotracks_async.sender.BatchSender`; the engine never sees HTTP.

Example::

    >>> import asyncio
    >>> from hellotracks_async.operations import CreateJobs
    >>> from hellotracks_async.models import Job
    >>> from hellotracks_async.sender import BatchSender
    >>> from hellotracks_async.transport import MockTransport, Response
    >>> def echo(request):
    ...     jobs = request.json()["data"]["jobs"]
    ...     body = {"status": 0, "jobs": [{"id": "id-" + j["uidSecondary"], **j} for j in jobs]}
    ...     return Response(200, {}, __import__("orjson").dumps(body))
    >>> engine = BulkEngine(BatchSender(MockTransport(echo)), batch_size=2)
    >>> result = asyncio.run(engine.run(CreateJobs(), [Job(uid_secondary=k) for k in "abc"]))
    >>> [job.id for job in result.jobs], result.requests
    (['id-a', 'id-b', 'id-c'], 2)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable
from typing import Any

from .batching import batches
from .errors import AuthenticationError, BulkError
from .operations import Operation
from .results import BatchOutcome, BulkResult, Progress, ResultAssembler, Tally
from .sender import BatchSender

__all__ = ["BulkEngine", "ProgressCallback"]

logger = logging.getLogger("hellotracks_async")

#: What ``progress=`` takes: a callable given the running totals after each batch.
ProgressCallback = Callable[[Progress], object]


class BulkEngine:
    """The window of batches in flight over one sender; one per client.

    Example::

        engine = BulkEngine(BatchSender(transport), batch_size=100, max_concurrency=4)
        result = await engine.run(CreateJobs(), jobs, raise_on_error=False)
    """

    def __init__(
        self, sender: BatchSender, *, batch_size: int = 100, max_concurrency: int = 4
    ) -> None:
        self._sender = sender
        self._batch_size = batch_size
        self._max_concurrency = max_concurrency

    async def stream(
        self,
        operation: Operation,
        source: Iterable[Any] | AsyncIterable[Any],
        progress: ProgressCallback | None = None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """Run the batches of ``source``; yield each outcome as its batch finishes.

        Once the server refuses the API key, the batches not yet sent fail with
        :class:`AuthenticationError` without being sent.
        """
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
                    done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        yield report(task.result())
                if refused:
                    yield report(prepared.failed(_not_sent(refused[0]), requests=0, retries=0))
                    continue
                running.add(asyncio.create_task(self._sender.send(operation, prepared)))
            while running:
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield report(task.result())
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def run(
        self,
        operation: Operation,
        source: Iterable[Any] | AsyncIterable[Any],
        progress: ProgressCallback | None = None,
        *,
        raise_on_error: bool = True,
    ) -> BulkResult:
        """Run every batch and assemble one :class:`BulkResult`, inputs in order.

        With ``raise_on_error``, every batch is finished first, then :class:`BulkError`
        is raised carrying the result if anything failed.
        """
        started = time.perf_counter()
        assembler = ResultAssembler()
        async with contextlib.aclosing(self.stream(operation, source, progress)) as outcomes:
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


def _not_sent(refusal: AuthenticationError) -> AuthenticationError:
    return AuthenticationError(
        "not sent: the API key was refused on an earlier request",
        http_status=refusal.http_status,
        api_status=refusal.api_status,
        body=refusal.body,
    )

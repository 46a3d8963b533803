"""The bulk engine: read the input lazily, keep a window of batches in flight, assemble.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

:class:`BulkEngine` turns an operation (:mod:`~hellotracks_async.operations`: create,
edit, get, delete) and an (async) iterable of inputs into batch outcomes. Each batch
asks the client's :class:`~hellotracks_async.gate.AdmissionGate` for a slot (the
concurrency limit, adaptive or fixed, over every call on the client, and the keys in
flight) and gives it back once its outcome is reported. Each batch goes through a
:class:`~hellotracks_async.sender.BatchSender`; the engine never sees HTTP.

Nothing read is ever abandoned. When the input iterable or the progress callback raises,
or (with ``stop_on_invalid``) an input is invalid, the engine stops reading, lets the
batches in flight finish, reports every input it read, and only then raises
(:class:`Interrupted`, carrying the cause).

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
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
)
from typing import Any

import attrs

from .batching import batches, first_repeat
from .errors import (
    AuthenticationError,
    BulkError,
    BulkInterrupted,
    HellotracksError,
    NotSentError,
    ServerError,
    TransportError,
    ValidationError,
    unchained,
)
from .gate import Slot
from .operations import Operation, Prepared
from .results import BatchOutcome, BulkResult, Progress, ResultAssembler, Tally
from .sender import BatchSender

__all__ = ["BulkEngine", "Interrupted", "ProgressCallback"]

logger = logging.getLogger("hellotracks_async")

#: What ``progress=`` takes: a callable given the running totals after each batch.
ProgressCallback = Callable[[Progress], object]


class Interrupted(Exception):
    """Raised by :meth:`BulkEngine.stream` after its last outcome when the run stopped
    early; ``cause`` is what stopped it (the source's or the callback's exception, or a
    :class:`ValidationError`)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"stopped early: {cause!r}")
        self.cause = cause


class _Run:
    """The state of one call: the tasks in flight, totals, and why it must stop.

    ``blocked`` is the error that fails every batch not yet sent, once sending can no
    longer succeed: the key was refused, the server stayed unreachable for
    ``unreachable_after`` requests in a row, or the call's deadline passed.
    """

    def __init__(
        self,
        progress: ProgressCallback | None,
        *,
        unreachable_after: int,
        until: float | None,
        limit: Callable[[], int],
    ) -> None:
        self.limit = limit
        #: the batches in flight, each with its slot (released once its outcome is reported)
        self.running: dict[asyncio.Task[BatchOutcome], Slot] = {}
        self.tally = Tally()
        self.progress = progress
        self.unreachable_after = unreachable_after
        self.until = until  # time.monotonic() past which nothing new is sent
        self.failed_in_a_row = 0
        self.blocked: HellotracksError | None = None
        self.stop: BaseException | None = None  # why no more input is read

    def report(self, outcome: BatchOutcome) -> BatchOutcome:
        """Count an outcome, tell the progress callback, and learn whether to go on."""
        self._learn(outcome)
        totals = self.tally.add(outcome, concurrency=self.limit())
        if self.progress is not None and self.stop is None:
            try:
                self.progress(totals)
            except Exception as exc:  # the outcome stands; stop reading more
                self.stop = exc
        return outcome

    def _learn(self, outcome: BatchOutcome) -> None:
        if outcome.requests == 0 or self.blocked is not None:
            return  # not sent: it says nothing about the server
        errors = [failure.exception for failure in outcome.failures]
        refused = next((e for e in errors if isinstance(e, AuthenticationError)), None)
        if refused is not None:
            self.blocked = _not_sent(refused)
        elif outcome.jobs or not any(map(_server_unreachable, errors)):
            self.failed_in_a_row = 0
        else:
            self.failed_in_a_row += 1
            if self.unreachable_after and self.failed_in_a_row >= self.unreachable_after:
                self.blocked = NotSentError(
                    f"not sent: the last {self.failed_in_a_row} requests in a row failed "
                    "(connection errors or server errors, after their retries)"
                )

    def blocker(self) -> HellotracksError | None:
        """The error to fail a batch with instead of sending it, if any."""
        if self.blocked is None and self.until is not None and time.monotonic() >= self.until:
            self.blocked = NotSentError("not sent: the call's deadline passed")
        return self.blocked

    async def finished(self, *, wait_all: bool) -> list[BatchOutcome]:
        """Outcomes of tasks that finished: at least one (or all, with ``wait_all``).
        Each batch's slot is released once its outcome is reported."""
        if not self.running:
            return []
        when = asyncio.ALL_COMPLETED if wait_all else asyncio.FIRST_COMPLETED
        done, _ = await asyncio.wait(self.running, return_when=when)
        outcomes = []
        for task in done:
            slot = self.running.pop(task)
            outcomes.append(self.report(task.result()))
            slot.release()
        return outcomes

    async def cancel(self) -> None:
        """Cancel the batches still in flight and release their slots."""
        for task in self.running:
            task.cancel()
        if self.running:
            await asyncio.gather(*self.running, return_exceptions=True)
        for slot in self.running.values():
            slot.release()
        self.running.clear()


def _one_per_key(operation: Operation, prepared: Prepared | None) -> Iterator[Prepared]:
    """The batch in parts in which no key appears twice; usually the batch, whole."""
    while prepared is not None:
        cut = first_repeat(prepared.keys)
        if cut is None:
            yield prepared
            return
        head, prepared = operation.split(prepared, at=cut)
        yield head


def _server_unreachable(exc: BaseException) -> bool:
    return isinstance(exc, (TransportError, ServerError))


class BulkEngine:
    """The batches in flight over one sender and its gate; one per client.

    ``stop_on_invalid``: an invalid input stops the call (the ``raise_on_error`` rule);
    otherwise it fails alone and the rest goes on.

    Example::

        engine = BulkEngine(BatchSender(transport), batch_size=100)
        result = await engine.run(CreateJobs(), jobs, raise_on_error=False)
    """

    def __init__(
        self,
        sender: BatchSender,
        *,
        batch_size: int = 100,
        unreachable_after: int = 5,
    ) -> None:
        self._sender = sender
        self._gate = sender.gate
        self._batch_size = batch_size
        self._unreachable_after = unreachable_after

    async def stream(
        self,
        operation: Operation,
        source: Iterable[Any] | AsyncIterable[Any],
        progress: ProgressCallback | None = None,
        *,
        stop_on_invalid: bool = False,
        deadline: float | None = None,
    ) -> AsyncGenerator[BatchOutcome, None]:
        """Run the batches of ``source``; yield each outcome as its batch finishes.

        Once sending cannot succeed, the batches not yet sent fail without being sent:
        with :class:`AuthenticationError` once the key is refused, with
        :class:`NotSentError` once ``unreachable_after`` requests in a row failed
        (connection or server errors, after their retries) or ``deadline`` seconds
        passed; at the deadline the attempts in flight are cancelled too (see
        :meth:`BatchSender.send <hellotracks_async.sender.BatchSender.send>`). If the
        run stops early, every input read is still yielded first; then
        :class:`Interrupted` is raised.
        """
        until = None if deadline is None else time.monotonic() + deadline
        run = _Run(
            progress,
            unreachable_after=self._unreachable_after,
            until=until,
            limit=lambda: self._gate.limit,
        )
        reader = batches(source, self._batch_size)
        try:
            while run.stop is None:
                try:
                    batch = await anext(reader)
                except StopAsyncIteration:
                    break
                except Exception as exc:  # the caller's iterable raised
                    run.stop = exc
                    break
                prepared, rejected = operation.prepare(batch)
                if rejected and stop_on_invalid:
                    run.stop = rejected[0].exception
                for failure in rejected:
                    yield run.report(BatchOutcome(failures=(failure,)))
                if prepared is not None and run.stop is not None:
                    yield run.report(_unsent(prepared, run.stop))
                    break
                for part in _one_per_key(operation, prepared):
                    repeated = self._gate.count_held(part.keys)
                    slot, outcomes = await self._make_room(run, part.keys)
                    for outcome in outcomes:
                        yield outcome
                    if (refused := self._start(run, operation, part, repeated, slot)) is not None:
                        yield refused
                await asyncio.sleep(0)  # a long list must not hold the event loop
            for outcome in await run.finished(wait_all=True):
                yield outcome
        finally:
            await run.cancel()
            await reader.aclose()
        if run.stop is not None:
            raise Interrupted(run.stop)

    async def _make_room(
        self, run: _Run, keys: tuple[Any, ...]
    ) -> tuple[Slot | None, list[BatchOutcome]]:
        """Wait for the gate to admit a batch with ``keys``; outcomes that finish
        meanwhile come back. No slot (``None``) once the call's deadline passed."""
        outcomes: list[BatchOutcome] = []
        while (slot := self._gate.admit(keys)) is None:
            if run.running:  # one of ours finishing frees a place
                outcomes += await run.finished(wait_all=False)
            elif not await _within(self._gate.freed(), run.until):  # all are another call's
                break
        return slot, outcomes

    def _start(
        self,
        run: _Run,
        operation: Operation,
        prepared: Prepared,
        repeated: int,
        slot: Slot | None,
    ) -> BatchOutcome | None:
        """Send a batch in a task, or fail it at once if sending cannot succeed."""
        blocked = run.blocker()
        if blocked is not None or slot is None:
            if slot is not None:
                slot.release()
            error = blocked or NotSentError("not sent: the call's deadline passed")
            outcome = prepared.failed(error, requests=0, retries=0)
            return run.report(attrs.evolve(outcome, repeated_keys=repeated))
        task = asyncio.create_task(self._send(operation, prepared, repeated, run.until))
        run.running[task] = slot
        return None

    async def _send(
        self, operation: Operation, prepared: Prepared, repeated: int, until: float | None
    ) -> BatchOutcome:
        """Send a batch; its outcome counts the inputs held back for a key (``repeated``)."""
        outcome = await self._sender.send(operation, prepared, until=until)
        return attrs.evolve(outcome, repeated_keys=repeated) if repeated else outcome

    async def run(
        self,
        operation: Operation,
        source: Iterable[Any] | AsyncIterable[Any],
        progress: ProgressCallback | None = None,
        *,
        raise_on_error: bool = True,
        deadline: float | None = None,
    ) -> BulkResult:
        """Run every batch and assemble one :class:`BulkResult`, inputs in order.

        With ``raise_on_error``, every batch is finished first, then :class:`BulkError`
        is raised carrying the result if anything failed; an invalid input stops the
        call and raises its :class:`ValidationError` (its ``result`` holds what was
        done). A call stopped by its input or progress callback raises
        :class:`BulkInterrupted` carrying the partial result, the cause chained.
        """
        started = time.perf_counter()
        assembler = ResultAssembler()
        stream = self.stream(
            operation, source, progress, stop_on_invalid=raise_on_error, deadline=deadline
        )
        stopped: BaseException | None = None
        async with contextlib.aclosing(stream) as outcomes:
            try:
                async for outcome in outcomes:
                    assembler.add(outcome)
            except Interrupted as interrupted:
                stopped = interrupted.cause
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
        if isinstance(stopped, ValidationError):
            stopped.result = result
            raise unchained(stopped)
        if stopped is not None:
            raise BulkInterrupted(result, stopped) from stopped
        if raise_on_error and result.failures:
            raise BulkError(result)
        return result


def _unsent(prepared: Prepared, cause: BaseException) -> BatchOutcome:
    error = NotSentError(f"not sent: the call stopped early ({type(cause).__name__})")
    return prepared.failed(error, requests=0, retries=0)


def _not_sent(refusal: AuthenticationError) -> AuthenticationError:
    return AuthenticationError(
        "not sent: the API key was refused on an earlier request",
        http_status=refusal.http_status,
        api_status=refusal.api_status,
        body=refusal.body,
    )


async def _within(waiting: Coroutine[Any, Any, None], until: float | None) -> bool:
    """Await ``waiting``; False if ``until`` (a ``time.monotonic()`` value) came first."""
    if until is None:
        await waiting
        return True
    try:
        await asyncio.wait_for(waiting, timeout=max(0.0, until - time.monotonic()))
    except asyncio.TimeoutError:
        return False
    return True

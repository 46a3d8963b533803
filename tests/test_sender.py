"""hellotracks_async.sender: one batch's attempts under the retry policy, halving of
refused batches, Retry-After, idempotency, deadlines and the per-request log.

Through the client over a MockTransport: no sockets. How aiohttp's own errors map onto
retryable ones is in test_aiohttp_transport.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from hellotracks_async import (
    APIError,
    HellotracksClient,
    Job,
    JobUpdate,
    MockTransport,
    RateLimitError,
    Request,
    Response,
    RetryPolicy,
    ServerError,
    TransportError,
)
from hellotracks_async.concurrency import INITIAL_LIMIT

from ._helpers import KEY, Scripted, echo, numbered_jobs, quick_client, sent

# -- halving refused batches --------------------------------------------------------------


def _refuse(name: str) -> Any:
    """A server that refuses any request holding a job called ``name``."""

    def answer(request: Request) -> Response:
        jobs = request.json()["data"]["jobs"]
        if any(job["destinationName"] == name for job in jobs):
            return Response(200, {}, b'{"status": 3, "message": "bad job"}')
        return echo(request)

    return answer


async def test_a_refused_batch_is_halved_until_the_bad_job_is_found() -> None:
    jobs = [Job(destination_name="bad" if i == 5 else str(i)) for i in range(8)]
    async with quick_client(MockTransport(_refuse("bad")), batch_size=8) as client:
        result = await client.create_jobs(jobs, raise_on_error=False)
    (failure,) = result.failures
    assert failure.indices == (5,)
    assert failure.inputs == (jobs[5],)
    assert isinstance(failure.exception, APIError)
    assert failure.exception.api_status == 3
    assert result.indices == (0, 1, 2, 3, 4, 6, 7)
    assert result.requests == 7  # 8 -> 4+4 -> 2+2 -> 1+1: log2(8) levels of two


async def test_halving_costs_requests_per_refused_job() -> None:
    transport = MockTransport(lambda request: Response(400, {}, b'{"status": 3}'))
    jobs = [Job(destination_name=str(i)) for i in range(100)]
    async with quick_client(transport, batch_size=100) as client:
        result = await client.create_jobs(jobs, raise_on_error=False)
    # every job is refused: each fails alone, found by a full tree of halves (2n - 1)
    assert result.requests == 2 * 100 - 1
    assert [f.indices for f in result.failures] == [(i,) for i in range(100)]
    assert result.succeeded == 0


async def test_a_refused_create_without_keys_is_not_halved() -> None:
    jobs = [Job(destination_name="bad"), Job(destination_name="good")]
    async with quick_client(MockTransport(_refuse("bad"))) as client:
        result = await client.create_jobs(jobs, idempotency=False, raise_on_error=False)
    assert result.requests == 1  # resending part of it might duplicate what it committed
    assert result.failures[0].indices == (0, 1)


async def test_an_edit_with_one_unknown_id_fails_alone() -> None:
    def answer(request: Request) -> Response:
        if "gone" in request.json()["data"]["jobs"]:
            return Response(200, {}, b'{"status": 2}')
        return echo(request)

    updates = [
        ("a", JobUpdate(priority=1)),
        ("gone", JobUpdate(priority=1)),
        ("c", {"priority": 2}),  # an empty update is now refused before sending
    ]
    async with quick_client(MockTransport(answer)) as client:
        result = await client.edit_jobs(updates, raise_on_error=False)
    assert [f.indices for f in result.failures] == [(1,)]
    assert result.indices == (0, 2)


# -- retries ------------------------------------------------------------------------------


async def test_retries_stop_after_max_retries() -> None:
    transport = MockTransport(lambda request: Response(500))
    async with quick_client(transport, max_retries=2) as client:
        result = await client.create_jobs([Job(destination_name="a")], raise_on_error=False)
    assert (result.requests, result.retries, result.failed) == (3, 2, 1)
    assert isinstance(result.failures[0].exception, ServerError)


async def test_retry_after_is_honoured(caplog: pytest.LogCaptureFixture) -> None:
    transport = MockTransport(Scripted(Response(429, {"Retry-After": "0.05"})))
    caplog.set_level(logging.INFO, logger="hellotracks_async")
    async with quick_client(transport, backoff=5.0, max_backoff=5.0) as client:
        result = await client.create_jobs([Job(destination_name="a")])
    assert result.retries == 1
    (retry_log,) = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert retry_log.levelno == logging.INFO
    assert "RateLimitError" in retry_log.getMessage()
    assert "retrying in 0.05 s" in retry_log.getMessage()


# A proxy (or HTTP/2) sends header names lower-case; Retry-After must still count.
@pytest.mark.parametrize("header", ["Retry-After", "retry-after"])
async def test_retry_after_above_cap_fails_with_the_wait(header: str) -> None:
    transport = MockTransport(Scripted(Response(429, {header: "3600"})))
    async with quick_client(transport, max_retry_after=60) as client:
        result = await client.create_jobs([Job(destination_name="a")], raise_on_error=False)
    exc = result.failures[0].exception
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 3600.0
    assert result.requests == 1


async def test_without_idempotency_ambiguous_failures_are_not_retried() -> None:
    transport = MockTransport(
        Scripted(
            TransportError("server disconnected", maybe_sent=True),  # may have arrived
            Response(503),  # surely did not: retried
        )
    )
    async with quick_client(transport, batch_size=1, max_concurrency=1) as client:
        result = await client.create_jobs(
            [Job(destination_name="a"), Job(destination_name="b")],
            idempotency=False,
            raise_on_error=False,
        )
    assert [body["data"]["jobs"][0].get("uidSecondary") for body in sent(transport)] == [
        None,
        None,
        None,
    ]
    (failure,) = result.failures
    assert failure.indices == (0,)
    assert isinstance(failure.exception, TransportError)
    assert result.indices == (1,)
    assert result.retries == 1


async def test_given_keys_make_a_create_retryable_even_without_idempotency() -> None:
    transport = MockTransport(Scripted(TransportError("server disconnected", maybe_sent=True)))
    async with quick_client(transport) as client:
        result = await client.create_jobs(
            [Job(destination_name="a", uid_secondary="crm-1")], idempotency=False
        )
    assert result.jobs[0].uid_secondary == "crm-1"
    assert result.retries == 1


# -- deadlines ------------------------------------------------------------------------------


async def test_retries_are_bounded_by_total_time_too() -> None:
    transport = MockTransport(lambda request: Response(500))
    # the first pause (0.2 s and up) would end past the 0.1 s deadline: no retry starts
    async with quick_client(
        transport, max_retries=50, deadline=0.1, backoff=0.2, max_backoff=1
    ) as client:
        result = await client.create_jobs([Job(destination_name="a")], raise_on_error=False)
    assert (result.requests, result.failed) == (1, 1)


async def test_the_deadline_counts_the_first_attempt() -> None:
    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()  # never set: the attempt ends at its 0.3 s timeout, no sooner
        return Response(200)

    # no pause between attempts, but the first attempt alone outlasts the 0.2 s deadline
    async with quick_client(MockTransport(hang), max_retries=5, deadline=0.2, timeout=0.3) as c:
        result = await c.create_jobs([Job(destination_name="a")], raise_on_error=False)
    assert (result.requests, result.retries, result.failed) == (1, 0, 1)


# -- the log ------------------------------------------------------------------------------


async def test_requests_are_logged_at_debug_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="hellotracks_async")
    async with quick_client(MockTransport(echo)) as client:
        await client.create_jobs([{"destinationName": "a"}])
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug[0] == f"concurrency limit now {INITIAL_LIMIT}"
    assert len(debug) == 2
    assert debug[1].startswith("createjobs #0-0: HTTP 200, ")
    assert KEY not in caplog.text


async def test_a_batch_the_throttle_holds_past_its_deadline_is_reported_not_sent() -> None:
    answers = iter([Response(429, {"Retry-After": "5"}, b"")])

    def handler(request: Request) -> Response:
        return next(answers, None) or echo(request)

    retry = RetryPolicy(deadline=1.0, backoff=0, max_backoff=0)
    async with HellotracksClient(
        "key",
        transport=MockTransport(handler),
        batch_size=1,
        max_concurrency=1,
        adaptive=False,
        retry=retry,
    ) as client:
        result = await client.create_jobs(numbered_jobs(2), raise_on_error=False)
    first, second = result.failures
    assert (first.indices, first.sent) == ((0,), True)  # answered 429: sent
    assert (second.indices, second.sent) == ((1,), False)  # held by the pause: never sent
    assert "not sent" in str(second.exception)
    assert result.requests == 1

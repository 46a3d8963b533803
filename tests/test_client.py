"""Single requests of the client against aioresponses: payloads, retries, errors, secrecy."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import attrs
import pytest
from aioresponses import CallbackResult, aioresponses

from hellotracks_async import (
    APIError,
    AuthenticationError,
    BulkError,
    ConfigurationError,
    HellotracksClient,
    Job,
    JobUpdate,
    Progress,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
    ValidationError,
)

from .test_core import DOCS_CREATE, DOCS_EDIT

KEY = "sk-live-SECRET-4f9a"
BASE = "https://api.example.test/api/"
CREATE = BASE + "createjobs"
EDIT = BASE + "editjobs"


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


_RETRY_FIELDS = ("max_retries", "deadline", "backoff", "max_backoff", "max_retry_after")


def _client(**kwargs: Any) -> HellotracksClient:
    """A client on BASE without backoff; retry settings go into its RetryPolicy."""
    retry: dict[str, Any] = {"backoff": 0.0, "max_backoff": 0.0}
    retry |= {name: kwargs.pop(name) for name in _RETRY_FIELDS if name in kwargs}
    return HellotracksClient(KEY, base_url=BASE, retry=RetryPolicy(**retry), **kwargs)


def _echo(url: Any, **kwargs: Any) -> CallbackResult:
    """Answer like the API: every sent job back, with an id; edits by id."""
    data = json.loads(kwargs["data"])["data"]
    if isinstance(data["jobs"], dict):
        jobs = [{"id": job_id, **fields} for job_id, fields in data["jobs"].items()]
    else:
        jobs = [{"id": f"id-{job.get('uidSecondary')}", **job} for job in data["jobs"]]
    return CallbackResult(status=200, body=json.dumps({"status": 0, "jobs": jobs[::-1]}))


def _sent(mocked: aioresponses, url: str) -> list[dict[str, Any]]:
    found = [c for (_, u), calls in mocked.requests.items() if str(u) == url for c in calls]
    return [json.loads(call.kwargs["data"]) for call in found]


# -- payloads ---------------------------------------------------------------------------


async def test_create_payload_matches_docs_and_sends_key(mocked: aioresponses) -> None:
    mocked.post(CREATE, callback=_echo)
    job = DOCS_CREATE["data"]["jobs"][0]  # type: ignore[index]
    async with _client() as client:
        result = await client.create_jobs([job], idempotency=False)
    assert _sent(mocked, CREATE) == [DOCS_CREATE]
    (call,) = next(iter(mocked.requests.values()))
    assert call.kwargs["headers"]["API-Key"] == KEY
    assert call.kwargs["headers"]["Content-Type"] == "application/json"
    assert result.jobs[0].destination_name == "Job in San Francisco created via API"


async def test_caller_owned_session_gets_the_key_and_stays_open(mocked: aioresponses) -> None:
    seen: list[str] = []
    mocked.post(CREATE, callback=_echo)
    async with aiohttp.ClientSession() as session:
        async with _client(session=session) as client:
            await client.create_jobs([Job(destination_name="x")])
        (call,) = next(iter(mocked.requests.values()))
        seen.append(call.kwargs["headers"]["API-Key"])
        assert not session.closed  # a caller-owned session is never closed
    assert seen == [KEY]


async def test_edit_payload_matches_docs(mocked: aioresponses) -> None:
    mocked.post(EDIT, callback=_echo)
    ((job_id, fields),) = DOCS_EDIT["data"]["jobs"].items()  # type: ignore[attr-defined]
    async with _client() as client:
        result = await client.edit_jobs({job_id: fields}, notify=False)
    assert _sent(mocked, EDIT) == [DOCS_EDIT]
    assert result.jobs[0].id == job_id


async def test_jobs_are_batched_and_keyed_and_returned_in_input_order(
    mocked: aioresponses,
) -> None:
    mocked.post(CREATE, callback=_echo, repeat=True)
    jobs = [Job(destination_name=f"job {i}") for i in range(25)]
    async with _client(batch_size=10) as client:
        result = await client.create_jobs(jobs)
    sent = _sent(mocked, CREATE)
    assert [len(body["data"]["jobs"]) for body in sent] == [10, 10, 5]
    keys = [job["uidSecondary"] for body in sent for job in body["data"]["jobs"]]
    assert len(set(keys)) == 25
    assert all(key.startswith("hta-") for key in keys)
    assert [job.destination_name for job in result.jobs] == [f"job {i}" for i in range(25)]
    assert result.indices == tuple(range(25))
    assert (result.requests, result.retries, result.ok) == (3, 0, True)


async def test_async_iterable_and_pairs_inputs(mocked: aioresponses) -> None:
    mocked.post(CREATE, callback=_echo, repeat=True)
    mocked.post(EDIT, callback=_echo, repeat=True)

    async def jobs() -> AsyncIterator[Job]:
        for i in range(7):
            yield Job(destination_name=str(i))

    async def pairs() -> AsyncIterator[tuple[str, JobUpdate]]:
        for i in range(7):
            yield f"id{i}", JobUpdate(priority=i)

    async with _client(batch_size=3) as client:
        created = await client.create_jobs(jobs())
        edited = await client.edit_jobs(pairs())
    assert [job.destination_name for job in created.jobs] == [str(i) for i in range(7)]
    assert [job.priority for job in edited.jobs] == list(range(7))


# -- retries ----------------------------------------------------------------------------

TRANSIENT: list[dict[str, Any]] = [
    {"status": 500, "body": '{"status": 500}'},
    {"status": 502, "body": "<html><body>Bad Gateway</body></html>"},
    {"status": 503, "body": ""},
    {"status": 504, "body": "gateway timeout"},
    {"status": 429, "headers": {"Retry-After": "0"}, "body": ""},
    {"status": 200, "body": "<html>captive proxy</html>"},
    {"exception": aiohttp.ServerDisconnectedError()},
    {"exception": aiohttp.ClientOSError(104, "Connection reset by peer")},
    {"exception": asyncio.TimeoutError()},
]


def _failure_id(failure: dict[str, Any]) -> str:
    return str(failure.get("status", failure.get("exception")))


@pytest.mark.parametrize("failure", TRANSIENT, ids=_failure_id)
async def test_transient_failures_are_retried(
    mocked: aioresponses, failure: dict[str, Any]
) -> None:
    mocked.post(CREATE, **failure)
    mocked.post(CREATE, callback=_echo)
    async with _client() as client:
        result = await client.create_jobs([Job(destination_name="a")])
    assert (result.ok, result.requests, result.retries) == (True, 2, 1)
    first, second = _sent(mocked, CREATE)
    assert first == second  # the retry resends the same keyed jobs: an upsert, not a copy


@pytest.mark.parametrize(
    ("failure", "error", "http_status", "api_status"),
    [
        ({"status": 400, "body": '{"status": 3}'}, APIError, 400, 3),
        ({"status": 401, "body": '{"status": 401}'}, AuthenticationError, 401, None),
        ({"status": 403, "body": ""}, AuthenticationError, 403, None),
        ({"status": 404, "body": "nope"}, APIError, 404, None),
        ({"status": 200, "body": '{"status": 2, "message": "unknown"}'}, APIError, 200, 2),
    ],
)
async def test_fatal_failures_are_not_retried(
    mocked: aioresponses,
    failure: dict[str, Any],
    error: type[APIError],
    http_status: int,
    api_status: int | None,
) -> None:
    mocked.post(CREATE, **failure)
    jobs = [Job(destination_name="a")]
    async with _client() as client:
        with pytest.raises(BulkError) as caught:
            await client.create_jobs(jobs)
    result = caught.value.result
    assert (result.requests, result.retries, result.succeeded, result.failed) == (1, 0, 0, 1)
    (batch_failure,) = result.failures
    assert type(batch_failure.exception) is error
    assert batch_failure.exception.http_status == http_status
    assert batch_failure.exception.api_status == api_status
    assert batch_failure.inputs == tuple(jobs)
    assert batch_failure.indices == (0,)


def _refuse(name: str) -> Any:
    """A server that refuses any request holding a job called ``name``."""

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        jobs = json.loads(kwargs["data"])["data"]["jobs"]
        if any(job["destinationName"] == name for job in jobs):
            return CallbackResult(status=200, body='{"status": 3, "message": "bad job"}')
        return _echo(url, **kwargs)

    return answer


async def test_a_refused_batch_is_halved_until_the_bad_job_is_found(
    mocked: aioresponses,
) -> None:
    mocked.post(CREATE, callback=_refuse("bad"), repeat=True)
    jobs = [Job(destination_name="bad" if i == 5 else str(i)) for i in range(8)]
    async with _client(batch_size=8) as client:
        result = await client.create_jobs(jobs, raise_on_error=False)
    (failure,) = result.failures
    assert failure.indices == (5,)
    assert failure.inputs == (jobs[5],)
    assert isinstance(failure.exception, APIError)
    assert failure.exception.api_status == 3
    assert result.indices == (0, 1, 2, 3, 4, 6, 7)
    assert result.requests == 7  # 8 -> 4+4 -> 2+2 -> 1+1: log2(8) levels of two


async def test_halving_costs_requests_per_refused_job(mocked: aioresponses) -> None:
    mocked.post(CREATE, status=400, body='{"status": 3}', repeat=True)
    jobs = [Job(destination_name=str(i)) for i in range(100)]
    async with _client(batch_size=100) as client:
        result = await client.create_jobs(jobs, raise_on_error=False)
    # every job is refused: each fails alone, found by a full tree of halves (2n - 1)
    assert result.requests == 2 * 100 - 1
    assert [f.indices for f in result.failures] == [(i,) for i in range(100)]
    assert result.succeeded == 0


async def test_a_refused_create_without_keys_is_not_halved(mocked: aioresponses) -> None:
    mocked.post(CREATE, callback=_refuse("bad"), repeat=True)
    jobs = [Job(destination_name="bad"), Job(destination_name="good")]
    async with _client() as client:
        result = await client.create_jobs(jobs, idempotency=False, raise_on_error=False)
    assert result.requests == 1  # resending part of it might duplicate what it committed
    assert result.failures[0].indices == (0, 1)


async def test_an_edit_with_one_unknown_id_fails_alone(mocked: aioresponses) -> None:
    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        if "gone" in json.loads(kwargs["data"])["data"]["jobs"]:
            return CallbackResult(status=200, body='{"status": 2}')
        return _echo(url, **kwargs)

    mocked.post(EDIT, callback=answer, repeat=True)
    updates = [
        ("a", JobUpdate(priority=1)),
        ("gone", JobUpdate(priority=1)),
        ("c", {"priority": 2}),  # an empty update is now refused before sending
    ]
    async with _client() as client:
        result = await client.edit_jobs(updates, raise_on_error=False)
    assert [f.indices for f in result.failures] == [(1,)]
    assert result.indices == (0, 2)


async def test_retries_stop_after_max_retries(mocked: aioresponses) -> None:
    mocked.post(CREATE, status=500, repeat=True)
    async with _client(max_retries=2) as client:
        result = await client.create_jobs([Job(destination_name="a")], raise_on_error=False)
    assert (result.requests, result.retries, result.failed) == (3, 2, 1)
    assert isinstance(result.failures[0].exception, ServerError)


async def test_retry_after_is_honoured(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.post(CREATE, status=429, headers={"Retry-After": "0.05"})
    mocked.post(CREATE, callback=_echo)
    caplog.set_level(logging.INFO, logger="hellotracks_async")
    async with _client(backoff=5.0, max_backoff=5.0) as client:
        result = await client.create_jobs([Job(destination_name="a")])
    assert result.retries == 1
    (retry_log,) = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert retry_log.levelno == logging.INFO
    assert "RateLimitError" in retry_log.getMessage()
    assert "retrying in 0.05 s" in retry_log.getMessage()


async def test_retry_after_above_cap_fails_with_the_wait(mocked: aioresponses) -> None:
    mocked.post(CREATE, status=429, headers={"Retry-After": "3600"})
    async with _client(max_retry_after=60) as client:
        result = await client.create_jobs([Job(destination_name="a")], raise_on_error=False)
    exc = result.failures[0].exception
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 3600.0
    assert result.requests == 1


async def test_without_idempotency_ambiguous_failures_are_not_retried(
    mocked: aioresponses,
) -> None:
    mocked.post(CREATE, exception=aiohttp.ServerDisconnectedError())  # may have arrived
    mocked.post(CREATE, status=503)  # surely did not: retried
    mocked.post(CREATE, callback=_echo)
    async with _client(batch_size=1, max_concurrency=1) as client:
        result = await client.create_jobs(
            [Job(destination_name="a"), Job(destination_name="b")],
            idempotency=False,
            raise_on_error=False,
        )
    assert [body["data"]["jobs"][0].get("uidSecondary") for body in _sent(mocked, CREATE)] == [
        None,
        None,
        None,
    ]
    (failure,) = result.failures
    assert failure.indices == (0,)
    assert isinstance(failure.exception, TransportError)
    assert result.indices == (1,)
    assert result.retries == 1


async def test_given_keys_make_a_create_retryable_even_without_idempotency(
    mocked: aioresponses,
) -> None:
    mocked.post(CREATE, exception=aiohttp.ServerDisconnectedError())
    mocked.post(CREATE, callback=_echo)
    async with _client() as client:
        result = await client.create_jobs(
            [Job(destination_name="a", uid_secondary="crm-1")], idempotency=False
        )
    assert result.jobs[0].uid_secondary == "crm-1"
    assert result.retries == 1


async def test_every_batch_finishes_before_bulk_error(mocked: aioresponses) -> None:
    mocked.post(CREATE, status=404, body="no such endpoint")  # fatal, no halving
    mocked.post(CREATE, callback=_echo, repeat=True)
    seen: list[Progress] = []
    async with _client(batch_size=2, max_concurrency=1) as client:
        with pytest.raises(BulkError) as caught:
            await client.create_jobs(
                [Job(destination_name=str(i)) for i in range(6)], progress=seen.append
            )
    result = caught.value.result
    assert result.failures[0].indices == (0, 1)
    assert result.indices == (2, 3, 4, 5)
    assert attrs.evolve(seen[-1], concurrency=0) == Progress(
        succeeded=4, failed=2, requests=3, retries=0
    )
    assert 1 <= seen[-1].concurrency <= 64
    assert len(seen) == 3
    assert "2 of 6 jobs failed" in str(caught.value)


async def test_a_refused_key_stops_sending_but_reports_every_input(
    mocked: aioresponses,
) -> None:
    mocked.post(CREATE, status=401, body='{"status": 401}', repeat=True)
    async with _client(batch_size=2, max_concurrency=1) as client:
        result = await client.create_jobs(
            [Job(destination_name=str(i)) for i in range(6)], raise_on_error=False
        )
    assert result.requests == 1
    assert [f.indices for f in result.failures] == [(0, 1), (2, 3), (4, 5)]
    assert all(isinstance(f.exception, AuthenticationError) for f in result.failures)
    assert "not sent" in str(result.failures[1].exception)


# -- validation -------------------------------------------------------------------------


async def test_a_bad_job_in_a_list_stops_everything_before_sending(mocked: aioresponses) -> None:
    async with _client() as client:
        with pytest.raises(ValidationError) as caught:
            await client.create_jobs([Job(destination_name="ok"), Job(destination_lng=200.0)])
    assert (caught.value.index, caught.value.field) == (1, "destinationLng")
    assert mocked.requests == {}


async def test_a_bad_update_in_a_mapping_stops_everything_before_sending(
    mocked: aioresponses,
) -> None:
    async with _client() as client:
        with pytest.raises(ValidationError, match=r"job #1: day=20231350"):
            await client.edit_jobs({"a": JobUpdate(priority=1), "b": {"day": 20231350}})
    assert mocked.requests == {}


async def test_a_bad_job_in_a_stream_is_reported_and_the_rest_sent(mocked: aioresponses) -> None:
    mocked.post(CREATE, callback=_echo, repeat=True)
    jobs = (Job(destination_lat=95.0) if i == 3 else Job(destination_name=str(i)) for i in range(5))
    async with _client() as client:
        result = await client.create_jobs(jobs, raise_on_error=False)
    assert result.indices == (0, 1, 2, 4)
    (failure,) = result.failures
    assert failure.indices == (3,)
    assert isinstance(failure.exception, ValidationError)
    assert failure.inputs == (Job(destination_lat=95.0),)
    assert len(_sent(mocked, CREATE)[0]["data"]["jobs"]) == 4


# -- configuration and secrecy ----------------------------------------------------------


def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELLOTRACKS_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="no API key"):
        HellotracksClient()


def test_key_and_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELLOTRACKS_API_KEY", KEY)
    monkeypatch.setenv("HELLOTRACKS_BASE_URL", "http://localhost:9999/api")
    client = HellotracksClient()
    assert client.base_url == "http://localhost:9999/api/"
    assert KEY not in repr(client)
    assert HellotracksClient(KEY, base_url=None).base_url.startswith("http")


@pytest.mark.parametrize(
    "url", ["http://api.hellotracks.com/api/", "ftp://127.0.0.1/", "http://10.0.0.8/api/"]
)
def test_plain_http_only_to_localhost(url: str) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        HellotracksClient(KEY, base_url=url)
    HellotracksClient(KEY, base_url="http://127.0.0.1:8080/api/")
    HellotracksClient(KEY, base_url="http://[::1]:8080/api/")


async def test_key_never_in_logs_or_errors(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.post(CREATE, status=401, body=f'{{"status": 401, "echoed API-Key": "{KEY}"}}')
    mocked.post(CREATE, exception=aiohttp.ServerDisconnectedError())
    mocked.post(CREATE, status=502, body="<html>bad gateway</html>")
    mocked.post(CREATE, exception=asyncio.TimeoutError())
    mocked.post(CREATE, status=429, headers={"Retry-After": "9999"})
    texts: list[str] = []
    async with _client(batch_size=1, max_concurrency=1, max_retries=1) as client:
        texts += [repr(client), str(client), repr(vars(client))]
        try:
            await client.create_jobs([Job(destination_name=str(i)) for i in range(3)])
        except BulkError as exc:
            texts += [str(exc), repr(exc), repr(exc.result)]
            for failure in exc.result.failures:
                texts += [str(failure.exception), repr(failure.exception), repr(failure)]
                cause = failure.exception.__cause__ or failure.exception.__context__
                texts.append(repr(cause))
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    assert len(caplog.records) >= 3
    assert all(KEY not in text for text in texts)


async def test_a_connect_timeout_is_surely_unsent_and_retried_without_keys(
    mocked: aioresponses,
) -> None:
    mocked.post(CREATE, exception=aiohttp.ConnectionTimeoutError())
    mocked.post(CREATE, callback=_echo)
    async with _client() as client:
        result = await client.create_jobs([{"destinationName": "a"}], idempotency=False)
    assert (result.ok, result.retries) == (True, 1)


async def test_requests_are_logged_at_debug_without_the_key(
    mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.post(CREATE, callback=_echo)
    caplog.set_level(logging.DEBUG, logger="hellotracks_async")
    async with _client() as client:
        await client.create_jobs([{"destinationName": "a"}])
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug[0] == "concurrency limit now 4"
    assert len(debug) == 2
    assert debug[1].startswith("createjobs #0-0: HTTP 200, ")
    assert KEY not in caplog.text


async def test_retries_are_bounded_by_total_time_too(mocked: aioresponses) -> None:
    mocked.post(CREATE, status=500, repeat=True)
    # the first pause (0.2 s and up) would end past the 0.1 s deadline: no retry starts
    async with _client(max_retries=50, deadline=0.1, backoff=0.2, max_backoff=1) as client:
        result = await client.create_jobs([Job(destination_name="a")], raise_on_error=False)
    assert (result.requests, result.failed) == (1, 1)


async def test_the_deadline_counts_the_first_attempt(mocked: aioresponses) -> None:
    async def slow_failure(url: Any, **kwargs: Any) -> CallbackResult:
        await asyncio.sleep(0.3)
        return CallbackResult(status=503)

    mocked.post(CREATE, callback=slow_failure, repeat=True)
    # no pause between attempts, but the first attempt alone outlasts the 0.2 s deadline
    async with _client(max_retries=5, deadline=0.2) as client:
        result = await client.create_jobs([Job(destination_name="a")], raise_on_error=False)
    assert (result.requests, result.retries, result.failed) == (1, 0, 1)


async def test_a_list_of_updates_with_a_non_pair_is_a_validation_error(
    mocked: aioresponses,
) -> None:
    async with _client() as client:
        with pytest.raises(ValidationError, match=r"job #1: update='just-an-id'"):
            await client.edit_jobs([("a", JobUpdate(priority=1)), "just-an-id"])  # type: ignore[list-item]
    assert mocked.requests == {}

"""Any answer is survivable: hypothesis sends every shape of answer through the client.

Whatever the server says, every failure is a :class:`HellotracksError`, every input ends
exactly once in the result, and an input counts as a success only where the answer holds a
job with an id for it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hellotracks_async import (
    HellotracksClient,
    HellotracksError,
    Job,
    JobUpdate,
    MockTransport,
    Response,
    RetryPolicy,
)

KEYS = ["k0", "k1", "k2"]
IDS = ["a", "b", "c"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
answer_jobs = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.sampled_from(IDS) | json_values,
            "uidSecondary": st.sampled_from(KEYS) | json_values,
            "day": json_values,
            "type": json_values,
            "destinationLat": json_values,
            "customFields": json_values,
            "tsCreated": json_values,
        },
    )
    | json_values,
    max_size=5,
)
answers = st.one_of(
    json_values,
    st.fixed_dictionaries({"status": st.just(0) | json_values, "jobs": answer_jobs | json_values}),
)


def _run(body: Any, status: int, edit: bool) -> tuple[Any, list[Any]]:
    raw = json.dumps(body).encode()
    transport = MockTransport(lambda request: Response(status, {}, raw))

    async def go() -> Any:
        retry = RetryPolicy(max_retries=0, backoff=0, max_backoff=0)
        async with HellotracksClient("key", transport=transport, retry=retry) as client:
            if edit:
                pairs = [(job_id, JobUpdate(priority=1)) for job_id in IDS]
                return await client.edit_jobs(pairs, raise_on_error=False)
            jobs = [Job(uid_secondary=key) for key in KEYS]
            return await client.create_jobs(jobs, raise_on_error=False)

    return asyncio.run(go()), transport.requests


def _accounts_for(body: Any, field: str, value: str) -> bool:
    jobs = body.get("jobs") if isinstance(body, dict) else None
    if not isinstance(jobs, list):
        return False
    return any(
        isinstance(job, dict)
        and job.get(field) == value
        and isinstance(job.get("id"), str)
        and job["id"] != ""
        for job in jobs
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=answers, status=st.sampled_from([200, 200, 200, 400, 500]), edit=st.booleans())
def test_any_answer_gives_typed_failures_and_no_unaccounted_success(
    body: Any, status: int, edit: bool
) -> None:
    result, _ = _run(body, status, edit)
    for failure in result.failures:
        assert isinstance(failure.exception, HellotracksError)
    seen = sorted([*result.indices, *(i for f in result.failures for i in f.indices)])
    assert seen == [0, 1, 2]  # every input exactly once
    for index, job in zip(result.indices, result.jobs, strict=True):
        assert isinstance(job, Job)
        assert isinstance(job.id, str)
        if edit:
            assert _accounts_for(body, "id", IDS[index])
        else:
            assert _accounts_for(body, "uidSecondary", KEYS[index])
    if status != 200:
        assert result.succeeded == 0


def test_an_answer_job_with_odd_fields_still_counts_as_created() -> None:
    body = {
        "status": 0,
        "jobs": [
            {"id": "j0", "uidSecondary": "k0", "type": 7, "day": "soon"},
            {"id": "j1", "uidSecondary": "k1", "destinationLat": "north"},
            {"uidSecondary": "k2"},  # no id: a typed failure, never a success
        ],
    }
    result, requests = _run(body, 200, edit=False)
    assert result.indices == (0, 1)
    first, second = result.jobs
    assert (first.id, first.type, first.extras["day"]) == ("j0", 7, "soon")
    assert (second.id, second.extras["destinationLat"]) == ("j1", "north")
    (failure,) = result.failures
    assert failure.indices == (2,)
    assert "no id" in str(failure.exception)
    assert len(requests) == 1  # not retried, not halved


def test_a_string_status_is_an_api_error_sent_once() -> None:
    result, requests = _run({"status": "0", "jobs": []}, 200, edit=False)
    (failure,) = result.failures
    assert "not an integer" in str(failure.exception)
    assert len(requests) == 1

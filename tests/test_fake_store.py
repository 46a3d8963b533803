"""The fake server's job store and request rules, called directly (pure, no I/O).

The same semantics over HTTP are in test_fake_server.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from hellotracks_async.testing._rules import all_valid, checked_jobs, item_problem
from hellotracks_async.testing._store import JobStore, RequestRefused
from hellotracks_async.testing._storeless import StorelessJobStore

from ._helpers import storeless_requests, without_clock


def test_storeless_store_matches_the_store_request_by_request(seed_job):
    """The pure stores, on the same requests: equal answers, the store-less one empty."""
    store, storeless_store = JobStore(), StorelessJobStore()
    for request in storeless_requests(seed_job):
        expected = store.create("acme", {**request, "jobs": [dict(j) for j in request["jobs"]]})
        answer = storeless_store.create("acme", {**request, "jobs": request["jobs"]})
        assert without_clock(answer) == without_clock(expected)
    assert storeless_store.company("acme").jobs == {}
    assert storeless_store.company("acme").templates == {}
    with pytest.raises(RequestRefused, match="unknown job id"):
        storeless_store.edit("acme", {"jobs": {answer[0]["id"]: {}}})


@pytest.mark.parametrize(
    ("day", "valid"),
    [
        (0, True),
        (None, True),
        (20240229, True),
        (20261231, True),
        (20230229, False),
        (20260231, False),
        (20261301, False),
        (20261100, False),
        (-20261123, False),
        (99999999, False),
        ("20261123", False),
        (True, False),
    ],
)
def test_days_must_be_real_dates(day, valid):
    jobs: list[Any] = [{"day": 20261123}, {"day": day}]
    assert all_valid(jobs) is valid
    assert (item_problem(jobs[1]) is None) is valid  # the exact check agrees
    if not valid:
        with pytest.raises(RequestRefused, match=r"^job 1: day must be a YYYYMMDD"):
            checked_jobs({"jobs": jobs})


def test_store_refusal_changes_nothing():
    store = JobStore()
    [job] = store.create("acme", {"jobs": [{"priority": 1}]})
    with pytest.raises(RequestRefused, match="job 1: priority"):
        store.create("acme", {"jobs": [{}, {"priority": 11}]})
    with pytest.raises(RequestRefused, match="unknown job id"):
        store.edit("acme", {"jobs": {job["id"]: {"priority": 2}, "nope": {}}})
    assert [(j["number"], j["priority"]) for j in store.company("acme").jobs.values()] == [(1, 1)]

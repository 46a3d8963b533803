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


# -- getjobs filters and deletejobs (the fake's reading of the docs) ----------------------


def _stored(store: JobStore) -> list[dict[str, Any]]:
    return store.create(
        "acme",
        {
            "jobs": [
                {"day": 20261123, "worker": "a@x.com", "teamId": 1, "orderId": 7},
                {"day": 20261123, "worker": "b@x.com", "teamId": 2, "orderId": 8},
                {"day": 20261124, "worker": "a@x.com", "tsDoneSuccess": 1_700_000_000_000},
                # "team" is no documented job field: the team filter reads teamId
                {"day": 20261123, "tsDoneFailed": 1_700_000_000_000, "team": 2},
            ]
        },
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [0, 1, 2, 3]),
        ({"day": 20261123, "worker": "*"}, [0, 1, 3]),
        ({"worker": "a@x.com"}, [0, 2]),
        ({"team": 2}, [1]),
        ({"orderId": 7}, [0]),
        ({"orderIds": [7, 8, 9]}, [0, 1]),
        ({"orderId": 8, "orderIds": [7]}, [0, 1]),
        ({"orderIds": []}, []),
        ({"progressActive": 1}, [0, 1]),
        ({"progressSuccess": 1}, [2]),
        ({"progressSuccess": 0}, [0, 1, 2, 3]),
        ({"day": 20261123, "progressActive": 1, "team": 1}, [0]),
    ],
)
def test_getjobs_filters_by_each_documented_parameter(
    query: dict[str, Any], expected: list[int]
) -> None:
    store = JobStore()
    jobs = _stored(store)
    assert [job["id"] for job in store.get("acme", query)] == [jobs[i]["id"] for i in expected]


def test_getjobs_by_id_and_ids_skips_unknown_ones() -> None:
    store = JobStore()
    jobs = _stored(store)
    assert store.get("acme", {"id": jobs[1]["id"]}) == [jobs[1]]
    assert store.get("acme", {"ids": ["nope", jobs[3]["id"], jobs[0]["id"]]}) == [jobs[3], jobs[0]]
    both = {"id": jobs[2]["id"], "ids": [jobs[1]["id"]]}
    assert store.get("acme", both) == [jobs[2], jobs[1]]
    assert store.get("acme", {"ids": [jobs[1]["id"]], "day": 20261124}) == []  # and, not or


@pytest.mark.parametrize(
    "query",
    [
        {"team": "1"},
        {"team": True},
        {"day": "20261123"},
        {"worker": 5},
        {"orderId": "7"},
        {"orderIds": [1, "2"]},
        {"orderIds": 7},
        {"progressActive": 2},
        {"progressSuccess": "1"},
        {"id": 5},
        {"ids": "x"},
        {"id": "x", "ids": [5]},
    ],
)
def test_getjobs_refuses_a_parameter_of_the_wrong_type(query: dict[str, Any]) -> None:
    with pytest.raises(RequestRefused) as refused:
        JobStore().get("acme", query)
    assert refused.value.status == 3


def test_deletejobs_deletes_jobs_and_templates_and_forgets_their_keys() -> None:
    store = JobStore()
    [job] = store.create("acme", {"jobs": [{"uidSecondary": "K"}]})
    [template] = store.create("acme", {"jobs": [{"uidSecondary": "T"}], "isTemplate": True})
    store.delete("acme", {"jobs": [job["id"], f"tpl-{template['id']}"]})
    owner = store.company("acme")
    assert (owner.jobs, owner.templates, owner.job_uids, owner.template_uids) == ({}, {}, {}, {})
    [again] = store.create("acme", {"jobs": [{"uidSecondary": "K"}]})
    assert again["id"] != job["id"]  # a new job, not an upsert of the deleted one


@pytest.mark.parametrize("bad", [["nope"], [7], "x", None])
def test_deletejobs_refuses_the_whole_request_on_one_bad_id(bad: Any) -> None:
    store = JobStore()
    jobs = _stored(store)
    ids = [jobs[0]["id"], *bad] if isinstance(bad, list) else bad
    with pytest.raises(RequestRefused):
        store.delete("acme", {"jobs": ids})
    assert len(store.company("acme").jobs) == 4  # nothing deleted


def test_deletejobs_twice_refuses_the_second_time() -> None:
    store = JobStore()
    jobs = _stored(store)
    store.delete("acme", {"jobs": [jobs[0]["id"], jobs[0]["id"]]})  # named twice: once
    with pytest.raises(RequestRefused, match="unknown"):
        store.delete("acme", {"jobs": [jobs[0]["id"]]})
    store.delete("acme", {"jobs": []})


def test_the_storeless_store_refuses_every_delete_as_unknown() -> None:
    store = StorelessJobStore()
    [job] = store.create("acme", {"jobs": [{}]})
    with pytest.raises(RequestRefused, match="unknown"):
        store.delete("acme", {"jobs": [job["id"]]})

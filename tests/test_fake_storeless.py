"""The fake server's store-less mode (testing/_storeless.py, ``store_jobs=False``) over HTTP:
it answers as the store would and keeps nothing. The pure store-less store is compared with
the store in test_fake_store.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from hellotracks_async.testing import FakeHellotracks, Faults

from ._helpers import fake_call, fake_create, storeless_requests, without_clock

# -- store-less mode (store_jobs=False) ----------------------------------------------


@pytest.fixture
async def storeless() -> AsyncIterator[FakeHellotracks]:
    async with FakeHellotracks(store_jobs=False) as server:
        yield server


async def test_storeless_answers_as_the_store_would_and_keeps_nothing(
    fake, storeless, session, seed_job
):
    assert (fake.store_jobs, storeless.store_jobs) == (True, False)
    for request in storeless_requests(seed_job):
        flags = {key: value for key, value in request.items() if key != "jobs"}
        stored = await fake_create(session, fake, *request["jobs"], **flags)
        kept = await fake_create(session, storeless, *request["jobs"], **flags)
        assert [sorted(job) for job in kept] == [sorted(job) for job in stored]
        assert without_clock(kept) == without_clock(stored)
    assert fake.jobs()
    assert fake.templates()
    assert storeless.jobs() == storeless.templates() == []
    _, body = await fake_call(session, storeless, "getjobs", {})
    assert body == {"status": 0, "jobs": []}


async def test_storeless_ids_stay_distinct_and_numbers_count_up(storeless, session):
    ids: list[str] = []
    numbers: list[int] = []
    for _ in range(3):
        jobs = await fake_create(session, storeless, {"uidSecondary": "same"}, {})
        ids += [job["id"] for job in jobs]
        numbers += [job["number"] for job in jobs]
    assert len(set(ids)) == len(ids) == 6
    assert all(re.fullmatch(r"[0-9a-f]{24}", job_id) for job_id in ids)
    assert numbers == [1, 2, 3, 4, 5, 6]  # a uidSecondary of an earlier request is new again
    assert storeless.jobs() == []


async def test_storeless_refuses_edits_of_created_ids(storeless, session):
    [job] = await fake_create(session, storeless, {"priority": 1})
    status, body = await fake_call(session, storeless, "editjobs", {"jobs": {job["id"]: {}}})
    assert (status, body) == (200, {"status": 2, "message": f"unknown job id: {job['id']}"})
    _, body = await fake_call(session, storeless, "getjobs", {"ids": [job["id"]]})
    assert body["jobs"] == []


@pytest.mark.parametrize(
    "jobs",
    [
        [{"destinationName": "ok"}, {"priority": 11}],
        [{"day": 20261123}, {"customFields": [{"key": "PO"}]}],
        [{}, {"id": "65e6d8f2abc1234567890001"}],
        "not a list",
    ],
)
async def test_storeless_validates_as_the_store_does(fake, storeless, session, jobs):
    refusal = await fake_call(session, fake, "createjobs", {"jobs": jobs})
    assert refusal[1]["status"] == 3
    assert await fake_call(session, storeless, "createjobs", {"jobs": jobs}) == refusal


@pytest.mark.parametrize(("kind", "status"), [("503", 503), ("429", 429)])
async def test_storeless_still_injects_faults(session, kind, status):
    faults = Faults(rate=1.0, kinds=(kind,), seed=1)
    async with FakeHellotracks(store_jobs=False, faults=faults) as storeless:
        answer_status, _ = await fake_call(session, storeless, "createjobs", {"jobs": [{}]})
        assert answer_status == status
        assert storeless.injected == {kind: 1}


async def test_storeless_commit_then_drop_and_latency(session):
    faults = Faults(rate=1.0, kinds=("commit_then_drop",), seed=1)
    async with FakeHellotracks(store_jobs=False, faults=faults, latency=0.01) as storeless:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await fake_call(session, storeless, "createjobs", {"jobs": [{}]})
        storeless.faults = None
        [job] = await fake_create(session, storeless, {})
        assert job["number"] == 2  # the dropped answer's job was created all the same
        assert storeless.injected == {"commit_then_drop": 1}


async def test_storeless_refuses_deletes_of_created_ids(storeless, session):
    [job] = await fake_create(session, storeless, {})
    status, body = await fake_call(session, storeless, "deletejobs", {"jobs": [job["id"]]})
    assert (status, body["status"]) == (200, 4)  # it cannot know the id: unknown, as edits
    assert "1 unknown job id(s)" in body["message"]
    assert await fake_call(session, storeless, "deletejobs", {"jobs": []}) == (200, {"status": 0})
    status, body = await fake_call(session, storeless, "deletejobs", {"jobs": "x"})
    assert (status, body["status"]) == (200, 3)

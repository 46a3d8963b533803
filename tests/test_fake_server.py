"""The fake Hellotracks server: protocol, inspection, lifecycle and fault injection.

Everything talks plain HTTP to 127.0.0.1 through a bare aiohttp.ClientSession, never
through the SDK's client, so these tests pin the wire behaviour on their own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hellotracks_async.testing import FakeHellotracks, Faults, serve

KEY = "test-key"


@pytest.fixture
async def fake() -> AsyncIterator[FakeHellotracks]:
    async with FakeHellotracks() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


async def call(
    session: aiohttp.ClientSession,
    fake: FakeHellotracks,
    endpoint: str,
    data: Any,
    *,
    key: str | None = KEY,
) -> tuple[int, Any]:
    """POST ``{"data": data}`` and return (HTTP status, decoded JSON body)."""
    headers = {} if key is None else {"API-Key": key}
    async with session.post(
        fake.base_url + endpoint, json={"data": data, "ver": 2}, headers=headers
    ) as response:
        return response.status, await response.json(content_type=None)


async def create(
    session: aiohttp.ClientSession, fake: FakeHellotracks, *jobs: dict[str, Any], **extra: Any
) -> list[dict[str, Any]]:
    status, body = await call(session, fake, "createjobs", {"jobs": list(jobs), **extra})
    assert (status, body["status"]) == (200, 0), body
    created: list[dict[str, Any]] = body["jobs"]
    return created


async def edit(
    session: aiohttp.ClientSession, fake: FakeHellotracks, updates: dict[str, Any], **extra: Any
) -> list[dict[str, Any]]:
    status, body = await call(session, fake, "editjobs", {"jobs": updates, **extra})
    assert (status, body["status"]) == (200, 0), body
    edited: list[dict[str, Any]] = body["jobs"]
    return edited


# -- createjobs ----------------------------------------------------------------------


async def test_create_fills_defaults_and_assigns_ids(fake, session):
    first, second = await create(
        session,
        fake,
        {"destinationName": "HQ", "destinationLat": 37.77, "day": 20261123},
        {"destinationName": "Depot", "priority": 9, "windowStart": 800, "type": 1},
    )
    for job in (first, second):
        assert re.fullmatch(r"[0-9a-f]{24}", job["id"])
        assert job["createdVia"] == "api"
        assert job["isTemplate"] is False
        assert job["radius"] == 100
        assert job["windowEnd"] == 2400
        assert job["tsCreated"] == job["tsSaved"] > 1_600_000_000_000  # epoch ms
    assert first["id"] != second["id"]
    assert (first["number"], second["number"]) == (1, 2)
    assert (first["type"], first["priority"], first["windowStart"]) == (0, 5, 0)
    assert (second["type"], second["priority"], second["windowStart"]) == (1, 9, 800)
    assert (first["destinationName"], first["destinationLat"], first["day"]) == (
        "HQ",
        37.77,
        20261123,
    )
    assert fake.jobs() == [first, second]
    assert fake.requests["createjobs"] == 1


async def test_create_upserts_on_uid_secondary(fake, session):
    [old] = await create(
        session, fake, {"uidSecondary": "EXT-1", "priority": 1, "contactName": "Ann"}
    )
    [new] = await create(
        session, fake, {"uidSecondary": "EXT-1", "priority": 7, "destinationName": "Moved"}
    )
    assert new["id"] == old["id"]
    assert new["number"] == old["number"] == 1
    assert new["tsCreated"] == old["tsCreated"]
    assert new["tsSaved"] > old["tsSaved"]
    assert (new["priority"], new["destinationName"], new["contactName"]) == (7, "Moved", "Ann")
    assert fake.jobs() == [new]


async def test_create_same_uid_twice_in_one_request_makes_one_job(fake, session):
    first, second = await create(
        session, fake, {"uidSecondary": "A", "priority": 1}, {"uidSecondary": "A", "priority": 2}
    )
    assert first["id"] == second["id"]
    assert (first["priority"], second["priority"]) == (1, 2)  # each entry as it was then
    assert [job["priority"] for job in fake.jobs()] == [2]


async def test_create_with_an_id_refuses_the_whole_request(fake, session):
    status, body = await call(
        session,
        fake,
        "createjobs",
        {"jobs": [{"destinationName": "fine"}, {"id": "65e6d8f2abc1234567890001"}]},
    )
    assert (status, body["status"]) == (200, 3)
    assert "job 1" in body["message"]
    assert fake.jobs() == []


@pytest.mark.parametrize("jobs", [{"a": {}}, "x", None, [["not", "an", "object"]]])
async def test_create_needs_a_list_of_objects(fake, session, jobs):
    status, body = await call(session, fake, "createjobs", {"jobs": jobs})
    assert (status, body["status"]) == (200, 3)
    assert fake.jobs() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("day", "2026-11-23"),
        ("day", 20261323),
        ("windowStart", 2500),
        ("windowEnd", 1260.0),
        ("windowEnd", 860),
        ("priority", 11),
        ("priority", True),
        ("type", 3),
        ("uidSecondary", 17),
        ("customFields", [{"key": "PO"}]),
        ("customFields", {"PO": "1"}),
    ],
)
async def test_create_refuses_badly_typed_fields(fake, session, field, value):
    status, body = await call(
        session, fake, "createjobs", {"jobs": [{"destinationName": "ok"}, {field: value}]}
    )
    assert (status, body["status"]) == (200, 3)
    assert body["message"].startswith(f"job 1: {field}")
    assert fake.jobs() == []


async def test_create_folds_custom_fields(fake, session):
    [job] = await create(
        session,
        fake,
        {
            "customFields": [{"key": "PO", "val": "1"}, {"key": "Keep", "val": "k"}],
            "custom_PO": "2",
            "custom_Department": "Facilities",
        },
    )
    assert job["customFields"] == [
        {"key": "PO", "val": "2"},
        {"key": "Keep", "val": "k"},
        {"key": "Department", "val": "Facilities"},
    ]
    assert not [key for key in job if key.startswith("custom_")]
    assert fake.jobs() == [job]


async def test_create_accepts_route_flags_and_autoassign(fake, session):
    jobs = await create(
        session,
        fake,
        {"destinationName": "a"},
        {"worker": "jane@acme.com"},
        autoassign=True,
        sendRouteChange=True,
    )
    assert [job["worker"] for job in jobs] == ["auto@fake", "jane@acme.com"]
    assert all(job["receiverUid"] and job["tsAssigned"] for job in jobs)


async def test_templates_are_separate_and_edited_as_tpl_ids(fake, session):
    [template] = await create(session, fake, {"destinationName": "Tpl"}, isTemplate=True)
    assert template["isTemplate"] is True
    assert fake.jobs() == []
    assert fake.templates() == [template]

    [edited] = await edit(session, fake, {f"tpl-{template['id']}": {"priority": 8}})
    assert (edited["id"], edited["priority"]) == (template["id"], 8)
    assert fake.templates()[0]["priority"] == 8

    status, body = await call(session, fake, "editjobs", {"jobs": {template["id"]: {}}})
    assert (status, body["status"]) == (200, 2)  # a bare template id is no job id

    _, body = await call(session, fake, "getjobs", {"ids": [f"tpl-{template['id']}"]})
    assert [job["id"] for job in body["jobs"]] == [template["id"]]


# -- editjobs ------------------------------------------------------------------------


async def test_edit_sets_only_the_given_fields(fake, session):
    [job] = await create(
        session, fake, {"destinationName": "HQ", "priority": 3, "contactName": "Ann"}
    )
    [edited] = await edit(
        session,
        fake,
        {job["id"]: {"priority": 9, "textDispatcher": "hi"}},
        notify=False,
        sendRouteChange=False,
    )
    expected = {**job, "priority": 9, "textDispatcher": "hi", "tsSaved": edited["tsSaved"]}
    assert edited == expected
    assert edited["tsSaved"] > job["tsSaved"]
    assert fake.jobs() == [edited]


async def test_edit_custom_fields_replace_all_and_custom_name_sets_one(fake, session):
    [job] = await create(
        session,
        fake,
        {"customFields": [{"key": "A", "val": "1"}, {"key": "B", "val": "2"}]},
    )
    [edited] = await edit(session, fake, {job["id"]: {"customFields": [{"key": "C", "val": "3"}]}})
    assert edited["customFields"] == [{"key": "C", "val": "3"}]
    [edited] = await edit(session, fake, {job["id"]: {"custom_D": "4", "custom_C": "5"}})
    assert edited["customFields"] == [{"key": "C", "val": "5"}, {"key": "D", "val": "4"}]
    assert "custom_D" not in edited


async def test_edit_assigns_by_worker_and_unassigns_by_empty_receiver_uid(fake, session):
    [job] = await create(session, fake, {"destinationName": "HQ"})
    assert "worker" not in job
    [assigned] = await edit(session, fake, {job["id"]: {"worker": "jane@acme.com"}})
    assert assigned["worker"] == "jane@acme.com"
    assert assigned["receiverUid"]
    assert assigned["receiverUid"] != "jane@acme.com"
    assert assigned["tsAssigned"] > 0

    [again] = await edit(session, fake, {job["id"]: {"receiverUid": assigned["receiverUid"]}})
    assert again["worker"] == "jane@acme.com"  # the uid of a known worker

    [unassigned] = await edit(session, fake, {job["id"]: {"receiverUid": ""}})
    assert "worker" not in unassigned
    assert "receiverUid" not in unassigned
    assert fake.jobs() == [unassigned]


async def test_edit_with_an_unknown_id_applies_nothing(fake, session):
    [job] = await create(session, fake, {"priority": 1})
    status, body = await call(
        session,
        fake,
        "editjobs",
        {"jobs": {job["id"]: {"priority": 9}, "ffffffffffffffffffffffff": {"priority": 2}}},
    )
    assert (status, body) == (
        200,
        {"status": 2, "message": "unknown job id: ffffffffffffffffffffffff"},
    )
    assert fake.jobs() == [job]


@pytest.mark.parametrize(
    "update", [{"id": "another"}, {"day": "tomorrow"}, {"receiverUid": None, "worker": 5}, "x"]
)
async def test_edit_refuses_bad_updates_atomically(fake, session, update):
    first, second = await create(session, fake, {"priority": 1}, {"priority": 1})
    status, body = await call(
        session,
        fake,
        "editjobs",
        {"jobs": {first["id"]: {"priority": 9}, second["id"]: update}},
    )
    assert (status, body["status"]) == (200, 3)
    assert second["id"] in body["message"]
    assert fake.jobs() == [first, second]


@pytest.mark.parametrize("jobs", [[], "x", None])
async def test_edit_needs_an_object_of_updates(fake, session, jobs):
    status, body = await call(session, fake, "editjobs", {"jobs": jobs})
    assert (status, body["status"]) == (200, 3)


async def test_edit_can_move_the_uid_secondary(fake, session):
    [job] = await create(session, fake, {"uidSecondary": "OLD"})
    await edit(session, fake, {job["id"]: {"uidSecondary": "NEW"}})
    [upserted] = await create(session, fake, {"uidSecondary": "NEW", "priority": 4})
    assert upserted["id"] == job["id"]
    [fresh] = await create(session, fake, {"uidSecondary": "OLD"})
    assert fresh["id"] != job["id"]


# -- getjobs -------------------------------------------------------------------------


async def test_getjobs_filters_by_day_worker_and_ids(fake, session):
    a, b, c = await create(
        session,
        fake,
        {"day": 20261123, "worker": "jane@acme.com"},
        {"day": 20261123},
        {"day": 20261124, "worker": "jane@acme.com"},
    )

    async def ids(data: dict[str, Any]) -> list[str]:
        status, body = await call(session, fake, "getjobs", data)
        assert (status, body["status"]) == (200, 0)
        return [job["id"] for job in body["jobs"]]

    assert await ids({}) == [a["id"], b["id"], c["id"]]
    assert await ids({"day": 20261123, "worker": "*"}) == [a["id"], b["id"]]
    assert await ids({"worker": "jane@acme.com"}) == [a["id"], c["id"]]
    assert await ids({"day": 20261123, "worker": "jane@acme.com"}) == [a["id"]]
    assert await ids({"ids": [c["id"], "unknown", a["id"]]}) == [c["id"], a["id"]]
    status, body = await call(session, fake, "getjobs", {"day": "today"})
    assert (status, body["status"]) == (200, 3)


# -- envelope, auth, companies -------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong-secret-key"])
async def test_bad_api_key_is_401_and_never_echoed(fake, session, key):
    headers = {} if key is None else {"API-Key": key}
    async with session.post(
        fake.base_url + "createjobs", json={"data": {"jobs": [{}]}}, headers=headers
    ) as response:
        text = await response.text()
        assert response.status == 401
        assert response.content_type == "application/json"
    assert '"status":401' in text
    assert "invalid API key" in text
    if key:
        assert key not in text
    assert fake.jobs() == []
    assert fake.requests["createjobs"] == 1  # counted on arrival


async def test_each_api_key_sees_its_own_company(session):
    async with FakeHellotracks(api_keys={"k-acme": "acme", "k-globex": "globex"}) as fake:
        [acme_job] = (await call(session, fake, "createjobs", {"jobs": [{}]}, key="k-acme"))[1][
            "jobs"
        ]
        _, body = await call(session, fake, "createjobs", {"jobs": [{}]}, key="k-globex")
        assert body["jobs"][0]["number"] == 1  # numbering is per company
        _, body = await call(
            session, fake, "editjobs", {"jobs": {acme_job["id"]: {}}}, key="k-globex"
        )
        assert body["status"] == 2
        assert len(fake.jobs()) == len(fake.jobs(company="globex")) == 1
        assert fake.jobs() == fake.jobs(company="acme") == [acme_job]
        status, _ = await call(session, fake, "getjobs", {}, key=KEY)
        assert status == 401


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"jobs": []}', b'{"data": [1]}', b'{"data": "x"}']
)
async def test_malformed_body_is_400(fake, session, body):
    async with session.post(
        fake.base_url + "createjobs", data=body, headers={"API-Key": KEY}
    ) as response:
        assert response.status == 400
        answer = await response.json()
    assert answer["status"] == 400
    assert answer["message"]


async def test_unknown_endpoint_is_404(fake, session):
    status, body = await call(session, fake, "deletejobs", {"jobs": []})
    assert (status, body["status"]) == (404, 404)
    assert fake.requests["deletejobs"] == 1


# -- inspection and lifecycle --------------------------------------------------------


async def test_inspection_hands_out_copies_and_reset_forgets(fake, session):
    await create(session, fake, {"customFields": [{"key": "A", "val": "1"}]})
    copy = fake.jobs()[0]
    copy["priority"] = 0
    copy["customFields"].append({"key": "B", "val": "2"})
    assert fake.jobs()[0]["priority"] == 5
    assert fake.jobs()[0]["customFields"] == [{"key": "A", "val": "1"}]

    fake.reset()
    assert fake.jobs() == []
    assert not fake.requests
    [job] = await create(session, fake, {})
    assert job["number"] == 1


async def test_lifecycle():
    fake = FakeHellotracks()
    with pytest.raises(RuntimeError, match="not started"):
        _ = fake.base_url
    await fake.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            await fake.start()
        assert fake.port > 0
        assert fake.base_url == f"http://127.0.0.1:{fake.port}/api/"
        assert fake.app is not None
    finally:
        await fake.close()
    await fake.close()  # idempotent


async def test_latency_still_answers(session):
    async with FakeHellotracks(latency=0.01) as fake:
        [job] = await create(session, fake, {"priority": 2})
        assert fake.jobs() == [job]


async def test_pytest_plugin_fixture(fake_hellotracks, session):
    assert isinstance(fake_hellotracks, FakeHellotracks)
    [job] = await create(session, fake_hellotracks, {"destinationName": "from the fixture"})
    assert fake_hellotracks.jobs() == [job]


async def test_serve_prints_url_and_key_and_runs_until_cancelled(capsys):
    task = asyncio.create_task(serve(port=0, fault_rate=0.0))
    printed = ""
    for _ in range(500):  # wait for the banner; no assertion depends on timing
        await asyncio.sleep(0.01)
        printed += capsys.readouterr().out
        if "Press Ctrl+C" in printed:
            break
    url = re.search(r"http://127\.0\.0\.1:\d+/api/", printed)
    assert url is not None, printed
    assert f"API key: {KEY}" in printed
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url.group(0) + "getjobs", json={"data": {}}, headers={"API-Key": KEY}
        ) as response,
    ):
        assert (await response.json())["status"] == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- store-less mode (store_jobs=False) ----------------------------------------------

# The server sets these to the time of the request, so two servers' answers differ there.
_CLOCK_FIELDS = ("tsCreated", "tsSaved", "tsAssigned")


def _requests(seed_job: dict[str, Any]) -> list[dict[str, Any]]:
    """A few createjobs requests that use every feature of the create path."""
    full = {key: value for key, value in seed_job.items() if key != "id"}
    return [
        {
            "jobs": [
                {
                    "destinationName": "HQ",
                    "destinationLat": 37.77,
                    "day": 20261123,
                    "worker": "jane@acme.com",
                },
                full,
                {},
            ]
        },
        {
            "jobs": [{"receiverUid": ""}, {"custom_PO": "7", "customFields": None}],
            "autoassign": True,
        },
        {
            "jobs": [
                {"uidSecondary": "A", "priority": 1},
                {"uidSecondary": "A", "priority": 2},
                {"uidSecondary": "B"},
            ]
        },
        {"jobs": [{"destinationName": "Tpl", "windowStart": 800}], "isTemplate": True},
    ]


def _without_clock(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in job.items() if k not in _CLOCK_FIELDS} for job in jobs]


@pytest.fixture
async def storeless() -> AsyncIterator[FakeHellotracks]:
    async with FakeHellotracks(store_jobs=False) as server:
        yield server


async def test_storeless_answers_as_the_store_would_and_keeps_nothing(
    fake, storeless, session, seed_job
):
    assert (fake.store_jobs, storeless.store_jobs) == (True, False)
    for request in _requests(seed_job):
        flags = {key: value for key, value in request.items() if key != "jobs"}
        stored = await create(session, fake, *request["jobs"], **flags)
        kept = await create(session, storeless, *request["jobs"], **flags)
        assert [sorted(job) for job in kept] == [sorted(job) for job in stored]
        assert _without_clock(kept) == _without_clock(stored)
    assert fake.jobs()
    assert fake.templates()
    assert storeless.jobs() == storeless.templates() == []
    _, body = await call(session, storeless, "getjobs", {})
    assert body == {"status": 0, "jobs": []}


async def test_storeless_ids_stay_distinct_and_numbers_count_up(storeless, session):
    ids: list[str] = []
    numbers: list[int] = []
    for _ in range(3):
        jobs = await create(session, storeless, {"uidSecondary": "same"}, {})
        ids += [job["id"] for job in jobs]
        numbers += [job["number"] for job in jobs]
    assert len(set(ids)) == len(ids) == 6
    assert all(re.fullmatch(r"[0-9a-f]{24}", job_id) for job_id in ids)
    assert numbers == [1, 2, 3, 4, 5, 6]  # a uidSecondary of an earlier request is new again
    assert storeless.jobs() == []


async def test_storeless_refuses_edits_of_created_ids(storeless, session):
    [job] = await create(session, storeless, {"priority": 1})
    status, body = await call(session, storeless, "editjobs", {"jobs": {job["id"]: {}}})
    assert (status, body) == (200, {"status": 2, "message": f"unknown job id: {job['id']}"})
    _, body = await call(session, storeless, "getjobs", {"ids": [job["id"]]})
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
    refusal = await call(session, fake, "createjobs", {"jobs": jobs})
    assert refusal[1]["status"] == 3
    assert await call(session, storeless, "createjobs", {"jobs": jobs}) == refusal


@pytest.mark.parametrize(("kind", "status"), [("503", 503), ("429", 429)])
async def test_storeless_still_injects_faults(session, kind, status):
    faults = Faults(rate=1.0, kinds=(kind,), seed=1)
    async with FakeHellotracks(store_jobs=False, faults=faults) as storeless:
        answer_status, _ = await call(session, storeless, "createjobs", {"jobs": [{}]})
        assert answer_status == status
        assert storeless.injected == {kind: 1}


async def test_storeless_commit_then_drop_and_latency(session):
    faults = Faults(rate=1.0, kinds=("commit_then_drop",), seed=1)
    async with FakeHellotracks(store_jobs=False, faults=faults, latency=0.01) as storeless:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await call(session, storeless, "createjobs", {"jobs": [{}]})
        storeless.faults = None
        [job] = await create(session, storeless, {})
        assert job["number"] == 2  # the dropped answer's job was created all the same
        assert storeless.injected == {"commit_then_drop": 1}


# -- fault injection over HTTP -------------------------------------------------------


def faulty(kind: str, **options: Any) -> FakeHellotracks:
    return FakeHellotracks(faults=Faults(rate=1.0, kinds=(kind,), seed=1, **options))


async def test_fault_429_has_retry_after_and_applies_nothing(session):
    async with faulty("429", retry_after=0.25) as fake:
        async with session.post(
            fake.base_url + "createjobs", json={"data": {"jobs": [{}]}}, headers={"API-Key": KEY}
        ) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "0.25"
            body = await response.json()
        assert body["status"] != 0
        assert fake.jobs() == []
        assert fake.injected == {"429": 1}


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        ("500", "application/json"),
        ("502", "text/html"),
        ("503", "application/json"),
    ],
)
async def test_fault_server_errors_apply_nothing(session, kind, content_type):
    async with faulty(kind) as fake:
        async with session.post(
            fake.base_url + "createjobs", json={"data": {"jobs": [{}]}}, headers={"API-Key": KEY}
        ) as response:
            assert response.status == int(kind)
            assert response.content_type == content_type
            text = await response.text()
        if kind == "502":
            assert "<html>" in text
            assert "Bad Gateway" in text
        assert fake.jobs() == []
        assert fake.injected[kind] == 1


async def test_fault_reset_drops_the_connection_and_applies_nothing(session):
    async with faulty("reset") as fake:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await call(session, fake, "createjobs", {"jobs": [{"uidSecondary": "A"}]})
        assert fake.jobs() == []
        assert fake.injected == {"reset": 1}


async def test_fault_commit_then_drop_applies_but_never_answers(session):
    async with faulty("commit_then_drop") as fake:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await call(session, fake, "createjobs", {"jobs": [{"uidSecondary": "A"}]})
        [job] = fake.jobs()
        assert job["uidSecondary"] == "A"
        # A retry with the same uidSecondary upserts instead of duplicating.
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await call(session, fake, "createjobs", {"jobs": [{"uidSecondary": "A"}]})
        assert [job["id"] for job in fake.jobs()] == [job["id"]]
        assert fake.injected == {"commit_then_drop": 2}


async def test_fault_slow_commits_although_the_client_gave_up():
    fake = faulty("slow", slow_seconds=0.5)
    async with fake, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as session:
        with pytest.raises(asyncio.TimeoutError):
            await call(session, fake, "createjobs", {"jobs": [{"uidSecondary": "late"}]})
    # close() waited for the delayed request, which was applied all the same.
    assert [job["uidSecondary"] for job in fake.jobs()] == ["late"]
    assert fake.injected == {"slow": 1}


async def test_settle_waits_for_a_slow_request_the_client_gave_up_on():
    fake = faulty("slow", slow_seconds=0.5)
    async with fake, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as session:
        with pytest.raises(asyncio.TimeoutError):
            await call(session, fake, "createjobs", {"jobs": [{"uidSecondary": "late"}]})
        assert fake.jobs() == []  # still sleeping
        await fake.settle()
        assert [job["uidSecondary"] for job in fake.jobs()] == ["late"]


async def test_fault_slow_answers_a_patient_client(session):
    async with faulty("slow", slow_seconds=0.05) as fake:
        [job] = await create(session, fake, {"priority": 3})
        assert fake.jobs() == [job]


async def test_faults_spare_refused_keys_and_unknown_endpoints(session):
    async with faulty("500") as fake:
        status, _ = await call(session, fake, "createjobs", {"jobs": []}, key="wrong")
        assert status == 401
        status, _ = await call(session, fake, "archivejobs", {})
        assert status == 404
        assert not fake.injected
        status, _ = await call(session, fake, "getjobs", {})
        assert status == 500
        assert fake.injected == {"500": 1}


async def test_seeded_faults_repeat_over_http(session):
    async def statuses() -> list[int]:
        faults = Faults(rate=0.5, kinds=("500", "503", "429"), seed=99)
        async with FakeHellotracks(faults=faults) as fake:
            return [(await call(session, fake, "getjobs", {}))[0] for _ in range(30)]

    first = await statuses()
    assert first == await statuses()
    assert 200 in first
    assert set(first) - {200}


async def test_faults_can_be_switched_and_restarted(session):
    async with FakeHellotracks() as fake:
        assert fake.faults is None
        [job] = await create(session, fake, {})
        fake.faults = Faults(rate=1.0, kinds=("503",))
        status, _ = await call(session, fake, "editjobs", {"jobs": {job["id"]: {}}})
        assert status == 503
        fake.faults = None
        await edit(session, fake, {job["id"]: {"priority": 1}})
        assert fake.injected == {"503": 1}

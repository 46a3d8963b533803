"""The fake Hellotracks server (testing/_server.py, _handler.py, _site.py, _serve.py, the
pytest plugin's fixture): protocol, inspection, lifecycle.

Everything talks plain HTTP to 127.0.0.1 through a bare aiohttp.ClientSession, never
through the SDK's client, so these tests pin the wire behaviour on their own. Store-less
mode is in test_fake_storeless.py, faults over HTTP in test_fake_faults.py.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest

from hellotracks_async.testing import FakeHellotracks

from ._helpers import FAKE_KEY, fake_call, fake_create, fake_edit, serve_until_banner

# -- createjobs ----------------------------------------------------------------------


async def test_create_fills_defaults_and_assigns_ids(fake, session):
    first, second = await fake_create(
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
    [old] = await fake_create(
        session, fake, {"uidSecondary": "EXT-1", "priority": 1, "contactName": "Ann"}
    )
    [new] = await fake_create(
        session, fake, {"uidSecondary": "EXT-1", "priority": 7, "destinationName": "Moved"}
    )
    assert new["id"] == old["id"]
    assert new["number"] == old["number"] == 1
    assert new["tsCreated"] == old["tsCreated"]
    assert new["tsSaved"] > old["tsSaved"]
    assert (new["priority"], new["destinationName"], new["contactName"]) == (7, "Moved", "Ann")
    assert fake.jobs() == [new]


async def test_create_same_uid_twice_in_one_request_makes_one_job(fake, session):
    first, second = await fake_create(
        session, fake, {"uidSecondary": "A", "priority": 1}, {"uidSecondary": "A", "priority": 2}
    )
    assert first["id"] == second["id"]
    assert (first["priority"], second["priority"]) == (1, 2)  # each entry as it was then
    assert [job["priority"] for job in fake.jobs()] == [2]


async def test_create_with_an_id_refuses_the_whole_request(fake, session):
    status, body = await fake_call(
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
    status, body = await fake_call(session, fake, "createjobs", {"jobs": jobs})
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
    status, body = await fake_call(
        session, fake, "createjobs", {"jobs": [{"destinationName": "ok"}, {field: value}]}
    )
    assert (status, body["status"]) == (200, 3)
    assert body["message"].startswith(f"job 1: {field}")
    assert fake.jobs() == []


async def test_create_folds_custom_fields(fake, session):
    [job] = await fake_create(
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
    jobs = await fake_create(
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
    [template] = await fake_create(session, fake, {"destinationName": "Tpl"}, isTemplate=True)
    assert template["isTemplate"] is True
    assert fake.jobs() == []
    assert fake.templates() == [template]

    [edited] = await fake_edit(session, fake, {f"tpl-{template['id']}": {"priority": 8}})
    assert (edited["id"], edited["priority"]) == (template["id"], 8)
    assert fake.templates()[0]["priority"] == 8

    status, body = await fake_call(session, fake, "editjobs", {"jobs": {template["id"]: {}}})
    assert (status, body["status"]) == (200, 2)  # a bare template id is no job id

    _, body = await fake_call(session, fake, "getjobs", {"ids": [f"tpl-{template['id']}"]})
    assert [job["id"] for job in body["jobs"]] == [template["id"]]


# -- editjobs ------------------------------------------------------------------------


async def test_edit_sets_only_the_given_fields(fake, session):
    [job] = await fake_create(
        session, fake, {"destinationName": "HQ", "priority": 3, "contactName": "Ann"}
    )
    [edited] = await fake_edit(
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
    [job] = await fake_create(
        session,
        fake,
        {"customFields": [{"key": "A", "val": "1"}, {"key": "B", "val": "2"}]},
    )
    [edited] = await fake_edit(
        session, fake, {job["id"]: {"customFields": [{"key": "C", "val": "3"}]}}
    )
    assert edited["customFields"] == [{"key": "C", "val": "3"}]
    [edited] = await fake_edit(session, fake, {job["id"]: {"custom_D": "4", "custom_C": "5"}})
    assert edited["customFields"] == [{"key": "C", "val": "5"}, {"key": "D", "val": "4"}]
    assert "custom_D" not in edited


async def test_edit_assigns_by_worker_and_unassigns_by_empty_receiver_uid(fake, session):
    [job] = await fake_create(session, fake, {"destinationName": "HQ"})
    assert "worker" not in job
    [assigned] = await fake_edit(session, fake, {job["id"]: {"worker": "jane@acme.com"}})
    assert assigned["worker"] == "jane@acme.com"
    assert assigned["receiverUid"]
    assert assigned["receiverUid"] != "jane@acme.com"
    assert assigned["tsAssigned"] > 0

    [again] = await fake_edit(session, fake, {job["id"]: {"receiverUid": assigned["receiverUid"]}})
    assert again["worker"] == "jane@acme.com"  # the uid of a known worker

    [unassigned] = await fake_edit(session, fake, {job["id"]: {"receiverUid": ""}})
    assert "worker" not in unassigned
    assert "receiverUid" not in unassigned
    assert fake.jobs() == [unassigned]


async def test_edit_with_an_unknown_id_applies_nothing(fake, session):
    [job] = await fake_create(session, fake, {"priority": 1})
    status, body = await fake_call(
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
    first, second = await fake_create(session, fake, {"priority": 1}, {"priority": 1})
    status, body = await fake_call(
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
    status, body = await fake_call(session, fake, "editjobs", {"jobs": jobs})
    assert (status, body["status"]) == (200, 3)


async def test_edit_can_move_the_uid_secondary(fake, session):
    [job] = await fake_create(session, fake, {"uidSecondary": "OLD"})
    await fake_edit(session, fake, {job["id"]: {"uidSecondary": "NEW"}})
    [upserted] = await fake_create(session, fake, {"uidSecondary": "NEW", "priority": 4})
    assert upserted["id"] == job["id"]
    [fresh] = await fake_create(session, fake, {"uidSecondary": "OLD"})
    assert fresh["id"] != job["id"]


# -- getjobs -------------------------------------------------------------------------


async def test_getjobs_filters_by_day_worker_and_ids(fake, session):
    a, b, c = await fake_create(
        session,
        fake,
        {"day": 20261123, "worker": "jane@acme.com"},
        {"day": 20261123},
        {"day": 20261124, "worker": "jane@acme.com"},
    )

    async def ids(data: dict[str, Any]) -> list[str]:
        status, body = await fake_call(session, fake, "getjobs", data)
        assert (status, body["status"]) == (200, 0)
        return [job["id"] for job in body["jobs"]]

    assert await ids({}) == [a["id"], b["id"], c["id"]]
    assert await ids({"day": 20261123, "worker": "*"}) == [a["id"], b["id"]]
    assert await ids({"worker": "jane@acme.com"}) == [a["id"], c["id"]]
    assert await ids({"day": 20261123, "worker": "jane@acme.com"}) == [a["id"]]
    assert await ids({"ids": [c["id"], "unknown", a["id"]]}) == [c["id"], a["id"]]
    status, body = await fake_call(session, fake, "getjobs", {"day": "today"})
    assert (status, body["status"]) == (200, 3)


_DONE = 1_700_000_000_000


async def _ids(
    session: aiohttp.ClientSession, fake: FakeHellotracks, data: dict[str, Any]
) -> list[str]:
    """The ids getjobs answers ``data`` with, in order (the answer must be a success)."""
    status, body = await fake_call(session, fake, "getjobs", data)
    assert (status, body["status"]) == (200, 0), body
    assert set(body) == {"status", "jobs"}
    return [job["id"] for job in body["jobs"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [0, 1, 2, 3]),
        ({"worker": "*"}, [0, 1, 2, 3]),
        ({"day": 20261123}, [0, 1, 3]),
        ({"day": 0}, []),
        ({"worker": "a@x.com"}, [0, 2]),
        ({"worker": "nobody@x.com"}, []),
        ({"team": 2}, [1]),
        ({"team": 9}, []),
        ({"orderId": 7}, [0]),
        ({"orderIds": [8, 7, 99]}, [0, 1]),
        ({"progressActive": 1}, [0, 1]),
        ({"progressActive": True, "worker": "a@x.com"}, [0]),
        ({"progressSuccess": 1}, [2]),
        ({"progressSuccess": 0, "progressActive": 0}, [0, 1, 2, 3]),
        ({"day": 20261123, "worker": "*", "team": 1, "progressActive": 1}, [0]),
    ],
)
async def test_getjobs_answers_the_jobs_matching_each_parameter(fake, session, query, expected):
    created = await fake_create(
        session,
        fake,
        {"day": 20261123, "worker": "a@x.com", "teamId": 1, "orderId": 7},
        {"day": 20261123, "worker": "b@x.com", "teamId": 2, "orderId": 8},
        {"day": 20261124, "worker": "a@x.com", "tsDoneSuccess": _DONE},
        {"day": 20261123, "tsDoneFailed": _DONE},
    )
    await fake_create(session, fake, {"day": 20261123, "teamId": 1}, isTemplate=True)
    assert await _ids(session, fake, query) == [created[i]["id"] for i in expected]


async def test_getjobs_by_id_ids_and_tpl_ids(fake, session):
    a, b = await fake_create(session, fake, {}, {})
    [template] = await fake_create(session, fake, {}, isTemplate=True)
    tpl = f"tpl-{template['id']}"
    assert await _ids(session, fake, {"id": b["id"]}) == [b["id"]]
    assert await _ids(session, fake, {"id": "65f0ffffffffffffffffffff"}) == []
    assert await _ids(session, fake, {"ids": ["nope", tpl, a["id"]]}) == [template["id"], a["id"]]
    assert await _ids(session, fake, {"id": a["id"], "ids": [b["id"]]}) == [a["id"], b["id"]]
    assert await _ids(session, fake, {"ids": [template["id"], f"tpl-{a['id']}"]}) == []
    assert await _ids(session, fake, {"ids": []}) == []


async def test_getjobs_follows_progress_set_by_editjobs(fake, session):
    a, b, c = await fake_create(session, fake, {}, {}, {})
    await fake_edit(
        session, fake, {a["id"]: {"tsDoneSuccess": _DONE}, b["id"]: {"tsDoneFailed": _DONE}}
    )
    assert await _ids(session, fake, {"progressActive": 1}) == [c["id"]]
    assert await _ids(session, fake, {"progressSuccess": 1}) == [a["id"]]
    await fake_edit(session, fake, {a["id"]: {"tsDoneSuccess": 0}})  # 0 means not set
    assert await _ids(session, fake, {"progressActive": 1}) == [a["id"], c["id"]]


@pytest.mark.parametrize(
    "query",
    [
        {"day": "20261123"},
        {"day": True},
        {"worker": ["a@x.com"]},
        {"team": "1"},
        {"orderId": 7.5},
        {"orderIds": ["7"]},
        {"progressActive": "1"},
        {"progressSuccess": 2},
        {"id": 1},
        {"ids": "65f000000000000000000001"},
    ],
)
async def test_getjobs_refuses_a_parameter_of_the_wrong_type(fake, session, query):
    await fake_create(session, fake, {"day": 20261123})
    status, body = await fake_call(session, fake, "getjobs", query)
    assert status == 200
    assert body["status"] == 3
    assert next(iter(query)) in body["message"]
    assert "jobs" not in body


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
        [acme_job] = (await fake_call(session, fake, "createjobs", {"jobs": [{}]}, key="k-acme"))[
            1
        ]["jobs"]
        _, body = await fake_call(session, fake, "createjobs", {"jobs": [{}]}, key="k-globex")
        assert body["jobs"][0]["number"] == 1  # numbering is per company
        _, body = await fake_call(
            session, fake, "editjobs", {"jobs": {acme_job["id"]: {}}}, key="k-globex"
        )
        assert body["status"] == 2
        assert len(fake.jobs()) == len(fake.jobs(company="globex")) == 1
        assert fake.jobs() == fake.jobs(company="acme") == [acme_job]
        status, _ = await fake_call(session, fake, "getjobs", {}, key=FAKE_KEY)
        assert status == 401


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"jobs": []}', b'{"data": [1]}', b'{"data": "x"}']
)
async def test_malformed_body_is_400(fake, session, body):
    async with session.post(
        fake.base_url + "createjobs", data=body, headers={"API-Key": FAKE_KEY}
    ) as response:
        assert response.status == 400
        answer = await response.json()
    assert answer["status"] == 400
    assert answer["message"]


async def test_unknown_endpoint_is_404(fake, session):
    # archivejobs is documented, but not its request: the fake does not guess it
    status, body = await fake_call(session, fake, "archivejobs", {"jobs": []})
    assert (status, body["status"]) == (404, 404)
    assert fake.requests["archivejobs"] == 1


# -- inspection and lifecycle --------------------------------------------------------


async def test_inspection_hands_out_copies_and_reset_forgets(fake, session):
    await fake_create(session, fake, {"customFields": [{"key": "A", "val": "1"}]})
    copy = fake.jobs()[0]
    copy["priority"] = 0
    copy["customFields"].append({"key": "B", "val": "2"})
    assert fake.jobs()[0]["priority"] == 5
    assert fake.jobs()[0]["customFields"] == [{"key": "A", "val": "1"}]

    fake.reset()
    assert fake.jobs() == []
    assert not fake.requests
    [job] = await fake_create(session, fake, {})
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
        [job] = await fake_create(session, fake, {"priority": 2})
        assert fake.jobs() == [job]


async def test_pytest_plugin_fixture(fake_hellotracks, session):
    assert isinstance(fake_hellotracks, FakeHellotracks)
    [job] = await fake_create(session, fake_hellotracks, {"destinationName": "from the fixture"})
    assert fake_hellotracks.jobs() == [job]


async def test_serve_prints_url_and_key_and_runs_until_cancelled(capsys):
    task, printed = await serve_until_banner(capsys, fault_rate=0.0)
    url = re.search(r"http://127\.0\.0\.1:\d+/api/", printed)
    assert url is not None, printed
    assert f"API key: {FAKE_KEY}" in printed
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url.group(0) + "getjobs", json={"data": {}}, headers={"API-Key": FAKE_KEY}
        ) as response,
    ):
        assert (await response.json())["status"] == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- deletejobs ----------------------------------------------------------------------


async def test_deletejobs_answers_status_zero_alone(fake, session):
    created = await fake_create(session, fake, {"destinationName": "a"}, {})
    status, body = await fake_call(session, fake, "deletejobs", {"jobs": [created[0]["id"]]})
    assert (status, body) == (200, {"status": 0})
    assert [job["id"] for job in fake.jobs()] == [created[1]["id"]]
    assert await _ids(session, fake, {"ids": [created[0]["id"]]}) == []
    status, body = await fake_call(session, fake, "deletejobs", {"jobs": [created[0]["id"]]})
    assert (status, body["status"]) == (200, 4)  # already gone: refused, as the fake reads it


async def test_deletejobs_with_an_empty_list_is_fine(fake, session):
    await fake_create(session, fake, {})
    assert await fake_call(session, fake, "deletejobs", {"jobs": []}) == (200, {"status": 0})
    assert len(fake.jobs()) == 1


async def test_deletejobs_refuses_the_whole_request_on_one_unknown_id(fake, session):
    a, b, c = await fake_create(session, fake, {}, {}, {})
    ids = [a["id"], "65f0ffffffffffffffffffff", c["id"], "nope"]
    status, body = await fake_call(session, fake, "deletejobs", {"jobs": ids})
    assert (status, body) == (
        200,
        {"status": 4, "message": "2 unknown job id(s), e.g. '65f0ffffffffffffffffffff'"},
    )
    assert [job["id"] for job in fake.jobs()] == [a["id"], b["id"], c["id"]]  # none deleted


async def test_deletejobs_never_echoes_a_large_id(fake, session):
    huge = "x" * 100_000
    status, body = await fake_call(session, fake, "deletejobs", {"jobs": [huge]})
    assert (status, body["status"]) == (200, 4)
    assert len(body["message"]) < 100


@pytest.mark.parametrize(
    "jobs", [None, "65f000000000000000000001", {"65f000000000000000000001": {}}, [1], [None]]
)
async def test_deletejobs_refuses_a_request_that_is_not_a_list_of_ids(fake, session, jobs):
    [job] = await fake_create(session, fake, {})
    ids = [job["id"], *jobs] if isinstance(jobs, list) else jobs
    status, body = await fake_call(session, fake, "deletejobs", {"jobs": ids})
    assert (status, body["status"]) == (200, 3)
    assert "jobs" not in body
    assert fake.jobs() == [job]


async def test_deletejobs_deletes_templates_by_tpl_ids_only(fake, session):
    [job] = await fake_create(session, fake, {})
    [template] = await fake_create(session, fake, {}, isTemplate=True)
    for wrong in (template["id"], f"tpl-{job['id']}"):  # a bare template id, a job as tpl-
        _, body = await fake_call(session, fake, "deletejobs", {"jobs": [wrong]})
        assert body["status"] == 4
    assert (fake.jobs(), fake.templates()) == ([job], [template])
    tpl = f"tpl-{template['id']}"
    assert await fake_call(session, fake, "deletejobs", {"jobs": [tpl, job["id"]]}) == (
        200,
        {"status": 0},
    )
    assert (fake.jobs(), fake.templates()) == ([], [])


async def test_create_after_delete_makes_a_new_job(fake, session):
    [job] = await fake_create(session, fake, {"uidSecondary": "K", "priority": 1})
    [template] = await fake_create(session, fake, {"uidSecondary": "K"}, isTemplate=True)
    await fake_call(session, fake, "deletejobs", {"jobs": [job["id"], f"tpl-{template['id']}"]})
    [again] = await fake_create(session, fake, {"uidSecondary": "K"})
    [tpl_again] = await fake_create(session, fake, {"uidSecondary": "K"}, isTemplate=True)
    assert again["id"] != job["id"]
    assert tpl_again["id"] != template["id"]
    assert again["priority"] == 5  # not the deleted job's fields
    assert [stored["id"] for stored in fake.jobs()] == [again["id"]]
    [upserted] = await fake_create(session, fake, {"uidSecondary": "K", "priority": 2})
    assert upserted["id"] == again["id"]  # the new job is upserted as usual


async def test_deletejobs_sees_only_the_keys_company(session):
    async with FakeHellotracks(api_keys={"k-acme": "acme", "k-globex": "globex"}) as fake:
        _, body = await fake_call(session, fake, "createjobs", {"jobs": [{}]}, key="k-acme")
        [acme_job] = body["jobs"]
        _, body = await fake_call(
            session, fake, "deletejobs", {"jobs": [acme_job["id"]]}, key="k-globex"
        )
        assert body["status"] == 4
        assert fake.jobs(company="acme") == [acme_job]

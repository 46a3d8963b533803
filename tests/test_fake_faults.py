"""The fake server's faults (testing/_faults.py): the settings and their seeded decider
(pure, no I/O), then every kind of fault injected over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from hellotracks_async.testing import FAULT_KINDS, FakeHellotracks, Faults
from hellotracks_async.testing._faults import FaultDecider

from ._helpers import FAKE_KEY, fake_call, fake_create, fake_edit, until


def test_decider_same_seed_same_sequence():
    faults = Faults(rate=0.3, seed=1234)
    one, two = faults.decider(), FaultDecider(faults)
    sequence = [one.draw() for _ in range(1000)]
    assert sequence == [two.draw() for _ in range(1000)]
    other = Faults(rate=0.3, seed=4321).decider()
    assert sequence != [other.draw() for _ in range(1000)]


def test_decider_hits_roughly_the_rate_with_every_kind():
    decider = Faults(rate=0.2, seed=7).decider()
    draws = [decider.draw() for _ in range(10_000)]
    faults = [kind for kind in draws if kind is not None]
    assert 1800 <= len(faults) <= 2200  # binomial sd is 40
    share = 2000 / len(FAULT_KINDS)
    for kind in FAULT_KINDS:
        assert 0.7 * share <= faults.count(kind) <= 1.3 * share


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_decider_extreme_rates(rate):
    decider = Faults(rate=rate, kinds=("reset",), seed=None).decider()
    expected = None if rate == 0.0 else "reset"
    assert {decider.draw() for _ in range(100)} == {expected}


@pytest.mark.parametrize(
    "options",
    [
        {"rate": -0.1},
        {"rate": 1.5},
        {"rate": float("nan")},
        {"kinds": ()},
        {"kinds": ("418",)},
        {"retry_after": -1.0},
        {"slow_seconds": -0.5},
    ],
)
def test_faults_validation(options):
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are checked in doctests
        Faults(**options)


def test_faults_accept_one_kind_as_a_string():
    assert Faults(kinds="429").kinds == ("429",)
    assert Faults(kinds=["500", "502"]).kinds == ("500", "502")


# -- fault injection over HTTP -------------------------------------------------------


def faulty(kind: str, **options: Any) -> FakeHellotracks:
    return FakeHellotracks(faults=Faults(rate=1.0, kinds=(kind,), seed=1, **options))


async def test_fault_429_has_retry_after_and_applies_nothing(session):
    async with faulty("429", retry_after=0.25) as fake:
        async with session.post(
            fake.base_url + "createjobs",
            json={"data": {"jobs": [{}]}},
            headers={"API-Key": FAKE_KEY},
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
            fake.base_url + "createjobs",
            json={"data": {"jobs": [{}]}},
            headers={"API-Key": FAKE_KEY},
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
            await fake_call(session, fake, "createjobs", {"jobs": [{"uidSecondary": "A"}]})
        assert fake.jobs() == []
        assert fake.injected == {"reset": 1}


async def test_fault_commit_then_drop_applies_but_never_answers(session):
    async with faulty("commit_then_drop") as fake:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await fake_call(session, fake, "createjobs", {"jobs": [{"uidSecondary": "A"}]})
        [job] = fake.jobs()
        assert job["uidSecondary"] == "A"
        # A retry with the same uidSecondary upserts instead of duplicating.
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await fake_call(session, fake, "createjobs", {"jobs": [{"uidSecondary": "A"}]})
        assert [job["id"] for job in fake.jobs()] == [job["id"]]
        assert fake.injected == {"commit_then_drop": 2}


async def _give_up_on_a_slow_create(fake: FakeHellotracks, session: aiohttp.ClientSession) -> None:
    """Send a create, and cancel it once the fake holds it in its "slow" delay.

    The client gives up on an event (the fault was drawn), not on a timeout raced
    against the fake's sleep.
    """
    data = {"jobs": [{"uidSecondary": "late"}]}
    request = asyncio.create_task(fake_call(session, fake, "createjobs", data))
    await until(lambda: fake.injected == {"slow": 1})
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request


async def test_fault_slow_commits_although_the_client_gave_up(session):
    fake = faulty("slow", slow_seconds=0.05)
    async with fake:
        await _give_up_on_a_slow_create(fake, session)
    # close() waited for the delayed request, which was applied all the same.
    assert [job["uidSecondary"] for job in fake.jobs()] == ["late"]
    assert fake.injected == {"slow": 1}


async def test_settle_waits_for_a_slow_request_the_client_gave_up_on(session):
    fake = faulty("slow", slow_seconds=0.5)
    async with fake:
        await _give_up_on_a_slow_create(fake, session)
        assert fake.jobs() == []  # still sleeping (checked at once; it sleeps 0.5 s)
        await fake.settle()
        assert [job["uidSecondary"] for job in fake.jobs()] == ["late"]


async def test_fault_slow_answers_a_patient_client(session):
    async with faulty("slow", slow_seconds=0.05) as fake:
        [job] = await fake_create(session, fake, {"priority": 3})
        assert fake.jobs() == [job]


async def test_faults_spare_refused_keys_and_unknown_endpoints(session):
    async with faulty("500") as fake:
        status, _ = await fake_call(session, fake, "createjobs", {"jobs": []}, key="wrong")
        assert status == 401
        status, _ = await fake_call(session, fake, "archivejobs", {})
        assert status == 404
        assert not fake.injected
        status, _ = await fake_call(session, fake, "getjobs", {})
        assert status == 500
        assert fake.injected == {"500": 1}


async def test_seeded_faults_repeat_over_http(session):
    async def statuses() -> list[int]:
        faults = Faults(rate=0.5, kinds=("500", "503", "429"), seed=99)
        async with FakeHellotracks(faults=faults) as fake:
            return [(await fake_call(session, fake, "getjobs", {}))[0] for _ in range(30)]

    first = await statuses()
    assert first == await statuses()
    assert 200 in first
    assert set(first) - {200}


async def test_faults_can_be_switched_and_restarted(session):
    async with FakeHellotracks() as fake:
        assert fake.faults is None
        [job] = await fake_create(session, fake, {})
        fake.faults = Faults(rate=1.0, kinds=("503",))
        status, _ = await fake_call(session, fake, "editjobs", {"jobs": {job["id"]: {}}})
        assert status == 503
        fake.faults = None
        await fake_edit(session, fake, {job["id"]: {"priority": 1}})
        assert fake.injected == {"503": 1}


# -- faults on getjobs and deletejobs --------------------------------------------------


async def test_a_delete_committed_then_dropped_is_applied(session):
    async with FakeHellotracks() as fake:
        a, b = await fake_create(session, fake, {"uidSecondary": "A"}, {})
        fake.faults = Faults(rate=1.0, kinds=("commit_then_drop",), seed=1)
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await fake_call(session, fake, "deletejobs", {"jobs": [a["id"]]})
        assert fake.injected == {"commit_then_drop": 1}
        assert [job["id"] for job in fake.jobs()] == [b["id"]]
        fake.faults = None
        # the retry a client makes after the lost answer: the id is gone, so it is refused
        _, body = await fake_call(session, fake, "deletejobs", {"jobs": [a["id"]]})
        assert body["status"] == 4
        [again] = await fake_create(session, fake, {"uidSecondary": "A"})
        assert again["id"] != a["id"]


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "reset"])
async def test_a_faulty_delete_deletes_nothing(session, kind):
    async with FakeHellotracks() as fake:
        [job] = await fake_create(session, fake, {})
        fake.faults = Faults(rate=1.0, kinds=(kind,), seed=1)
        if kind == "reset":
            with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                await fake_call(session, fake, "deletejobs", {"jobs": [job["id"]]})
        else:
            async with session.post(
                fake.base_url + "deletejobs",
                json={"data": {"jobs": [job["id"]]}},
                headers={"API-Key": FAKE_KEY},
            ) as response:
                assert response.status == int(kind)
        assert fake.injected == {kind: 1}
        assert fake.jobs() == [job]


async def test_a_slow_delete_is_applied_after_its_delay(session):
    async with FakeHellotracks() as fake:
        [job] = await fake_create(session, fake, {})
        fake.faults = Faults(rate=1.0, kinds=("slow",), seed=1, slow_seconds=0.5)
        request = asyncio.create_task(fake_call(session, fake, "deletejobs", {"jobs": [job["id"]]}))
        await until(lambda: fake.injected == {"slow": 1})
        assert fake.jobs() == [job]  # still sleeping (checked at once; it sleeps 0.5 s)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        await fake.settle()
        assert fake.jobs() == []  # applied although the client gave up

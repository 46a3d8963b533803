"""A job's whole life on the command line, through the real console script against
FakeHellotracks: ``import`` (killed with ``kill -9`` midway, then run again), ``verify``,
``undo``, ``import`` again; and ``export`` -> edit a cell -> ``import --edit``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from hellotracks_async.cli.journal import JobIds, Journal
from hellotracks_async.testing import FakeHellotracks

from ._cli import cli, env_for, spawn, write_csv

_DAY = "20261123"


def _rows(count: int) -> list[list[str]]:
    return [[f"Stop {i}", str(i % 10), _DAY, ""] for i in range(count)]


async def _seed(fake: FakeHellotracks, env: dict[str, str], tmp_path: Path) -> set[str]:
    """Jobs that existed before the import; one has the key OWN-1 a row will carry."""
    seed = write_csv(
        tmp_path / "seed.csv",
        ["destinationName", "uidSecondary"],
        [["before 1", "OWN-1"], ["before 2", ""], ["before 3", ""]],
    )
    assert (await cli("import", seed, "--no-progress", env=env)).code == 0
    return {job["id"] for job in fake.jobs()}


async def _killed_midway(
    fake: FakeHellotracks, endpoint: str, requests: int, *args: str | Path, env: dict[str, str]
) -> None:
    """Run the console script with ``args``; kill -9 it once the fake has seen
    ``requests`` more ``endpoint`` requests."""
    process = await spawn(*args, env=env, quiet=True)
    start = fake.requests[endpoint]
    while fake.requests[endpoint] < start + requests:
        assert process.returncode is None, "the command ended before the kill point"
        await asyncio.sleep(0.002)
    process.kill()
    assert await process.wait() == -signal.SIGKILL


def _lines(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


def _summary(out: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return summary


@pytest.mark.slow
async def test_the_whole_life_import_killed_verify_undo_import_again(tmp_path: Path) -> None:
    rows = _rows(20_000)
    rows[5][3] = "OWN-1"  # updates a job that existed before the import
    source = write_csv(
        tmp_path / "jobs.csv", ["destinationName", "priority", "day", "uidSecondary"], rows
    )
    async with FakeHellotracks() as fake:
        env = env_for(fake)
        before = await _seed(fake, env, tmp_path)

        flags = ("--no-progress", "--batch-size", "200", "--concurrency", "4")
        await _killed_midway(fake, "createjobs", 40, "import", source, *flags, env=env)  # of 100
        half = _summary((await cli("verify", source, "--json", "--no-progress", env=env)).out)
        assert half["unconfirmed"] > 0  # a half-done import says so
        assert not half["ok"]

        assert (await cli("import", source, "--no-progress", env=env)).code == 0
        await fake.settle()
        assert len(fake.jobs()) == len(before) + len(rows) - 1  # one row updated OWN-1

        verified = await cli("verify", source, "--json", "--no-progress", env=env)
        assert verified.code == 0, verified
        summary = _summary(verified.out)
        assert summary["equal"] == summary["rows"] == len(rows)
        assert (summary["missing"], summary["differ"], summary["unconfirmed"]) == (0, 0, 0)

        undone = await cli("undo", source, "--yes", env=env)
        assert undone.code == 0, undone
        assert "left: row 6" in undone.out  # its own key: maybe someone else's job
        assert {job["id"] for job in fake.jobs()} == before  # exactly what existed before

        gone = await cli("verify", source, "--json", "--no-progress", env=env)
        assert gone.code == 1
        summary = _summary(gone.out)
        assert summary["missing"] == len(rows) - 1  # all but the row whose job stayed
        report = _lines(summary["report"])
        assert len(report) == len(rows) - 1
        assert json.loads(report[0])["problem"] == "missing"

        again = await cli("import", source, "--no-progress", env=env)
        assert again.code == 0, again
        assert "undone" in again.err
        assert len(fake.jobs()) == len(before) + len(rows) - 1  # new jobs, once each


async def test_undo_without_a_terminal_and_without_yes_deletes_nothing(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "jobs.csv", ["destinationName"], [["a"], ["b"]])
    async with FakeHellotracks() as fake:
        env = env_for(fake)
        assert (await cli("import", source, "--no-progress", env=env)).code == 0
        refused = await cli("undo", source, env=env)
        assert refused.code == 2
        assert "--yes" in refused.err
        assert len(fake.jobs()) == 2


async def test_undo_of_an_edit_import_is_refused(tmp_path: Path) -> None:
    async with FakeHellotracks() as fake:
        env = env_for(fake)
        source = write_csv(tmp_path / "jobs.csv", ["destinationName"], [["a"]])
        assert (await cli("import", source, "--no-progress", env=env)).code == 0
        [job] = fake.jobs()
        edits = write_csv(tmp_path / "edits.csv", ["id", "priority"], [[job["id"], "9"]])
        assert (await cli("import", edits, "--edit", "--no-progress", env=env)).code == 0
        refused = await cli("undo", edits, "--yes", env=env)
    assert refused.code == 2
    assert "cannot be undone" in refused.err


@pytest.mark.slow
async def test_an_undo_killed_midway_finishes_when_run_again(tmp_path: Path) -> None:
    rows = _rows(5_000)
    source = write_csv(
        tmp_path / "jobs.csv", ["destinationName", "priority", "day", "uidSecondary"], rows
    )
    async with FakeHellotracks() as fake:
        env = env_for(fake)
        before = await _seed(fake, env, tmp_path)
        flags = ("--batch-size", "50", "--concurrency", "2")
        assert (await cli("import", source, "--no-progress", *flags, env=env)).code == 0
        await _killed_midway(fake, "deletejobs", 30, "undo", source, "--yes", *flags, env=env)
        await fake.settle()
        assert before < {job["id"] for job in fake.jobs()}  # some left to delete

        finished = await cli("undo", source, "--yes", *flags, env=env)
        assert finished.code == 0, finished
        assert {job["id"] for job in fake.jobs()} == before


def _po(number: int) -> str:
    return json.dumps([{"key": "PO", "val": str(number)}])


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def test_export_then_import_edit_changes_exactly_the_edited_cell(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "jobs.csv",
        ["destinationName", "day", "priority", "worker", "customFields"],
        [
            [f"Stop {i}", day, str(i % 10), f"w{i % 3}@x.com", _po(i)]
            for i, day in enumerate(["20261123"] * 6 + ["20261124"] * 4 + ["20261125"] * 2)
        ],
    )
    async with FakeHellotracks() as fake:
        env = env_for(fake)
        assert (await cli("import", source, "--no-progress", env=env)).code == 0
        exported = tmp_path / "week.csv"
        run = await cli(
            "export", "--day", "2026-11-23", "--to", "2026-11-24", "-o", exported, env=env
        )
        assert run.code == 0, run
        assert "exported 10 jobs" in run.out
        rows = _read_rows(exported)
        assert len(rows) == 10
        assert {"id", "destinationName", "customFields"} <= set(rows[0])
        assert "tsCreated" not in rows[0]  # the server's own fields are not exported
        before = {job["id"]: job for job in fake.jobs()}

        unedited = await cli("import", exported, "--edit", "--no-progress", env=env)
        assert unedited.code == 0, unedited
        assert "nothing sent" in unedited.out
        assert {job["id"]: job for job in fake.jobs()} == before  # nothing changed
        assert fake.requests["editjobs"] == 0

        rows[3]["priority"] = "10"
        with exported.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        edited = await cli("import", exported, "--edit", "--no-progress", env=env)
        assert edited.code == 0, edited
        after = {job["id"]: job for job in fake.jobs()}
    changed = [job_id for job_id in before if after[job_id] != before[job_id]]
    assert changed == [rows[3]["id"]]  # exactly one job
    fields = {k for k in after[changed[0]] if after[changed[0]][k] != before[changed[0]].get(k)}
    assert fields == {"priority", "tsSaved"}  # the edited cell (and the server's save time)


def test_job_ids_of_a_million_rows_stay_small() -> None:
    ids = JobIds()
    rows = list(range(1, 1_000_001))
    ids.add(rows, [f"{0x65F0 << 80 | row:024x}" for row in rows], own=())
    assert ids.get(777_777) == f"{0x65F0 << 80 | 777_777:024x}"
    assert ids.memory() < 20 * 1024 * 1024  # 13 bytes a row


def test_a_journal_costs_tens_of_bytes_a_row_on_disk_and_loading(tmp_path: Path) -> None:
    from hellotracks_async.cli.journal import Header

    rows = 100_000
    path = tmp_path / "jobs.csv.htjournal"
    header = Header.new(mode="create", format="csv", columns=["a"], sample=[1])
    with Journal.create(path, header) as journal:
        for start in range(1, rows + 1, 100):
            batch = [(row, 0xFFFFFFFF) for row in range(start, start + 100)]
            journal.confirm(batch, [f"{0x65F0 << 80 | row:024x}" for row, _ in batch])
    assert path.stat().st_size / rows < 50  # a million rows: under 50 MB on disk
    tracemalloc.start()
    try:
        loaded = Journal.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / rows < 50  # read line by line: a million rows load in under 50 MB
    assert loaded is not None
    assert loaded.ids.get(rows) == f"{0x65F0 << 80 | rows:024x}"

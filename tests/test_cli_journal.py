"""The import command's state journal, header check and refused key, through the real
console script against a FakeHellotracks served by the test's own event loop; and the
``fake-server`` capacity flags."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hellotracks_async.cli import build_parser, main
from hellotracks_async.cli.journal import Journal
from hellotracks_async.testing import FakeHellotracks

from ._cli import cli, env_for, write_csv


def _names(count: int, prefix: str = "Stop") -> list[list[str]]:
    return [[f"{prefix} {i}", str(i % 10)] for i in range(count)]


def _keys(fake: FakeHellotracks) -> Counter[str]:
    return Counter(job["uidSecondary"] for job in fake.jobs())


# -- the journal ------------------------------------------------------------------------


async def test_a_second_run_says_already_imported_and_new_run_makes_new_jobs(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], _names(250))
    env = env_for(fake_hellotracks)
    first = await cli("import", source, "--batch-size", "100", env=env)
    assert first.code == 0, first.err
    journal = Journal.load(tmp_path / "jobs.csv.htjournal")
    assert journal is not None
    assert journal.count == 250
    requests = fake_hellotracks.requests["createjobs"]

    again = await cli("import", source, "--batch-size", "100", env=env)

    assert again.code == 0, again.err
    assert again.out.startswith(f"{source}: already imported: all 250 rows")
    assert fake_hellotracks.requests["createjobs"] == requests  # nothing sent
    keys = _keys(fake_hellotracks)
    assert len(keys) == 250
    assert all(key.startswith(f"hta-{journal.header.run}-") for key in keys)

    fresh = await cli("import", source, "--new-run", env=env)

    assert fresh.code == 0, fresh.err
    assert fresh.out.startswith("created 250 of 250 jobs")
    assert "--new-run: its rows become new jobs" in fresh.err
    assert len(_keys(fake_hellotracks)) == 500


async def test_a_fixed_row_updates_its_job_and_never_duplicates(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    rows = _names(300)
    rows[7][1] = "high"  # invalid: fails, not sent
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], rows)
    env = env_for(fake_hellotracks)
    first = await cli("import", source, "--batch-size", "100", env=env)
    assert first.code == 1
    assert first.out.startswith("created 299 of 300 jobs, 1 failed")

    rows[7][1] = "3"  # the bad row fixed in place
    rows[20][0] = "Stop 20, corrected"  # a created row corrected in place
    write_csv(source, ["destinationName", "priority"], rows)
    second = await cli("import", source, "--batch-size", "100", env=env)

    assert second.code == 0, second.err
    assert second.out.startswith("created 2 of 2 jobs, 0 failed")
    assert second.out.rstrip().endswith("298 rows confirmed earlier, skipped")
    assert not (tmp_path / "jobs.failures.csv").exists()  # the earlier one is out of date
    names = Counter(job["destinationName"] for job in fake_hellotracks.jobs())
    assert names == Counter(row[0] for row in rows)
    assert len(_keys(fake_hellotracks)) == 300


async def test_a_torn_journal_line_is_tolerated(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], _names(300))
    env = env_for(fake_hellotracks)
    assert (await cli("import", source, "--batch-size", "100", env=env)).code == 0
    path = tmp_path / "jobs.csv.htjournal"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 25])  # a power cut in the middle of the last line

    again = await cli("import", source, "--batch-size", "100", env=env)

    assert again.code == 0, again.err
    assert again.out.startswith("created 100 of 100 jobs")  # the torn batch, sent again
    assert "200 rows confirmed earlier, skipped" in again.out
    assert len(fake_hellotracks.jobs()) == 300
    assert len(_keys(fake_hellotracks)) == 300
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert all(json.loads(line) for line in lines[:-1])  # the torn tail was cut off
    journal = Journal.load(path)
    assert journal is not None
    assert journal.count == 300


async def test_a_different_file_with_the_same_name_starts_a_new_run(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], _names(100))
    env = env_for(fake_hellotracks)
    assert (await cli("import", source, env=env)).code == 0

    write_csv(source, ["destinationName", "priority"], _names(100, prefix="Other"))
    second = await cli("import", source, env=env)

    assert second.code == 0, second.err
    assert "starting a new run" in second.err
    assert second.out.startswith("created 100 of 100 jobs")
    names = Counter(job["destinationName"] for job in fake_hellotracks.jobs())
    assert len(names) == 200  # the first file's jobs were not overwritten
    assert len(_keys(fake_hellotracks)) == 200


async def test_state_dir_keeps_the_journal_there(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "jobs.csv", ["destinationName"], [["A"], ["B"]])
    state = tmp_path / "state"
    state.mkdir()
    env = env_for(fake_hellotracks)
    run = await cli("import", source, "--state-dir", state, env=env)
    assert run.code == 0, run.err
    [journal] = state.iterdir()
    assert journal.name.startswith("jobs.csv-")
    assert journal.name.endswith(".htjournal")
    assert not (tmp_path / "jobs.csv.htjournal").exists()
    again = await cli("import", source, "--state-dir", state, env=env)
    assert "already imported" in again.out
    missing = await cli("import", source, "--state-dir", tmp_path / "nope", env=env)
    assert missing.code == 2
    assert "state folder does not exist" in missing.err


# -- the header check -------------------------------------------------------------------


async def test_a_header_typo_stops_the_import_before_anything_is_sent(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "jobs.csv",
        ["name", "notes", "day", "custom_PO"],
        [["Acme", "call first", "20261123", "PO-1"]],
    )
    env = env_for(fake_hellotracks)
    runs = [
        await cli("import", source, env=env),
        await cli("import", source, "--dry-run", env=env_for(None)),
    ]

    for run in runs:
        assert run.code == 2, run
        assert "unknown column 'name'; did you mean destinationName?" in run.err
        assert "unknown column 'notes'; did you mean textDispatcher?" in run.err
        assert "custom_PO" not in run.err
        assert "--allow-unknown-columns" in run.err
    assert sum(fake_hellotracks.requests.values()) == 0
    assert os.listdir(tmp_path) == ["jobs.csv"]

    allowed = await cli("import", source, "--allow-unknown-columns", env=env)

    assert allowed.code == 0, allowed.err
    [job] = fake_hellotracks.jobs()
    assert job["notes"] == "call first"  # sent as it is


async def test_jsonl_first_row_keys_are_checked_and_later_unknown_keys_fail_their_row(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    env = env_for(fake_hellotracks)
    typo = tmp_path / "typo.jsonl"
    typo.write_text('{"destination_lat": 1, "destinatonName": "A"}\n')
    stopped = await cli("import", typo, env=env)
    assert stopped.code == 2
    assert "unknown column 'destinatonName'; did you mean destinationName?" in stopped.err
    assert sum(fake_hellotracks.requests.values()) == 0

    later = tmp_path / "later.jsonl"
    later.write_text('{"destinationName": "A"}\n{"destinationName": "B", "colour": "red"}\n')
    run = await cli("import", later, env=env)
    assert run.code == 1
    assert "line 2: colour='red' is not a known field" in run.err
    assert [job["destinationName"] for job in fake_hellotracks.jobs()] == ["A"]


# -- a refused key ----------------------------------------------------------------------


async def test_a_wrong_key_stops_after_the_first_batches_with_exit_2(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], _names(5_000))
    async with FakeHellotracks(api_keys={"right-key": "acme"}) as fake:
        run = await cli(
            "import",
            source,
            "--batch-size",
            "100",
            "--concurrency",
            "4",
            env=env_for(fake) | {"HELLOTRACKS_API_KEY": "wrong-key-0123"},
        )
        requests = fake.requests["createjobs"]

    assert run.code == 2, run
    assert "refused the API key (HTTP 401)" in run.err
    read = re.search(r"stopped after reading ([\d,]+) rows", run.err)
    assert read is not None, run.err
    assert int(read[1].replace(",", "")) <= 5 * 100  # the window and one batch, not 5,000
    assert 1 <= requests <= 4  # at most the window was sent
    assert "wrong-key-0123" not in run.out + run.err
    assert not (tmp_path / "jobs.failures.csv").exists()


# -- fake-server flags ------------------------------------------------------------------


def test_fake_server_capacity_flags_reach_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def serve(**kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr("hellotracks_async.testing.serve", serve)
    argv = ["fake-server", "--port", "0", "--rtt-ms", "150", "--workers", "4"]
    argv += ["--per-request-ms", "20", "--per-job-ms", "0.5", "--rate", "20", "--burst", "5"]

    assert main(argv) == 0

    assert seen["rtt"] == pytest.approx(0.15)
    assert seen["per_request"] == pytest.approx(0.02)
    assert seen["per_job"] == pytest.approx(0.0005)
    assert (seen["workers"], seen["rate"], seen["burst"]) == (4, 20.0, 5.0)
    assert main(["fake-server", "--port", "0"]) == 0
    assert (seen["rtt"], seen["workers"], seen["rate"], seen["burst"]) == (0.0, None, None, None)


@pytest.mark.parametrize(
    "flags",
    [
        ["--rtt-ms", "-1"],
        ["--rtt-ms", "nan"],
        ["--workers", "0"],
        ["--per-request-ms", "x"],
        ["--per-job-ms", "inf"],
        ["--rate", "0"],
        ["--burst", "0.5", "--rate", "2"],
        ["--burst", "2"],  # without --rate
    ],
)
def test_fake_server_bad_capacity_values_are_usage_errors(
    flags: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def serve(**kwargs: Any) -> None:
        raise AssertionError("serve() must not run")

    monkeypatch.setattr("hellotracks_async.testing.serve", serve)
    assert main(["fake-server", *flags]) == 2
    assert capsys.readouterr().err.strip()


def test_import_flags_parse() -> None:
    args = build_parser().parse_args(
        ["import", "jobs.csv", "--state-dir", "/tmp", "--new-run", "--allow-unknown-columns"]
    )
    assert (str(args.state_dir), args.new_run, args.allow_unknown_columns) == ("/tmp", True, True)

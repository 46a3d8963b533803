"""The real ``hellotracks-async`` console script, run in a subprocess against a
FakeHellotracks served by the test's own event loop (so the loop keeps serving while the
command runs). Where only the exit code and the output matter (usage errors, empty
files), ``main()`` runs in a thread instead, sparing an interpreter start per case."""

from __future__ import annotations

import asyncio
import csv
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hellotracks_async import HellotracksClient, Job
from hellotracks_async.cli import build_parser, main
from hellotracks_async.testing import FakeHellotracks, Faults

from ._cli import SCRIPT, cli, env_for, write_csv
from ._helpers import local_server


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _by_name(fake: FakeHellotracks) -> dict[str, dict[str, Any]]:
    return {job["destinationName"]: job for job in fake.jobs()}


# -- import ------------------------------------------------------------------------------


async def test_csv_import_creates_jobs_with_typed_fields(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "jobs.csv",
        [
            "destination_name",
            "destinationLat",
            "destination_lng",
            "day",
            "priority",
            "window_start",
            "windowEnd",
            "customFields",
            "custom_Color",
            "worker",
            "type",
        ],
        [
            [
                "Acme HQ",
                "37.7749",
                "-122.4194",
                "2026-11-23",
                "7",
                "08:00",
                "1700",
                '[{"key": "PO_Number", "val": "PO-1"}]',
                "red",
                "jane@company.com",
                "1",
            ],
            ["Globex", "52.52", "13.405", "20261124", "", "", "", "", "", "", ""],
        ],
    )
    run = await cli("import", source, env=env_for(fake_hellotracks))

    assert run.code == 0, run.err
    assert run.out.startswith("created 2 of 2 jobs, 0 failed, 1 request, 0 retries")
    assert not (tmp_path / "jobs.failures.csv").exists()
    jobs = _by_name(fake_hellotracks)
    acme, globex = jobs["Acme HQ"], jobs["Globex"]
    assert (acme["destinationLat"], acme["destinationLng"]) == (37.7749, -122.4194)
    assert (acme["day"], acme["priority"], acme["type"]) == (20261123, 7, 1)
    assert (acme["windowStart"], acme["windowEnd"]) == (800, 1700)
    assert acme["worker"] == "jane@company.com"
    assert {"key": "PO_Number", "val": "PO-1"} in acme["customFields"]
    assert {"key": "Color", "val": "red"} in acme["customFields"]  # custom_Color passed on
    assert globex["day"] == 20261124
    assert globex["priority"] == 5  # the empty cell was not sent: the server's default
    assert "worker" not in globex
    assert all(job["uidSecondary"].startswith("hta-") for job in jobs.values())


async def test_jsonl_import(fake_hellotracks: FakeHellotracks, tmp_path: Path) -> None:
    source = tmp_path / "jobs.jsonl"
    lines = [
        {
            "destinationName": "A",
            "day": 20261123,
            "customFields": [{"key": "Department", "val": "IT"}],
        },
        {"destination_name": "B", "priority": "9", "uid_secondary": "EXT-B"},
    ]
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")

    run = await cli("import", source, "--batch-size", "1", env=env_for(fake_hellotracks))

    assert run.code == 0, run.err
    assert "created 2 of 2 jobs, 0 failed, 2 requests" in run.out
    jobs = _by_name(fake_hellotracks)
    assert jobs["A"]["customFields"] == [{"key": "Department", "val": "IT"}]
    assert jobs["B"]["priority"] == 9
    assert jobs["B"]["uidSecondary"] == "EXT-B"  # a caller's key is kept


async def test_edit_by_id_and_an_unknown_id_fails_alone(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    async with HellotracksClient(
        api_key=fake_hellotracks.api_key, base_url=fake_hellotracks.base_url
    ) as client:
        created = await client.create_jobs([Job(destination_name=f"J{i}") for i in range(5)])
    ids = [job.id or "" for job in created.jobs]
    source = write_csv(
        tmp_path / "edits.csv",
        ["id", "priority", "worker"],
        [*([job_id, "9", "sam@company.com"] for job_id in ids), ["no-such-id", "1", ""]],
    )

    run = await cli("import", source, "--edit", env=env_for(fake_hellotracks))

    assert run.code == 1
    assert run.out.startswith("edited 5 of 6 jobs, 1 failed")
    stored = {job["id"]: job for job in fake_hellotracks.jobs()}
    assert all(stored[i]["priority"] == 9 for i in ids)
    assert all(stored[i]["worker"] == "sam@company.com" for i in ids)
    [failed] = _read_csv(tmp_path / "edits.failures.csv")
    assert (failed["id"], failed["priority"]) == ("no-such-id", "1")
    assert failed["error"].startswith("line 7: APIError")
    assert "unknown job id" in failed["error"]


async def test_dry_run_sends_nothing_and_names_bad_lines(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "jobs.csv",
        ["destinationName", "destinationLat", "day"],
        [["A", "37.5", "20261123"], ["B", "91", "20261123"], ["C", "1", "20261340"]],
    )
    no_key = env_for(None)

    run = await cli("import", source, "--dry-run", env=no_key)

    assert run.code == 1
    assert "line 3: destinationLat=91.0 must be within [-90, 90]" in run.err
    assert "line 4: day=20261340 is not a real date" in run.err
    assert run.out.strip() == "checked 3 rows: 1 valid, 2 invalid (dry run, nothing sent)"
    assert sum(fake_hellotracks.requests.values()) == 0
    assert not (tmp_path / "jobs.failures.csv").exists()

    valid = write_csv(tmp_path / "ok.csv", ["destinationName"], [["A"], ["B"]])
    assert (await cli("import", valid, "--dry-run", env=no_key)).code == 0
    assert sum(fake_hellotracks.requests.values()) == 0


async def test_bad_lines_fail_by_line_number_and_the_rest_is_created(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = tmp_path / "jobs.jsonl"
    source.write_text(
        '{"destinationName": "A"}\n'
        '{"destinationName": "B", oops}\n'
        '{"destinationName": "C", "priority": "high"}\n'
        "\n"
        '["not", "an", "object"]\n'
        '{"destinationName": "D"}\n'
    )

    run = await cli("import", source, env=env_for(fake_hellotracks))

    assert run.code == 1
    assert run.out.startswith("created 2 of 5 jobs, 3 failed")
    assert "failures written to" in run.out
    assert "line 2: not valid JSON (unexpected character" in run.err
    assert "line 1 column" not in run.err  # the JSON error's own line is not named
    assert "line 3: priority='high' is not a whole number" in run.err
    assert "line 5: not a JSON object" in run.err
    assert sorted(_by_name(fake_hellotracks)) == ["A", "D"]
    failures = [
        json.loads(line) for line in (tmp_path / "jobs.failures.jsonl").read_text().splitlines()
    ]
    assert [f["error"].split(":")[0] for f in failures] == ["line 2", "line 3", "line 5"]
    assert failures[1] == {
        "destinationName": "C",
        "priority": "high",
        "error": failures[1]["error"],
    }


async def test_failures_file_fed_back_completes_without_duplicates(tmp_path: Path) -> None:
    names = [f"Stop {i:03d}" for i in range(100)]
    source = write_csv(
        tmp_path / "jobs.csv", ["destination_name", "day"], [[name, "20261123"] for name in names]
    )
    # Half the requests fail: "500" applies nothing, "commit_then_drop" applies the jobs
    # and then drops the connection. No retries, so the failures file gets both kinds.
    faults = Faults(rate=0.5, kinds=("500", "commit_then_drop"), seed=11)
    async with FakeHellotracks(faults=faults) as fake:
        first = await cli(
            "import", source, "--batch-size", "10", "--max-retries", "0", env=env_for(fake)
        )
        assert first.code == 1
        assert fake.injected["500"] >= 1
        assert fake.injected["commit_then_drop"] >= 1
        failures = _read_csv(tmp_path / "jobs.failures.csv")
        assert len(failures) == 10 * sum(fake.injected.values())
        assert all(row["uidSecondary"].startswith("hta-") for row in failures)
        assert all(row["error"].startswith("line ") for row in failures)
        # The dropped answers' jobs are on the server already.
        assert len(fake.jobs()) > 100 - len(failures)

        fake.faults = None
        second = await cli(
            "import", tmp_path / "jobs.failures.csv", "--batch-size", "10", env=env_for(fake)
        )

        assert second.code == 0, second.err
        assert second.out.startswith(f"created {len(failures)} of {len(failures)} jobs")
        stored = fake.jobs()
        assert Counter(job["destinationName"] for job in stored) == Counter(names)
        assert len({job["uidSecondary"] for job in stored}) == 100
        assert not any("error" in job for job in stored)  # the error column is not sent


def _environ_for(monkeypatch: pytest.MonkeyPatch, fake: FakeHellotracks) -> None:
    """This process's environment as env_for(fake) gives it to the console script."""
    for name in [name for name in os.environ if name.startswith("HELLOTRACKS_")]:
        monkeypatch.delenv(name)
    for name, value in env_for(fake).items():
        if name.startswith("HELLOTRACKS_"):
            monkeypatch.setenv(name, value)


async def test_usage_and_configuration_errors_exit_2(
    fake_hellotracks: FakeHellotracks,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # main() in a thread, as the console script runs it (its asyncio.run beside the loop
    # serving the fake): one interpreter start saved per case. The no-key case runs the
    # real script, for its exit code.
    _environ_for(monkeypatch, fake_hellotracks)
    csv_file = write_csv(tmp_path / "jobs.csv", ["destinationName"], [["A"]])
    (tmp_path / "jobs.xlsx").write_text("")
    cases = [
        (),
        ("import",),
        ("import", tmp_path / "missing.csv"),
        ("import", tmp_path / "jobs.xlsx"),
        ("import", csv_file, "--batch-size", "0"),
        ("import", csv_file, "--edit"),  # no id column
        ("import", csv_file, "--failures", csv_file),
        ("import", csv_file, "--base-url", "http://api.example.com/api/"),
        ("demo", "--fault-rate", "2"),
    ]
    for args in cases:
        code = await asyncio.to_thread(main, [str(arg) for arg in args])
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        assert err.strip(), args
    no_key = await cli("import", csv_file, env=env_for(None))
    assert no_key.code == 2
    assert "no API key" in no_key.err
    assert sum(fake_hellotracks.requests.values()) == 0


async def test_the_api_key_is_never_printed(tmp_path: Path) -> None:
    secret = "s3cret-4b1c9e7d"
    wrong = "wr0ng-9f8e7d6c"
    source = write_csv(tmp_path / "jobs.csv", ["destinationName"], [["A"], ["B"], ["C"]])
    faults = Faults(rate=0.5, kinds=("429",), seed=3, retry_after=0.01)
    async with FakeHellotracks(api_keys={secret: "acme"}, faults=faults) as fake:
        ok = await cli("-v", "import", source, "--batch-size", "1", env=env_for(fake))
        key_file = tmp_path / "key.txt"
        key_file.write_text(wrong + "\n")
        refused = await cli(
            "-v",
            "import",
            source,
            "--api-key-file",
            key_file,
            "--new-run",
            env=env_for(fake) | {"HELLOTRACKS_API_KEY": secret},
        )

    assert ok.code == 0, ok.err
    assert "retrying" in ok.err  # the INFO retry lines were printed
    assert refused.code == 2
    assert "refused the API key" in refused.err
    assert not (tmp_path / "jobs.failures.csv").exists()
    printed = ok.out + ok.err + refused.out + refused.err
    printed += (tmp_path / "jobs.csv.htjournal").read_text()
    assert secret not in printed
    assert wrong not in printed


async def test_verbose_after_the_subcommand_logs_retries(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "jobs.csv", ["destinationName"], [["A"], ["B"], ["C"]])
    faults = Faults(rate=0.5, kinds=("429",), seed=3, retry_after=0.01)
    async with FakeHellotracks(faults=faults) as fake:
        run = await cli("import", source, "--batch-size", "1", "-v", env=env_for(fake))

    assert run.code == 0, run.err
    assert "retrying" in run.err
    assert run.out.startswith("created 3 of 3 jobs")


async def test_a_file_without_rows_says_so_and_exits_0(
    fake_hellotracks: FakeHellotracks,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _environ_for(monkeypatch, fake_hellotracks)  # main() in a thread, as the script runs it
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("destinationName,day\n")
    (tmp_path / "blank.jsonl").write_text("\n\n")
    cases = [
        ("import", tmp_path / "empty.csv"),
        ("import", tmp_path / "header.csv"),
        ("import", tmp_path / "blank.jsonl"),
        ("import", tmp_path / "empty.csv", "--dry-run"),
    ]
    runs = []
    for args in cases:
        code = await asyncio.to_thread(main, [str(arg) for arg in args])
        runs.append((code, capsys.readouterr().out))

    for args, run in zip(cases, runs, strict=True):
        assert run == (0, f"{args[1]}: no rows to import\n"), (args, run)
    assert sum(fake_hellotracks.requests.values()) == 0
    assert sorted(os.listdir(tmp_path)) == ["blank.jsonl", "empty.csv", "header.csv"]


def _drain(fd: int) -> bytes:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child and its copies of the terminal are gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


async def test_the_import_bar_counts_bytes_of_the_file_size(
    fake_hellotracks: FakeHellotracks, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "jobs.csv", ["destinationName"], [[f"Stop {i}"] for i in range(50)]
    )
    terminal, child_end = os.openpty()  # stderr is a terminal: the bar is drawn
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        process = await asyncio.create_subprocess_exec(
            SCRIPT,
            "import",
            source,
            "--batch-size",
            "10",
            stdout=asyncio.subprocess.PIPE,
            stderr=child_end,
            env=env_for(fake_hellotracks),
        )
    finally:
        os.close(child_end)
    try:
        drained = asyncio.create_task(asyncio.to_thread(_drain, terminal))
        out, _ = await asyncio.wait_for(process.communicate(), timeout=120)  # a safety net
        bar = (await drained).decode(errors="replace")
    finally:
        os.close(terminal)

    assert process.returncode == 0, bar
    assert out.decode().startswith("created 50 of 50 jobs")
    last = bar.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("create: 100%"), last
    size = source.stat().st_size
    assert f"{size}/{size}" in last.replace(" ", "")  # bytes read of the file size
    assert "B/s" in last
    assert "jobs=50" in last


async def test_fake_server_command_serves_imports_until_interrupted(tmp_path: Path) -> None:
    server = await asyncio.create_subprocess_exec(
        SCRIPT,
        "fake-server",
        "--port",
        "0",
        "--fault-rate",
        "0.2",
        "--seed",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(None),
    )
    try:
        assert server.stdout is not None
        banner: list[str] = []
        while not banner or not banner[-1].startswith("Press Ctrl+C"):
            line = await asyncio.wait_for(server.stdout.readline(), timeout=60)
            assert line, "fake-server exited early"
            banner.append(line.decode().strip())
        base_url = banner[0].rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        source = write_csv(tmp_path / "jobs.csv", ["destinationName"], [["A"], ["B"]])
        env = env_for(None, HELLOTRACKS_API_KEY="test-key", HELLOTRACKS_BASE_URL=base_url)

        run = await cli("import", source, "--batch-size", "1", env=env)

        assert run.code == 0, run.err
        assert run.out.startswith("created 2 of 2 jobs")
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(server.wait(), timeout=60)
    assert code == 0


async def test_fake_server_no_store_answers_creates_but_keeps_no_job() -> None:
    server = await asyncio.create_subprocess_exec(
        SCRIPT,
        "fake-server",
        "--port",
        "0",
        "--no-store",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(None),
    )
    try:
        assert server.stdout is not None
        banner: list[str] = []
        while not banner or not banner[-1].startswith("Press Ctrl+C"):
            line = await asyncio.wait_for(server.stdout.readline(), timeout=60)
            assert line, "fake-server exited early"
            banner.append(line.decode().strip())
        assert any(line.startswith("Keeping no job") for line in banner), banner
        base_url = banner[0].rsplit(" ", 1)[-1]
        async with HellotracksClient("test-key", base_url=base_url) as client:
            created = await client.create_jobs([Job(destination_name="A"), Job(priority=9)])
            assert [job.priority for job in created.jobs] == [5, 9]
            assert len({job.id for job in created.jobs}) == 2
            assert created.jobs[0].id is not None
            edited = await client.edit_jobs(
                {created.jobs[0].id: {"priority": 1}}, raise_on_error=False
            )
        assert (edited.succeeded, edited.failed) == (0, 1)  # the job was not kept
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(server.wait(), timeout=60)
    assert code == 0


# -- in-process details ---------------------------------------------------------------------


def test_main_returns_exit_codes_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["no-such-command"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_verbose_is_accepted_before_and_after_the_subcommand() -> None:
    parser = build_parser()
    for argv in (
        ["-v", "import", "jobs.csv"],
        ["import", "jobs.csv", "-v"],
        ["import", "--verbose", "jobs.csv"],
        ["fake-server", "-v"],
        ["demo", "-v"],
    ):
        assert parser.parse_args(argv).verbose is True, argv
    assert parser.parse_args(["import", "jobs.csv"]).verbose is False


def test_importing_the_package_loads_neither_the_cli_nor_tqdm() -> None:
    code = (
        "import sys, hellotracks_async, hellotracks_async.testing\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tqdm'"
        " or m.split('.')[:2] == ['hellotracks_async', 'cli']))\n"
    )
    env = env_for(None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
    # The probe itself works: the CLI does load both.
    probe = code.replace("hellotracks_async.testing\n", "hellotracks_async.cli\n")
    loaded = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert "'tqdm'" in loaded.stdout
    assert "'hellotracks_async.cli.commands'" in loaded.stdout


async def test_an_echoed_key_never_reaches_the_failures_file(tmp_path: Path) -> None:
    """A server that echoes the request headers in a malformed success answer: the
    rows fail, and neither the output nor the failures file holds the key."""
    secret = "s3cret-echoed-77aa"

    async def echo_headers(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": 0, "jobs": "none", "echo": dict(request.headers)})

    app = web.Application()
    app.router.add_post("/api/{endpoint}", echo_headers)
    source = write_csv(tmp_path / "jobs.csv", ["destinationName"], [["A"], ["B"]])
    async with local_server(app) as url:
        env = env_for(None, HELLOTRACKS_API_KEY=secret, HELLOTRACKS_BASE_URL=url)
        run = await cli("-v", "import", source, env=env)
    failures = tmp_path / "jobs.failures.csv"
    assert run.code == 1, run.err
    assert "***" in failures.read_text()  # the excerpt is there, redacted
    assert secret not in run.out + run.err + failures.read_text()

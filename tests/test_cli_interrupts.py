"""Interrupted imports: ``kill -9``, SIGINT and SIGTERM at random points of a real
``hellotracks-async import`` subprocess against a faulty FakeHellotracks owned by the
test, each followed by the same command: exactly one job per row, and a re-run sends
only the rows not confirmed.

The kill points are reached by polling the fake's request counter (the fake serves in
this test's event loop), never by sleeping for a fixed time."""

from __future__ import annotations

import asyncio
import random
import re
import signal
from collections import Counter
from pathlib import Path

import pytest

from hellotracks_async.testing import FakeHellotracks, Faults

from ._cli import SCRIPT, Run, env_for, write_csv

#: Faults that cost no sleep on the server (no "slow"; 429s are retried after 10 ms).
_QUICK_FAULTS = ("429", "500", "502", "503", "reset", "commit_then_drop")


def _faults(seed: int) -> Faults:
    return Faults(rate=0.05, kinds=_QUICK_FAULTS, seed=seed)


def _rows(count: int) -> list[list[str]]:
    return [[f"Stop {i}", str(i % 10)] for i in range(count)]


async def _spawn(source: Path, fake: FakeHellotracks, *flags: str) -> asyncio.subprocess.Process:
    """``hellotracks-async import SOURCE`` against ``fake``, its output piped."""
    return await asyncio.create_subprocess_exec(
        SCRIPT,
        "import",
        str(source),
        "--no-progress",
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(fake),
    )


class _Import:
    """One ``hellotracks-async import`` subprocess."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.exited = asyncio.ensure_future(process.communicate())

    @classmethod
    async def start(cls, source: Path, fake: FakeHellotracks, *flags: str) -> _Import:
        return cls(await _spawn(source, fake, *flags))

    async def requests_reach(self, fake: FakeHellotracks, count: int) -> None:
        """Wait until the fake has seen ``count`` createjobs requests (polling)."""
        while fake.requests["createjobs"] < count:
            assert not self.exited.done(), "the import ended before the kill point"
            await asyncio.sleep(0.002)

    async def result(self) -> Run:
        # A safety net against a hung child, not a timing assertion.
        out, err = await asyncio.wait_for(self.exited, timeout=120)
        assert self.process.returncode is not None
        return Run(self.process.returncode, out.decode(), err.decode())


def _check_one_job_per_row(fake: FakeHellotracks, rows: list[list[str]]) -> None:
    jobs = fake.jobs()
    assert len(jobs) == len(rows)
    assert len({job["uidSecondary"] for job in jobs}) == len(rows)
    assert Counter(job["destinationName"] for job in jobs) == Counter(row[0] for row in rows)


@pytest.mark.slow
async def test_kill_9_at_five_random_points_then_the_same_command(tmp_path: Path) -> None:
    rows = _rows(50_000)
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], rows)
    flags = ("--batch-size", "500", "--concurrency", "4")
    chooser = random.Random(20261129)
    points = sorted(chooser.sample(range(5, 90), 5))  # createjobs requests, of about 100
    async with FakeHellotracks(faults=_faults(5)) as fake:
        for point in points:
            run = await _Import.start(source, fake, *flags)
            await run.requests_reach(fake, max(point, fake.requests["createjobs"] + 1))
            run.process.kill()
            assert (await run.result()).code == -signal.SIGKILL

        last = await (await _Import.start(source, fake, *flags)).result()

        assert last.code == 0, last
        await fake.settle()
        _check_one_job_per_row(fake, rows)
        # 100 batches, plus at most the window (4 requests) again per kill, plus one
        # short batch per run, plus one retry per injected fault: never the whole file.
        bound = 100 + 5 * 4 + 6 + sum(fake.injected.values())
        assert fake.requests["createjobs"] <= bound
    assert re.search(r"[\d,]+ rows confirmed earlier, skipped", last.out), last.out


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_ctrl_c_and_sigterm_finish_in_flight_and_exit_130(
    signum: signal.Signals, tmp_path: Path
) -> None:
    rows = _rows(5_000)
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], rows)
    flags = ("--batch-size", "100", "--concurrency", "4")
    async with FakeHellotracks(faults=_faults(int(signum))) as fake:
        run = await _Import.start(source, fake, *flags)
        await run.requests_reach(fake, 12)
        # The rest (some 38 batches) now takes seconds; the batches in flight finish.
        fake.latency = 0.2
        run.process.send_signal(signum)
        stopped = await run.result()

        assert stopped.code == 130, stopped
        line = re.fullmatch(
            r"interrupted after ([\d,]+) of 5,000 rows; run the same command to finish\n",
            stopped.out,
        )
        assert line is not None, stopped.out
        assert "stopping: finishing the requests in flight" in stopped.err
        done = int(line[1].replace(",", ""))
        assert 1_000 <= done < 5_000
        assert not (tmp_path / "jobs.failures.csv").exists()
        await fake.settle()
        assert len(fake.jobs()) == done  # every confirmed row is on the server, no more

        fake.latency = 0.0
        again = await (await _Import.start(source, fake, *flags)).result()

        assert again.code == 0, again
        assert again.out.startswith(f"created {5_000 - done:,} of {5_000 - done:,} jobs")
        assert f"{done:,} rows confirmed earlier, skipped" in again.out
        _check_one_job_per_row(fake, rows)


@pytest.mark.slow
async def test_a_rerun_after_a_kill_at_half_sends_only_unconfirmed_rows(tmp_path: Path) -> None:
    rows = _rows(10_000)
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], rows)
    flags = ("--batch-size", "100", "--concurrency", "4")
    window = 4 * 100
    async with FakeHellotracks(faults=_faults(50)) as fake:
        run = await _Import.start(source, fake, *flags)
        await run.requests_reach(fake, 50)
        run.process.kill()
        assert (await run.result()).code == -signal.SIGKILL
        await fake.settle()
        before = {job["uidSecondary"]: job["tsSaved"] for job in fake.jobs()}
        assert 0.35 <= len(before) / len(rows) <= 0.75

        again = await (await _Import.start(source, fake, *flags)).result()

        assert again.code == 0, again
        _check_one_job_per_row(fake, rows)
        after = {job["uidSecondary"]: job["tsSaved"] for job in fake.jobs()}
    sent = re.match(r"created ([\d,]+) of ([\d,]+) jobs", again.out)
    assert sent is not None, again.out
    resent = sum(after[key] != saved for key, saved in before.items())  # upserted again
    new = len(rows) - len(before)
    assert int(sent[2].replace(",", "")) == new + resent
    assert resent <= window  # at most the batches in flight at the kill


async def test_a_second_ctrl_c_aborts_at_once_and_the_same_command_still_finishes(
    tmp_path: Path,
) -> None:
    rows = _rows(3_000)
    source = write_csv(tmp_path / "jobs.csv", ["destinationName", "priority"], rows)
    flags = ("--batch-size", "100", "--concurrency", "4")
    async with FakeHellotracks() as fake:
        process = await _spawn(source, fake, *flags)
        assert process.stdout is not None
        assert process.stderr is not None
        while fake.requests["createjobs"] < 6:
            assert process.returncode is None, "the import ended before the kill point"
            await asyncio.sleep(0.002)
        fake.latency = 0.5  # the batches in flight now hang a while
        process.send_signal(signal.SIGINT)
        # A safety net against a hung child, not a timing assertion.
        said = await asyncio.wait_for(process.stderr.readline(), timeout=60)
        assert said.startswith(b"stopping: finishing the requests in flight")
        process.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)

        assert process.returncode == 130
        assert re.fullmatch(
            rb"aborted after [\d,]+ of 3,000 rows; run the same command to finish\n", out
        ), out
        await fake.settle()
        fake.latency = 0.0
        again = await (await _Import.start(source, fake, *flags)).result()

        assert again.code == 0, again
        _check_one_job_per_row(fake, rows)

"""The demo (hellotracks_async.cli.demo): in-process with exact counts, and once through
the real console script."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from hellotracks_async.cli.demo import DemoReport, run_demo

from ._cli import ROOT


async def test_run_demo_loses_nothing_and_duplicates_nothing_under_faults() -> None:
    report = await run_demo(jobs=500, fault_rate=0.2, seed=5)

    assert report.verified, report.lines()
    assert report.failed == 0
    assert (report.created, report.edited) == (500, 500)
    assert (report.stored, report.distinct_keys, report.edits_applied) == (500, 500, 500)
    injected = sum(report.faults.values())
    assert injected > 0
    assert report.retries >= injected  # every fault cost an attempt that was retried
    assert report.requests >= 10 + injected  # 5 creates + 5 edits of 100, and the retries
    assert report.lines()[-1].startswith(
        "nothing lost, no duplicates: 500 jobs on the server, 500 distinct uidSecondary"
    )


async def test_progress_reports_both_phases() -> None:
    seen: dict[str, int] = {}

    def progress(phase: str, totals: object) -> None:
        seen[phase] = seen.get(phase, 0) + 1

    report = await run_demo(jobs=250, fault_rate=0.0, progress=progress)

    assert report.verified
    assert seen == {"create": 3, "edit": 3}


def test_an_unverified_report_says_so() -> None:
    report = DemoReport(
        jobs=3,
        created=3,
        edited=3,
        failed=0,
        requests=2,
        retries=0,
        faults={},
        stored=4,
        distinct_keys=3,
        edits_applied=3,
        create_seconds=0.1,
        edit_seconds=0.1,
    )
    assert not report.verified
    assert report.lines()[-1].startswith("VERIFICATION FAILED: expected 3 jobs")


async def test_demo_command_exits_0_with_the_summary() -> None:
    script = Path(sys.executable).with_name("hellotracks-async")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTRACKS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    process = await asyncio.create_subprocess_exec(
        str(script),
        "demo",
        "--jobs",
        "300",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)  # a safety net

    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0].startswith("hellotracks-async demo: 300 jobs")
    assert lines[1].startswith("created 300 jobs in ")
    assert "faults injected: 429:" in lines[2]
    assert lines[3] == (
        "nothing lost, no duplicates: 300 jobs on the server, 300 distinct uidSecondary, "
        "300 edits applied"
    )

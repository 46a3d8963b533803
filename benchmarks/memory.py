"""Memory benchmark: peak RSS of a client streaming many jobs through ``stream_create_jobs``.

Each size runs in a fresh child process (``python -m benchmarks.memory --jobs N ...``)
that generates minimal jobs lazily, streams them with the SDK's defaults, keeps only a
count of what succeeded and prints one JSON line with its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, cross-checked with ``VmHWM`` of
``/proc/self/status``), its peak RSS before streaming, and its wall and CPU time. The
server runs in yet another process (see :mod:`benchmarks._server`).

The child is started through ``/bin/sh``, which forks it: on Linux a process started
straight from a large parent (``vfork`` + ``exec``) reports the parent's peak RSS as its
own ``ru_maxrss``, which would hide the child's own figure.

Example::

    with ServerProcess() as server:
        print(measure(server, sizes=(100_000, 1_000_000)))
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from ._server import ServerProcess

__all__ = ["measure", "stream"]

_ROOT: Final = Path(__file__).resolve().parents[1]


def _peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round((kib / 1024 if sys.platform != "darwin" else kib / 2**20), 1)


def _vm_hwm_mib() -> float:
    """The peak RSS of this process's memory map (Linux ``VmHWM``), or NaN elsewhere."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def stream(base_url: str, api_key: str, jobs: int) -> dict[str, Any]:
    """Stream ``jobs`` generated minimal jobs; return counts, peak RSS and times."""
    from hellotracks_async import HellotracksClient

    from . import shapes

    before = _peak_rss_mib()
    succeeded = failed = 0
    cpu, wall = time.process_time(), time.perf_counter()
    async with HellotracksClient(api_key, base_url=base_url) as client:
        outcomes = client.stream_create_jobs(shapes.jobs("minimal", jobs))
        async with contextlib.aclosing(outcomes):
            async for outcome in outcomes:
                succeeded += len(outcome.jobs)
                failed += sum(len(failure.indices) for failure in outcome.failures)
    return {
        "jobs": jobs,
        "succeeded": succeeded,
        "failed": failed,
        "rss_before_mib": before,
        "peak_rss_mib": _peak_rss_mib(),
        "vm_hwm_mib": _vm_hwm_mib(),
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }


def _run_child(server: ServerProcess, jobs: int) -> dict[str, Any]:
    command = [
        "/bin/sh",
        "-c",
        '"$@"; exit $?',  # not the last command, so sh forks it instead of exec-ing
        "sh",
        sys.executable,
        "-m",
        "benchmarks.memory",
        "--jobs",
        str(jobs),
        "--base-url",
        server.base_url,
        "--api-key",
        server.api_key,
    ]
    done = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True, check=True)
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if report["succeeded"] != jobs:
        raise RuntimeError(f"memory run: {report['succeeded']} of {jobs} jobs succeeded")
    return report


def measure(server: ServerProcess, *, sizes: Iterable[int]) -> dict[str, Any]:
    """Run each size in its own child; the runs and the largest/smallest peak ratio."""
    runs = [_run_child(server, jobs) for jobs in sizes]
    smallest = min(runs, key=lambda run: run["jobs"])
    largest = max(runs, key=lambda run: run["jobs"])
    for run in runs:
        run["jobs_per_s"] = round(run["jobs"] / run["wall_s"], 1)
    return {
        "runs": runs,
        "peak_ratio": round(largest["peak_rss_mib"] / smallest["peak_rss_mib"], 3),
        "largest": largest["jobs"],
        "smallest": smallest["jobs"],
    }


def main() -> None:
    """Entry point of the child: stream, then print the report as one JSON line."""
    parser = argparse.ArgumentParser(description="Stream jobs; print peak RSS as JSON.")
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    report = asyncio.run(stream(args.base_url, args.api_key, args.jobs))
    print(json.dumps(report))


if __name__ == "__main__":
    main()

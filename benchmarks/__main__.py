"""``python -m benchmarks`` (``make bench``): run everything, print tables, write JSON.

Starts FakeHellotracks (no faults) in a child process, then measures throughput (SDK,
raw aiohttp, naive loop; two job shapes), structuring, memory (each size in a fresh
client process), event-loop stalls, and end-to-end runs against three modelled servers'
limits (a second fake process, storing jobs, with a capacity), checks the targets,
prints the tables and writes the same data to ``benchmarks/results/latest.json``.
``--profile`` also writes a pyinstrument (or cProfile) report of one SDK run per shape to
``benchmarks/results/``.

Example::

    python -m benchmarks --jobs 5000 --skip-memory
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

from . import limits, loop, memory, profiling, structuring, throughput
from ._server import ServerProcess
from .report import check_targets, render

_RESULTS: Final = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per throughput run")
    parser.add_argument("--naive-jobs", type=int, default=1000, help="jobs of the naive loop")
    parser.add_argument("--batch-size", type=int, default=100, help="SDK and raw batch size")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (best of)")
    parser.add_argument(
        "--memory-jobs",
        type=int,
        default=1_000_000,
        help="jobs of the large memory run (the small one streams a tenth)",
    )
    parser.add_argument("--skip-memory", action="store_true", help="no memory benchmark")
    parser.add_argument(
        "--structuring-jobs", type=int, default=20_000, help="jobs of the structuring runs"
    )
    parser.add_argument("--skip-structuring", action="store_true", help="no structuring runs")
    parser.add_argument("--skip-loop", action="store_true", help="no event-loop stall runs")
    parser.add_argument(
        "--loop-jobs", type=int, default=100_000, help="full jobs of the event-loop stall run"
    )
    parser.add_argument(
        "--loop-large-jobs",
        type=int,
        default=1_000_000,
        help="entries of the large list whose validation and chunking must yield",
    )
    parser.add_argument(
        "--loop-sent-jobs",
        type=int,
        default=20_000,
        help="jobs created before the large-list run is cancelled",
    )
    parser.add_argument("--skip-limits", action="store_true", help="no runs against limits")
    parser.add_argument(
        "--limits-scale",
        type=float,
        default=1.0,
        help="multiply the profiles' jobs and durations (divide the rate) by this",
    )
    parser.add_argument(
        "--limits-budget",
        type=float,
        default=12.0,
        help="seconds a fixed-window run may take before it runs on fewer jobs",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one SDK run per shape into benchmarks/results/profile-*.txt",
    )
    parser.add_argument(
        "--output", type=Path, default=_RESULTS / "latest.json", help="where to write the JSON"
    )
    return parser


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
        "python": f"Python {platform.python_version()}",
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_before": _load(),
        "jobs": args.jobs,
        "naive_jobs": min(args.naive_jobs, args.jobs),
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "repeats": args.repeats,
        "structuring_jobs": args.structuring_jobs,
        "structuring_repeats": 5,
        "memory_jobs": None if args.skip_memory else args.memory_jobs,
        "server_store_jobs": False,
        "loop_jobs": None if args.skip_loop else args.loop_jobs,
        "loop_large_jobs": None if args.skip_loop else args.loop_large_jobs,
        "limits_scale": None if args.skip_limits else args.limits_scale,
        "limits_budget_s": None if args.skip_limits else args.limits_budget,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmarks ``args`` ask for; return the report (also written as JSON)."""
    started = time.perf_counter()
    report: dict[str, Any] = {"meta": _meta(args)}
    with ServerProcess(store_jobs=False) as server:
        print(f"FakeHellotracks at {server.base_url} (pid {server.pid})", file=sys.stderr)
        print("throughput ...", file=sys.stderr)
        report["throughput"] = asyncio.run(
            throughput.measure(
                server,
                jobs=args.jobs,
                naive_jobs=args.naive_jobs,
                batch_size=args.batch_size,
                concurrency=args.concurrency,
                repeats=args.repeats,
            )
        )
        if not args.skip_structuring:
            print("structuring ...", file=sys.stderr)
            report["structuring"] = structuring.measure(
                count=args.structuring_jobs, repeats=report["meta"]["structuring_repeats"]
            )
        if not args.skip_memory:
            print("memory ...", file=sys.stderr)
            sizes = (max(1, args.memory_jobs // 10), args.memory_jobs)
            report["memory"] = memory.measure(server, sizes=sizes)
        if args.profile:
            print("profile ...", file=sys.stderr)
            paths = profiling.profile(
                server,
                jobs=args.jobs,
                out_dir=args.output.parent,
                batch_size=args.batch_size,
                concurrency=args.concurrency,
            )
            report["profiles"] = [str(path) for path in paths]
        if not args.skip_loop:
            print("event loop ...", file=sys.stderr)
            report["loop"] = asyncio.run(
                loop.measure(
                    server,
                    jobs=args.loop_jobs,
                    large_jobs=args.loop_large_jobs,
                    sent_jobs=args.loop_sent_jobs,
                )
            )
        report["server"] = {"peak_rss_mib": server.peak_rss_mib()}
    if not args.skip_limits:
        print("limits ...", file=sys.stderr)
        profiles = tuple(profile.scaled(args.limits_scale) for profile in limits.PROFILES)
        with ServerProcess(store_jobs=True) as server:
            report["limits"] = asyncio.run(
                limits.measure(
                    server, profiles=profiles, batch=args.batch_size, budget=args.limits_budget
                )
            )
    report["targets"] = check_targets(report)
    report["meta"]["load_after"] = _load()
    report["meta"]["total_wall_s"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 0 (targets are reported, not enforced)."""
    args = _parser().parse_args(argv)
    report = run(args)
    print(render(report))
    print(f"\nwritten to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The targets of the issue, checked on a report, and the report as plain-text tables.

Example::

    >>> memory = {"peak_ratio": 1.01, "largest": 1_000_000, "smallest": 100_000}
    >>> check_targets({"throughput": {}, "memory": memory})[0]["met"]
    True
"""

from __future__ import annotations

from typing import Any, Final

from . import limits, loop
from ._targets import target

__all__ = ["TARGETS", "check_targets", "render"]

#: The CPU budget: SDK client CPU per job, GC included, in microseconds (issue 20's,
#: down from issue 10's 100 / 25).
CPU_BUDGET_US: Final = {"full": 45.0, "minimal": 12.0}
#: (name, where in the report, limit, "max" or "min") of the earlier, informational
#: targets (superseded by the CPU budget; still reported).
TARGETS: Final = (
    ("SDK/raw client CPU per job, minimal", ("minimal", "sdk_raw_cpu_per_job"), 3.0, "max"),
    ("SDK/raw client CPU per job, full", ("full", "sdk_raw_cpu_per_job"), 3.0, "max"),
    ("SDK/naive jobs/s, minimal", ("minimal", "sdk_naive_jobs_per_s"), 30.0, "min"),
    ("SDK/naive jobs/s, full", ("full", "sdk_naive_jobs_per_s"), 30.0, "min"),
)
_MEMORY_LIMIT: Final = 1.2


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it is met (skipped if not run).

    Every entry has ``name``, ``value``, ``limit``, ``kind`` ("max"/"min"), ``unit``,
    ``met``; ``informational: True`` marks the earlier targets that no longer count.
    """
    checked = []
    memory = report.get("memory")
    if memory:
        ratio = memory["peak_ratio"]
        name = f"peak RSS {memory['largest']:,} / {memory['smallest']:,} jobs"
        checked.append(target(name, ratio, _MEMORY_LIMIT))
    for shape, budget in CPU_BUDGET_US.items():
        variants = report["throughput"].get(shape)
        if variants is None:
            continue
        checked.append(
            target(
                f"SDK client CPU per job, {shape}",
                variants["sdk"]["cpu_us_per_job"],
                budget,
                unit="us",
                raw_cpu_us_per_job=variants["raw"]["cpu_us_per_job"],
                ratio_to_raw=variants["ratios"]["sdk_raw_cpu_per_job"],
            )
        )
    for name, (shape, key), limit, kind in TARGETS:
        ratios = report["throughput"].get(shape, {}).get("ratios")
        if ratios is None:
            continue
        checked.append(target(name, ratios[key], limit, kind, informational=True))
    if "loop" in report:
        checked += loop.targets(report["loop"])
    if "limits" in report:
        checked += limits.targets(report["limits"])
    return checked


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * width for width in widths]), *map(line, rows)]


def _throughput(report: dict[str, Any]) -> list[str]:
    meta = report["meta"]
    lines = [
        f"Throughput: {meta['jobs']:,} jobs per run, batch {meta['batch_size']}, "
        f"concurrency {meta['concurrency']}, best of {meta['repeats']} after one warm-up "
        "(client CPU = time.process_time() of the client process; the server runs apart)",
        f"  naive*: {meta['naive_jobs']:,} jobs, one per request, one request at a time; "
        "jobs/s and CPU per 1,000 jobs measured on those and scaled",
        "",
    ]
    header = [
        "shape",
        "variant",
        "jobs",
        "wall s",
        "jobs/s",
        "client CPU s/1k jobs",
        "us/job",
        "of it GC us/job",
        "server CPU s/1k jobs",
    ]
    rows = []
    for shape, variants in report["throughput"].items():
        for name in ("sdk", "sdk_dicts", "raw", "naive"):
            run = variants[name]
            label = {"sdk_dicts": "sdk (dicts)", "naive": "naive*"}.get(name, name)
            rows.append(
                [
                    shape,
                    label,
                    f"{run['jobs']:,}",
                    f"{run['wall_s']:.3f}",
                    f"{run['jobs_per_s']:,.0f}",
                    f"{run['cpu_s_per_1000_jobs']:.4f}",
                    f"{run['cpu_us_per_job']:.1f}",
                    f"{run['gc_s_per_1000_jobs'] * 1000:.1f}",
                    f"{run['server_cpu_s_per_1000_jobs']:.4f}",
                ]
            )
    lines += _table(header, rows, right={2, 3, 4, 5, 6, 7, 8})
    lines.append("")
    for shape, variants in report["throughput"].items():
        r = variants["ratios"]
        lines.append(
            f"{shape:8} SDK/raw: CPU per job {r['sdk_raw_cpu_per_job']:.2f}x, "
            f"jobs/s {r['sdk_raw_jobs_per_s']:.2f}x   SDK/naive: jobs/s "
            f"{r['sdk_naive_jobs_per_s']:.1f}x, CPU per job {r['sdk_naive_cpu_per_job']:.2f}x"
        )
    return lines


def _structuring(report: dict[str, Any]) -> list[str]:
    meta = report["meta"]
    structuring = report["structuring"]
    shapes = list(structuring)
    lines = [
        f"Structuring: {meta['structuring_jobs']:,} answer jobs, CPU time, best of "
        f"{meta['structuring_repeats']} (msgspec/pydantic: same fields, dates and "
        "timestamps left as ints)",
        "",
    ]
    header = ["operation"] + [f"{shape} {unit}" for shape in shapes for unit in ("jobs/s", "us")]
    names = [row["name"] for row in structuring[shapes[0]]]
    rows = []
    for name in names:
        cells = [name]
        for shape in shapes:
            row = next(row for row in structuring[shape] if row["name"] == name)
            cells += [f"{row['jobs_per_s']:,.0f}", f"{row['us_per_job']:.2f}"]
        rows.append(cells)
    lines += _table(header, rows, right=set(range(1, len(header))))
    return lines


def _memory(report: dict[str, Any]) -> list[str]:
    memory = report["memory"]
    lines = [
        "Memory: stream_create_jobs of generated minimal jobs, SDK defaults, a fresh client "
        "process per size (peak RSS = ru_maxrss)",
        "",
    ]
    header = [
        "jobs",
        "peak RSS MiB",
        "VmHWM MiB",
        "before streaming MiB",
        "wall s",
        "jobs/s",
        "client CPU s",
    ]
    rows = [
        [
            f"{run['jobs']:,}",
            f"{run['peak_rss_mib']:.1f}",
            f"{run['vm_hwm_mib']:.1f}",
            f"{run['rss_before_mib']:.1f}",
            f"{run['wall_s']:.1f}",
            f"{run['jobs_per_s']:,.0f}",
            f"{run['cpu_s']:.1f}",
        ]
        for run in memory["runs"]
    ]
    lines += _table(header, rows, right=set(range(len(header))))
    lines.append(
        f"peak RSS ratio {memory['largest']:,} / {memory['smallest']:,} jobs: "
        f"{memory['peak_ratio']:.3f}x"
    )
    return lines


def _amount(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1%}"
    if unit in ("jobs", "requests"):
        return f"{value:g} {unit}"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.2f}{unit}" if unit == "x" else f"{value:.1f} {unit}"


def _target_line(target: dict[str, Any]) -> str:
    """One target as a line of the report.

    Example::

        >>> _target_line({"name": "stall", "value": 12.5, "limit": 20, "kind": "max",
        ...               "unit": "ms", "met": True})
        '  [met    ] stall: 12.5 ms (target <= 20.0 ms)'
    """
    sign = "<=" if target["kind"] == "max" else ">="
    status = "met    " if target["met"] else "NOT met"
    unit = target.get("unit", "x")
    line = (
        f"  [{status}] {target['name']}: {_amount(target['value'], unit)} "
        f"(target {sign} {_amount(target['limit'], unit)})"
    )
    if "ratio_to_raw" in target:
        line += f"; raw {target['raw_cpu_us_per_job']:.1f} us, SDK/raw {target['ratio_to_raw']}x"
    if target.get("informational"):
        line += " [informational]"
    if target.get("note"):
        line += f" [{target['note']}]"
    return line


def _loop(report: dict[str, Any]) -> list[str]:
    runs = report["loop"]
    lines = [
        "Event loop: a ticker awaiting asyncio.sleep(0.001); its worst lateness is the longest "
        "stall (fake: no capacity, no stored job; SDK defaults)",
        f"  large list: {runs['large_list']['jobs']:,} entries (1,000 distinct minimal Jobs "
        f"repeated), cancelled after {runs['large_list']['sent_jobs']:,} jobs were created",
        "",
    ]
    header = [
        "run",
        "jobs",
        "wall s",
        "max stall ms",
        "ticks",
        "ticks > 10 ms",
        "longest GC ms",
        "first answer after s",
    ]
    rows = []
    for name in ("full", "full_gc_off", "full_streamed", "full_lazy_streamed", "large_list"):
        run = runs[name]
        first = run.get("until_first_answer_s")
        rows.append(
            [
                name,
                f"{run['jobs']:,}",
                f"{run['wall_s']:.2f}",
                f"{run['max_stall_ms']:.1f}",
                f"{run['ticks']:,}",
                f"{run['ticks_over_10ms']:,}",
                f"{run['longest_gc_ms']:.1f}",
                "-" if first is None else f"{first:.2f}",
            ]
        )
    return lines + _table(header, rows, right=set(range(1, len(header))))


def _maybe(value: float | None, form: str) -> str:
    """``value`` formatted, or ``-`` when the run has none (or predates the field)."""
    return "-" if value is None else form.format(value)


def _limits(report: dict[str, Any]) -> list[str]:
    lines = [
        "Against the limit: the fake in its own process with a capacity, minimal jobs with "
        "uidSecondary, batch 100; limit = max(requests x (per_request + per_job x batch) / "
        "workers, requests / rate) + rtt, for the jobs of that run",
        "  * scaled: the run took fewer jobs than the profile (would take minutes); "
        "naive: one job per request, one at a time, sleeping Retry-After on a 429",
        "  1st request: when the SDK's first request went out (after validating the list); "
        "GC: the client's time in the garbage collector, and its longest pause",
        "",
    ]
    header = [
        "profile",
        "variant",
        "jobs",
        "wall s",
        "limit s",
        "wall/limit",
        "jobs/s",
        "requests",
        "429s",
        "peak queue",
        "failed",
        "lost",
        "dup",
        "1st request s",
        "GC s",
        "longest GC ms",
    ]
    rows = []
    notes = []
    for profile, section in report["limits"].items():
        notes.append(
            f"  {profile}: SDK defaults / naive jobs/s: "
            f"{section['defaults_per_naive_jobs_per_s']:,.1f}x"
        )
        for name, run in section.items():
            if not isinstance(run, dict) or "wall_s" not in run:
                continue
            star = "*" if run["scaled"] else ""
            rows.append(
                [
                    profile,
                    name,
                    f"{run['jobs']:,}{star}",
                    f"{run['wall_s']:.2f}",
                    f"{run['limit_s']:.2f}",
                    f"{run['ratio']:.2f}x",
                    f"{run['jobs_per_s']:,.0f}",
                    f"{run['requests']:,}",
                    f"{run['share_429']:.0%}",
                    f"{run['peak_queued']} / {run['queue_limit']}",
                    f"{run['failed']:,}",
                    f"{run['lost']:,}",
                    f"{run['duplicated']:,}",
                    _maybe(run.get("first_request_s"), "{:.2f}"),
                    _maybe(run.get("client_gc_s"), "{:.2f}"),
                    _maybe(run.get("longest_gc_ms"), "{:.0f}"),
                ]
            )
            if run["dropped"]:
                notes.append(
                    f"  {name}: dropped {', '.join(run['dropped'])} "
                    "(not accepted by the installed HellotracksClient)"
                )
            if run.get("error"):
                notes.append(f"  {profile} / {name}: {run['error']}")
    lines += _table(header, rows, right=set(range(2, len(header))))
    return lines + list(dict.fromkeys(notes))


def render(report: dict[str, Any]) -> str:
    """The whole report as text: throughput, structuring, memory, targets."""
    meta = report["meta"]
    lines = [
        f"hellotracks-async benchmarks  {meta['date']}  commit {meta['commit']}",
        f"{meta['python']} on {meta['platform']}, {meta['cpus']} CPUs ({meta['cpu_model']}); "
        f"load average {meta['load_before']} before, {meta['load_after']} after",
        "",
    ]
    lines += _throughput(report)
    if "structuring" in report:
        lines += ["", *_structuring(report)]
    if "memory" in report:
        lines += ["", *_memory(report)]
    if "loop" in report:
        lines += ["", *_loop(report)]
    if "limits" in report:
        lines += ["", *_limits(report)]
    lines += ["", "Targets (informational: earlier targets, superseded, shown for comparison)"]
    lines += [_target_line(target) for target in report["targets"]]
    lines.append(f"\nTotal {meta['total_wall_s']:.0f} s")
    return "\n".join(lines)

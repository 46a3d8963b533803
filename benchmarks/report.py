"""The targets of the issue, checked on a report, and the report as plain-text tables.

Example::

    >>> memory = {"peak_ratio": 1.01, "largest": 1_000_000, "smallest": 100_000}
    >>> check_targets({"throughput": {}, "memory": memory})[0]["met"]
    True
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["TARGETS", "check_targets", "render"]

#: (name, where in the report, limit, "max" or "min") of every target.
TARGETS: Final = (
    ("SDK/raw client CPU per job, minimal", ("minimal", "sdk_raw_cpu_per_job"), 3.0, "max"),
    ("SDK/raw client CPU per job, full", ("full", "sdk_raw_cpu_per_job"), 3.0, "max"),
    ("SDK/naive jobs/s, minimal", ("minimal", "sdk_naive_jobs_per_s"), 30.0, "min"),
    ("SDK/naive jobs/s, full", ("full", "sdk_naive_jobs_per_s"), 30.0, "min"),
)
_MEMORY_LIMIT: Final = 1.2


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it is met (skipped if not run)."""
    checked = []
    memory = report.get("memory")
    if memory:
        ratio = memory["peak_ratio"]
        name = f"peak RSS {memory['largest']:,} / {memory['smallest']:,} jobs"
        checked.append({"name": name, "value": ratio, "limit": _MEMORY_LIMIT, "kind": "max",
                        "met": ratio <= _MEMORY_LIMIT})
    for name, (shape, key), limit, kind in TARGETS:
        ratios = report["throughput"].get(shape, {}).get("ratios")
        if ratios is None:
            continue
        value = ratios[key]
        met = value <= limit if kind == "max" else value >= limit
        checked.append({"name": name, "value": value, "limit": limit, "kind": kind, "met": met})
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
    header = ["shape", "variant", "jobs", "wall s", "jobs/s", "client CPU s/1k jobs",
              "us/job", "of it GC us/job", "server CPU s/1k jobs"]
    rows = []
    for shape, variants in report["throughput"].items():
        for name in ("sdk", "sdk_dicts", "raw", "naive"):
            run = variants[name]
            label = {"sdk_dicts": "sdk (dicts)", "naive": "naive*"}.get(name, name)
            rows.append([
                shape, label, f"{run['jobs']:,}", f"{run['wall_s']:.3f}",
                f"{run['jobs_per_s']:,.0f}", f"{run['cpu_s_per_1000_jobs']:.4f}",
                f"{run['cpu_us_per_job']:.1f}", f"{run['gc_s_per_1000_jobs'] * 1000:.1f}",
                f"{run['server_cpu_s_per_1000_jobs']:.4f}",
            ])
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
    header = ["jobs", "peak RSS MiB", "VmHWM MiB", "before streaming MiB", "wall s", "jobs/s",
              "client CPU s"]
    rows = [
        [f"{run['jobs']:,}", f"{run['peak_rss_mib']:.1f}", f"{run['vm_hwm_mib']:.1f}",
         f"{run['rss_before_mib']:.1f}", f"{run['wall_s']:.1f}", f"{run['jobs_per_s']:,.0f}",
         f"{run['cpu_s']:.1f}"]
        for run in memory["runs"]
    ]
    lines += _table(header, rows, right=set(range(len(header))))
    lines.append(
        f"peak RSS ratio {memory['largest']:,} / {memory['smallest']:,} jobs: "
        f"{memory['peak_ratio']:.3f}x"
    )
    return lines


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
    lines += ["", "Targets"]
    for target in report["targets"]:
        sign = "<=" if target["kind"] == "max" else ">="
        status = "met    " if target["met"] else "NOT met"
        lines.append(
            f"  [{status}] {target['name']}: {target['value']:.2f}x "
            f"(target {sign} {target['limit']:g}x)"
        )
    lines.append(f"\nTotal {meta['total_wall_s']:.0f} s")
    return "\n".join(lines)

"""Smoke test of ``benchmarks/``: every code path with tiny N; structure only, no speed."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest

import benchmarks.limits
import benchmarks.loop
import benchmarks.report
import benchmarks.shapes
import benchmarks.throughput
from benchmarks.__main__ import _parser, run
from benchmarks.report import render

_VARIANTS = ("sdk", "sdk_dicts", "raw", "naive")


_MODULES = [
    benchmarks.shapes,
    benchmarks.throughput,
    benchmarks.report,
    benchmarks.limits,
    benchmarks.loop,
]
_LIMITS_RUN_KEYS = {
    "jobs",
    "full_jobs",
    "scaled",
    "kwargs",
    "dropped",
    "window",
    "wall_s",
    "limit_s",
    "ratio",
    "jobs_per_s",
    "requests",
    "rate_limited",
    "share_429",
    "peak_queued",
    "queue_limit",
    "failed",
    "stored",
    "lost",
    "duplicated",
    "error",
    "first_request_s",
    "client_gc_s",
    "longest_gc_ms",
}


@pytest.mark.parametrize("module", _MODULES)
def test_doctests(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


@pytest.mark.slow
def test_tiny_run_writes_every_section(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    args = _parser().parse_args(
        [
            "--jobs",
            "200",
            "--naive-jobs",
            "10",
            "--repeats",
            "1",
            "--memory-jobs",
            "2000",
            "--structuring-jobs",
            "100",
            "--output",
            str(output),
            "--profile",
            "--loop-jobs",
            "200",
            "--loop-large-jobs",
            "5000",
            "--loop-sent-jobs",
            "500",
            "--limits-scale",
            "0.01",
        ]
    )
    report = run(args)
    assert json.loads(output.read_text()) == json.loads(json.dumps(report))
    assert set(report) >= {
        "meta",
        "throughput",
        "structuring",
        "memory",
        "loop",
        "limits",
        "targets",
    }
    for shape in ("minimal", "full"):
        variants = report["throughput"][shape]
        for name in _VARIANTS:
            assert variants[name]["jobs"] == (10 if name == "naive" else 200)
        assert set(variants["ratios"]) == {
            "sdk_raw_cpu_per_job",
            "sdk_raw_jobs_per_s",
            "sdk_naive_cpu_per_job",
            "sdk_naive_jobs_per_s",
        }
        rows = report["structuring"][shape]
        assert {"orjson.loads (bytes -> dict)", "converter structure (dict -> Job)"} <= {
            row["name"] for row in rows
        }
    memory = report["memory"]
    assert [r["jobs"] for r in memory["runs"]] == [200, 2000]
    assert all(r["succeeded"] == r["jobs"] for r in memory["runs"])
    _check_loop(report["loop"])
    _check_limits(report["limits"])
    targets = report["targets"]
    # memory, 2 CPU budgets, 4 informational, 4 event-loop stalls, 4 per limits profile,
    # and on far: fixed 64's wall / limit, the client's GC time and longest pause
    assert len(targets) == 1 + 2 + 4 + 4 + 4 * 3 + 3
    assert sum(bool(t.get("informational")) for t in targets) == 4
    assert all({"name", "value", "limit", "kind", "unit", "met"} <= set(t) for t in targets)
    budgets = {t["name"]: t for t in targets if t["name"].startswith("SDK client CPU per job")}
    assert {name: t["limit"] for name, t in budgets.items()} == {
        "SDK client CPU per job, full": 45.0,
        "SDK client CPU per job, minimal": 12.0,
    }
    assert all(Path(path).exists() for path in report["profiles"])
    text = render(report)
    for title in (
        "Throughput",
        "Structuring",
        "Memory",
        "Event loop",
        "Against the limit",
        "Targets",
        "naive*",
        "rate-limited",
    ):
        assert title in text


def _check_loop(runs: dict[str, Any]) -> None:
    assert list(runs) == [
        "full",
        "full_gc_off",
        "full_streamed",
        "full_lazy_streamed",
        "large_list",
    ]
    assert runs["full"]["jobs"] == runs["full"]["succeeded"] == 200
    assert runs["full_gc_off"]["succeeded"] == 200
    assert runs["large_list"]["jobs"] == 5000
    assert runs["large_list"]["succeeded"] >= 500
    assert all(observed["ticks"] > 0 for observed in runs.values())  # the ticker ran


def _check_limits(report: dict[str, Any]) -> None:
    assert list(report) == ["far", "small", "rate-limited"]
    for profile, section in report.items():
        raw = [] if profile == "rate-limited" else ["raw 64"]  # raw does not retry a 429
        by_ids = ["get defaults", "delete defaults"] if profile == "far" else []
        runs = ["defaults", "fixed 4", "fixed 64", *raw, "naive", *by_ids]
        assert list(section) == ["profile", "limit_s", *runs, "defaults_per_naive_jobs_per_s"]
        for name in runs:
            run = section[name]
            assert set(run) == _LIMITS_RUN_KEYS, name
            assert run["error"] is None
            assert run["requests"] >= 1
            # a tiny run against a lenient fake: every job stored once (none left after
            # the deletes), every id read back or deleted
            assert run["stored"] == (0 if name == "delete defaults" else run["jobs"])
            assert run["lost"] == run["duplicated"] == 0
            assert run["failed"] == 0
            assert run["longest_gc_ms"] <= run["client_gc_s"] * 1000 + 1  # both rounded
            if name in ("naive", "raw 64"):  # not the SDK: no first request noted
                assert run["first_request_s"] is None, name
            else:
                assert 0 <= run["first_request_s"] < run["wall_s"], name
        assert section["naive"]["scaled"]
        assert section["naive"]["window"] == 1


def test_limits_drops_keywords_the_client_does_not_take() -> None:
    used, dropped = benchmarks.limits.accepted({"max_concurrency": 4, "no_such_keyword": 1})
    assert used == {"max_concurrency": 4}
    assert dropped == ["no_such_keyword"]

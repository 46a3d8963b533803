"""Smoke test of ``benchmarks/``: every code path with tiny N; structure only, no speed."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest

import benchmarks.report
import benchmarks.shapes
import benchmarks.throughput
from benchmarks.__main__ import _parser, run
from benchmarks.report import render

_VARIANTS = ("sdk", "sdk_dicts", "raw", "naive")


@pytest.mark.parametrize("module", [benchmarks.shapes, benchmarks.throughput, benchmarks.report])
def test_doctests(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


def _positive(run: dict[str, Any]) -> None:
    for key in ("wall_s", "jobs_per_s", "cpu_s_per_1000_jobs", "cpu_us_per_job"):
        assert run[key] > 0, key


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
        ]
    )
    report = run(args)
    assert json.loads(output.read_text()) == json.loads(json.dumps(report))
    assert set(report) >= {"meta", "throughput", "structuring", "memory", "targets"}
    for shape in ("minimal", "full"):
        variants = report["throughput"][shape]
        for name in _VARIANTS:
            _positive(variants[name])
            assert variants[name]["jobs"] == (10 if name == "naive" else 200)
        assert set(variants["ratios"]) == {
            "sdk_raw_cpu_per_job",
            "sdk_raw_jobs_per_s",
            "sdk_naive_cpu_per_job",
            "sdk_naive_jobs_per_s",
        }
        assert all(value > 0 for value in variants["ratios"].values())
        rows = report["structuring"][shape]
        assert {"orjson.loads (bytes -> dict)", "converter structure (dict -> Job)"} <= {
            row["name"] for row in rows
        }
        assert all(row["jobs_per_s"] > 0 for row in rows)
    memory = report["memory"]
    assert [r["jobs"] for r in memory["runs"]] == [200, 2000]
    assert all(r["succeeded"] == r["jobs"] and r["peak_rss_mib"] > 0 for r in memory["runs"])
    assert memory["peak_ratio"] > 0
    assert len(report["targets"]) == 5
    assert all(Path(path).exists() for path in report["profiles"])
    text = render(report)
    for title in ("Throughput", "Structuring", "Memory", "Targets", "naive*"):
        assert title in text

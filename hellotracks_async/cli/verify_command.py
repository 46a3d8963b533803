"""``hellotracks-async verify FILE``: is every row's job on the server, as it was sent?

The import's journal (see :mod:`.journal`) holds each confirmed row's job id. The rows
are read again, in order, and the job of every confirmed row is read back through
``stream_get_jobs`` (batched, retried, memory bounded by the window); each job is
compared with its row, field by field, on the fields the row set:

- ``custom_<name>`` columns with the job's ``customFields`` entry of that name;
- ``customFields`` as a set of ``key -> val``;
- every other field with the job's wire value (numbers within 1e-9).

Rows whose job is missing or differs go to a report file (JSON lines: line, row, id,
``missing`` or ``differs`` and, for the latter, each field's expected and found value),
the first of them to the terminal; ``--json`` prints a JSON summary on stdout. Exit 0
only if every row of the file was confirmed and its job is there and equal.

Example::

    >>> differences({"priority": 7, "custom_PO": "1", "day": 20261123},
    ...             {"priority": 5, "customFields": [{"key": "PO", "val": "1"}],
    ...              "day": 20261123})
    {'priority': (7, 5)}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from ..client import HellotracksClient
from ..converter import converter
from ..errors import JobNotFoundError
from ..results import BatchOutcome
from .cells import RowError, parse_create
from .connection import UsageError, make_client
from .journal import Journal, journal_path, row_hash
from .progress import ProgressBar, stderr_is_terminal
from .rowfiles import RowReader

__all__ = ["VerifyReport", "differences", "run_verify"]

_SHOWN: Final = 20
_CUSTOM: Final = "custom_"


def _same(expected: Any, found: Any) -> bool:
    if expected == found:
        return True
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(found, numbers):
        return not isinstance(expected, bool) and abs(expected - found) <= 1e-9
    return False


def _custom(job: Mapping[str, Any]) -> dict[Any, Any]:
    fields = job.get("customFields") or []
    return {field.get("key"): field.get("val") for field in fields if isinstance(field, dict)}


def differences(
    expected: Mapping[str, Any], job: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """The fields of a row (wire form) whose value the job (wire form) does not have:
    ``{name: (expected, found)}``; empty if the job matches the row."""
    found: dict[str, tuple[Any, Any]] = {}
    custom = _custom(job)
    for name, value in expected.items():
        if name.startswith(_CUSTOM):
            have = custom.get(name[len(_CUSTOM) :])
            ok = have == (value if isinstance(value, str) else orjson.dumps(value).decode())
        elif name == "customFields":
            want = {field.get("key"): field.get("val") for field in value or []}
            have = {key: custom[key] for key in want if key in custom}
            ok = want == have
        else:
            have = job.get(name)
            ok = _same(value, have)
        if not ok:
            found[name] = (value, have)
    return found


@attrs.define
class VerifyReport:
    """What ``verify`` found; :meth:`ok` says whether it may exit 0.

    Example::

        >>> VerifyReport(rows=3, confirmed=3, equal=3).ok()
        True
    """

    rows: int = 0
    confirmed: int = 0
    equal: int = 0
    missing: int = 0
    differ: int = 0
    unconfirmed: int = 0
    without_id: int = 0
    problems: list[dict[str, Any]] = attrs.field(factory=list)  # the first few, shown

    def ok(self) -> bool:
        """Every row confirmed, and its job there and equal."""
        return self.rows > 0 and self.equal == self.rows

    def summary(self) -> str:
        """The line that sums it up."""
        parts = [f"{self.equal:,} equal"]
        if self.missing:
            parts.append(f"{self.missing:,} missing")
        if self.differ:
            parts.append(f"{self.differ:,} differ")
        if self.without_id:
            parts.append(f"{self.without_id:,} without a recorded job id")
        line = f"verified {self.confirmed:,} of {self.rows:,} rows: {', '.join(parts)}"
        if self.unconfirmed:
            line += f"; {self.unconfirmed:,} rows were never confirmed (run the import again)"
        return line


class _Verifier:
    """Rows in, each confirmed row's id out to the client; outcomes compared as they come."""

    def __init__(self, rows: RowReader, journal: Journal, report_file: Any, bar: ProgressBar):
        self.rows = rows
        self.journal = journal
        self.report = VerifyReport()
        self._file = report_file
        self._bar = bar
        self._pending: dict[int, tuple[int, int, dict[str, Any]]] = {}  # index -> line, row

    def ids(self) -> Iterator[str]:
        """The job id of every confirmed row, in file order (counting the others)."""
        keep_empty = self.rows.format == "jsonl"
        index = 0
        for number, row in enumerate(self.rows, start=1):
            self.report.rows += 1
            digest = self.journal.confirmed_hash(number)
            job_id = self.journal.ids.get(number)
            if not digest:
                self.report.unconfirmed += 1
                continue
            self.report.confirmed += 1
            if job_id is None:
                self.report.without_id += 1
                continue
            try:
                expected = parse_create(row.fields, keep_empty=keep_empty, allow_unknown=True)
            except RowError:
                expected = {}
            if digest != row_hash(row.fields, row.problem):
                expected["(row)"] = "changed in the file since it was imported"
            self._pending[index] = (row.line, number, expected)
            index += 1
            yield job_id

    def settle(self, outcome: BatchOutcome) -> None:
        """Compare a batch's jobs with their rows; missing ids are reported too."""
        for index, job in zip(outcome.indices, outcome.jobs, strict=True):
            line, number, expected = self._pending.pop(index)
            changed = expected.pop("(row)", None)
            found = differences(expected, converter.unstructure(job))
            if changed:
                found["(row)"] = (changed, None)
            if found:
                self.report.differ += 1
                self._problem(line, number, job.id, "differs", found)
            else:
                self.report.equal += 1
        for failure in outcome.failures:
            missing = isinstance(failure.exception, JobNotFoundError)
            for index, job_id in zip(failure.indices, failure.inputs, strict=True):
                line, number, _ = self._pending.pop(index)
                if missing:
                    self.report.missing += 1
                    self._problem(line, number, job_id, "missing", {})
                else:
                    raise UsageError(f"could not read back job {job_id}: {failure.exception}")
        checked = self.report.equal + self.report.missing + self.report.differ
        self._bar.show(done=checked, failed=self.report.missing + self.report.differ)

    def _problem(
        self, line: int, row: int, job_id: Any, problem: str, fields: dict[str, Any]
    ) -> None:
        record = {
            "line": line,
            "row": row,
            "id": job_id,
            "problem": problem,
            "fields": {
                name: {"expected": want, "found": have} for name, (want, have) in fields.items()
            },
        }
        self._file.write(orjson.dumps(record, default=str) + b"\n")
        if len(self.report.problems) < _SHOWN:
            self.report.problems.append(record)


async def _verify(client: HellotracksClient, verifier: _Verifier) -> None:
    async with client, contextlib.aclosing(client.stream_get_jobs(verifier.ids())) as outcomes:
        async for outcome in outcomes:
            verifier.settle(outcome)


def _show(report: VerifyReport) -> None:
    for record in report.problems:
        if record["problem"] == "missing":
            detail = "the job is not on the server"
        else:
            detail = "; ".join(
                f"{name}: expected {value['expected']!r}, found {value['found']!r}"
                for name, value in record["fields"].items()
            )
        print(f"line {record['line']:>7}  {record['id']}  {record['problem']:<8} {detail}")
    shown = len(report.problems)
    if report.missing + report.differ > shown:
        print(f"... and {report.missing + report.differ - shown:,} more (see the report file)")


def run_verify(args: argparse.Namespace) -> int:
    """The ``verify`` command; return the exit code."""
    source: Path = args.file
    if not source.is_file():
        raise UsageError(f"{source}: no such file")
    journal = Journal.load(journal_path(source, edit=False, state_dir=args.state_dir))
    if journal is None or journal.header.mode != "create":
        raise UsageError(f"{source}: no import of this file is recorded (no state file)")
    client = make_client(args)
    report_path: Path = args.report or source.with_name(source.name + ".verify.jsonl")
    show_bar = stderr_is_terminal() and not args.no_progress
    with (
        report_path.open("wb") as file,
        RowReader(source) as rows,
        ProgressBar("verify", enabled=show_bar, total=journal.count) as bar,
    ):
        verifier = _Verifier(rows, journal, file, bar)
        asyncio.run(_verify(client, verifier))
    report = verifier.report
    if report.missing + report.differ == 0:
        report_path.unlink()
    if args.json:
        summary = attrs.asdict(report, filter=lambda field, _: field.name != "problems")
        has_report = report.missing + report.differ > 0
        summary |= {"ok": report.ok(), "report": str(report_path) if has_report else None}
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    else:
        _show(report)
        print(report.summary())
    return 0 if report.ok() else 1

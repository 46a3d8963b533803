"""The ``import`` command's work: rows from a file, through the client, failures to a file.

Memory stays bounded however long the file: rows are parsed as the client asks for
them, outcomes are taken batch by batch from ``stream_create_jobs`` /
``stream_edit_jobs`` (``create_jobs`` would keep every created :class:`Job`), and the
only per-row state is the line number of each row still in flight.

Every row ends in exactly one place: sent and accepted, or in the failures file with
``line N: <why>``. A row that cannot be read or is invalid is never sent; the rest of
the file proceeds.

Example::

    with RowReader(path) as rows, FailuresWriter(out, rows.format, columns) as failures:
        stats = await import_rows(client, rows, failures, edit=False)
    print(stats.summary())
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import attrs

from ..client import HellotracksClient
from ..errors import ValidationError
from ..results import BatchFailure, BatchOutcome, Progress
from .cells import ERROR_COLUMN, RowError, parse_create, parse_edit, wire_name
from .rowfiles import FailuresWriter, RawRow, RowReader

__all__ = ["ImportStats", "check_rows", "describe", "failure_columns", "import_rows"]


@attrs.define
class ImportStats:
    """Counts of one import (or dry run), and the line that sums it up.

    ``failed`` includes ``bad_rows``, the rows that were never sent.

    Example::

        >>> stats = ImportStats(edit=False, rows=10_000, succeeded=9_998, failed=2,
        ...                     requests=104, retries=4, elapsed=3.1)
        >>> print(stats.summary())
        created 9,998 of 10,000 jobs, 2 failed, 104 requests, 4 retries, 3.1 s (3,226 jobs/s)
    """

    edit: bool
    rows: int = 0
    succeeded: int = 0
    failed: int = 0
    bad_rows: int = 0
    requests: int = 0
    retries: int = 0
    elapsed: float = 0.0
    dry_run: bool = False

    def summary(self, failures: FailuresWriter | None = None) -> str:
        """One line for stdout; names the failures file if anything was written to it."""
        if self.dry_run:
            text = (
                f"checked {_count(self.rows, 'row')}: {self.rows - self.bad_rows:,} valid, "
                f"{self.bad_rows:,} invalid (dry run, nothing sent)"
            )
        else:
            rate = self.rows / self.elapsed if self.elapsed > 0 else 0.0
            text = (
                f"{'edited' if self.edit else 'created'} {self.succeeded:,} of "
                f"{_count(self.rows, 'job')}, {self.failed:,} failed, "
                f"{_count(self.requests, 'request')}, "
                f"{_count(self.retries, 'retry', 'retries')}, "
                f"{self.elapsed:.1f} s ({rate:,.0f} jobs/s)"
            )
        if failures is not None and failures.count:
            text += f"; failures written to {failures.path}"
        return text


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number:,} {one if number == 1 else many or one + 's'}"


def describe(exc: BaseException) -> str:
    """A short message for a failure: ``ValidationError`` by field, others by class.

    Example::

        >>> from hellotracks_async.errors import ServerError
        >>> describe(ServerError("server error", http_status=500))
        'ServerError: server error | HTTP 500'
    """
    if isinstance(exc, ValidationError):
        return f"{exc.field}={exc.value!r} {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def failure_columns(columns: list[str], *, edit: bool) -> list[str]:
    """The CSV header of a failures file: the input's fields by wire name, plus the
    ``uidSecondary`` a create may have been given (the writer adds ``error``).

    Example::

        >>> failure_columns(["destination_name", "day", "error"], edit=False)
        ['destinationName', 'day', 'uidSecondary']
    """
    names = [wire_name(column) for column in columns if column != ERROR_COLUMN]
    if not edit and "uidSecondary" not in names:
        names.append("uidSecondary")
    return names


def _raw_record(row: RawRow, csv_input: bool) -> dict[str, Any]:
    if csv_input:  # the failures CSV's header has wire names
        return {wire_name(name): value for name, value in row.fields.items()}
    return row.fields


def _parse(row: RawRow, *, edit: bool, keep_empty: bool) -> Any:
    if row.problem is not None:
        raise RowError(row.problem)
    if edit:
        return parse_edit(row.fields, keep_empty=keep_empty)
    return parse_create(row.fields, keep_empty=keep_empty)


def check_rows(rows: RowReader, *, edit: bool, report: Callable[[str], object]) -> ImportStats:
    """Parse and validate every row without sending anything (``--dry-run``).

    ``report`` gets ``line N: <why>`` for each invalid row.

    Example::

        with RowReader(path) as rows:
            stats = check_rows(rows, edit=False, report=print)
    """
    stats = ImportStats(edit=edit, dry_run=True)
    started = time.perf_counter()
    keep_empty = rows.format == "jsonl"
    for row in rows:
        stats.rows += 1
        try:
            _parse(row, edit=edit, keep_empty=keep_empty)
        except RowError as exc:
            stats.bad_rows += 1
            stats.failed += 1
            report(f"line {row.line}: {exc}")
    stats.elapsed = time.perf_counter() - started
    return stats


class _Import:
    """The state of one run: counts, and the line number of each row in flight."""

    def __init__(
        self,
        rows: RowReader,
        failures: FailuresWriter,
        *,
        edit: bool,
        report: Callable[[str], object],
        on_progress: Callable[[ImportStats], object] | None,
    ) -> None:
        self.rows = rows
        self.failures = failures
        self.edit = edit
        self.report = report
        self.on_progress = on_progress
        self.stats = ImportStats(edit=edit)
        self.lines: dict[int, int] = {}  # input index -> line, for rows in flight
        self.sent_failed = 0

    def items(self) -> Iterator[Any]:
        """The rows as the client's inputs, parsed lazily; bad rows go to the failures."""
        index = 0
        csv_input = self.rows.format == "csv"
        for row in self.rows:
            self.stats.rows += 1
            try:
                item = _parse(row, edit=self.edit, keep_empty=not csv_input)
            except RowError as exc:
                error = f"line {row.line}: {exc}"
                self.stats.bad_rows += 1
                self.report(error)
                self.failures.write(_raw_record(row, csv_input), error)
                self.refresh()
                continue
            self.lines[index] = row.line
            index += 1
            yield item

    def progress(self, totals: Progress) -> None:
        """The client's ``progress`` callback."""
        self.stats.succeeded = totals.succeeded
        self.sent_failed = totals.failed
        self.stats.requests = totals.requests
        self.stats.retries = totals.retries
        self.refresh()

    def refresh(self) -> None:
        """Recount the failures; tell ``on_progress``."""
        self.stats.failed = self.sent_failed + self.stats.bad_rows
        if self.on_progress is not None:
            self.on_progress(self.stats)

    def settle(self, outcome: BatchOutcome) -> None:
        """Forget the lines of a finished batch; write its failures."""
        for index in outcome.indices:
            self.lines.pop(index, None)
        for failure in outcome.failures:
            self._write(failure)

    def _write(self, failure: BatchFailure) -> None:
        # ``wire`` is what was sent (for creates, with the uidSecondary keys that make a
        # second import of the failures upsert); a job refused before sending has none.
        records = failure.wire or failure.inputs
        why = describe(failure.exception)
        for index, record in zip(failure.indices, records, strict=True):
            line = self.lines.pop(index, None)
            fields = {"id": record[0], **record[1]} if self.edit else record
            self.failures.write(fields, f"line {line}: {why}")


async def import_rows(
    client: HellotracksClient,
    rows: RowReader,
    failures: FailuresWriter,
    *,
    edit: bool,
    report: Callable[[str], object] = print,
    on_progress: Callable[[ImportStats], object] | None = None,
) -> ImportStats:
    """Send every row of ``rows`` (creates, or ``(id, fields)`` edits with ``edit``);
    write each failed row to ``failures``; return the counts.

    ``report`` gets ``line N: <why>`` for each row that was not sent; ``on_progress`` the
    running :class:`ImportStats` after each batch.

    Example::

        stats = await import_rows(client, rows, failures, edit=False)
    """
    run = _Import(rows, failures, edit=edit, report=report, on_progress=on_progress)
    started = time.perf_counter()
    outcomes: AsyncGenerator[BatchOutcome, None]
    if edit:
        outcomes = client.stream_edit_jobs(run.items(), progress=run.progress)
    else:
        outcomes = client.stream_create_jobs(run.items(), progress=run.progress)
    async with contextlib.aclosing(outcomes) as stream:
        async for outcome in stream:
            run.settle(outcome)
    run.stats.elapsed = time.perf_counter() - started
    run.refresh()
    return run.stats

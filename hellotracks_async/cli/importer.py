"""The ``import`` command's work: rows from a file, through the client, failures to a file.

Memory stays bounded however long the file: rows are parsed as the client asks for
them, outcomes are taken batch by batch from ``stream_create_jobs`` /
``stream_edit_jobs`` (``create_jobs`` would keep every created :class:`Job`), and the
only per-row state is each row still in flight (and, with a journal, one 32-bit hash
per confirmed row).

Every row read ends in exactly one place: confirmed (in the journal), in the failures
file with ``line N: <why>``, or, if the run stopped early (Ctrl-C, a refused key), not
applied and not confirmed, so that the same command sends it again. A row that cannot
be read or is invalid is never sent; the rest of the file proceeds.

Example::

    with RowReader(path) as rows, FailuresWriter(out, rows.format, columns) as failures:
        stats = await Importer(rows, failures, edit=False, journal=journal).run(client)
    print(stats.summary())
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import attrs

from ..client import HellotracksClient
from ..errors import AuthenticationError, ValidationError
from ..results import BatchFailure, BatchOutcome
from .cells import ERROR_COLUMN, RowError, parse_create, parse_edit, wire_name
from .journal import Journal, row_hash, row_key
from .rowfiles import FailuresWriter, RawRow, RowReader

__all__ = [
    "ImportStats",
    "Importer",
    "check_rows",
    "describe",
    "failure_columns",
]


@attrs.define
class ImportStats:
    """Counts of one import (or dry run), and the line that sums it up.

    ``rows`` counts the rows read. ``failed`` includes ``bad_rows``, the rows that were
    never sent. ``skipped`` rows were confirmed by an earlier run (the journal);
    ``unread`` counts the rows not read because the run stopped early (known once
    counted after a stop).

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
    skipped: int = 0
    unread: int = 0

    def summary(self, failures: FailuresWriter | None = None) -> str:
        """One line for stdout; names the failures file if anything was written to it."""
        if self.dry_run:
            text = (
                f"checked {_count(self.rows, 'row')}: {self.rows - self.bad_rows:,} valid, "
                f"{self.bad_rows:,} invalid (dry run, nothing sent)"
            )
        else:
            todo = self.rows - self.skipped
            rate = todo / self.elapsed if self.elapsed > 0 else 0.0
            text = (
                f"{'edited' if self.edit else 'created'} {self.succeeded:,} of "
                f"{_count(todo, 'job')}, {self.failed:,} failed, "
                f"{_count(self.requests, 'request')}, "
                f"{_count(self.retries, 'retry', 'retries')}, "
                f"{self.elapsed:.1f} s ({rate:,.0f} jobs/s)"
            )
            if self.skipped:
                text += f"; {_count(self.skipped, 'row')} confirmed earlier, skipped"
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


def _parse(row: RawRow, *, edit: bool, keep_empty: bool, allow_unknown: bool = False) -> Any:
    if row.problem is not None:
        raise RowError(row.problem)
    if edit:
        return parse_edit(row.fields, keep_empty=keep_empty, allow_unknown=allow_unknown)
    return parse_create(row.fields, keep_empty=keep_empty, allow_unknown=allow_unknown)


def check_rows(
    rows: RowReader,
    *,
    edit: bool,
    report: Callable[[str], object],
    allow_unknown: bool = False,
) -> ImportStats:
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
            _parse(row, edit=edit, keep_empty=keep_empty, allow_unknown=allow_unknown)
        except RowError as exc:
            stats.bad_rows += 1
            stats.failed += 1
            report(f"line {row.line}: {exc}")
    stats.elapsed = time.perf_counter() - started
    return stats


class _Stopped(Exception):
    """Raised by the rows' iterator to make the client stop reading."""


def _not_sent(failure: BatchFailure) -> bool:
    """A failure that only says the rows were not applied: the key was refused, or the
    call stopped sending first. Such rows are not failed: a re-run sends them. (An
    invalid row was not sent either, but it is a failure of its own.)"""
    exc = failure.exception
    if isinstance(exc, AuthenticationError):
        return True
    return not failure.sent and not isinstance(exc, ValidationError)


class Importer:
    """One run of an import: rows in, outcomes settled, counts kept; see :meth:`run`.

    With a :class:`Journal`, rows it holds as confirmed (with the same hash) are
    skipped, rows without a ``uidSecondary`` get the key ``hta-<run>-<row number>``, and
    each batch's confirmed rows are appended to it. :meth:`stop` (a signal handler's
    job) makes it stop reading; the batches in flight still finish. A refused API key
    stops it too. The only per-row state is the rows in flight.

    Example::

        importer = Importer(rows, failures, edit=False, journal=journal)
        stats = await importer.run(client)
    """

    def __init__(
        self,
        rows: RowReader,
        failures: FailuresWriter,
        *,
        edit: bool,
        journal: Journal | None = None,
        allow_unknown: bool = False,
        report: Callable[[str], object] = print,
        on_progress: Callable[[ImportStats], object] | None = None,
    ) -> None:
        self.rows = rows
        self.failures = failures
        self.edit = edit
        self.journal = journal
        self.allow_unknown = allow_unknown
        self.report = report
        self.on_progress = on_progress
        self.stats = ImportStats(edit=edit)
        #: Why the run stopped early: ``"interrupted"``, ``"refused"``, or ``None``.
        self.stopped: str | None = None
        #: The refused key's error, if the server refused it.
        self.refusal: AuthenticationError | None = None
        # index -> line, row, hash, whether the row carried its own uidSecondary
        self._in_flight: dict[int, tuple[int, int, int, bool]] = {}
        self._unread: Iterator[RawRow] = iter(())

    def stop(self, reason: str = "interrupted") -> None:
        """Read no more rows; the batches in flight finish."""
        if self.stopped is None:
            self.stopped = reason

    def count_unread(self) -> int:
        """Read the rest of the file (after a stop) and count its rows."""
        count = sum(1 for _ in self._unread)
        self.stats.unread = count
        return count

    def _items(self) -> Iterator[Any]:
        """The rows as the client's inputs, parsed lazily; bad rows go to the failures."""
        index = 0
        csv_input = self.rows.format == "csv"
        journal = self.journal
        self._unread = rows = iter(self.rows)
        number = 0
        while self.stopped is None:
            row = next(rows, None)
            if row is None:
                return
            number += 1
            self.stats.rows += 1
            digest = row_hash(row.fields, row.problem)
            if journal is not None and journal.confirmed_hash(number) == digest:
                self.stats.skipped += 1
                continue
            try:
                item = _parse(
                    row, edit=self.edit, keep_empty=not csv_input, allow_unknown=self.allow_unknown
                )
            except RowError as exc:
                self._fail_row(row, f"line {row.line}: {exc}", csv_input)
                continue
            own = self.edit or bool(item.get("uidSecondary"))
            if journal is not None and not own:
                item["uidSecondary"] = row_key(journal.header.run, number)
            self._in_flight[index] = (row.line, number, digest, own and not self.edit)
            index += 1
            yield item
        raise _Stopped(self.stopped)

    def _fail_row(self, row: RawRow, error: str, csv_input: bool) -> None:
        self.stats.bad_rows += 1
        self.stats.failed += 1
        self.report(error)
        self.failures.write(_raw_record(row, csv_input), error)
        self._refresh()

    def _refresh(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)

    def _settle(self, outcome: BatchOutcome) -> None:
        """Record a finished batch: its confirmed rows in the journal, its failures."""
        confirmed, ids, own = [], [], []
        for index, job_id in zip(outcome.indices, outcome.jobs.ids, strict=True):
            entry = self._in_flight.pop(index, None)
            if entry is not None:
                _, row, digest, own_key = entry
                confirmed.append((row, digest))
                ids.append(job_id)
                if own_key:
                    own.append(row)
        if self.journal is not None:
            self.journal.confirm(confirmed, None if self.edit else ids, own)
        self.stats.succeeded += len(outcome.indices)
        self.stats.requests += outcome.requests
        self.stats.retries += outcome.retries
        for failure in outcome.failures:
            self._write(failure)
        self._refresh()

    def _write(self, failure: BatchFailure) -> None:
        entries = [self._in_flight.pop(index, None) for index in failure.indices]
        if _not_sent(failure):
            if isinstance(failure.exception, AuthenticationError):
                self.refusal = self.refusal or failure.exception
                self.stop("refused")
            return  # not sent: neither a failure of the row nor confirmed; a re-run sends it
        # ``wire`` is what was sent (for creates, with the uidSecondary keys that make a
        # second import of the failures upsert); a job refused before sending has none.
        records = failure.wire or failure.inputs
        why = describe(failure.exception)
        for entry, record in zip(entries, records, strict=True):
            fields = {"id": record[0], **record[1]} if self.edit else record
            line = "?" if entry is None else entry[0]
            self.failures.write(fields, f"line {line}: {why}")
            self.stats.failed += 1

    async def run(self, client: HellotracksClient) -> ImportStats:
        """Send the rows; return the counts (:attr:`stopped` says if it stopped early)."""
        started = time.perf_counter()
        outcomes: AsyncGenerator[BatchOutcome, None]
        unknown = self.allow_unknown
        if self.edit:
            outcomes = client.stream_edit_jobs(self._items(), allow_unknown_fields=unknown)
        else:
            run_id = None if self.journal is None else self.journal.header.run
            outcomes = client.stream_create_jobs(
                self._items(), run_id=run_id, allow_unknown_fields=unknown
            )
        try:
            async with contextlib.aclosing(outcomes) as stream:
                async for outcome in stream:
                    self._settle(outcome)
        except _Stopped:
            pass
        finally:
            self.stats.elapsed = time.perf_counter() - started
        self._refresh()
        return self.stats

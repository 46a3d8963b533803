"""``hellotracks-async export --day D [--to D2] -o FILE``: jobs to a file ``import`` reads.

Each day is one ``getjobs`` query (``stream_find_jobs``: several days in flight, written
in day order). Columns are wire names: ``id`` first, then every job field a user may set
(:data:`EXPORT_COLUMNS`: not what the server sets itself, such as ``number``,
``tsCreated`` or ``receiverUid``); ``customFields`` is a JSON list; an unset field is an
empty cell (CSV) or absent (JSONL).

The round trip: after writing, export records every row of the file as confirmed in the
state file of ``import --edit FILE`` (see :mod:`.journal`). That import then sends only
the rows whose content changed since: an unedited file sends nothing, and a row with
one edited cell sets that job's fields to the row's values, so only that cell changes.

Example::

    >>> export_row({"id": "65f0", "destinationName": "Acme", "tsCreated": 1, "day": 0})
    {'id': '65f0', 'destinationName': 'Acme', 'day': 0}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Final

import attrs
import orjson

from ..client import HellotracksClient
from ..converter import converter
from ..models import Job
from ..wire import to_wire_name
from .connection import UsageError, make_client
from .import_command import sample_of
from .journal import Header, Journal, journal_path, row_hash
from .progress import ProgressBar, stderr_is_terminal
from .rowfiles import RowReader, cell_text, file_format

__all__ = ["EXPORT_COLUMNS", "export_row", "run_export"]

#: Fields the server sets (or derives) itself: not exported, never sent back.
_SERVER_SET: Final = frozenset(
    ("id", "number", "tsCreated", "tsSaved", "createdVia", "isTemplate", "receiverUid",
     "tsAssigned")
)  # fmt: skip
#: The columns of an export, in order.
EXPORT_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    *(
        wire
        for field in attrs.fields(Job)
        if field.name != "extras" and (wire := to_wire_name(field.name)) not in _SERVER_SET
    ),
)
_WANTED: Final = frozenset(EXPORT_COLUMNS)
_CONFIRM_EVERY: Final = 1000


def export_row(job: Mapping[str, Any]) -> dict[str, Any]:
    """A job's wire dict as a row of an export: the exported columns it has."""
    return {name: value for name, value in job.items() if name in _WANTED and value is not None}


class _Writer:
    """CSV (the fixed header) or JSONL rows to an open file."""

    def __init__(self, file: IO[Any], format: str) -> None:
        self._file = file
        self._csv = None
        if format == "csv":
            self._csv = csv.DictWriter(file, EXPORT_COLUMNS, lineterminator="\n")
            self._csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self._csv is not None:
            self._csv.writerow({name: cell_text(value) for name, value in row.items()})
        else:
            self._file.write(orjson.dumps(row).decode() + "\n")


async def _export(
    client: HellotracksClient, args: argparse.Namespace, writer: _Writer, bar: ProgressBar
) -> int:
    days = [args.day + datetime.timedelta(days=n) for n in range((args.to - args.day).days + 1)]
    written = 0
    async with client:
        found = client.stream_find_jobs(days=days, worker=args.worker, team=args.team)
        async with contextlib.aclosing(found) as per_day:
            async for _, jobs in per_day:
                for job in jobs:
                    writer.write(export_row(converter.unstructure(job)))
                written += len(jobs)
                bar.show(done=written, failed=0)
    return written


def _confirm_all(output: Path, state_dir: Path | None) -> Path:
    """Record every row of ``output`` as confirmed in its ``import --edit`` journal."""
    sample, _ = sample_of(output)
    with RowReader(output) as rows:
        header = Header.new(mode="edit", format=rows.format, columns=rows.columns, sample=sample)
        path = journal_path(output, edit=True, state_dir=state_dir)
        with Journal.create(path, header) as journal:
            confirmed: list[tuple[int, int]] = []
            for number, row in enumerate(rows, start=1):
                confirmed.append((number, row_hash(row.fields, row.problem)))
                if len(confirmed) == _CONFIRM_EVERY:
                    journal.confirm(confirmed)
                    confirmed = []
            journal.confirm(confirmed)
    return path


def run_export(args: argparse.Namespace) -> int:
    """The ``export`` command; return the exit code."""
    output: Path = args.output
    format = file_format(output)
    if args.to is None:
        args.to = args.day
    if args.to < args.day:
        raise UsageError(f"--to {args.to} is before --day {args.day}")
    if not output.parent.is_dir():
        raise UsageError(f"the output's folder does not exist: {output.parent}")
    client = make_client(args)
    show_bar = stderr_is_terminal() and not args.no_progress
    with (
        output.open("w", encoding="utf-8", newline="" if format == "csv" else None) as file,
        ProgressBar("export", enabled=show_bar) as bar,
    ):
        written = asyncio.run(_export(client, args, _Writer(file, format), bar))
    _confirm_all(output, args.state_dir)
    days = "" if args.to == args.day else f" to {args.to}"
    print(f"exported {written:,} jobs of {args.day}{days} to {output}")
    return 0

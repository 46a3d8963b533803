"""Import files row by row, and failures files, in CSV or JSONL. Nothing is held whole.

:class:`RowReader` yields one :class:`RawRow` per record with the line it starts on; a
record that cannot be read (bad JSON, a wrong number of cells, bytes that are not
UTF-8) comes with a ``problem`` instead of stopping the file. :class:`FailuresWriter`
writes records plus an ``error`` column in the input's format, creating the file only
when the first failure arrives.

Example::

    >>> file_format(Path("jobs.ndjson")), default_failures_path(Path("in/jobs.csv"))
    ('jsonl', PosixPath('in/jobs.failures.csv'))
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import attrs
import orjson

from .cells import ERROR_COLUMN, wire_name

__all__ = [
    "FailuresWriter",
    "InputError",
    "RawRow",
    "RowReader",
    "cell_text",
    "default_failures_path",
    "file_format",
]

_FORMATS: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_REPLACEMENT: Final = "\ufffd"


class InputError(Exception):
    """The file as a whole cannot be imported (unknown extension, bad CSV header).

    Example::

        >>> file_format(Path("jobs.xlsx"))
        Traceback (most recent call last):
        ...
        hellotracks_async.cli.rowfiles.InputError: jobs.xlsx: unknown format; use .csv, ...
    """


def file_format(path: Path) -> str:
    """``"csv"`` or ``"jsonl"``, from the file's extension.

    Example::

        >>> file_format(Path("jobs.CSV"))
        'csv'
    """
    found = _FORMATS.get(path.suffix.lower())
    if found is None:
        raise InputError(f"{path}: unknown format; use .csv, ...nl or .ndjson")
    return found


def default_failures_path(path: Path) -> Path:
    """``<stem>.failures<suffix>`` beside the input.

    Example::

        >>> default_failures_path(Path("jobs.jsonl"))
        PosixPath('jobs.failures.jsonl')
    """
    return path.with_name(f"{path.stem}.failures{path.suffix}")


@attrs.frozen
class RawRow:
    """One record as read: the line it starts on, its fields, or why it is unreadable.

    Example::

        >>> RawRow(2, {"destinationName": "Acme"}).problem is None
        True
    """

    line: int
    fields: dict[str, Any]
    problem: str | None = None


class RowReader:
    """Reads a CSV or JSONL file lazily; use as a context manager, then iterate.

    ``columns`` is the CSV header (``None`` for JSONL). CSV is read as UTF-8 (a byte
    order mark is skipped); every value is a string. JSONL lines must be JSON objects;
    blank lines are skipped. ``size`` is the file's size in bytes and ``bytes_read`` how
    much of it has been consumed so far (for a progress bar; ahead of the rows yielded by
    at most one read buffer).

    Example::

        with RowReader(Path("jobs.csv")) as rows:
            for row in rows:
                print(row.line, row.fields)
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = file_format(path)
        self.columns: list[str] | None = None
        self.size = 0
        self._file: IO[Any] | None = None
        self._binary: IO[bytes] | None = None
        self._csv: Iterator[list[str]] | None = None

    @property
    def bytes_read(self) -> int:
        """How many bytes of the file have been read so far."""
        return 0 if self._binary is None or self._binary.closed else self._binary.tell()

    def __enter__(self) -> RowReader:
        if self.format == "jsonl":
            self._file = self._binary = self.path.open("rb")
            self.size = os.fstat(self._file.fileno()).st_size
            return self
        self._binary = self.path.open("rb")
        self.size = os.fstat(self._binary.fileno()).st_size
        self._file = io.TextIOWrapper(
            self._binary, encoding="utf-8-sig", errors="replace", newline=""
        )
        try:
            reader = csv.reader(self._file)
            self._csv = reader
            header = next(reader, None)
            self.columns = [] if header is None else [name.strip() for name in header]
            self._check_header(self.columns)
        except BaseException:
            self._file.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()

    def _check_header(self, columns: list[str]) -> None:
        seen: dict[str, str] = {}
        for column in columns:
            if not column:
                raise InputError(f"{self.path}: line 1: a column has no name")
            key = wire_name(column)
            if key in seen:
                raise InputError(
                    f"{self.path}: line 1: columns {seen[key]!r} and {column!r} are the "
                    f"same field ({key})"
                )
            seen[key] = column

    def __iter__(self) -> Iterator[RawRow]:
        if self._file is None:
            raise RuntimeError("use RowReader as a context manager")
        return self._jsonl() if self.format == "jsonl" else self._rows_of_csv()

    def _jsonl(self) -> Iterator[RawRow]:
        assert self._file is not None
        for line, raw in enumerate(self._file, start=1):
            if not raw.strip():
                continue
            record = raw.rstrip(b"\r\n")  # one line: an error's position is a column
            try:
                fields = orjson.loads(record)
            except orjson.JSONDecodeError as exc:
                text = record.decode("utf-8", errors="replace")
                yield RawRow(line, {}, f"not valid JSON ({exc.msg} at column {exc.colno}): {text}")
                continue
            if not isinstance(fields, dict):
                yield RawRow(line, {}, f"not a JSON object: {record.decode().rstrip()}")
                continue
            yield RawRow(line, fields)

    def _rows_of_csv(self) -> Iterator[RawRow]:
        reader = self._csv
        columns = self.columns
        assert reader is not None
        assert columns is not None
        done = 1  # lines consumed so far (the header)
        while True:
            start = done + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                done = reader.line_num  # type: ignore[attr-defined]
                yield RawRow(start, {}, f"unreadable CSV: {exc}")
                continue
            done = reader.line_num  # type: ignore[attr-defined]
            if not cells:  # a blank line
                continue
            fields = dict(zip(columns, cells))  # noqa: B905 - lengths checked below
            problem = None
            if len(cells) != len(columns):
                extra = cells[len(columns) :]
                problem = f"{len(cells)} cells for {len(columns)} columns" + (
                    f"; the extra cells: {extra!r}" if extra else ""
                )
            elif any(_REPLACEMENT in cell for cell in cells):
                problem = "not valid UTF-8"
            yield RawRow(start, fields, problem)


def cell_text(value: Any) -> str:
    """A value as a CSV cell the importer reads back as the same value.

    Example::

        >>> cell_text(None), cell_text(True), cell_text([{"key": "a", "val": "1"}]), cell_text(7)
        ('', 'true', '[{"key":"a","val":"1"}]', '7')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return str(value)


class FailuresWriter:
    """Writes failed records with an ``error`` column, in CSV or JSONL; a context manager.

    The file is created when :meth:`write` is first called (so a run without failures
    leaves none). For CSV, ``columns`` fix the header; a record's keys must be among them.

    Example::

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder, "jobs.failures.csv")
        ...     with FailuresWriter(path, "csv", ["destinationName", "day"]) as failures:
        ...         failures.write({"destinationName": "Acme"}, "line 2: ServerError: boom")
        ...     path.read_text().splitlines()
        ['destinationName,day,error', 'Acme,,line 2: ServerError: boom']
    """

    def __init__(self, path: Path, format: str, columns: Sequence[str] | None = None) -> None:
        self.path = path
        self.format = format
        self.count = 0
        self._columns = [name for name in columns or () if name != ERROR_COLUMN]
        self._file: IO[Any] | None = None
        self._csv: csv.DictWriter[str] | None = None

    def __enter__(self) -> FailuresWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()

    def _open(self) -> IO[Any]:
        if self.format == "jsonl":
            self._file = self.path.open("wb")
            return self._file
        self._file = self.path.open("w", encoding="utf-8", newline="")
        self._csv = csv.DictWriter(
            self._file, [*self._columns, ERROR_COLUMN], extrasaction="raise", lineterminator="\n"
        )
        self._csv.writeheader()
        return self._file

    def write(self, record: Mapping[str, Any], error: str) -> None:
        """Append one failed record with its error message."""
        file = self._file if self._file is not None else self._open()
        self.count += 1
        if self._csv is None:
            file.write(orjson.dumps({**record, ERROR_COLUMN: error}) + b"\n")
            return
        row = {name: cell_text(value) for name, value in record.items() if name != ERROR_COLUMN}
        self._csv.writerow({**row, ERROR_COLUMN: error})

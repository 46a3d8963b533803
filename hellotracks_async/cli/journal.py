"""The state file of an import (its journal): the run's identity and the confirmed rows.

``hellotracks-async import FILE`` keeps it beside the input as ``FILE.htjournal``
(``FILE.edit.htjournal`` for ``--edit``), or under ``--state-dir DIR`` as
``DIR/<FILE name>-<hash of its absolute path>.htjournal``. It is JSON lines, written
append-only:

- line 1, the header: ``{"journal": "hellotracks-async import", "version": 1,
  "run": "<24 hex>", "mode": "create", "format": "csv", "columns": [...],
  "sample": [<hash of row 1>, ...]}``. ``run`` is random, drawn at the first run; every
  row without its own ``uidSecondary`` is sent with the key ``hta-<run>-<row number>``,
  so a re-run upserts. The header is written and fsynced (file and folder) before any
  row is sent.
- then one line per finished batch: ``{"ok": [<row number>, <row hash>, ...]}``, the
  rows the server confirmed. Each line is flushed to the operating system at once (a
  ``kill -9`` loses none) and fsynced at most every :data:`FSYNC_SECONDS` (a power cut
  loses at most that much, whose rows are then sent again with the same keys).

A torn or unreadable line (a power cut during a write) is ignored; a torn tail is cut
off before anything new is appended. Row numbers count records from 1 (the header and
blank lines do not count), so they stay the same however the file is read.

"The same import": a journal belongs to the file if the mode, format and CSV header
are the same and at least half of the first :data:`SAMPLE_ROWS` rows hash as they did
(so a few rows corrected in place still match). Otherwise the file is a different one
with the same name: a new run starts with a new ``run``, and the old journal is
replaced. A confirmed row whose hash changed (a row corrected in place) is sent again
with its key, which updates its job.

Example::

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "jobs.csv.htjournal")
    ...     header = Header.new(mode="create", format="csv", columns=["name"], sample=[7])
    ...     with Journal.create(path, header) as journal:
    ...         journal.confirm([(1, 7), (2, 9)])
    ...     again = Journal.load(path)
    ...     again.header.run == header.run, again.confirmed_hash(2), again.confirmed_hash(3)
    (True, 9, 0)
"""

from __future__ import annotations

import array
import hashlib
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import attrs
import orjson

__all__ = [
    "FSYNC_SECONDS",
    "SAMPLE_ROWS",
    "Header",
    "Journal",
    "journal_path",
    "row_hash",
    "row_key",
]

#: How many first rows identify an import (see the module doc).
SAMPLE_ROWS: Final = 64
#: At most this many seconds of confirmations wait for an fsync.
FSYNC_SECONDS: Final = 1.0
_MAGIC: Final = "hellotracks-async import"
_VERSION: Final = 1


def row_hash(fields: Mapping[str, Any], problem: str | None = None) -> int:
    """A 32-bit hash of a row as read (never 0, which means "not confirmed").

    Example::

        >>> row_hash({"a": "1", "b": "2"}) == row_hash({"b": "2", "a": "1"})
        True
        >>> row_hash({"a": "1"}) == row_hash({"a": "2"})
        False
    """
    data = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    if problem is not None:
        data += problem.encode()
    value = int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big")
    return value or 1


def row_key(run: str, row: int) -> str:
    """The ``uidSecondary`` the CLI gives row number ``row`` of run ``run``.

    Example::

        >>> row_key("0123456789abcdef01234567", 12)
        'hta-0123456789abcdef01234567-12'
    """
    return f"hta-{run}-{row}"


def journal_path(source: Path, *, edit: bool, state_dir: Path | None = None) -> Path:
    """Where the journal of importing ``source`` lives.

    Example::

        >>> journal_path(Path("in/jobs.csv"), edit=False)
        PosixPath('in/jobs.csv.htjournal')
        >>> journal_path(Path("in/jobs.csv"), edit=True).name
        'jobs.csv.edit.htjournal'
        >>> journal_path(Path("jobs.csv"), edit=False, state_dir=Path("/var/state")).parent
        PosixPath('/var/state')
    """
    suffix = ".edit.htjournal" if edit else ".htjournal"
    if state_dir is None:
        return source.with_name(source.name + suffix)
    where = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
    return state_dir / f"{source.name}-{where}{suffix}"


@attrs.frozen
class Header:
    """The first line of a journal: the run's identity and what identifies the file.

    Example::

        >>> a = Header.new(mode="create", format="csv", columns=["x"], sample=[1, 2, 3, 4])
        >>> a.same_import(attrs.evolve(a, run="other", sample=[1, 2, 9, 9]))
        True
        >>> a.same_import(attrs.evolve(a, sample=[1, 9, 9, 9]))
        False
    """

    run: str
    mode: str
    format: str
    columns: list[str] | None
    sample: list[int]

    @classmethod
    def new(cls, *, mode: str, format: str, columns: list[str] | None, sample: list[int]) -> Header:
        """A header with a fresh random ``run``."""
        return cls(secrets.token_hex(12), mode, format, columns, sample)

    def same_import(self, current: Header) -> bool:
        """Whether ``current`` (the file as it is now) is the import this header began:
        same mode, format and columns, and at least half of the sample rows alike."""
        if (self.mode, self.format, self.columns) != (
            current.mode,
            current.format,
            current.columns,
        ):
            return False
        longest = max(len(self.sample), len(current.sample))
        alike = sum(a == b for a, b in zip(self.sample, current.sample))  # noqa: B905
        return longest == 0 or 2 * alike >= longest

    def to_json(self) -> bytes:
        """The header line (without the newline)."""
        return orjson.dumps({"journal": _MAGIC, "version": _VERSION, **attrs.asdict(self)})

    @classmethod
    def from_json(cls, line: bytes) -> Header | None:
        """The header of a line, or ``None`` if it is none."""
        try:
            data = orjson.loads(line)
            if data.get("journal") != _MAGIC or data.get("version") != _VERSION:
                return None
            return cls(
                str(data["run"]),
                str(data["mode"]),
                str(data["format"]),
                None if data["columns"] is None else [str(c) for c in data["columns"]],
                [int(h) for h in data["sample"]],
            )
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            return None


class Journal:
    """An open journal: the header, the confirmed rows, and the file to append to.

    Use :meth:`create` (a new run) or :meth:`load` then :meth:`open` (continue one) as a
    context manager; :meth:`confirm` records rows the server confirmed.

    Example::

        with Journal.create(path, Header.new(...)) as journal:
            journal.confirm([(row_number, row_hash), ...])
    """

    def __init__(self, path: Path, header: Header, confirmed: array.array[int]) -> None:
        self.path = path
        self.header = header
        self._confirmed = confirmed
        self._file: IO[bytes] | None = None
        self._synced = time.monotonic()
        self._dirty = False

    @property
    def count(self) -> int:
        """How many rows the journal holds as confirmed."""
        return len(self._confirmed) - self._confirmed.count(0)

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        """The journal at ``path``, or ``None`` if there is none or its header is
        unreadable. Unreadable lines after the header are ignored."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        lines = data.split(b"\n")
        header = Header.from_json(lines[0])
        if header is None:
            return None
        confirmed = array.array("I")
        for line in lines[1:]:
            try:
                pairs = orjson.loads(line)["ok"]
                for position in range(0, len(pairs) - 1, 2):
                    _store(confirmed, int(pairs[position]), int(pairs[position + 1]))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
                continue  # a torn line (or a blank one)
        return cls(path, header, confirmed)

    @classmethod
    def create(cls, path: Path, header: Header) -> Journal:
        """Start a new journal (replacing any at ``path``): the header is on disk, synced,
        before this returns."""
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("wb") as file:
            file.write(header.to_json() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _sync_folder(path.parent)
        return cls(path, header, array.array("I")).open()

    def open(self) -> Journal:
        """Open for appending; a torn last line is cut off first."""
        file = self.path.open("r+b")
        size = file.seek(0, os.SEEK_END)
        if size:
            file.seek(max(0, size - 1))
            if file.read(1) != b"\n":
                data = self.path.read_bytes()
                file.truncate(data.rfind(b"\n") + 1)
                file.seek(0, os.SEEK_END)
        self._file = file
        return self

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def confirmed_hash(self, row: int) -> int:
        """The hash row number ``row`` was confirmed with, or 0 if it was not."""
        return self._confirmed[row] if row < len(self._confirmed) else 0

    def confirm(self, rows: Iterable[tuple[int, int]]) -> None:
        """Record ``(row number, row hash)`` pairs the server confirmed."""
        flat: list[int] = []
        for row, digest in rows:
            _store(self._confirmed, row, digest)
            flat += (row, digest)
        if not flat or self._file is None:
            return
        self._file.write(orjson.dumps({"ok": flat}) + b"\n")
        self._file.flush()  # in the OS now: a kill -9 loses nothing
        self._dirty = True
        if time.monotonic() - self._synced >= FSYNC_SECONDS:
            self.sync()

    def sync(self) -> None:
        """fsync what was appended (a power cut then loses none of it)."""
        if self._file is not None and self._dirty:
            os.fsync(self._file.fileno())
            self._dirty = False
        self._synced = time.monotonic()

    def close(self) -> None:
        """Sync and close."""
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None


def _store(confirmed: array.array[int], row: int, digest: int) -> None:
    if row < 1 or not 0 < digest < 2**32:
        raise ValueError(row)
    if row >= len(confirmed):
        grow = max(row + 1 - len(confirmed), len(confirmed))  # amortised: doubles
        confirmed.extend(array.array("I", [0]) * grow)
    confirmed[row] = digest


def _sync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)

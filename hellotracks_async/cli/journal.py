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
- then one line per finished batch: ``{"ok": [<row number>, <row hash>, ...], "ids":
  [<job id>, ...], "own": [<row number>, ...]}``, the rows the server confirmed, the id
  of each one's job (creates only), and the rows that carried their own
  ``uidSecondary`` (whose job may have existed before the import). Each line is flushed
  to the operating system at once (a ``kill -9`` loses none) and fsynced at most every
  :data:`FSYNC_SECONDS` (a power cut loses at most that much, whose rows are then sent
  again with the same keys).
- ``hellotracks-async undo`` appends ``{"deleted": [<row number>, ...]}`` per batch of
  jobs it deleted, and ``{"undone": true}`` once every job is gone: an import of the
  file after that is a new run (new keys, new jobs), while ``verify`` still reads the
  rows and ids.

In memory a journal costs 4 bytes per row for the hashes, 12 per row for job ids that
are 24 hex digits (as the API's are; other ids are kept in a dict) and one byte of
flags: about 17 MB for a million rows. On disk, about 45 bytes per row.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import attrs
import orjson

__all__ = [
    "FSYNC_SECONDS",
    "SAMPLE_ROWS",
    "Header",
    "JobIds",
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

    def __init__(
        self,
        path: Path,
        header: Header,
        confirmed: array.array[int],
        ids: JobIds | None = None,
        *,
        undone: bool = False,
    ) -> None:
        self.path = path
        self.header = header
        self._confirmed = confirmed
        self.ids = ids if ids is not None else JobIds()
        #: whether ``undo`` deleted every job of this import (see the module doc)
        self.undone = undone
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
            file = path.open("rb")
        except FileNotFoundError:
            return None
        with file:  # line by line: a million rows' journal is never in memory at once
            header = Header.from_json(file.readline())
            if header is None:
                return None
            return cls._rows(path, header, file)

    @classmethod
    def _rows(cls, path: Path, header: Header, lines: Iterable[bytes]) -> Journal:
        confirmed = array.array("I")
        ids = JobIds()
        undone = False
        for line in lines:
            try:
                entry = orjson.loads(line)
                pairs = entry.get("ok", ())
                rows = [int(pairs[position]) for position in range(0, len(pairs) - 1, 2)]
                for row, position in zip(rows, range(1, len(pairs), 2), strict=True):
                    _store(confirmed, row, int(pairs[position]))
                ids.add(rows, entry.get("ids"), entry.get("own", ()))
                ids.delete(int(row) for row in entry.get("deleted", ()))
                undone = undone or entry.get("undone") is True
            except (
                orjson.JSONDecodeError,
                AttributeError,
                KeyError,
                TypeError,
                ValueError,
                OverflowError,
            ):
                continue  # a torn line (or a blank one)
        return cls(path, header, confirmed, ids, undone=undone)

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

    def confirm(
        self,
        rows: Iterable[tuple[int, int]],
        ids: Sequence[str | None] | None = None,
        own: Iterable[int] = (),
    ) -> None:
        """Record ``(row number, row hash)`` pairs the server confirmed, with the id of
        each row's job (``ids``, in the same order) and the rows that carried their own
        ``uidSecondary`` (``own``)."""
        flat: list[int] = []
        numbers: list[int] = []
        for row, digest in rows:
            _store(self._confirmed, row, digest)
            flat += (row, digest)
            numbers.append(row)
        own = list(own)
        self.ids.add(numbers, ids, own)
        entry: dict[str, Any] = {"ok": flat}
        if ids is not None:
            entry["ids"] = list(ids)
        if own:
            entry["own"] = own
        if flat:
            self._append(entry)

    def record_deleted(self, rows: Sequence[int]) -> None:
        """Record rows whose job ``undo`` deleted."""
        self.ids.delete(rows)
        if rows:
            self._append({"deleted": list(rows)})

    def mark_undone(self) -> None:
        """Record that every job of this import was deleted (see the module doc)."""
        self.undone = True
        self._append({"undone": True})
        self.sync()

    def confirmed_rows(self) -> Iterator[int]:
        """The numbers of the confirmed rows, in order."""
        return (row for row, digest in enumerate(self._confirmed) if digest)

    def _append(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(orjson.dumps(entry) + b"\n")
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


class JobIds:
    """The job id of each confirmed row, whether it carried its own key, and whether
    ``undo`` deleted it, in a few bytes per row (see the module doc).

    Example::

        >>> ids = JobIds()
        >>> ids.add([1, 2, 3], ["65f000000000000000000001", "x-7", None], own=[2])
        >>> ids.get(1), ids.get(2), ids.get(3), ids.get(4)
        ('65f000000000000000000001', 'x-7', None, None)
        >>> ids.is_own(2), ids.is_own(1)
        (True, False)
        >>> ids.delete([1]); ids.is_deleted(1), ids.is_deleted(2)
        (True, False)
    """

    _HEX: Final = 12  # bytes of a 24-hex-digit id
    _HAS_ID: Final = 1
    _OWN: Final = 2
    _DELETED: Final = 4

    def __init__(self) -> None:
        self._hex = bytearray()  # row -> 12 bytes
        self._flags = bytearray()  # row -> the flags above
        self._other: dict[int, str] = {}  # ids that are not 24 hex digits

    def _grow(self, row: int) -> None:
        if row >= len(self._flags):
            grow = max(row + 1 - len(self._flags), len(self._flags))  # amortised: doubles
            self._flags.extend(bytes(grow))
            self._hex.extend(bytes(grow * self._HEX))

    def add(self, rows: Sequence[int], ids: Sequence[Any] | None, own: Iterable[int]) -> None:
        """Record the job id of each of ``rows`` (``ids`` in the same order; None: no
        id) and which of them carried their own ``uidSecondary``."""
        if rows:
            self._grow(max(rows))
        for row, job_id in zip(rows, ids or (), strict=False):
            if not isinstance(job_id, str) or not job_id:
                continue
            self._flags[row] |= self._HAS_ID
            if len(job_id) == 2 * self._HEX and _is_lower_hex(job_id):
                start = row * self._HEX
                self._hex[start : start + self._HEX] = bytes.fromhex(job_id)
                self._other.pop(row, None)
            else:
                self._other[row] = job_id
        for row in own:
            self._grow(row)
            self._flags[row] |= self._OWN

    def delete(self, rows: Iterable[int]) -> None:
        """Mark rows whose job was deleted."""
        for row in rows:
            self._grow(row)
            self._flags[row] |= self._DELETED

    def get(self, row: int) -> str | None:
        """The id of row ``row``'s job, or None if none was recorded."""
        if row >= len(self._flags) or not self._flags[row] & self._HAS_ID:
            return None
        other = self._other.get(row)
        if other is not None:
            return other
        start = row * self._HEX
        return self._hex[start : start + self._HEX].hex()

    def is_own(self, row: int) -> bool:
        """Whether row ``row`` carried its own ``uidSecondary``."""
        return row < len(self._flags) and bool(self._flags[row] & self._OWN)

    def is_deleted(self, row: int) -> bool:
        """Whether ``undo`` deleted row ``row``'s job."""
        return row < len(self._flags) and bool(self._flags[row] & self._DELETED)

    def memory(self) -> int:
        """Bytes held (the id dict counted roughly)."""
        return len(self._hex) + len(self._flags) + 100 * len(self._other)


def _is_lower_hex(text: str) -> bool:
    return all(char in "0123456789abcdef" for char in text)


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

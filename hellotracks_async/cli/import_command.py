"""``hellotracks-async import FILE``: checks, the journal, signals, the summary.

Crash-safe by default: run again as the same command after any interruption (``kill
-9``, Ctrl-C, SIGTERM, a power cut), an import ends with exactly one job per row. The
journal (see :mod:`.journal`) holds the run's identity and the confirmed rows; every
row is sent with the key ``hta-<run>-<row number>`` (unless it has its own
``uidSecondary``), so a row sent twice updates its job, and a re-run sends only the
rows not confirmed: those never sent, plus at most the batches that were in flight.

- Ctrl-C or SIGTERM: no more rows are read, the batches in flight finish, the journal
  is saved, and one line is printed (``interrupted after 25,000 of 50,000 rows; run the
  same command to finish``); exit 130. A second Ctrl-C aborts at once (still safe).
- A file imported completely before: ``FILE: already imported ...``, nothing sent,
  exit 0. A row corrected in place since is sent again and updates its job.
  ``--new-run`` imports the file again as new jobs.
- A different file with the same name (see :mod:`.journal` for how that is told)
  starts a new run, and says so.
- A column that is no job field stops it before anything is sent (exit 2) unless
  ``--allow-unknown-columns``; so does a refused API key, after the first batches.

Example::

    >>> from .parser import build_parser
    >>> run_import(build_parser().parse_args(["import", "missing.csv"]))
    Traceback (most recent call last):
    ...
    hellotracks_async.cli.connection.UsageError: missing.csv: no such file
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ..client import HellotracksClient
from .cells import unknown_columns, wire_name
from .connection import UsageError, make_client
from .importer import Importer, ImportStats, check_rows, failure_columns
from .journal import SAMPLE_ROWS, Header, Journal, journal_path, row_hash
from .progress import ProgressBar, stderr_is_terminal
from .rowfiles import FailuresWriter, RowReader, default_failures_path, file_format

__all__ = ["run_import", "sample_of"]

#: Rows not sent are printed up to this many; all of them are in the failures file.
_SHOWN_BAD_ROWS = 20


def _failures_path(args: argparse.Namespace) -> Path:
    path: Path = args.failures or default_failures_path(args.file)
    if path.resolve() == args.file.resolve():
        raise UsageError(f"the failures file must not be the input file ({path})")
    if not path.parent.is_dir():
        raise UsageError(f"the failures file's folder does not exist: {path.parent}")
    return path


def _reporter(bar: ProgressBar, limit: int | None) -> Callable[[str], None]:
    shown = 0

    def report(message: str) -> None:
        nonlocal shown
        shown += 1
        if limit is None or shown <= limit:
            bar.message(message)
        elif shown == limit + 1:
            bar.message("... (more rows were not sent; see the failures file)")

    return report


def sample_of(source: Path) -> tuple[list[int], list[str]]:
    """The hashes of the first rows, and the keys of the first JSONL object."""
    hashes: list[int] = []
    keys: list[str] = []
    with RowReader(source) as rows:
        for row in rows:
            if not keys and rows.format == "jsonl" and row.problem is None:
                keys = list(row.fields)
            hashes.append(row_hash(row.fields, row.problem))
            if len(hashes) == SAMPLE_ROWS:
                break
    return hashes, keys


def _check_columns(source: Path, names: list[str], *, allow: bool) -> None:
    problems = [] if allow else unknown_columns(names)
    if problems:
        lines = "\n".join(f"  {problem}" for problem in problems)
        raise UsageError(
            f"{source}: nothing was sent:\n{lines}\n"
            "Rename the column (wire names or snake_case, custom_<name> for custom fields), "
            "or pass --allow-unknown-columns to send it as it is."
        )


def _open_journal(args: argparse.Namespace, header: Header) -> Journal:
    """Continue the journal of this import, or start a new run (saying why)."""
    state_dir: Path | None = args.state_dir
    if state_dir is not None and not state_dir.is_dir():
        raise UsageError(f"the state folder does not exist: {state_dir}")
    path = journal_path(args.file, edit=args.edit, state_dir=state_dir)
    earlier = None if args.new_run else Journal.load(path)
    try:
        if earlier is not None and earlier.header.same_import(header) and not earlier.undone:
            return earlier.open()
        if earlier is not None and earlier.undone:
            print(
                f"{args.file}: its earlier import was undone; starting a new run: its rows "
                "become new jobs",
                file=sys.stderr,
            )
        elif earlier is not None:
            print(
                f"{args.file}: not the file {path} was recorded for (its first rows "
                "differ); starting a new run: its rows become new jobs",
                file=sys.stderr,
            )
        elif args.new_run and path.exists():
            print(f"{args.file}: --new-run: its rows become new jobs", file=sys.stderr)
        return Journal.create(path, header)
    except OSError as exc:
        raise UsageError(
            f"cannot write the state file {path}: {exc.strerror}; pass --state-dir DIR"
        ) from None


def run_import(args: argparse.Namespace) -> int:
    """The ``import`` command; return the exit code (see :mod:`.commands`)."""
    source: Path = args.file
    if not source.is_file():
        raise UsageError(f"{source}: no such file")
    file_format(source)
    failures_path = _failures_path(args)
    show_bar = stderr_is_terminal() and not args.no_progress and not args.dry_run
    allow = args.allow_unknown_columns
    with RowReader(source) as rows:
        if args.edit and rows.columns and "id" not in map(wire_name, rows.columns):
            raise UsageError(f"{source}: --edit needs an 'id' column")
        sample, first_keys = sample_of(source)
        _check_columns(source, rows.columns or first_keys, allow=allow)
        if args.dry_run:
            with ProgressBar("check", enabled=False) as bar:
                stats = check_rows(
                    rows, edit=args.edit, report=_reporter(bar, None), allow_unknown=allow
                )
            return _summarise(source, stats)
        if not sample:
            print(f"{source}: no rows to import")
            return 0
        mode = "edit" if args.edit else "create"
        header = Header.new(mode=mode, format=rows.format, columns=rows.columns, sample=sample)
        client = make_client(args)
        columns = None if rows.columns is None else failure_columns(rows.columns, edit=args.edit)
        with (
            _open_journal(args, header) as journal,
            FailuresWriter(failures_path, rows.format, columns) as failures,
            ProgressBar(mode, enabled=show_bar, total_bytes=rows.size) as bar,
        ):
            importer = Importer(
                rows,
                failures,
                edit=args.edit,
                journal=journal,
                allow_unknown=allow,
                report=_reporter(bar, _SHOWN_BAD_ROWS),
                on_progress=lambda stats: bar.show(
                    done=stats.succeeded + stats.failed + stats.skipped,
                    failed=stats.failed,
                    bytes_read=rows.bytes_read,
                    concurrency=client.concurrency,
                ),
            )
            try:
                asyncio.run(_send(client, importer, bar))
            except (asyncio.CancelledError, KeyboardInterrupt):
                importer.stopped = "aborted"  # a second Ctrl-C: the journal is still good
            if importer.stopped in ("interrupted", "aborted"):
                importer.count_unread()
    if failures.count == 0 and importer.stopped != "aborted":
        with contextlib.suppress(OSError):  # an earlier run's, now out of date
            failures_path.unlink()
    return _finish(source, importer, failures, journal)


def _finish(source: Path, importer: Importer, failures: FailuresWriter, journal: Journal) -> int:
    stats = importer.stats
    if importer.stopped == "refused":
        status = getattr(importer.refusal, "http_status", None)
        raise UsageError(
            f"the server refused the API key{f' (HTTP {status})' if status else ''}; "
            f"stopped after reading {stats.rows:,} rows, {stats.succeeded:,} created, "
            "nothing else sent. Set HELLOTRACKS_API_KEY or --api-key-file to a valid key "
            "and run the same command."
        )
    if importer.stopped is not None:
        done = stats.skipped + stats.succeeded + stats.failed
        total = stats.rows + stats.unread
        failed = f" ({stats.failed:,} failed: {failures.path})" if failures.count else ""
        verb = "aborted" if importer.stopped == "aborted" else "interrupted"
        print(
            f"{verb} after {done:,} of {total:,} rows{failed}; run the same command to finish",
            flush=True,
        )
        return 130
    if stats.skipped == stats.rows:
        print(
            f"{source}: already imported: all {stats.rows:,} rows were confirmed by an "
            f"earlier run ({journal.path}); nothing sent. --new-run "
            + ("sends every row again." if importer.edit else "imports it again as new jobs.")
        )
        return 0
    return _summarise(source, stats, failures)


def _summarise(source: Path, stats: ImportStats, failures: FailuresWriter | None = None) -> int:
    """Print the summary line; return the exit code. A file without rows (0 bytes, a
    header only, blank lines) says so and exits 0: nothing failed."""
    if stats.rows == 0:
        print(f"{source}: no rows to import")
        return 0
    print(stats.summary(failures))
    return 1 if stats.failed else 0


@contextlib.contextmanager
def _signals(importer: Importer, bar: ProgressBar) -> Iterator[None]:
    """SIGINT / SIGTERM: the first stops reading (the batches in flight finish), the
    next aborts at once (cancels the run; the journal is still good)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    seen = 0

    def on_signal() -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            importer.stop("interrupted")
            bar.message("stopping: finishing the requests in flight (Ctrl-C again aborts)")
        elif task is not None:
            task.cancel()

    wanted = (signal.SIGINT, signal.SIGTERM)
    for number in wanted:
        loop.add_signal_handler(number, on_signal)
    try:
        yield
    finally:
        for number in wanted:
            loop.remove_signal_handler(number)


async def _send(client: HellotracksClient, importer: Importer, bar: ProgressBar) -> None:
    with _signals(importer, bar):
        async with client:
            await importer.run(client)

"""The ``hellotracks-async`` commands: ``import``, ``fake-server`` and ``demo``, and :func:`main`.

::

    hellotracks-async import jobs.csv                   # create the jobs of a CSV / JSONL file
    hellotracks-async import changes.jsonl --edit       # edit jobs by id
    hellotracks-async import jobs.failures.csv          # send what failed again (upserts)
    hellotracks-async fake-server --port 8080 --fault-rate 0.1
    hellotracks-async demo --jobs 10000

The API key comes from ``HELLOTRACKS_API_KEY`` or ``--api-key-file`` (never from a flag
that would hold the key itself, where ``ps`` and shell history would show it).

Exit codes: 0 if everything succeeded (or the file has no rows: ``FILE: no rows to
import`` is printed), 1 if any row failed (the failures file has them), 2 for a usage or
configuration error, 130 if interrupted.

Example::

    >>> main(["--version"])
    hellotracks-async 0.1.0
    0
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..client import HellotracksClient
from ..errors import ConfigurationError
from ..results import Progress
from .cells import wire_name
from .demo import run_demo
from .importer import ImportStats, check_rows, failure_columns, import_rows
from .parser import PROG, build_parser
from .progress import ProgressBar, stderr_is_terminal
from .rowfiles import FailuresWriter, InputError, RowReader, default_failures_path, file_format

__all__ = ["main"]

#: Rows not sent are printed up to this many; all of them are in the failures file.
_SHOWN_BAD_ROWS = 20


class UsageError(Exception):
    """A usage or configuration problem: exit code 2."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (the ``hellotracks-async`` script).

    Example::

        >>> main(["import"])
        2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("hellotracks_async").setLevel(
        logging.INFO if args.verbose else logging.WARNING
    )
    run = _COMMANDS[args.command]
    try:
        return run(args)
    except (UsageError, InputError, ConfigurationError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


# -- import -------------------------------------------------------------------------------


def _api_key(args: argparse.Namespace) -> str:
    path: Path | None = args.api_key_file
    if path is not None:
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the API key file {path}: {exc}") from None
        if not key:
            raise UsageError(f"the API key file {path} is empty")
        return key
    key = os.environ.get("HELLOTRACKS_API_KEY", "").strip()
    if not key:
        raise UsageError("no API key: set HELLOTRACKS_API_KEY or pass --api-key-file PATH")
    return key


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


def _import(args: argparse.Namespace) -> int:
    source: Path = args.file
    if not source.is_file():
        raise UsageError(f"{source}: no such file")
    file_format(source)
    failures_path = _failures_path(args)
    show_bar = stderr_is_terminal() and not args.no_progress and not args.dry_run
    with RowReader(source) as rows:
        if args.edit and rows.columns and "id" not in map(wire_name, rows.columns):
            raise UsageError(f"{source}: --edit needs an 'id' column")
        if args.dry_run:
            with ProgressBar("check", enabled=False) as bar:
                stats = check_rows(rows, edit=args.edit, report=_reporter(bar, None))
            return _summarise(source, stats)
        client = HellotracksClient(
            api_key=_api_key(args),
            base_url=args.base_url,
            batch_size=args.batch_size,
            max_concurrency=args.concurrency,
            max_retries=args.max_retries,
            timeout=args.timeout,
        )
        columns = None if rows.columns is None else failure_columns(rows.columns, edit=args.edit)
        label = "edit" if args.edit else "create"
        with (
            FailuresWriter(failures_path, rows.format, columns) as failures,
            ProgressBar(label, enabled=show_bar, total_bytes=rows.size) as bar,
        ):
            stats = asyncio.run(_send(client, rows, failures, bar, edit=args.edit))
    return _summarise(source, stats, failures)


def _summarise(source: Path, stats: ImportStats, failures: FailuresWriter | None = None) -> int:
    """Print the summary line; return the exit code. A file without rows (0 bytes, a
    header only, blank lines) says so and exits 0: nothing failed."""
    if stats.rows == 0:
        print(f"{source}: no rows to import")
        return 0
    print(stats.summary(failures))
    return 1 if stats.failed else 0


async def _send(
    client: HellotracksClient,
    rows: RowReader,
    failures: FailuresWriter,
    bar: ProgressBar,
    *,
    edit: bool,
) -> ImportStats:
    def progressed(stats: ImportStats) -> None:
        done = stats.succeeded + stats.failed
        bar.show(done=done, failed=stats.failed, bytes_read=rows.bytes_read)

    async with client:
        return await import_rows(
            client,
            rows,
            failures,
            edit=edit,
            report=_reporter(bar, _SHOWN_BAD_ROWS),
            on_progress=progressed,
        )


# -- fake-server and demo ----------------------------------------------------------------


def _fake_server(args: argparse.Namespace) -> int:
    from ..testing import serve

    try:
        asyncio.run(
            serve(
                host=args.host,
                port=args.port,
                fault_rate=args.fault_rate,
                seed=args.seed,
                store_jobs=not args.no_store,
            )
        )
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0


def _demo(args: argparse.Namespace) -> int:
    print(
        f"{PROG} demo: {args.jobs:,} jobs against an in-process fake server, faults on "
        f"{args.fault_rate:.0%} of requests (seed {args.seed})",
        flush=True,
    )
    enabled = stderr_is_terminal() and not args.no_progress
    bars: dict[str, ProgressBar] = {}

    def progress(phase: str, totals: Progress) -> None:
        bar = bars.get(phase)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[phase] = ProgressBar(phase, enabled=enabled, total=args.jobs)
        bar.show(done=totals.succeeded + totals.failed, failed=totals.failed)

    try:
        report = asyncio.run(run_demo(args.jobs, args.fault_rate, args.seed, progress=progress))
    finally:
        for bar in bars.values():
            bar.close()
    for line in report.lines():
        print(line)
    return 0 if report.verified else 1


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "import": _import,
    "fake-server": _fake_server,
    "demo": _demo,
}

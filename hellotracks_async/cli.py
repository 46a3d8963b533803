"""The ``hellotracks-async`` command line: ``import``, ``fake-server`` and ``demo``.

::

    hellotracks-async import jobs.csv                   # create the jobs of a CSV / JSONL file
    hellotracks-async import changes.jsonl --edit       # edit jobs by id
    hellotracks-async import jobs.failures.csv          # send what failed again (upserts)
    hellotracks-async fake-server --port 8080 --fault-rate 0.1
    hellotracks-async demo --jobs 10000

The API key comes from ``HELLOTRACKS_API_KEY`` or ``--api-key-file`` (never from a flag
that would hold the key itself, where ``ps`` and shell history would show it).

Exit codes: 0 if everything succeeded, 1 if any row failed (the failures file has them),
2 for a usage or configuration error, 130 if interrupted.

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

from . import __version__
from ._importer import ImportStats, check_rows, failure_columns, import_rows
from ._progress import ProgressBar, stderr_is_terminal
from ._rowio import FailuresWriter, InputError, RowReader, default_failures_path, file_format
from ._rows import wire_name
from .client import HellotracksClient
from .demo import run_demo
from .errors import ConfigurationError
from .results import Progress

__all__ = ["build_parser", "main"]

_PROG = "hellotracks-async"
#: Rows not sent are printed up to this many; all of them are in the failures file.
_SHOWN_BAD_ROWS = 20


class UsageError(Exception):
    """A usage or configuration problem: exit code 2."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its three subcommands.

    Example::

        >>> build_parser().parse_args(["import", "jobs.csv", "--edit"]).edit
        True
    """
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Bulk-create and edit Hellotracks jobs; test against a fake."
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every retry (INFO) on stderr"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imp = commands.add_parser(
        "import",
        help="create (or --edit) the jobs of a CSV or JSONL file",
        description=(
            "Create the jobs of a CSV or JSONL file (.csv, .jsonl, .ndjson), or edit jobs by "
            "id with --edit. Columns are wire names (destinationName) or snake_case "
            "(destination_name); custom_<name> columns pass through; customFields is a JSON "
            "list. Rows that fail, or cannot be read, are written with an 'error' column to "
            "the failures file, which can be imported again: created jobs carry their "
            "uidSecondary there, so a second import updates instead of duplicating. The API "
            "key is read from HELLOTRACKS_API_KEY or --api-key-file."
        ),
    )
    imp.add_argument("file", metavar="FILE", type=Path, help="the .csv, .jsonl or .ndjson file")
    imp.add_argument("--edit", action="store_true", help="edit jobs: every row needs an id")
    imp.add_argument(
        "--batch-size",
        type=_positive_int,
        default=100,
        metavar="N",
        help="jobs per request (default 100)",
    )
    imp.add_argument(
        "--concurrency",
        type=_positive_int,
        default=4,
        metavar="N",
        help="requests in flight at once (default 4)",
    )
    imp.add_argument(
        "--max-retries",
        type=_non_negative_int,
        default=5,
        metavar="N",
        help="retries per request for transient failures (default 5)",
    )
    imp.add_argument(
        "--timeout",
        type=_positive_float,
        default=30.0,
        metavar="SECONDS",
        help="seconds per attempt (default 30)",
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="check every row, send nothing (no API key needed)"
    )
    imp.add_argument(
        "--base-url",
        metavar="URL",
        help="API root (default: env HELLOTRACKS_BASE_URL or the public API)",
    )
    imp.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help="read the API key from this file (default: env HELLOTRACKS_API_KEY)",
    )
    imp.add_argument(
        "--failures",
        type=Path,
        metavar="PATH",
        help="where failed rows go (default: <FILE stem>.failures.<ext> beside it)",
    )
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.set_defaults(run=_import)

    fake = commands.add_parser(
        "fake-server",
        help="run the fake Hellotracks server until Ctrl-C",
        description="Run FakeHellotracks (jobs in memory) until Ctrl-C.",
    )
    fake.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    fake.add_argument(
        "--port", type=_non_negative_int, default=8080, help="default 8080; 0 picks a free port"
    )
    fake.add_argument(
        "--fault-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of requests that get a fault of any kind (default 0)",
    )
    fake.add_argument("--seed", type=int, help="seed of the fault sequence")
    fake.add_argument(
        "--no-store",
        action="store_true",
        help="keep no job (for load tests): createjobs answers as usual, "
        "editjobs/getjobs see no job, memory stays flat",
    )
    fake.set_defaults(run=_fake_server)

    demo = commands.add_parser(
        "demo",
        help="create and edit generated jobs against an in-process faulty fake server",
        description=(
            "Start the fake server in-process with faults of every kind, create and edit "
            "generated jobs, and check the server's store: nothing lost, no duplicates."
        ),
    )
    demo.add_argument(
        "--jobs", type=_positive_int, default=10_000, metavar="N", help="default 10000"
    )
    demo.add_argument(
        "--fault-rate",
        type=_rate,
        default=0.05,
        metavar="R",
        help="share of requests that get a fault (default 0.05)",
    )
    demo.add_argument("--seed", type=int, default=2026, help="default 2026")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
    return parser


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
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (UsageError, InputError, ConfigurationError) as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
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
            print(stats.summary())
            return 1 if stats.failed else 0
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
            ProgressBar(label, enabled=show_bar) as bar,
        ):
            stats = asyncio.run(_send(client, rows, failures, bar, edit=args.edit))
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
        bar.show(done=stats.succeeded + stats.failed, failed=stats.failed)

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
    from .testing import serve

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
        f"{_PROG} demo: {args.jobs:,} jobs against an in-process fake server, faults on "
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

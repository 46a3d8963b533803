"""The argument parser of ``hellotracks-async``: its subcommands, checked values.

``-v`` / ``--verbose`` is accepted before the subcommand and after it (each subparser
gets it from a parent parser), so ``hellotracks-async -v import jobs.csv`` and
``hellotracks-async import jobs.csv -v`` mean the same.

Example::

    >>> args = build_parser().parse_args(["import", "jobs.csv", "--edit", "-v"])
    >>> args.command, args.edit, args.verbose
    ('import', True, True)
"""

from __future__ import annotations

import argparse
import datetime
import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .. import __version__

__all__ = ["PROG", "build_parser"]

#: The console script's name, in usage lines and error messages.
PROG = "hellotracks-async"


_N = TypeVar("_N", int, float)


def _within(
    convert: Callable[[str], _N], low: float, high: float = math.inf, *, above: bool = False
) -> Callable[[str], _N]:
    """An argparse type: ``convert`` the text and check ``low <= value <= high`` (or
    ``low < value`` with ``above``); ``inf`` and ``nan`` are refused."""
    if above:
        wanted = f"more than {low:g}"
    elif high == math.inf:
        wanted = f"{low:g} or more" if low == 0 else f"at least {low:g}"
    else:
        wanted = f"between {low:g} and {high:g}"

    def check(text: str) -> _N:
        value = convert(text)
        fits = low < value if above else low <= value
        if not (fits and value <= high and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    check.__name__ = convert.__name__  # argparse names the type in its errors
    return check


_positive_int = _within(int, 1)
_non_negative_int = _within(int, 0)
_positive_float = _within(float, 0, above=True)
_non_negative_float = _within(float, 0)
_burst = _within(float, 1)
_rate = _within(float, 0, 1)


def _date(text: str) -> datetime.date:
    """An argparse type: a ``YYYY-MM-DD`` (or ``YYYYMMDD``) day."""
    try:
        if len(text) == 8 and text.isdigit():
            return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a day as YYYY-MM-DD, got {text}") from None


_VERBOSE_HELP = "log every retry (INFO) on stderr"


def _common_options() -> argparse.ArgumentParser:
    """The options every subcommand takes too. Their default is "not given", so that
    ``-v`` before the subcommand is not reset by the subparser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP
    )
    return common


def _connection_options() -> argparse.ArgumentParser:
    """The options of every command that talks to the API: the key, where, how."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--batch-size",
        type=_positive_int,
        default=100,
        metavar="N",
        help="jobs per request (default 100)",
    )
    options.add_argument(
        "--concurrency",
        type=_positive_int,
        default=64,
        metavar="N",
        help="the most requests in flight (default 64); the number in flight adapts below "
        "it to the server's speed, and the progress bar shows it",
    )
    options.add_argument(
        "--max-retries",
        type=_non_negative_int,
        default=5,
        metavar="N",
        help="retries per request for transient failures (default 5)",
    )
    options.add_argument(
        "--timeout",
        type=_positive_float,
        default=30.0,
        metavar="SECONDS",
        help="seconds per attempt (default 30)",
    )
    options.add_argument(
        "--base-url",
        metavar="URL",
        help="API root (default: env HELLOTRACKS_BASE_URL or the public API)",
    )
    options.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help="read the API key from this file (default: env HELLOTRACKS_API_KEY)",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its subcommands.

    Example::

        >>> build_parser().parse_args(["import", "jobs.csv", "--edit"]).edit
        True
    """
    parser = argparse.ArgumentParser(
        prog=PROG, description="Bulk-create and edit Hellotracks jobs; test against a fake."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_common_options()]
    connected = [*common, _connection_options()]

    imp = commands.add_parser(
        "import",
        parents=connected,
        help="create (or --edit) the jobs of a CSV or JSONL file",
        description=(
            "Create the jobs of a CSV or JSONL file (.csv, .jsonl, .ndjson), or edit jobs by "
            "id with --edit. Columns are wire names (destinationName) or snake_case "
            "(destination_name); custom_<name> columns pass through; customFields is a JSON "
            "list. Rows that fail, or cannot be read, are written with an 'error' column to "
            "the failures file, which can be imported again: created jobs carry their "
            "uidSecondary there, so a second import updates instead of duplicating. The API "
            "key is read from HELLOTRACKS_API_KEY or --api-key-file. Crash-safe: a state "
            "file (FILE.htjournal) records the run and the rows the server confirmed; "
            "interrupted at any point (Ctrl-C, SIGTERM, kill -9), the same command sends "
            "only the rest, and every row keeps its key. Exit codes: 0 done, 1 some rows "
            "failed, 2 usage error, unknown column or refused API key, 130 interrupted."
        ),
        epilog=f"example: HELLOTRACKS_API_KEY=... {PROG} import jobs.csv",
    )
    imp.add_argument("file", metavar="FILE", type=Path, help="the .csv, .jsonl or .ndjson file")
    imp.add_argument("--edit", action="store_true", help="edit jobs: every row needs an id")
    imp.add_argument(
        "--dry-run", action="store_true", help="check every row, send nothing (no API key needed)"
    )
    imp.add_argument(
        "--failures",
        type=Path,
        metavar="PATH",
        help="where failed rows go (default: <FILE stem>.failures.<ext> beside it)",
    )
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.add_argument(
        "--allow-unknown-columns",
        action="store_true",
        help="send columns that are no job field as they are (default: such a column "
        "stops the import before anything is sent, exit 2)",
    )
    imp.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="keep the state file (journal) in DIR instead of beside FILE as FILE.htjournal",
    )
    imp.add_argument(
        "--new-run",
        action="store_true",
        help="forget the state file: import FILE again as new jobs (new keys)",
    )

    # the commands that read an import's state file find it as import does
    journal = argparse.ArgumentParser(add_help=False)
    journal.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="the state files' folder, as import's --state-dir (default: beside the file)",
    )
    journaled = [*connected, journal]
    verify = commands.add_parser(
        "verify",
        parents=journaled,
        help="read back the job of every row an import confirmed and compare",
        description=(
            "Read back, in batches, the job of every row the import of FILE confirmed (its "
            "state file records each job's id) and compare it with the row: reports rows "
            "whose job is missing and fields that differ, on the terminal and in a report "
            "file (--json: a JSON summary on stdout for machines). Works on an import "
            "that is still half done, and says how many rows were never confirmed. Exit "
            "codes: 0 every row's job is there and equal, 1 otherwise, 2 usage error, "
            "130 interrupted."
        ),
        epilog=f"example: {PROG} verify jobs.csv --report jobs.verify.jsonl",
    )
    verify.add_argument("file", metavar="FILE", type=Path, help="the file that was imported")
    verify.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="where the rows that differ or are missing go (default: <FILE>.verify.jsonl)",
    )
    verify.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar")

    undo = commands.add_parser(
        "undo",
        parents=journaled,
        help="delete exactly the jobs an import created",
        description=(
            "Delete the jobs the import of FILE created (its state file records each "
            "job's id), after a prompt that shows the count. Rows that carried their own "
            "uidSecondary may have updated a job that existed before the import: they are "
            "listed and left unless --include-own-keys. Interrupted (Ctrl-C, kill -9) and "
            "run again, it finishes. Afterwards an import of FILE creates new jobs. Exit "
            "codes: 0 done, 1 some jobs not deleted, 2 usage error (or no terminal and no "
            "--yes), 130 interrupted."
        ),
        epilog=f"example: {PROG} undo jobs.csv --yes",
    )
    undo.add_argument("file", metavar="FILE", type=Path, help="the file that was imported")
    undo.add_argument("--yes", action="store_true", help="do not ask; needed without a terminal")
    undo.add_argument(
        "--include-own-keys",
        action="store_true",
        help="also delete the jobs of rows that carried their own uidSecondary",
    )

    export = commands.add_parser(
        "export",
        parents=journaled,
        help="write the jobs of a day (or days) to a CSV or JSONL file import reads",
        description=(
            "Write the jobs of --day (to --to, each day one getjobs query, several in "
            "flight) to FILE.csv or FILE.jsonl, in the format import reads: wire names, "
            "customFields as JSON, an id column. Edit the file (a spreadsheet will do) and "
            "run import --edit FILE: only the rows you changed are sent (export records "
            "every row as confirmed in the state file of that edit import), so an "
            "unedited file changes nothing. Exit codes: 0 done, 2 usage error, 1 a query "
            "failed, 130 interrupted."
        ),
        epilog=(
            f"example: {PROG} export --day 2026-11-23 --to 2026-11-30 -o week.csv, edit "
            f"week.csv, then {PROG} import --edit week.csv"
        ),
    )
    export.add_argument("--day", required=True, type=_date, metavar="DAY", help="YYYY-MM-DD")
    export.add_argument("--to", type=_date, metavar="DAY", help="last day (default: --day)")
    export.add_argument("--worker", default="*", help='a worker\'s username (default "*": all)')
    export.add_argument("--team", type=_non_negative_int, metavar="N", help="a team number")
    export.add_argument(
        "-o", "--output", required=True, type=Path, metavar="FILE", help=".csv or .jsonl"
    )
    export.add_argument("--no-progress", action="store_true", help="no progress bar")

    fake = commands.add_parser(
        "fake-server",
        parents=common,
        help="run the fake Hellotracks server until Ctrl-C",
        description="Run FakeHellotracks (jobs in memory) until Ctrl-C.",
        epilog=f"example: {PROG} fake-server --port 8080 --fault-rate 0.1 --rtt-ms 80",
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
        "editjobs/getjobs/deletejobs see no job, memory stays flat",
    )
    fake.add_argument(
        "--rtt-ms",
        type=_non_negative_float,
        default=0.0,
        metavar="MS",
        help="network round trip added to every request (default 0)",
    )
    fake.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="requests served at once; the rest queue (default: unlimited)",
    )
    fake.add_argument(
        "--per-request-ms",
        type=_non_negative_float,
        default=0.0,
        metavar="MS",
        help="service time of a request (default 0)",
    )
    fake.add_argument(
        "--per-job-ms",
        type=_non_negative_float,
        default=0.0,
        metavar="MS",
        help="service time per job of a request (default 0)",
    )
    fake.add_argument(
        "--rate",
        type=_positive_float,
        metavar="R",
        help="requests per second admitted; more get 429 with Retry-After (default: no limit)",
    )
    fake.add_argument(
        "--burst",
        type=_burst,
        metavar="B",
        help="the rate limit's bucket size (default: max(1, rate)); needs --rate",
    )

    demo = commands.add_parser(
        "demo",
        parents=common,
        help="create and edit generated jobs against an in-process faulty fake server",
        description=(
            "Start the fake server in-process with faults of every kind, create and edit "
            "generated jobs, and check the server's store: nothing lost, no duplicates."
        ),
        epilog=f"example: {PROG} demo --jobs 50000 --fault-rate 0.2",
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
    return parser

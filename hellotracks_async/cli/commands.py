"""The ``hellotracks-async`` commands: ``import``, ``fake-server`` and ``demo``, and :func:`main`.

::

    hellotracks-async import jobs.csv                   # create the jobs of a CSV / JSONL file
    hellotracks-async import changes.jsonl --edit       # edit jobs by id
    hellotracks-async import jobs.failures.csv          # send what failed again (upserts)
    hellotracks-async fake-server --port 8080 --fault-rate 0.1
    hellotracks-async fake-server --rtt-ms 150 --workers 4 --per-job-ms 0.5 --rate 20
    hellotracks-async demo --jobs 10000

The API key comes from ``HELLOTRACKS_API_KEY`` or ``--api-key-file`` (never from a flag
that would hold the key itself, where ``ps`` and shell history would show it).

``import`` is crash-safe by default: interrupted at any point and run again as the same
command, it ends with exactly one job per row (see :mod:`.import_command`; the state
journal is ``FILE.htjournal`` beside the input, or under ``--state-dir``).

Exit codes: 0 if everything succeeded (or the file has no rows: ``FILE: no rows to
import`` is printed; or it was imported completely before: ``FILE: already
imported``), 1 if any row failed (the failures file has them), 2 for a usage or
configuration error, a column that is no job field (nothing is sent), or an API key
the server refused (it stops after the first batches), 130 if interrupted (Ctrl-C,
SIGTERM: run the same command to finish).

Example::

    >>> main(["--version"])
    hellotracks-async 0.1.0
    0
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from ..errors import ConfigurationError
from ..results import Progress
from .connection import UsageError
from .demo import run_demo
from .export_command import run_export
from .import_command import run_import
from .parser import PROG, build_parser
from .progress import ProgressBar, stderr_is_terminal
from .rowfiles import InputError
from .undo_command import run_undo
from .verify_command import run_verify

__all__ = ["main"]


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


# -- fake-server and demo ----------------------------------------------------------------


def _fake_server(args: argparse.Namespace) -> int:
    from ..testing import serve

    if args.burst is not None and args.rate is None:
        raise UsageError("--burst needs --rate")
    try:
        asyncio.run(
            serve(
                host=args.host,
                port=args.port,
                fault_rate=args.fault_rate,
                seed=args.seed,
                store_jobs=not args.no_store,
                rtt=args.rtt_ms / 1000,
                workers=args.workers,
                per_request=args.per_request_ms / 1000,
                per_job=args.per_job_ms / 1000,
                rate=args.rate,
                burst=args.burst,
            )
        )
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    except ValueError as exc:  # a capacity the fake refuses
        raise UsageError(str(exc)) from None
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
        bar.show(
            done=totals.succeeded + totals.failed,
            failed=totals.failed,
            concurrency=totals.concurrency,
        )

    try:
        report = asyncio.run(run_demo(args.jobs, args.fault_rate, args.seed, progress=progress))
    finally:
        for bar in bars.values():
            bar.close()
    for line in report.lines():
        print(line)
    return 0 if report.verified else 1


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "import": run_import,
    "verify": run_verify,
    "undo": run_undo,
    "export": run_export,
    "fake-server": _fake_server,
    "demo": _demo,
}

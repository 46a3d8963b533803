"""``hellotracks-async undo FILE``: delete exactly the jobs an import created.

The import's journal (see :mod:`.journal`) holds each confirmed row's job id. ``undo``
deletes those jobs through ``stream_delete_jobs`` and records every deleted row in the
journal as it goes, so that, interrupted (Ctrl-C, ``kill -9``) and run again, it sends
only the rest. An id the server refuses (an unknown id: deleted by the interrupted run
whose answer was never recorded) is read back with ``get_jobs``: not found, its job is
gone and the row is done; found, it is a failure. Once every job is gone the journal is
marked undone: an import of the file after that is a new run, with new jobs.

Never deletes a job that may have existed before the import: a row that carried its own
``uidSecondary`` may have updated someone else's job; such rows are listed and left
unless ``--include-own-keys``. Without ``--yes`` it asks first, and refuses (exit 2)
without a terminal to ask on.

Example::

    >>> plan = UndoPlan()
    >>> plan.targets.append((1, "65f0..."))
    >>> plan.describe()
    'delete 1 job'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Final

import attrs

from ..client import HellotracksClient
from ..errors import JobNotFoundError
from .connection import UsageError, make_client
from .journal import Journal, journal_path

__all__ = ["UndoPlan", "run_undo"]

_SHOWN: Final = 20


@attrs.define
class UndoPlan:
    """What ``undo`` will do: ``targets`` (row, job id) to delete, ``own`` rows left
    (their own ``uidSecondary``), ``done`` rows deleted by an earlier run, rows
    ``without_id`` (recorded by an older release).

    Example::

        >>> UndoPlan(done=3).describe()
        'nothing left to delete (3 already deleted)'
    """

    targets: list[tuple[int, str]] = attrs.field(factory=list)
    own: list[tuple[int, str]] = attrs.field(factory=list)
    done: int = 0
    without_id: int = 0

    @classmethod
    def of(cls, journal: Journal, *, include_own: bool) -> UndoPlan:
        """The plan for ``journal``'s confirmed rows."""
        plan = cls()
        ids = journal.ids
        for row in journal.confirmed_rows():
            job_id = ids.get(row)
            if ids.is_deleted(row):
                plan.done += 1
            elif job_id is None:
                plan.without_id += 1
            elif ids.is_own(row) and not include_own:
                plan.own.append((row, job_id))
            else:
                plan.targets.append((row, job_id))
        return plan

    def describe(self) -> str:
        """One line: what is to be deleted."""
        if not self.targets:
            already = f" ({self.done:,} already deleted)" if self.done else ""
            return f"nothing left to delete{already}"
        jobs = "job" if len(self.targets) == 1 else "jobs"
        return f"delete {len(self.targets):,} {jobs}"


async def _delete(
    client: HellotracksClient, journal: Journal, targets: list[tuple[int, str]]
) -> list[tuple[int, str, str]]:
    """Delete the targets' jobs, recording each deleted row; return (row, id, why) of
    those still there."""
    refused: list[int] = []  # positions in targets
    async with client:
        ids = (job_id for _, job_id in targets)
        async with contextlib.aclosing(client.stream_delete_jobs(ids)) as outcomes:
            async for outcome in outcomes:
                gone = [*outcome.indices, *(i for f in outcome.maybe_deleted for i in f.indices)]
                journal.record_deleted([targets[i][0] for i in gone])
                refused += [i for failure in outcome.failures for i in failure.indices]
        if not refused:
            return []
        # Refused: unknown (deleted by an interrupted run), or really refused. Look.
        check = await client.get_jobs([targets[i][1] for i in refused], raise_on_error=False)
    still: list[tuple[int, str, str]] = []
    absent: list[int] = []
    for failure in check.failures:
        for position in failure.indices:
            row, job_id = targets[refused[position]]
            if isinstance(failure.exception, JobNotFoundError):
                absent.append(row)
            else:
                still.append((row, job_id, f"could not read it back: {failure.exception}"))
    for position in check.indices:
        row, job_id = targets[refused[position]]
        still.append((row, job_id, "the server refused to delete it"))
    journal.record_deleted(absent)
    return still


def _confirm(source: Path, plan: UndoPlan, *, yes: bool) -> bool:
    """Ask before deleting (``--yes``: don't); no terminal to ask on is a usage error."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            f"{source}: {plan.describe()}? nothing deleted: no terminal to ask on; pass --yes"
        )
    answer = input(f"{source}: {plan.describe()} created by its import? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run_undo(args: argparse.Namespace) -> int:
    """The ``undo`` command; return the exit code."""
    source: Path = args.file
    path = journal_path(source, edit=False, state_dir=args.state_dir)
    journal = Journal.load(path)
    if journal is None:
        edited = Journal.load(journal_path(source, edit=True, state_dir=args.state_dir))
        if edited is not None:
            raise UsageError(f"{source}: an import --edit cannot be undone (no old values)")
        raise UsageError(f"{source}: no import of this file is recorded (no state file)")
    plan = UndoPlan.of(journal, include_own=args.include_own_keys)
    for row, job_id in plan.own[:_SHOWN]:
        print(f"left: row {row:,}, job {job_id}: the row carried its own uidSecondary")
    if plan.own:
        print(
            f"left {len(plan.own):,} jobs whose rows carried their own uidSecondary (they may "
            "have existed before the import); --include-own-keys deletes them too"
        )
    if plan.without_id:
        print(f"{plan.without_id:,} confirmed rows have no recorded job id (an older release)")
    if not plan.targets:
        if plan.done and not journal.undone:  # an earlier run deleted all, then was killed
            with journal.open():
                journal.mark_undone()
        print(f"{source}: {plan.describe()}")
        return 0
    if not _confirm(source, plan, yes=args.yes):
        print("nothing deleted")
        return 1
    with journal.open():
        still = asyncio.run(_delete(make_client(args), journal, plan.targets))
        if not still:
            journal.mark_undone()
    for row, job_id, why in still[:_SHOWN]:
        print(f"not deleted: row {row:,}, job {job_id}: {why}")
    deleted = len(plan.targets) - len(still)
    print(f"{source}: deleted {deleted:,} of {len(plan.targets):,} jobs")
    return 1 if still else 0

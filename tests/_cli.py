"""Helpers for the tests of the real ``hellotracks-async`` console script
(test_cli*.py, test_cli_demo.py): find the script, run it against a FakeHellotracks.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import hellotracks_async
from hellotracks_async.testing import FakeHellotracks


def _script() -> str:
    beside = Path(sys.executable).with_name("hellotracks-async")
    found = str(beside) if beside.exists() else shutil.which("hellotracks-async")
    assert found, "the hellotracks-async console script is not installed"
    return found


SCRIPT = _script()


class Run(NamedTuple):
    code: int
    out: str
    err: str


#: The checkout whose package the console script must import (ahead of any installed one).
ROOT = Path(hellotracks_async.__file__).resolve().parents[1]


def env_for(fake: FakeHellotracks | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTRACKS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if fake is not None:
        env["HELLOTRACKS_API_KEY"] = fake.api_key
        env["HELLOTRACKS_BASE_URL"] = fake.base_url
    return env | extra


async def spawn(
    *args: str | Path, env: Mapping[str, str], quiet: bool = False
) -> asyncio.subprocess.Process:
    """The console script with ``args``, its output piped (``quiet``: discarded)."""
    output = asyncio.subprocess.DEVNULL if quiet else asyncio.subprocess.PIPE
    return await asyncio.create_subprocess_exec(
        SCRIPT,
        *map(str, args),
        stdin=asyncio.subprocess.DEVNULL,  # no terminal: what CI has, whatever runs pytest
        stdout=output,
        stderr=output,
        env=dict(env),
    )


async def cli(*args: str | Path, env: Mapping[str, str]) -> Run:
    process = await spawn(*args, env=env)
    # A safety net against a hung child, not a timing assertion.
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path

"""FakeHellotracks (no faults) in a child process, so that it never shares the client's CPU.

Run as ``python -m benchmarks._server``: it starts the fake on a free port, prints one
JSON line ``{"base_url": ..., "api_key": ..., "control_url": ...}`` and serves until its
stdin closes or it gets SIGTERM/SIGINT. :class:`ServerProcess` does that from the parent
and also reads the child's CPU time, so the server's share can be shown next to the
client's.

Control endpoints, added by this script beside the fake's own ``/api/`` routes (JSON in,
JSON out, no API key; loopback only): ``POST /bench/configure`` with a
:class:`~hellotracks_async.testing.Capacity`'s keywords (or ``{}`` for none) sets the
capacity and resets the fake (with ``"keep_jobs": true`` its counters only, so that the
jobs of one run can be read back and deleted by the next); ``POST /bench/stats`` answers the
:class:`~hellotracks_async.testing.CapacityStats`; ``POST /bench/check`` with
``{"prefix": p, "count": n}`` compares the stored jobs with the ``uidSecondary`` values
``p0 .. p{n-1}`` (needs ``--store-jobs``). :class:`ServerProcess` has an async method
for each.

The fake runs in its fastest mode, ``FakeHellotracks(store_jobs=False)``: it validates
and answers every createjobs request as usual but keeps no job, so its memory stays
flat over a run of millions of jobs. ``--store-jobs`` keeps them instead (the fake's
default), to measure that mode.

Example::

    with ServerProcess() as server:
        print(server.base_url, server.api_key, server.cpu_seconds())
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import aiohttp
import attrs
from aiohttp import web

__all__ = ["ServerProcess"]

_ROOT: Final = Path(__file__).resolve().parents[1]
_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class ServerProcess:
    """Runs ``python -m benchmarks._server`` and stops it on exit.

    ``store_jobs``: whether the fake keeps the jobs it creates (see the module doc).
    """

    def __init__(self, *, store_jobs: bool = False) -> None:
        self.store_jobs = store_jobs
        self.base_url = ""
        self.api_key = ""
        self.control_url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServerProcess:
        command = [sys.executable, "-m", "benchmarks._server"]
        if self.store_jobs:
            command.append("--store-jobs")
        process = subprocess.Popen(
            command, cwd=_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._process = process
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            self._stop()
            raise RuntimeError("the FakeHellotracks process exited before it was ready")
        hello = json.loads(line)
        self.base_url, self.api_key = hello["base_url"], hello["api_key"]
        self.control_url = hello["control_url"]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (user + system), or NaN off Linux."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime

    def peak_rss_mib(self) -> float:
        """The server process's peak resident set size so far (VmHWM), or NaN off Linux."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return float("nan")
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return float("nan")

    async def _control(self, op: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.control_url + op, json=body or {}) as response,
        ):
            response.raise_for_status()
            answer: dict[str, Any] = await response.json()
        return answer

    async def configure(self, *, keep_jobs: bool = False, **capacity: Any) -> None:
        """Give the fake a ``Capacity(**capacity)`` (none if empty) and reset it (its
        counters only, with ``keep_jobs``)."""
        await self._control("configure", {**capacity, "keep_jobs": keep_jobs})

    async def stats(self) -> dict[str, int]:
        """The fake's ``CapacityStats`` as a dict (received, served, rate_limited, ...)."""
        return await self._control("stats")

    async def check(self, prefix: str, count: int) -> dict[str, int]:
        """Stored jobs against the inputs ``uidSecondary = prefix + str(i)``, ``i < count``:
        ``stored``, ``distinct`` (uidSecondary values), ``missing``, ``unexpected``."""
        return await self._control("check", {"prefix": prefix, "count": count})

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _wait_for_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    sys.stdin.read()
    with contextlib.suppress(RuntimeError):  # the loop is already closed
        loop.call_soon_threadsafe(stop.set)


def _add_control(fake: Any) -> None:
    """The ``/bench/*`` routes (see the module doc) on the fake's own application."""
    from hellotracks_async.testing import Capacity

    async def handle(request: web.Request) -> web.Response:
        op = request.match_info["op"]
        body = await request.json()
        if op == "configure":
            keep_jobs = body.pop("keep_jobs", False)
            fake.capacity = Capacity(**body) if body else None
            fake.reset(keep_jobs=keep_jobs)
            return web.json_response({})
        if op == "stats":
            return web.json_response(attrs.asdict(fake.stats))
        if op == "check":
            prefix, count = body["prefix"], body["count"]
            uids = [job.get("uidSecondary") for job in fake.jobs()]
            distinct = set(uids)
            expected = {f"{prefix}{index}" for index in range(count)}
            return web.json_response(
                {
                    "stored": len(uids),
                    "distinct": len(distinct),
                    "missing": len(expected - distinct),
                    "unexpected": len(distinct - expected),
                }
            )
        raise web.HTTPNotFound()

    fake.app.router.add_post("/bench/{op}", handle)


async def _serve(store_jobs: bool) -> None:
    from hellotracks_async.testing import FakeHellotracks

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    fake = FakeHellotracks(store_jobs=store_jobs)
    _add_control(fake)
    async with fake:
        control_url = fake.base_url.replace("/api/", "/bench/")
        hello = {"base_url": fake.base_url, "api_key": fake.api_key, "control_url": control_url}
        print(json.dumps(hello), flush=True)
        # The parent closing our stdin (or dying) stops the server too.
        threading.Thread(target=_wait_for_eof, args=(loop, stop), daemon=True).start()
        await stop.wait()


def main() -> None:
    """Entry point of ``python -m benchmarks._server``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store-jobs", action="store_true", help="keep the created jobs (slower, grows)"
    )
    args = parser.parse_args()
    asyncio.run(_serve(args.store_jobs))


if __name__ == "__main__":
    main()

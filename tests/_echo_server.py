"""A createjobs handler that stores nothing, run in its own process for memory tests.

``python tests/_echo_server.py`` prints the port it listens on (127.0.0.1), then serves
until killed.
"""

from __future__ import annotations

import asyncio
import sys

import orjson
from aiohttp import web


async def _createjobs(request: web.Request) -> web.Response:
    data = orjson.loads(await request.read())["data"]
    jobs = [{**job, "id": f"j{job['uidSecondary']}"} for job in data["jobs"]]
    return web.Response(body=orjson.dumps({"status": 0, "jobs": jobs}))


async def _main() -> None:
    app = web.Application()
    app.router.add_post("/api/createjobs", _createjobs)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
    sys.exit(0)

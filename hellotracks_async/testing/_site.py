"""An aiohttp application served on a loopback port: start, close, ``async with``.

The lifecycle half of :class:`~hellotracks_async.testing.FakeHellotracks`.

Example::

    >>> import asyncio
    >>> from aiohttp import web
    >>> async def main():
    ...     async with LoopbackSite(web.Application(), "127.0.0.1", 0) as site:
    ...         return site.base_url.startswith("http://127.0.0.1:")
    >>> asyncio.run(main())
    True
"""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

from aiohttp import web

__all__ = ["LoopbackSite"]

_Site = TypeVar("_Site", bound="LoopbackSite")


class LoopbackSite:
    """Serves ``app`` on ``host:port`` (``port=0``: a free one) under ``path``.

    Example::

        site = LoopbackSite(app, "127.0.0.1", 0)
        await site.start()
        ...
        await site.close()
    """

    def __init__(self, app: web.Application, host: str, port: int, path: str = "/api/") -> None:
        #: The aiohttp application.
        self.app = app
        self.host = host
        self.port = port
        self._path = path
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    async def start(self) -> None:
        """Start listening; :attr:`base_url` and :attr:`port` are then set.

        After :meth:`close` it may start again: same jobs, same port.

        Example::

            fake = FakeHellotracks()
            await fake.start()
            try:
                ...  # talk to fake.base_url
            finally:
                await fake.close()
        """
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._base_url = f"http://{host}:{self.port}{self._path}"

    async def close(self) -> None:
        """Stop listening, then wait for delayed requests (:meth:`settle`). Idempotent.

        Example::

            await fake.close()
        """
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.settle()

    async def settle(self) -> None:
        """Wait for work still under way after the answers (here: none)."""

    async def __aenter__(self: _Site) -> _Site:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/`` (with the trailing slash) once started.

        Example::

            url = fake.base_url + "createjobs"
        """
        if self._base_url is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._base_url

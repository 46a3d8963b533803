"""The aiohttp transport: the session, the headers, and aiohttp's errors mapped to ours.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

Every request carries the same headers, whether the session is the transport's own or
the caller's: ``API-Key`` and ``Content-Type: application/json``. Redirects are never
followed (the key must not travel to another host); a 3xx comes back as an answer, which
:func:`~hellotracks_async.sansio.parse_answer` turns into an :class:`APIError`.

No exception raised here carries aiohttp's in its ``__cause__`` or ``__context__``: the
repr of some aiohttp exceptions shows the request headers, and with them the key.

Example::

    transport = AiohttpTransport("https://api.hellotracks.com/api/", api_key)
    response = await transport.post("createjobs", body, timeout=30.0)
    await transport.aclose()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import AsyncGenerator
from typing import Final

import aiohttp

from .errors import HellotracksError, TransportError
from .transport import Response

__all__ = ["AiohttpTransport"]

logger = logging.getLogger("hellotracks_async")

_JSON: Final = "application/json"


class AiohttpTransport:
    """POSTs over an ``aiohttp.ClientSession``: its own, or one the caller owns.

    Its own session is made lazily in the running event loop, and made again if the
    client is later used in another loop (``asyncio.run`` twice). A caller-owned session
    is used as it is and never closed; using it from another loop than its own raises
    :class:`HellotracksError` at once.

    Example::

        transport = AiohttpTransport(base_url, key, session=my_session)
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        session: aiohttp.ClientSession | None = None,
        connection_limit: int = 100,
    ) -> None:
        self._base_url = base_url
        self._headers = {"API-Key": api_key, "Content-Type": _JSON}
        self._session = session
        self._owns_session = session is None
        self._connection_limit = connection_limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keeper: AsyncGenerator[aiohttp.ClientSession, None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"AiohttpTransport(base_url={self._base_url!r}, api_key='***')"

    async def post(self, endpoint: str, body: bytes, *, timeout: float) -> Response:
        """POST ``body`` to ``base_url + endpoint``; any HTTP answer is returned as is."""
        session = await self._current_session()
        error: TransportError
        try:
            async with session.post(
                self._base_url + endpoint,
                data=body,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                return Response(response.status, response.headers, raw)
        except aiohttp.ClientConnectorError as exc:
            error = TransportError(f"cannot connect to {exc.host}:{exc.port}", maybe_sent=False)
        except aiohttp.ConnectionTimeoutError:
            error = TransportError(f"no connection within {timeout} s", maybe_sent=False)
        except asyncio.TimeoutError:
            error = TransportError(f"no answer within {timeout} s", maybe_sent=True)
        except aiohttp.ClientError as exc:
            error = TransportError(f"{type(exc).__name__}: {_safe_text(exc)}", maybe_sent=True)
        except Exception as exc:  # a fault inside aiohttp (seen: an AttributeError)
            text = f"unexpected {type(exc).__name__} in aiohttp: {exc}"[:200]
            error = TransportError(text.replace(self._headers["API-Key"], "***"), maybe_sent=True)
        raise error  # outside the except blocks: no aiohttp exception in its context

    def check_loop(self) -> None:
        """Raise :class:`HellotracksError` at once if a caller's session belongs to
        another (ended) event loop: such a session cannot be used here."""
        loop = asyncio.get_running_loop()
        if not self._owns_session and self._loop is not None and self._loop is not loop:
            raise HellotracksError(
                "the caller's aiohttp session belongs to another event loop; "
                "make one client (and session) per event loop"
            )

    async def _current_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise HellotracksError("this client is closed")
        self.check_loop()
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is not None and self._loop is not loop:
            logger.debug("event loop changed: starting a new aiohttp session")
            if not self._session.closed:
                _abandon(self._session)
            self._session = self._keeper = None
        if self._session is None:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit)
            )
            self._keeper = _keep_until_loop_ends(session)
            self._session = await anext(self._keeper)
        self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the session if it is the transport's own; a caller's stays open."""
        self._closed = True
        session, self._session = self._session, None
        keeper, self._keeper = self._keeper, None
        if session is None or not self._owns_session or session.closed:
            return
        if self._loop is not asyncio.get_running_loop():
            _abandon(session)
        elif keeper is not None:
            await keeper.aclose()


async def _keep_until_loop_ends(
    session: aiohttp.ClientSession,
) -> AsyncGenerator[aiohttp.ClientSession, None]:
    """Hand out ``session`` and close it when closed itself.

    The running loop tracks unfinished async generators and closes them when it shuts
    down (``asyncio.run`` does, so does ``asyncio.Runner``). The transport's own
    session is therefore closed in its loop even if the client is not, and a client
    used again from a new loop starts clean.
    """
    try:
        yield session
    finally:
        await session.close()


def _abandon(session: aiohttp.ClientSession) -> None:
    """Drop a session whose event loop is gone, without a warning at exit.

    ``BaseConnector.close()`` shuts every pooled transport at once, then hands back an
    awaitable that waits for them in the connector's loop (``TCPConnector.close`` is a
    coroutine that would do nothing before it is awaited). With that loop gone the
    wait can be neither awaited nor scheduled (a closed loop refuses the task), and
    what aiohttp then warns about is only that unawaited wait.
    """
    connector = session.connector
    session.detach()
    if connector is None or connector.closed:
        return
    with warnings.catch_warnings(), contextlib.suppress(RuntimeError):
        warnings.simplefilter("ignore")
        aiohttp.BaseConnector.close(connector)


def _safe_text(exc: aiohttp.ClientError) -> str:
    """A short description of an aiohttp error that never includes request headers."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status} {exc.message}"
    return str(exc)[:200]

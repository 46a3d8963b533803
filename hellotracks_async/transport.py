"""The seam between the bulk engine and the network: one POST in, one raw answer out.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

The engine needs one thing of the network: send a request body to an endpoint and get
back the HTTP status, headers and body, or a :class:`~hellotracks_async.errors.TransportError`
when no answer came. :class:`Transport` is that interface;
:class:`~hellotracks_async.aiohttp_transport.AiohttpTransport` implements it with aiohttp,
and :class:`MockTransport` (in the spirit of httpx's) answers from a function, so the engine
can be tested without sockets.

Example::

    >>> import asyncio
    >>> import asyncio
    >>> def handler(request: Request) -> Response:
    ...     return Response(200, {}, b'{"status": 0, "jobs": []}')
    >>> transport = MockTransport(handler)
    >>> asyncio.run(transport.post("createjobs", b"{}", timeout=1.0)).status
    200
    >>> transport.requests[0].endpoint
    'createjobs'
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs
import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from .errors import TransportError

__all__ = ["MockTransport", "Request", "Response", "Transport"]


@attrs.frozen
class Request:
    """One request as the transport received it: the endpoint and the encoded body.

    Example::

        >>> Request("editjobs", b'{"data": {"jobs": {}}}').json()["data"]
        {'jobs': {}}
    """

    endpoint: str
    body: bytes

    def json(self) -> Any:
        """The decoded body."""
        return orjson.loads(self.body)


def _case_insensitive(headers: Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(headers, CIMultiDictProxy):
        return headers  # aiohttp's own: already case-insensitive
    return CIMultiDictProxy(CIMultiDict(headers))


@attrs.frozen
class Response:
    """A raw HTTP answer: status, headers and body bytes, not yet classified. Header
    names are case-insensitive, as in HTTP (proxies and HTTP/2 send them lower-case).

    Example::

        >>> Response(503, {"retry-after": "2"}, b"").headers["Retry-After"]
        '2'
    """

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_case_insensitive)
    body: bytes = b""


class Transport(Protocol):
    """What the engine needs of the network.

    ``post`` returns any HTTP answer, error statuses included (classifying them is the
    engine's pure code), and raises :class:`~hellotracks_async.errors.TransportError`
    only when no answer came: the connection failed or the attempt timed out.
    """

    async def post(self, endpoint: str, body: bytes, *, timeout: float) -> Response:
        """Send ``body`` to ``endpoint``; at most ``timeout`` seconds."""
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (sessions, connections)."""
        ...


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class MockTransport:
    """A transport that answers from a function: no sockets, for tests of the engine.

    ``handler`` gets each :class:`Request` and returns a :class:`Response` (or an
    awaitable of one); it may raise :class:`~hellotracks_async.errors.TransportError` to
    act out a lost connection. An awaitable answer that takes longer than the attempt's
    ``timeout`` becomes a :class:`~hellotracks_async.errors.TransportError`, as on the
    network. Every request is kept in :attr:`requests`.

    Example::

        >>> import asyncio
        >>> from hellotracks_async import HellotracksClient, Job
        >>> transport = MockTransport(lambda request: Response(200, {}, b'{"status": 0, '
        ...     b'"jobs": [{"id": "j1", "uidSecondary": "k1"}]}'))
        >>> async def create():
        ...     async with HellotracksClient("key", transport=transport) as client:
        ...         result = await client.create_jobs([Job(uid_secondary="k1")])
        ...         return result.jobs[0].id
        >>> asyncio.run(create())
        'j1'
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def post(self, endpoint: str, body: bytes, *, timeout: float) -> Response:
        """Hand the request to the handler and return its answer."""
        request = Request(endpoint, body)
        self.requests.append(request)
        answer = self._handler(request)
        if inspect.isawaitable(answer):
            try:
                answer = await asyncio.wait_for(answer, timeout)
            except asyncio.TimeoutError:
                error = TransportError(f"no answer within {timeout} s", maybe_sent=True)
                raise error from None
        assert isinstance(answer, Response), "a MockTransport handler returns a Response"
        return answer

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True

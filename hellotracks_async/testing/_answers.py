"""The fake server's HTTP answers: JSON envelopes, injected faults, dropped connections,
and running one operation of the store on a request body.

Example::

    >>> answer = rate_limited(2)
    >>> answer.status, answer.headers["Retry-After"], answer.body
    (429, '2', b'{"status":429,"message":"too many requests"}')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import orjson
from aiohttp import web

from ._faults import Faults
from ._rules import RequestRefused, Wire

__all__ = [
    "Operation",
    "apply",
    "drop",
    "error",
    "fault_answer",
    "job_count",
    "json_response",
    "parse",
    "rate_limited",
]

#: (company, data, whether the raw body mentions a custom_<name> key) -> jobs to answer
#: (``None``: the answer is ``{"status": 0}`` alone, as ``deletejobs``' is)
Operation = Callable[[str, Wire, bool], "list[Wire] | None"]

_BAD_GATEWAY: Final = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def json_response(
    payload: Wire, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer, serialized at once with orjson.

    Example::

        >>> json_response({"status": 0}).body
        b'{"status":0}'
    """
    return web.Response(
        status=status,
        body=orjson.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


def error(status: int, message: str) -> web.Response:
    """An HTTP error with the API's JSON envelope.

    Example::

        >>> error(404, "unknown endpoint: x").status
        404
    """
    return json_response({"status": status, "message": message}, status)


def rate_limited(retry_after: float) -> web.Response:
    """HTTP 429 with ``Retry-After`` (formatted with ``:g``: ``1``, ``0.25``).

    Example::

        >>> rate_limited(0.25).headers["Retry-After"]
        '0.25'
    """
    return json_response(
        {"status": 429, "message": "too many requests"},
        429,
        headers={"Retry-After": f"{retry_after:g}"},
    )


def fault_answer(kind: str, faults: Faults) -> web.Response | None:
    """The answer of a fault that applies nothing, or ``None`` for the other kinds.

    Example::

        >>> fault_answer("502", Faults()).content_type, fault_answer("slow", Faults())
        ('text/html', None)
    """
    if kind == "429":
        return rate_limited(faults.retry_after)
    if kind == "500":
        return error(500, "internal server error (injected)")
    if kind == "502":
        return web.Response(status=502, text=_BAD_GATEWAY, content_type="text/html")
    if kind == "503":
        return error(503, "service unavailable (injected)")
    return None


def parse(raw: bytes) -> Wire | web.Response:
    """The ``data`` object of a request body, or the 400 answer a bad body deserves.

    Example::

        >>> parse(b'{"data": {"jobs": []}}')
        {'jobs': []}
        >>> parse(b"[]").status
        400
    """
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return error(400, "the body is not valid JSON")
    data = body.get("data") if type(body) is dict else None
    if type(data) is not dict:
        return error(400, 'the body must be a JSON object with a "data" object')
    return data


def job_count(parsed: Wire | web.Response) -> int:
    """How many jobs a parsed request carries: its ``jobs`` (a createjobs list, an
    editjobs object, a deletejobs list of ids), else the ids a getjobs request names
    (``ids`` and ``id``); 0 for a bad body or a getjobs query by day.

    Example::

        >>> job_count({"jobs": [{}, {}]}), job_count({"jobs": {"a": {}}}), job_count({})
        (2, 1, 0)
        >>> job_count({"jobs": ["a", "tpl-b"]}), job_count({"ids": ["a", "b"], "id": "c"})
        (2, 3)
    """
    if type(parsed) is not dict:
        return 0
    jobs = parsed.get("jobs")
    if type(jobs) is list or type(jobs) is dict:
        return len(jobs)
    ids = parsed.get("ids")
    return (len(ids) if type(ids) is list else 0) + ("id" in parsed)


def apply(
    operation: Operation, company: str, raw: bytes, parsed: Wire | web.Response | None = None
) -> web.Response:
    """Parse the body (unless ``parsed`` is given) and run one operation on the store;
    the whole request or nothing. The answer is ``{"status": 0, "jobs": [...]}``, or
    ``{"status": 0}`` alone for an operation that returns ``None`` (deletejobs).

    Example::

        >>> echo = lambda company, data, custom: data["jobs"]
        >>> apply(echo, "acme", b'{"data": {"jobs": []}}').body
        b'{"status":0,"jobs":[]}'
        >>> apply(lambda company, data, custom: None, "acme", b'{"data": {}}').body
        b'{"status":0}'
    """
    if parsed is None:
        parsed = parse(raw)
    if isinstance(parsed, web.Response):
        return parsed
    try:
        jobs = operation(company, parsed, b'"custom_' in raw)
    except RequestRefused as refusal:
        return json_response({"status": refusal.status, "message": refusal.message})
    # Serialized at once: the store's dicts are never handed out.
    return json_response({"status": 0} if jobs is None else {"status": 0, "jobs": jobs})


def drop(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection without an answer.

    The returned response cannot be written any more; aiohttp takes that as a premature
    client disconnection and ends the connection quietly.
    """
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)

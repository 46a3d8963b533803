"""The exception hierarchy. Every exception of this package derives from HellotracksError.

::

    HellotracksError
    ├── ConfigurationError      bad client settings (no API key, plain http to a remote host)
    ├── ValidationError         bad input, raised before anything is sent
    ├── TransportError          connection failure or timeout
    ├── NotSentError            the client gave up on a batch before sending it
    ├── APIError                an HTTP error status or an answer whose ``status`` is not 0
    │   ├── AuthenticationError HTTP 401/403
    │   ├── JobNotFoundError    a job id the server did not return (``get_jobs``)
    │   ├── RateLimitError      HTTP 429, with ``retry_after``
    │   └── ServerError         HTTP 5xx, or an answer that is not JSON (a proxy's page)
    └── BulkError               some inputs of a bulk call failed; carries ``.result``
        └── BulkInterrupted     the input or the progress callback raised; partial ``.result``

No message or ``repr`` contains the API key: the client never hands it to an exception.

Example::

    >>> try:
    ...     raise RateLimitError("slow down", http_status=429, retry_after=2.0)
    ... except APIError as exc:
    ...     print(exc.http_status, exc.retry_after)
    429 2.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import BulkResult

__all__ = [
    "APIError",
    "AuthenticationError",
    "BulkError",
    "BulkInterrupted",
    "ConfigurationError",
    "HellotracksError",
    "JobNotFoundError",
    "NotSentError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "short_repr",
    "unchained",
]

_EXCERPT = 200


class HellotracksError(Exception):
    """The root of every exception this package raises.

    Example::

        >>> issubclass(ValidationError, HellotracksError)
        True
    """


class ConfigurationError(HellotracksError):
    """The client is set up wrongly, e.g. no API key or ``http://`` to a remote host.

    Example::

        >>> str(ConfigurationError("no API key"))
        'no API key'
    """


class ValidationError(HellotracksError, ValueError):
    """An input job is invalid; raised before anything is sent.

    ``index`` is the job's position in the input, ``field`` the offending field (its
    wire name), ``value`` what was given.

    The message names the index, the field and a short excerpt of the value, never a
    whole job (user data, names, phones and addresses, stays out of logs); ``value``
    keeps the value itself.

    Example::

        >>> err = ValidationError(3, "destinationLat", 91.0, "must be within [-90, 90]")
        >>> str(err)
        'job #3: destinationLat=91.0 must be within [-90, 90]'
        >>> str(ValidationError(0, "destinationName", "x" * 500, "is too long"))
        "job #0: destinationName='xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... is too long"
        >>> str(ValidationError(4, "job", {"destinationName": "Jane Doe"}, "is wrong"))
        'job #4: job=<dict of 1 keys> is wrong'
    """

    #: What a call had done when this error stopped it (``None``: nothing was sent).
    result: BulkResult | None = None

    def __init__(self, index: int | None, field: str, value: Any, reason: str) -> None:
        self.index = index
        self.field = field
        self.value = value
        self.reason = reason
        where = "job" if index is None else f"job #{index}"
        super().__init__(f"{where}: {field}={short_repr(value)} {reason}")


def short_repr(value: Any, limit: int = 40) -> str:
    """A short stand-in for a value in a message: a container by its size only (a job's
    fields are user data), any other value by its ``repr`` cut to ``limit`` characters.

    Example::

        >>> short_repr("a" * 50), short_repr([1, 2]), short_repr({"name": "Jane"})
        ("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...", '<list of 2 items>', '<dict of 1 keys>')
    """
    kind = type(value).__name__
    if isinstance(value, dict):
        return f"<{kind} of {len(value)} keys>"
    if isinstance(value, (list, tuple)):
        return f"<{kind} of {len(value)} items>"
    if hasattr(value, "__attrs_attrs__"):
        return f"<{kind}>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TransportError(HellotracksError):
    """The request failed on the way: connection refused or reset, or a timeout.

    ``maybe_sent`` is ``False`` only where the request surely never reached the server
    (the connection could not be opened); retrying a create without idempotency keys is
    safe only then.

    Example::

        >>> TransportError("connect failed", maybe_sent=False).maybe_sent
        False
    """

    def __init__(self, message: str, *, maybe_sent: bool = True) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class NotSentError(HellotracksError):
    """The client gave up on a batch before sending it: the call's ``deadline`` passed,
    an earlier request showed the call cannot succeed (a refused key, an unreachable
    server), or a rate-limit pause would outlast ``max_retry_after``.

    Nothing of it reached the server (``sent`` is always ``False``): sending it again
    is safe. It is the client's decision, so it is no server error type.

    Example::

        >>> err = NotSentError("not sent: the call's deadline passed")
        >>> err.sent, isinstance(err, APIError)
        (False, False)
    """

    sent = False


class APIError(HellotracksError):
    """The server answered with an error: an HTTP error status or a non-zero ``status``.

    Carries ``http_status``, ``api_status`` (``None`` if the body had none) and
    ``body``, a short excerpt of the answer.

    Example::

        >>> err = APIError("job not found", http_status=200, api_status=3, body='{"status":3}')
        >>> err.api_status, err.body
        (3, '{"status":3}')
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        api_status: int | None = None,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.api_status = api_status
        self.body = body[:_EXCERPT]

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.api_status is not None:
            parts.append(f"status {self.api_status}")
        if self.body:
            parts.append(f"body {self.body!r}")
        return " | ".join(parts)


class AuthenticationError(APIError):
    """The API key was refused (HTTP 401 or 403).

    Example::

        >>> AuthenticationError("key refused", http_status=401).http_status
        401
    """


class JobNotFoundError(APIError):
    """A job id the server did not return: ``get_jobs`` asked for it and the answer
    held no job with that id (it never existed, or was deleted). ``job_id`` names it.

    Example::

        >>> err = JobNotFoundError("64d88ed519c0ae41096aa4b4")
        >>> err.job_id
        '64d88ed519c0ae41096aa4b4'
        >>> str(err)
        "job not found: '64d88ed519c0ae41096aa4b4' | HTTP 200 | status 0"
    """

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job not found: {job_id[:40]!r}", http_status=200, api_status=0)
        self.job_id = job_id


class RateLimitError(APIError):
    """HTTP 429. ``retry_after`` is the server's wait in seconds, if it said one.

    Example::

        >>> RateLimitError("too many", http_status=429, retry_after=30.0).retry_after
        30.0
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """HTTP 5xx, or an answer that is not JSON (typically a proxy's error page).
    ``retry_after``: the server's wait in seconds, if it said one (a 503 may).

    Example::

        >>> ServerError("bad gateway", http_status=502).http_status
        502
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BulkError(HellotracksError):
    """Some inputs of a bulk call failed. ``result`` holds everything, failures included.

    Raised only after every batch has finished.

    Example::

        >>> from hellotracks_async import BulkResult
        >>> err = BulkError(BulkResult())
        >>> err.result.failed
        0
    """

    def __init__(self, result: BulkResult) -> None:
        self.result = result
        first = result.failures[0].exception if result.failures else None
        super().__init__(
            f"{result.failed} of {result.succeeded + result.failed} jobs failed "
            f"in {len(result.failures)} batch(es); first error: {first!r}"
        )


class BulkInterrupted(BulkError):
    """A bulk call stopped early because its input iterable or its progress callback
    raised; that exception is ``cause`` (and ``__cause__``).

    ``result`` is complete for every input read: each is a success or a failure whose
    ``wire`` form holds its ``uidSecondary`` key. Two ways to finish with exactly one
    job per input:

    - send those failures' ``wire`` plus the inputs never read (from position
      ``result.succeeded + result.failed`` on) in a call *without* the first call's
      ``run_id`` (with it, the unread inputs would take the keys of their new
      positions, which the first call already used);
    - or, if the first call had a ``run_id``, run it again on the whole input with the
      same ``run_id``.

    Example::

        >>> from hellotracks_async import BulkResult
        >>> err = BulkInterrupted(BulkResult(), ValueError("bad row"))
        >>> str(err)
        'stopped after reading 0 input(s): ValueError: bad row'
    """

    def __init__(self, result: BulkResult, cause: BaseException) -> None:
        self.result = result
        self.cause = cause
        read = result.succeeded + result.failed
        HellotracksError.__init__(
            self, f"stopped after reading {read} input(s): {type(cause).__name__}: {cause}"
        )


def unchained(exc: HellotracksError) -> HellotracksError:
    """The error without the exceptions it was raised during (tenacity's, aiohttp's, a
    caller's iterable's).

    Their ``repr`` can show request headers, and with them the key; what the caller
    needs is in our error's own message.

    Example::

        >>> try:
        ...     try:
        ...         raise KeyError("inner")
        ...     except KeyError:
        ...         raise HellotracksError("outer")
        ... except HellotracksError as exc:
        ...     unchained(exc).__context__ is None
        True
    """
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    return exc

"""When to retry and how long to wait: a pure policy, and the tenacity loop built from it.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

Retried: connection errors and timeouts (:class:`TransportError`), HTTP 429
(:class:`RateLimitError`, waiting ``Retry-After`` up to a cap), HTTP 5xx and non-JSON
proxy answers (:class:`ServerError`). Never retried: other 4xx, an answer whose
``status`` is not 0, validation errors.

A request that is not idempotent (a create whose jobs lack ``uidSecondary``) is retried
only where the failure proves it never reached the server: the connection could not be
opened, HTTP 429, or HTTP 503.

Example::

    >>> from hellotracks_async.errors import ServerError
    >>> policy = RetryPolicy(max_retries=3)
    >>> policy.is_retryable(ServerError("bad gateway", http_status=502), idempotent=True)
    True
    >>> policy.is_retryable(ServerError("bad gateway", http_status=502), idempotent=False)
    False
"""

from __future__ import annotations

import logging
import time
from typing import Any

import attrs
import tenacity

from .errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    ServerError,
    TransportError,
)
from .settings import number

__all__ = ["RetryPolicy", "blames_input", "retry_policy"]

logger = logging.getLogger("hellotracks_async")


def _at_least(low: float, *, whole: bool = False, above: bool = False) -> Any:
    """An attrs validator raising :class:`ConfigurationError` under the field's name."""

    def check(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        number(attribute.name, value, low=low, whole=whole, above=above)

    return check


@attrs.frozen
class RetryPolicy:
    """How a request is retried: attempts, total time, backoff, and the Retry-After cap.

    ``max_retries`` counts retries after the first attempt; ``deadline`` (seconds) bounds
    the time from the first attempt to the start of the last one. Backoff is exponential
    from ``backoff`` seconds up to ``max_backoff``, with jitter. A ``Retry-After`` longer
    than ``max_retry_after`` is not waited for: the :class:`RateLimitError` is raised.

    Example::

        >>> RetryPolicy(max_retries=0).max_retries
        0
    """

    max_retries: int = attrs.field(default=5, validator=_at_least(0, whole=True))
    deadline: float = attrs.field(default=120.0, validator=_at_least(0, above=True))
    backoff: float = attrs.field(default=0.5, validator=_at_least(0))
    max_backoff: float = attrs.field(default=30.0, validator=_at_least(0))
    max_retry_after: float = attrs.field(default=60.0, validator=_at_least(0))

    def is_retryable(self, exc: BaseException, *, idempotent: bool) -> bool:
        """Whether ``exc`` is transient, and retrying is safe for this request."""
        if isinstance(exc, RateLimitError):
            return exc.retry_after is None or exc.retry_after <= self.max_retry_after
        if isinstance(exc, ServerError):
            return idempotent or exc.http_status == 503
        if isinstance(exc, TransportError):
            return idempotent or not exc.maybe_sent
        return False

    def wait_seconds(self, exc: BaseException | None, attempt: int) -> float:
        """The pause before retry number ``attempt`` (1-based), before jitter.

        Example::

            >>> RetryPolicy(backoff=0.5, max_backoff=3).wait_seconds(None, 4)
            3.0
        """
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            return exc.retry_after
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    def retrying(
        self,
        *,
        idempotent: bool,
        label: str,
        until: float | None = None,
        started: float | None = None,
    ) -> tenacity.AsyncRetrying:
        """A tenacity loop for one request; ``label`` names it in the INFO retry logs.

        It stops after ``max_retries`` retries or once ``deadline`` seconds have passed
        since the first attempt, and starts no attempt after ``until`` (a
        ``time.monotonic()`` value: the call's own deadline); ``started`` (a
        ``time.monotonic()`` value) is when the first attempt began, if before the loop
        (default: the loop's start). Answers of HTTP 429 do not
        count as retries, and the loop does not sleep after them: the client-wide
        throttle holds the next attempt until ``Retry-After`` has passed. Waiting out a
        rate limit is bounded by time alone.
        """
        jitter = tenacity.wait_random(0, self.backoff)
        rate_limited = 0  # attempts answered 429 so far: not retries

        def count(state: tenacity.RetryCallState) -> None:  # once per failed attempt
            nonlocal rate_limited
            if isinstance(_failure(state), RateLimitError):
                rate_limited += 1

        def wait(state: tenacity.RetryCallState) -> float:
            exc = _failure(state)
            if isinstance(exc, RateLimitError):  # the client's throttle does the waiting
                return 0.0
            retries = state.attempt_number - rate_limited
            return min(self.max_backoff, self.wait_seconds(exc, retries) + jitter(state))

        def stop(state: tenacity.RetryCallState) -> bool:
            exc = _failure(state)
            pause = state.upcoming_sleep
            if isinstance(exc, RateLimitError):
                pause = exc.retry_after or 0.0
            if started is None:
                spent = state.seconds_since_start or 0.0
            else:
                spent = time.monotonic() - started
            if spent + pause >= self.deadline:
                return True
            if until is not None and time.monotonic() + pause >= until:
                return True
            return state.attempt_number - rate_limited > self.max_retries

        def log_retry(state: tenacity.RetryCallState) -> None:
            pause = state.next_action.sleep if state.next_action else 0.0
            if isinstance(exc := _failure(state), RateLimitError):  # the throttle waits
                pause = exc.retry_after or 0.0
            logger.info(
                "%s: attempt %d failed (%s); retrying in %.2f s",
                label,
                state.attempt_number,
                _describe(_failure(state)),
                pause,
            )

        return tenacity.AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception(
                lambda exc: self.is_retryable(exc, idempotent=idempotent)
            ),
            after=count,
            before_sleep=log_retry,
            reraise=True,
        )


def _failure(state: tenacity.RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None


def retry_policy(retry: RetryPolicy | None, max_retries: int | None) -> RetryPolicy:
    """The policy from ``retry=`` or the ``max_retries=`` shorthand (not both).

    Example::

        >>> retry_policy(None, 3).max_retries
        3
    """
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError(f"retry must be a RetryPolicy, got {retry!r}")
    if max_retries is None:
        return retry or RetryPolicy()
    if retry is not None:
        raise ConfigurationError("pass max_retries inside retry=RetryPolicy(...), not both")
    return RetryPolicy(max_retries=max_retries)


def blames_input(exc: BaseException) -> bool:
    """Whether the server refused what was sent (HTTP 200 with a non-zero ``status``, or
    HTTP 400), rather than the key, the rate or its own health. Then one bad job can
    sink a whole batch, and sending halves of it finds the job.

    Example::

        >>> blames_input(APIError("unknown job id", http_status=200, api_status=2))
        True
        >>> blames_input(AuthenticationError("refused", http_status=401))
        False
        >>> blames_input(APIError("status is not an integer", http_status=200))
        False
    """
    if not isinstance(exc, APIError) or isinstance(
        exc, (AuthenticationError, RateLimitError, ServerError)
    ):
        return False
    if exc.http_status == 400:
        return True
    return exc.http_status == 200 and exc.api_status not in (None, 0)


def _describe(exc: Any) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else "no exception"

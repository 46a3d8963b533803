"""hellotracks_async.retrying: which failures are retried, and the backoff."""

from __future__ import annotations

from typing import Any

import pytest

from hellotracks_async import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from hellotracks_async.retrying import RetryPolicy


@pytest.mark.parametrize(
    ("exc", "idempotent", "retryable"),
    [
        (TransportError("reset", maybe_sent=True), True, True),
        (TransportError("reset", maybe_sent=True), False, False),
        (TransportError("refused", maybe_sent=False), False, True),
        (ServerError("x", http_status=500), True, True),
        (ServerError("x", http_status=502), False, False),
        (ServerError("x", http_status=503), False, True),
        (RateLimitError("x", http_status=429, retry_after=1.0), False, True),
        (RateLimitError("x", http_status=429, retry_after=61.0), True, False),
        (RateLimitError("x", http_status=429), True, True),
        (APIError("x", http_status=400), True, False),
        (APIError("x", http_status=200, api_status=2), True, False),
        (AuthenticationError("x", http_status=401), True, False),
        (ValidationError(0, "day", 1, "bad"), True, False),
        (RuntimeError("bug"), True, False),
    ],
)
def test_retry_classification(exc: Exception, idempotent: bool, retryable: bool) -> None:
    assert RetryPolicy(max_retry_after=60).is_retryable(exc, idempotent=idempotent) is retryable


def test_backoff_grows_and_is_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0)
    assert [policy.wait_seconds(None, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    limited = RateLimitError("x", http_status=429, retry_after=9.0)
    assert policy.wait_seconds(limited, 1) == 9.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RetryPolicy(max_retries=-1), "max_retries must be a whole number of at least 0"),
        (lambda: RetryPolicy(max_retries=1.5), "max_retries must be a whole number"),
        (lambda: RetryPolicy(deadline=0), "deadline must be a positive number"),
        (lambda: RetryPolicy(backoff="x"), "backoff must be a number of at least 0"),
    ],
)
def test_a_bad_retry_setting_names_the_argument(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()

"""Checking the client's settings: each bad value is a :class:`ConfigurationError`
naming the argument the caller wrote.

Example::

    >>> whole_number("max_concurrency", 64, 1)
    64
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .retrying import RetryPolicy

__all__ = ["check_base_url", "positive_or_none", "retry_policy", "whole_number"]


def _is_local(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """The API root ending in ``/``; https, or plain http only to this machine.

    Example::

        >>> check_base_url("http://127.0.0.1:8080/api")
        'http://127.0.0.1:8080/api/'
    """
    parts = urlsplit(base_url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_local(parts.hostname)):
        return base_url if base_url.endswith("/") else base_url + "/"
    raise ConfigurationError(
        f"base_url must be https (plain http only to localhost), got {base_url!r}"
    )


def whole_number(name: str, value: Any, low: int) -> int:
    """``value`` if it is a whole number of at least ``low``; else a
    :class:`ConfigurationError` naming ``name``.

    Example::

        >>> whole_number("batch_size", 0, 1)
        Traceback (most recent call last):
        ...
        hellotracks_async.errors.ConfigurationError: batch_size must be a whole number ...1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"{name} must be a whole number of at least {low}, got {value!r}")
    return value


def positive_or_none(name: str, value: Any) -> float | None:
    """``value`` as a float if it is a positive number, ``None`` if it is ``None``.

    Example::

        >>> positive_or_none("max_rate", 5), positive_or_none("max_rate", None)
        (5.0, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number or None, got {value!r}")
    return float(value)


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

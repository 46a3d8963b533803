"""Checking the client's settings: each bad value is a :class:`ConfigurationError`
naming the argument the caller wrote.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

Example::

    >>> whole_number("max_concurrency", 64, 1)
    64
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = ["check_base_url", "number", "positive_or_none", "whole_number"]


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


def number(
    name: str, value: Any, *, low: float = -math.inf, above: bool = False, whole: bool = False
) -> Any:
    """``value`` if it is a number (a whole one with ``whole``) of at least ``low`` (above
    it with ``above``); else a :class:`ConfigurationError` naming ``name``. The one check
    behind every numeric setting, :class:`RetryPolicy` fields included.

    Example::

        >>> number("timeout", 30, low=0, above=True)
        30
        >>> number("max_retries", -1, low=0, whole=True)
        Traceback (most recent call last):
        ...
        hellotracks_async.errors.ConfigurationError: max_retries must be ... 0, got -1
    """
    kind = "a whole number" if whole else "a number"
    if above and low == 0:
        wanted = "a positive whole number" if whole else "a positive number"
    elif above:
        wanted = f"{kind} above {low:g}"
    elif low > -math.inf:
        wanted = f"{kind} of at least {low:g}"
    else:
        wanted = kind
    fits = (
        not isinstance(value, bool)
        and isinstance(value, int if whole else (int, float))
        and value == value  # not nan
        and (value > low if above else value >= low)
    )
    if not fits:
        raise ConfigurationError(f"{name} must be {wanted}, got {value!r}")
    return value


def whole_number(name: str, value: Any, low: int) -> int:
    """``value`` if it is a whole number of at least ``low`` (see :func:`number`).

    Example::

        >>> whole_number("batch_size", 100, 1)
        100
    """
    result: int = number(name, value, low=low, whole=True)
    return result


def positive_or_none(name: str, value: Any) -> float | None:
    """``value`` as a float if it is a positive number, ``None`` if it is ``None``.

    Example::

        >>> positive_or_none("max_rate", 5), positive_or_none("max_rate", None)
        (5.0, None)
    """
    return None if value is None else float(number(name, value, low=0, above=True))

"""The protocol without I/O: request bodies in, answers classified, answers matched.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

- :func:`encode_body` builds the exact JSON body the API pages show.
- :func:`parse_answer` classifies an HTTP answer: it returns the decoded body of a
  success, or raises the typed error (:class:`RateLimitError`, :class:`ServerError` are
  transient; the rest are not, see :mod:`hellotracks_async.retrying`).
- :func:`match_created` and :func:`match_edited` pair answer jobs with input jobs.

Example::

    >>> parse_answer(200, {}, b'{"status": 0, "jobs": []}')
    {'status': 0, 'jobs': []}
    >>> parse_answer(200, {}, b'{"status": 2}')
    Traceback (most recent call last):
    ...
    hellotracks_async.errors.APIError: API error | HTTP 200 | status 2 | body '{"status": 2}'
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any
from urllib.parse import urlsplit

import orjson

from .errors import APIError, AuthenticationError, RateLimitError, ServerError

__all__ = [
    "encode_body",
    "match_created",
    "match_edited",
    "parse_answer",
    "parse_retry_after",
]


def encode_body(data: Mapping[str, Any]) -> bytes:
    """The request body: ``{"data": {...}}`` as compact JSON bytes.

    Example::

        >>> encode_body({"jobs": [{"day": 20231110}]})
        b'{"data":{"jobs":[{"day":20231110}]}}'
    """
    return orjson.dumps({"data": data})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    A value that is not a finite non-negative number of seconds (``inf``, ``nan``,
    ``-5``) or a date in the past counts as absent (``None``): a broken header must
    not pause a client forever, nor make it spin.

    Example::

        >>> parse_retry_after("2.5"), parse_retry_after(None)
        (2.5, None)
        >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0)
        10.0
        >>> parse_retry_after("inf"), parse_retry_after("-5"), parse_retry_after("nan")
        (None, None, None)
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, OverflowError):
            return None
        seconds = when - (time.time() if now is None else now)
    return seconds if 0.0 <= seconds < math.inf else None


def _excerpt(body: bytes, redact: str | None) -> str:
    text = body[:1000].decode("utf-8", errors="replace")
    if redact:
        text = text.replace(redact, "***")
    return text[:200]


def parse_answer(
    http_status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    redact: str | None = None,
    with_jobs: bool = True,
) -> dict[str, Any]:
    """Classify one HTTP answer: return the decoded success body or raise the typed error.

    - 3xx -> :class:`APIError` naming the redirect's host: redirects are not followed.
    - 401/403 -> :class:`AuthenticationError`; 429 -> :class:`RateLimitError` with
      ``retry_after``; 5xx -> :class:`ServerError`; other non-2xx -> :class:`APIError`.
    - A body that is not a JSON object (a proxy's HTML page) -> :class:`ServerError`.
    - ``status`` other than the integer 0 -> :class:`APIError`; so is a success
      answer without a ``jobs`` list of objects (it accounts for no input), unless
      ``with_jobs`` is false (``deletejobs`` answers ``{"status": 0}`` alone).

    The body excerpt kept on an error has ``redact`` (the API key) replaced by ``***``,
    in case a server or proxy echoes request headers.

    Example::

        >>> parse_answer(429, {"Retry-After": "3"}, b"")
        Traceback (most recent call last):
        ...
        hellotracks_async.errors.RateLimitError: rate limited | HTTP 429
    """
    if http_status == 200:  # the usual case: decode once, no excerpt needed
        answer = _decode(body)
        if _is_success(answer) and (not with_jobs or _has_job_list(answer)):
            return answer  # type: ignore[no-any-return]
    excerpt = _excerpt(body, redact)
    if 300 <= http_status < 400:
        target = urlsplit(headers.get("Location", "")).hostname or "an unnamed place"
        raise APIError(
            f"redirect to {target} not followed (the API key goes to no other host)",
            http_status=http_status,
        )
    if http_status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise RateLimitError("rate limited", http_status=429, retry_after=retry_after, body=excerpt)
    if http_status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise ServerError(
            "server error", http_status=http_status, body=excerpt, retry_after=retry_after
        )
    if http_status in (401, 403):
        raise AuthenticationError("API key refused", http_status=http_status, body=excerpt)
    answer = _decode(body)
    if not isinstance(answer, dict):
        if 200 <= http_status < 300:
            raise ServerError("answer is not a JSON object", http_status=http_status, body=excerpt)
        answer = {}
    api_status = answer.get("status")
    if not 200 <= http_status < 300:
        raise APIError(
            "request refused",
            http_status=http_status,
            api_status=_int_or_none(api_status),
            body=excerpt,
        )
    if type(api_status) is not int:
        raise APIError(
            "answer status is not an integer (0 means success)",
            http_status=http_status,
            body=excerpt,
        )
    if api_status != 0:
        raise APIError("API error", http_status=http_status, api_status=api_status, body=excerpt)
    raise APIError(
        "success answer without a list of job objects",
        http_status=http_status,
        api_status=0,
        body=excerpt,
    )


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _is_success(answer: Any) -> bool:
    """``status`` is the integer 0: not ``"0"``, ``0.0`` or ``False``."""
    return type(answer) is dict and type(answer.get("status")) is int and answer["status"] == 0


def _has_job_list(answer: dict[str, Any]) -> bool:
    jobs = answer.get("jobs")
    return isinstance(jobs, list) and all(map(isinstance, jobs, repeat(dict)))


def _int_or_none(value: Any) -> int | None:
    return value if type(value) is int else None


def answer_jobs(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``jobs`` list of an answer :func:`parse_answer` accepted (a list of objects).

    Example::

        >>> answer_jobs({"status": 0, "jobs": [{"id": "a"}]})
        [{'id': 'a'}]
    """
    jobs: list[dict[str, Any]] = answer["jobs"]
    return jobs


def match_created(
    keys: Sequence[str | None], answered: Sequence[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """Pair each sent job, given by its ``uidSecondary`` (``None``: it had none), with
    its answer job; ``None`` where the answer has none.

    Keyed jobs are matched by key (the docs do not promise that answers come in request
    order). Unkeyed jobs take the answers no key claimed, in order, and only if the
    counts agree.

    Example::

        >>> match_created(["a", "b"],
        ...               [{"id": "2", "uidSecondary": "b"}, {"id": "1", "uidSecondary": "a"}])
        [{'id': '1', 'uidSecondary': 'a'}, {'id': '2', 'uidSecondary': 'b'}]
    """
    # one pass, no call per job: a key is a non-empty string (else it matches nothing)
    by_key = {key: job for job in answered if type(key := job.get("uidSecondary")) is str and key}
    matched: list[dict[str, Any] | None] = [by_key.get(key) if key else None for key in keys]
    unkeyed = [i for i, key in enumerate(keys) if not key]
    if unkeyed:
        claimed = {key for key in keys if key}
        rest = [job for job in answered if _key_of(job) not in claimed]
        if len(rest) == len(unkeyed):
            for i, job in zip(unkeyed, rest, strict=True):
                matched[i] = job
    return matched


def _key_of(job: dict[str, Any]) -> str | None:
    key = job.get("uidSecondary")
    return key if type(key) is str else None


def match_edited(
    ids: Sequence[str], answered: Sequence[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """Pair each edited job id with its answer job by ``id``; ``tpl-`` ids match too.

    Example::

        >>> match_edited(["tpl-7", "x"], [{"id": "x"}, {"id": "7"}])
        [{'id': '7'}, {'id': 'x'}]
    """
    by_id = {str(job.get("id")): job for job in answered}
    return [by_id.get(job_id) or by_id.get(job_id.removeprefix("tpl-")) for job_id in ids]

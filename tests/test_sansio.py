"""hellotracks_async.sansio: classifying answers into the error hierarchy, Retry-After, matching
answered jobs to inputs. Pure, no I/O."""

from __future__ import annotations

import pytest

from hellotracks_async import (
    APIError,
    AuthenticationError,
    RateLimitError,
    ServerError,
)
from hellotracks_async.retrying import blames_input
from hellotracks_async.sansio import (
    match_created,
    match_edited,
    parse_answer,
    parse_retry_after,
)

# -- answer classification ---------------------------------------------------------------


def test_success_answer_is_returned() -> None:
    assert parse_answer(200, {}, b'{"status":0,"jobs":[]}') == {"status": 0, "jobs": []}


@pytest.mark.parametrize(
    ("http_status", "body", "error", "api_status"),
    [
        (401, b'{"status":401}', AuthenticationError, None),
        (403, b"forbidden", AuthenticationError, None),
        (400, b'{"status":3,"message":"bad"}', APIError, 3),
        (404, b"<html>not found</html>", APIError, None),
        (500, b'{"status":500}', ServerError, None),
        (502, b"<html>Bad Gateway</html>", ServerError, None),
        (503, b"", ServerError, None),
        (200, b"<html>proxy login</html>", ServerError, None),
        (200, b"[1, 2]", ServerError, None),
        (200, b'{"status":2,"message":"unknown job id"}', APIError, 2),
        (200, b'{"message":"no status"}', APIError, None),
    ],
)
def test_error_answers_are_typed(
    http_status: int, body: bytes, error: type[APIError], api_status: int | None
) -> None:
    with pytest.raises(error) as caught:
        parse_answer(http_status, {}, body)
    assert type(caught.value) is error
    assert caught.value.http_status == http_status
    assert caught.value.api_status == api_status
    assert caught.value.body == body.decode()[:200]


def test_rate_limit_carries_retry_after() -> None:
    with pytest.raises(RateLimitError) as caught:
        parse_answer(429, {"Retry-After": "7"}, b"")
    assert caught.value.retry_after == 7.0


def test_retry_after_forms() -> None:
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    # a date in the past counts as absent, as does anything not a finite delay >= 0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) is None


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "nan", "-5", "-0.5", "1e400"])
def test_a_retry_after_that_is_no_finite_delay_counts_as_absent(value: str) -> None:
    assert parse_retry_after(value) is None
    with pytest.raises(RateLimitError) as caught:
        parse_answer(429, {"Retry-After": value}, b"")
    assert caught.value.retry_after is None


def test_a_503_carries_its_retry_after() -> None:
    with pytest.raises(ServerError) as caught:
        parse_answer(503, {"Retry-After": "2"}, b"")
    assert caught.value.retry_after == 2.0


def test_body_excerpt_is_short() -> None:
    with pytest.raises(ServerError) as caught:
        parse_answer(502, {}, b"x" * 10_000)
    assert len(caught.value.body) == 200


def test_an_echoed_key_is_redacted_from_the_excerpt() -> None:
    with pytest.raises(APIError) as caught:
        parse_answer(400, {}, b'{"status": 1, "headers": {"API-Key": "k-123"}}', redact="k-123")
    assert "k-123" not in str(caught.value)
    assert '"API-Key": "***"' in caught.value.body


def test_answer_without_jobs_list_is_an_error_with_the_key_redacted() -> None:
    body = b'{"status": 0, "jobs": {"a": 1}, "echo": "sk-live-SECRET"}'
    with pytest.raises(APIError, match="without a list of job objects") as caught:
        parse_answer(200, {}, body, redact="sk-live-SECRET")
    assert "sk-live-SECRET" not in str(caught.value)
    assert "***" in caught.value.body


@pytest.mark.parametrize("status", [b'"0"', b"0.0", b"false", b"null"])
def test_a_status_that_is_not_the_integer_0_is_an_api_error_not_blamed_on_input(
    status: bytes,
) -> None:
    with pytest.raises(APIError, match=r"not an integer|API error") as caught:
        parse_answer(200, {}, b'{"status": ' + status + b', "jobs": []}')
    assert not blames_input(caught.value)


# -- matching ----------------------------------------------------------------------------


def test_created_jobs_matched_by_key_not_position() -> None:
    answered = [{"id": "3", "uidSecondary": "c"}, {"id": "1", "uidSecondary": "a"}]
    matched = match_created(["a", "b", "c"], answered)
    assert [m and m["id"] for m in matched] == ["1", None, "3"]


def test_unkeyed_jobs_fall_back_to_position() -> None:
    answered = [{"id": "x"}, {"id": "k1", "uidSecondary": "k"}, {"id": "y"}]
    assert [m and m["id"] for m in match_created(["k", None, ""], answered)] == ["k1", "x", "y"]
    # counts disagree: no guessing
    assert match_created([None, None], [{"id": "x"}]) == [None, None]


def test_edited_jobs_matched_by_id_and_template_id() -> None:
    matched = match_edited(["b", "tpl-9", "gone"], [{"id": "9"}, {"id": "b"}])
    assert matched == [{"id": "b"}, {"id": "9"}, None]


def test_an_answer_key_that_is_not_a_string_matches_nothing() -> None:
    # found by the answers fuzzer: a list is unhashable and broke the matching
    answered = [{"id": "x", "uidSecondary": ["a"]}, {"id": "y", "uidSecondary": {"k": 1}}]
    assert match_created(["a", None], answered) == [None, None]
    assert match_created([None, None], answered) == answered

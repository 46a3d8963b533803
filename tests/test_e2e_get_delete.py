"""Reading back and deleting end to end, against FakeHellotracks with seeded faults.

10,000 ids read back exactly under faults of every kind; unknown ids among 1,000 fail
exactly themselves; 5,000 deletes at 10% faults (a lost answer after the delete was
applied among them) leave exactly the other jobs; a lazy source of a million ids keeps
memory flat.
"""

from __future__ import annotations

import contextlib
import gc
import tracemalloc
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from hellotracks_async import (
    HellotracksClient,
    Job,
    JobNotFoundError,
    Response,
    RetryPolicy,
)
from hellotracks_async.testing import FAULT_KINDS, FakeHellotracks, Faults

_RETRY = RetryPolicy(backoff=0.01, max_backoff=0.05, max_retries=12)


def _client(fake: FakeHellotracks, **kwargs: Any) -> HellotracksClient:
    options: dict[str, Any] = {"timeout": 0.3, "retry": _RETRY, "batch_size": 50}
    return HellotracksClient(fake.api_key, base_url=fake.base_url, **(options | kwargs))


def _jobs(count: int) -> list[Job]:
    return [
        Job(destination_name=f"Stop {i}", day=date(2026, 11, 24), order_id=i)
        for i in range(count)
    ]


async def _created(fake: FakeHellotracks, count: int) -> list[str]:
    async with _client(fake) as client:
        result = await client.create_jobs(_jobs(count))
    return [job.id for job in result.jobs if job.id is not None]


@pytest.mark.slow
async def test_ten_thousand_ids_read_back_exactly_under_every_fault() -> None:
    async with FakeHellotracks() as fake:
        ids = await _created(fake, 10_000)
        fake.faults = Faults(
            rate=0.2, kinds=FAULT_KINDS, seed=20261204, retry_after=0.01, slow_seconds=0.6
        )
        async with _client(fake) as client:
            result = await client.get_jobs(reversed(ids))
        assert set(fake.injected) == set(FAULT_KINDS)  # every kind happened
    assert result.ok
    assert [job.id for job in result.jobs] == ids[::-1]  # each id its own job, in order
    assert [job.order_id for job in result.jobs] == list(range(9_999, -1, -1))
    assert result.retries > 0


async def test_ten_unknown_ids_among_a_thousand_fail_exactly_those() -> None:
    async with FakeHellotracks() as fake:
        ids = await _created(fake, 990)
        unknown = [f"{i:024x}" for i in range(10)]
        mixed = ids[:300] + unknown[:5] + ids[300:] + unknown[5:]
        async with _client(fake, batch_size=100) as client:
            result = await client.get_jobs(mixed, raise_on_error=False)
            deleted = await client.delete_jobs(mixed, raise_on_error=False)
        left = fake.jobs()
    assert sorted(f.inputs[0] for f in result.failures) == unknown
    assert all(isinstance(f.exception, JobNotFoundError) for f in result.failures)
    assert [job.id for job in result.jobs] == ids
    # deletes refuse a request naming an unknown id: halving isolates exactly those ids
    assert sorted(f.inputs[0] for f in deleted.failures) == unknown
    assert deleted.succeeded == 990
    assert left == []


@pytest.mark.slow
async def test_five_thousand_deletes_under_faults_leave_exactly_the_others() -> None:
    async with FakeHellotracks() as fake:
        ids = await _created(fake, 8_000)
        doomed, kept = ids[:5_000], ids[5_000:]
        fake.faults = Faults(
            rate=0.1, kinds=FAULT_KINDS, seed=4, retry_after=0.01, slow_seconds=0.6
        )
        async with _client(fake) as client:
            result = await client.delete_jobs(iter(doomed))
        await fake.settle()
        assert fake.injected["commit_then_drop"] > 0  # a delete applied, its answer lost
        left = sorted(job["id"] for job in fake.jobs())
    assert left == sorted(kept)
    assert result.failures == ()
    gone = sorted(
        [job.id for job in result.jobs] + [f.inputs[0] for f in result.maybe_deleted]
    )
    assert gone == sorted(doomed)  # every id deleted, or deleted by a lost-answer attempt
    assert result.maybe_deleted  # a retry after a lost answer found its ids gone


def _ids(count: int) -> Iterator[str]:
    return (f"{i:024x}" for i in range(count))


class _Deleting:
    """A transport that accepts every delete and keeps nothing (a MockTransport keeps
    every request, which would be the growth this test looks for)."""

    async def post(self, endpoint: str, body: bytes, *, timeout: float) -> Response:
        return Response(200, {}, b'{"status": 0}')

    async def aclose(self) -> None:
        pass


async def _peak(count: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        client = HellotracksClient(
            "k", transport=_Deleting(), batch_size=1_000, max_concurrency=4
        )
        seen = 0
        async with client, contextlib.aclosing(client.stream_delete_jobs(_ids(count))) as stream:
            async for outcome in stream:
                seen += len(outcome.jobs)
        assert seen == count
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
async def test_a_lazy_million_ids_keeps_memory_flat() -> None:
    await _peak(10_000)  # warm caches and imports
    small = await _peak(100_000)
    large = await _peak(1_000_000)
    # 10x the ids; the window (4 batches of 1,000) bounds memory, not the input
    assert large < small * 1.5 + 256 * 1024, (small, large)

"""hellotracks_async.batching: numbering, flushing and lazy chunking of sync and async sources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hellotracks_async.batching import Batch, Chunker, batches


def test_chunker_numbers_batches_and_flushes() -> None:
    chunker = Chunker[int](size=3)
    full = [batch for batch in map(chunker.feed, range(8)) if batch is not None]
    assert full == [Batch(0, [0, 1, 2]), Batch(3, [3, 4, 5])]
    assert chunker.flush() == Batch(6, [6, 7])
    assert chunker.flush() is None


def test_chunker_refuses_size_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Chunker[int](0)


async def test_batches_of_sync_and_async_sources_agree() -> None:
    async def agen() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    from_sync = [b async for b in batches(iter(range(10)), 4)]
    from_async = [b async for b in batches(agen(), 4)]
    assert (
        from_sync
        == from_async
        == [
            Batch(0, [0, 1, 2, 3]),
            Batch(4, [4, 5, 6, 7]),
            Batch(8, [8, 9]),
        ]
    )
    assert [b async for b in batches([], 4)] == []


async def test_batches_consume_lazily() -> None:
    pulled = []

    def source() -> Any:
        for i in range(1_000_000):
            pulled.append(i)
            yield i

    async for batch in batches(source(), 5):
        assert batch.start == 0
        break
    assert len(pulled) == 5

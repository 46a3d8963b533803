"""hellotracks_async.batching: numbering, flushing and lazy chunking of sync and async sources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
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


async def test_a_slow_generator_is_read_in_steps_that_let_other_tasks_run() -> None:
    # A generator that builds each item (rows of a file into Jobs) costs CPU per item;
    # reading a whole batch in one step would hold the event loop for all of it.
    ran: list[bool] = []

    def slow_items() -> Iterator[int]:
        for item in range(20):
            time.sleep(0.001)  # CPU work of the caller's generator, 1 ms an item
            yield item

    async def other_task() -> None:
        ran.append(True)

    other = asyncio.create_task(other_task())
    reader = batches(slow_items(), 20)
    first = await anext(reader)
    seen_while_reading = list(ran)
    await other
    await reader.aclose()
    assert first.items == list(range(20))
    assert seen_while_reading == [True]  # it ran before the 20 ms batch was complete

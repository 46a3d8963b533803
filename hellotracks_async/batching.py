"""Chunking any (async) iterable into numbered batches, lazily. No I/O.

Internal module: not part of the public API (that is ``hellotracks_async``'s ``__all__``
and the modules ``testing``, ``converter``, ``wire`` and ``errors``); import from there.

Example::

    >>> chunker = Chunker(size=2)
    >>> [chunker.feed(item) for item in "abc"]
    [None, Batch(start=0, items=['a', 'b']), None]
    >>> chunker.flush()
    Batch(start=2, items=['c'])
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from typing import Final, Generic, TypeVar

import attrs

__all__ = ["YIELD_EVERY", "Batch", "Breather", "Chunker", "batches", "first_repeat"]

#: Seconds of work on a long input between two yields to the event loop. Another task
#: waiting on a timer sees up to about three such steps at once (the timer, then its
#: task's wake-up, each queued behind one more step), so 2 ms keeps stalls near 6 ms.
YIELD_EVERY: Final = 0.002

_T = TypeVar("_T")


class Breather:
    """Says when a long stretch of synchronous work should yield to the event loop:
    once :data:`YIELD_EVERY` seconds have passed since the last time it said so. It is
    asked once per item, and reads the clock every :attr:`LOOK_EVERY` asks (an item
    costs a microsecond or more, so the clock's own cost would not be small).

    Example::

        >>> breather = Breather()
        >>> time.sleep(YIELD_EVERY)  # a stretch of work
        >>> [breather.due() for _ in range(Breather.LOOK_EVERY)][-1]  # time to yield
        True
    """

    __slots__ = ("_left", "_next")
    LOOK_EVERY: Final = 16

    def __init__(self) -> None:
        self._next = time.monotonic() + YIELD_EVERY
        self._left = self.LOOK_EVERY

    def due(self) -> bool:
        """True once the time is up (and the next interval starts now)."""
        self._left -= 1
        if self._left:
            return False
        self._left = self.LOOK_EVERY
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + YIELD_EVERY
        return True


@attrs.frozen
class Batch(Generic[_T]):
    """Consecutive input items; ``items[i]`` is input number ``start + i``.

    Example::

        >>> list(Batch(start=10, items=["a", "b"]).indices)
        [10, 11]
    """

    start: int
    items: list[_T]

    @property
    def indices(self) -> range:
        """The input positions of the items."""
        return range(self.start, self.start + len(self.items))


class Chunker(Generic[_T]):
    """A small stateful chunker: feed items one by one, get a :class:`Batch` when full.

    Example::

        >>> chunker = Chunker[int](size=3)
        >>> [batch for batch in map(chunker.feed, range(7)) if batch]
        [Batch(start=0, items=[0, 1, 2]), Batch(start=3, items=[3, 4, 5])]
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"batch size must be at least 1, not {size}")
        self._size = size
        self._start = 0
        self._items: list[_T] = []

    def feed(self, item: _T) -> Batch[_T] | None:
        """Add one item; return the batch it completes, if any."""
        self._items.append(item)
        if len(self._items) < self._size:
            return None
        return self._take()

    def flush(self) -> Batch[_T] | None:
        """Return what is left as a last, shorter batch (``None`` if nothing is)."""
        return self._take() if self._items else None

    def _take(self) -> Batch[_T]:
        batch = Batch(self._start, self._items)
        self._start += len(self._items)
        self._items = []
        return batch


async def batches(
    source: Iterable[_T] | AsyncIterable[_T], size: int
) -> AsyncGenerator[Batch[_T], None]:
    """Yield batches of ``size`` items from an iterable or async iterable, lazily.

    At most one batch is held here at a time, so a generator of ten million items is
    never in memory; a slow one is read in steps of about :data:`YIELD_EVERY`. If the
    source raises, the items read before it come out first as a last, shorter batch;
    the exception follows on the next step. Every item read is thus in some batch.

    Example::

        >>> import asyncio
        >>> async def first_batches():
        ...     return [b async for b in batches(range(5), size=2)]
        >>> asyncio.run(first_batches())[-1]
        Batch(start=4, items=[4])
    """
    chunker = Chunker[_T](size)
    try:
        if isinstance(source, AsyncIterable):
            async for item in source:
                if batch := chunker.feed(item):
                    yield batch
        else:  # a generator may build each item (rows of a file): yield now and then
            breather = Breather()
            for item in source:
                if batch := chunker.feed(item):
                    yield batch
                elif breather.due():
                    await asyncio.sleep(0)
    except Exception:
        if last := chunker.flush():
            yield last
        raise
    if last := chunker.flush():
        yield last


def first_repeat(keys: Iterable[object]) -> int | None:
    """The position of the first key that an earlier one repeats (``None`` keys never
    repeat); ``None`` if all differ. Two inputs with one key must not share a request.

    Example::

        >>> first_repeat(["a", None, "b", None, "a", "b"]), first_repeat(["a", "b"])
        (4, None)
    """
    seen: set[object] = set()
    for position, key in enumerate(keys):
        if key is None:
            continue
        if key in seen:
            return position
        seen.add(key)
    return None

"""The client-wide window of batches in flight, with the keys they hold.

Two inputs with one key (``uidSecondary`` for creates, the job id for edits) are never
in flight at once: a batch holding a key still in flight waits for it, so inputs that
share a key are applied in input order and the last one wins.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from .results import BatchOutcome

__all__ = ["Window"]


class Window:
    """The batches in flight over every call of one engine (client), and their keys.

    The engine waits for a place (``active`` below the concurrency limit) and for none
    of a batch's keys to be in flight before it sends the batch; only keys in flight
    are remembered.

    Example::

        >>> async def demo():
        ...     window = Window()
        ...     task = asyncio.create_task(asyncio.sleep(0))
        ...     window.hold(task, ("k1", None))
        ...     held = (window.active, window.holds_any(("k1",)))
        ...     await task
        ...     return held, (window.active, window.holds_any(("k1",)))
        >>> asyncio.run(demo())
        ((1, True), (0, False))
    """

    def __init__(self) -> None:
        self.active = 0
        self.last_limit = 0
        self._keys: Counter[Any] = Counter()  # keys in flight; forgotten when they land
        self._waiters: list[asyncio.Future[None]] = []

    def holds_any(self, keys: tuple[Any, ...]) -> bool:
        """Whether one of ``keys`` is in flight."""
        return self.count_held(keys) > 0

    def count_held(self, keys: tuple[Any, ...]) -> int:
        """How many of ``keys`` are in flight."""
        if not self._keys:
            return 0
        return sum(key in self._keys for key in keys if key is not None)

    def hold(self, task: asyncio.Task[BatchOutcome], keys: tuple[Any, ...]) -> None:
        """Take a place and the batch's keys until ``task`` is done (or cancelled)."""
        held = [key for key in keys if key is not None]
        self.active += 1
        self._keys.update(held)
        task.add_done_callback(lambda _: self._release(held))

    def _release(self, held: list[Any]) -> None:
        self.active -= 1
        self._keys.subtract(held)
        for key in held:
            if self._keys[key] <= 0:
                del self._keys[key]
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def freed(self) -> None:
        """Wait until some batch finishes (in any call)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

"""``serve()``: run a :class:`~hellotracks_async.testing.FakeHellotracks` until cancelled.

The ``hellotracks-async fake-server`` command calls it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ._capacity import Capacity
from ._faults import FAULT_KINDS, Faults
from ._server import FakeHellotracks

__all__ = ["serve"]


def _describe(capacity: Capacity) -> str:
    """One line about a capacity, in milliseconds as on the command line.

    Example::

        >>> print(_describe(Capacity(rtt=0.15, workers=16, per_request=0.02, per_job=0.0005)))
        Capacity: 150 ms round trip, 16 workers, 20 ms + 0.5 ms/job per request, no rate limit
    """
    workers = "unlimited workers" if capacity.workers is None else f"{capacity.workers} workers"
    rate = (
        "no rate limit"
        if capacity.rate is None
        else f"{capacity.rate:g} requests/s (bucket of {capacity.bucket_size:g})"
    )
    return (
        f"Capacity: {capacity.rtt * 1000:g} ms round trip, {workers}, "
        f"{capacity.per_request * 1000:g} ms + {capacity.per_job * 1000:g} ms/job per request, "
        f"{rate}"
    )


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    fault_rate: float = 0.0,
    seed: int | None = None,
    api_keys: Mapping[str, str] | None = None,
    store_jobs: bool = True,
    rtt: float = 0.0,
    workers: int | None = None,
    per_request: float = 0.0,
    per_job: float = 0.0,
    rate: float | None = None,
    burst: float | None = None,
) -> None:
    """Run a :class:`FakeHellotracks` until cancelled, printing where and with which key.

    ``fault_rate`` injects every kind of :data:`FAULT_KINDS` on that share of requests;
    ``store_jobs=False`` keeps no job (see :class:`FakeHellotracks`). ``rtt``,
    ``workers``, ``per_request``, ``per_job``, ``rate`` and ``burst`` model a server's
    capacity (see :class:`Capacity`; durations in seconds); with all at their defaults
    there is none.

    Example (runs forever, so not executed here)::

        asyncio.run(serve(port=8080, fault_rate=0.1, seed=1, workers=2, rate=5))
    """
    capacity = Capacity(
        rtt=rtt,
        workers=workers,
        per_request=per_request,
        per_job=per_job,
        rate=rate,
        burst=burst,
    )
    faults = Faults(rate=fault_rate, seed=seed)
    async with FakeHellotracks(
        api_keys=api_keys,
        faults=faults,
        host=host,
        port=port,
        store_jobs=store_jobs,
        capacity=None if capacity == Capacity() else capacity,
    ) as fake:
        print(f"FakeHellotracks listening on {fake.base_url}")
        for key, company in fake.api_keys.items():
            print(f"API key: {key}  (company {company!r})")
        print(f"  export HELLOTRACKS_BASE_URL={fake.base_url}")
        print(f"  export HELLOTRACKS_API_KEY={fake.api_key}")
        if fault_rate > 0:
            kinds = ", ".join(FAULT_KINDS)
            print(f"Injecting faults on {fault_rate:.0%} of requests ({kinds}), seed {seed}")
        if not store_jobs:
            print(
                "Keeping no job: createjobs answers as usual, "
                "editjobs/getjobs/deletejobs see none."
            )
        if fake.capacity is not None:
            print(_describe(fake.capacity))
        print("Press Ctrl+C to stop.", flush=True)
        await asyncio.Event().wait()

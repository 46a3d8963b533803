"""Test helpers: :class:`FakeHellotracks`, an in-process fake of the Hellotracks jobs API
(aiohttp.web, jobs in memory) with seeded fault injection and a capacity model, and the
``fake_hellotracks`` pytest fixture (registered automatically as the ``hellotracks_async``
pytest plugin).

Example::

    from hellotracks_async import HellotracksClient
    from hellotracks_async.testing import Capacity, FakeHellotracks, Faults

    async def test_import_survives_faults():
        faults = Faults(rate=0.3, seed=1234)
        async with FakeHellotracks(faults=faults) as fake:
            async with HellotracksClient(api_key=fake.api_key, base_url=fake.base_url) as client:
                await client.create_jobs(jobs)
            assert len(fake.jobs()) == len(jobs)   # no duplicates, nothing lost

    async def test_import_against_a_small_server():
        capacity = Capacity(rtt=0.02, workers=2, per_request=0.01, per_job=0.002, rate=20)
        async with FakeHellotracks(capacity=capacity) as fake:
            ...
            assert fake.stats.peak_queued <= 6

    >>> FAULT_KINDS[:4]
    ('429', '500', '502', '503')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._capacity import Capacity, CapacityStats
    from ._faults import FAULT_KINDS, Faults
    from ._serve import serve
    from ._server import FakeHellotracks

__all__ = ["FAULT_KINDS", "Capacity", "CapacityStats", "FakeHellotracks", "Faults", "serve"]

# Loaded on first use (PEP 562): the pytest plugin, a submodule of this package, is
# imported at every pytest start-up, and must not load aiohttp.web until its fixture runs.
_WHERE = {
    "Capacity": "._capacity",
    "CapacityStats": "._capacity",
    "FAULT_KINDS": "._faults",
    "Faults": "._faults",
    "serve": "._serve",
    "FakeHellotracks": "._server",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

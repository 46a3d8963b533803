"""Test helpers: :class:`FakeHellotracks`, an in-process fake of the Hellotracks jobs API
(aiohttp.web, jobs in memory) with seeded fault injection, and the ``fake_hellotracks``
pytest fixture (registered automatically as the ``hellotracks_async`` pytest plugin).

Example::

    from hellotracks_async import HellotracksClient
    from hellotracks_async.testing import FakeHellotracks, Faults

    async def test_import_survives_faults():
        faults = Faults(rate=0.3, seed=1234)
        async with FakeHellotracks(faults=faults) as fake:
            async with HellotracksClient(api_key=fake.api_key, base_url=fake.base_url) as client:
                await client.create_jobs(jobs)
            assert len(fake.jobs()) == len(jobs)   # no duplicates, nothing lost

    >>> FAULT_KINDS[:4]
    ('429', '500', '502', '503')
"""

from ._faults import FAULT_KINDS, Faults
from ._server import FakeHellotracks, serve

__all__ = ["FAULT_KINDS", "FakeHellotracks", "Faults", "serve"]

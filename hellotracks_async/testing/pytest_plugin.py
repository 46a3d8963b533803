"""The pytest plugin of hellotracks-async: the ``fake_hellotracks`` fixture.

The package registers this module as the ``hellotracks_async`` ``pytest11`` entry point,
so once the package is installed any test can ask for a started :class:`FakeHellotracks`
(default key ``"test-key"`` for company ``"acme"``, no faults)::

    import pytest
    from hellotracks_async import HellotracksClient, Job

    @pytest.mark.asyncio  # not needed with asyncio_mode = "auto"
    async def test_create(fake_hellotracks):
        async with HellotracksClient(api_key=fake_hellotracks.api_key,
                                     base_url=fake_hellotracks.base_url) as client:
            await client.create_jobs([Job(destination_name="HQ")])
        assert len(fake_hellotracks.jobs()) == 1

Loading the plugin costs nothing until the fixture is used: the fake (aiohttp.web) is
imported by the fixture. The fixture needs pytest-asyncio (0.24 or later), and no
setting: it works in strict mode (the default) and in auto mode, and runs in the test's
own event loop whatever ``asyncio_default_fixture_loop_scope`` says. Without
pytest-asyncio, using the fixture fails with a hint (loading the plugin never does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._server import FakeHellotracks

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the environment
    pytest_asyncio = None  # type: ignore[assignment]

__all__ = ["fake_hellotracks"]

if pytest_asyncio is not None:
    # loop_scope="function": the test's own loop (the default test loop scope), not the
    # one asyncio_default_fixture_loop_scope would pick; a server in another loop hangs.
    @pytest_asyncio.fixture(loop_scope="function")
    async def fake_hellotracks() -> AsyncIterator[FakeHellotracks]:
        """A started :class:`FakeHellotracks`, closed after the test.

        Example::

            @pytest.mark.asyncio
            async def test_it(fake_hellotracks):
                assert fake_hellotracks.base_url.endswith("/api/")
        """
        from ._server import FakeHellotracks  # here: pytest start-up loads no aiohttp.web

        async with FakeHellotracks() as fake:
            yield fake

else:  # pragma: no cover - depends on the environment

    @pytest.fixture(name="fake_hellotracks")
    def _fake_hellotracks_unavailable() -> None:
        pytest.fail("the fake_hellotracks fixture needs pytest-asyncio: pip install pytest-asyncio")

"""The fake_hellotracks fixture of the pytest plugin, in a fresh pytest run with no ini
options: its documented snippet passes in strict mode, whatever the fixture loop scope."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

import hellotracks_async
from hellotracks_async.testing import pytest_plugin

pytest_plugins = ["pytester"]

ROOT = Path(hellotracks_async.__file__).resolve().parents[1]


def _snippet() -> str:
    """The test shown in the plugin's docstring, verbatim."""
    doc = pytest_plugin.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 2)
    return textwrap.dedent("\n\n".join(block[:2])) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("ini", ["", "[pytest]\nasyncio_default_fixture_loop_scope = module\n"])
def test_the_documented_snippet_passes_in_strict_mode(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ini: str
) -> None:
    assert "@pytest.mark.asyncio" in _snippet()
    pytester.makepyfile(test_snippet=_snippet())
    if ini:
        pytester.makeini(ini)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    # A fixture in another loop than the test's hangs: the timeout is a safety net.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)

    result.assert_outcomes(passed=1)

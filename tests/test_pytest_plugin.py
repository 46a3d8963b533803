"""The fake_hellotracks fixture of the pytest plugin, in a fresh pytest run with no ini
options: its documented snippet passes in strict mode, whatever the fixture loop scope."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_loading_the_plugin_imports_no_aiohttp_server() -> None:
    # pytest loads the plugin at every start-up, in every project that installs the SDK
    code = (
        "import sys, hellotracks_async.testing.pytest_plugin; "
        "print('aiohttp.web' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.stdout.strip() == "False"

"""The fake server's fault settings and their seeded decider (pure, no I/O).

Faults over HTTP are in test_fake_server.py.
"""

from __future__ import annotations

import pytest

from hellotracks_async.testing import FAULT_KINDS, Faults
from hellotracks_async.testing._faults import FaultDecider


def test_decider_same_seed_same_sequence():
    faults = Faults(rate=0.3, seed=1234)
    one, two = faults.decider(), FaultDecider(faults)
    sequence = [one.draw() for _ in range(1000)]
    assert sequence == [two.draw() for _ in range(1000)]
    other = Faults(rate=0.3, seed=4321).decider()
    assert sequence != [other.draw() for _ in range(1000)]


def test_decider_hits_roughly_the_rate_with_every_kind():
    decider = Faults(rate=0.2, seed=7).decider()
    draws = [decider.draw() for _ in range(10_000)]
    faults = [kind for kind in draws if kind is not None]
    assert 1800 <= len(faults) <= 2200  # binomial sd is 40
    share = 2000 / len(FAULT_KINDS)
    for kind in FAULT_KINDS:
        assert 0.7 * share <= faults.count(kind) <= 1.3 * share


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_decider_extreme_rates(rate):
    decider = Faults(rate=rate, kinds=("reset",), seed=None).decider()
    expected = None if rate == 0.0 else "reset"
    assert {decider.draw() for _ in range(100)} == {expected}


@pytest.mark.parametrize(
    "options",
    [
        {"rate": -0.1},
        {"rate": 1.5},
        {"rate": float("nan")},
        {"kinds": ()},
        {"kinds": ("418",)},
        {"retry_after": -1.0},
        {"slow_seconds": -0.5},
    ],
)
def test_faults_validation(options):
    with pytest.raises(ValueError):  # noqa: PT011 - the messages are checked in doctests
        Faults(**options)


def test_faults_accept_one_kind_as_a_string():
    assert Faults(kinds="429").kinds == ("429",)
    assert Faults(kinds=["500", "502"]).kinds == ("500", "502")

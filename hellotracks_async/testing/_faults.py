"""Fault injection settings and the seeded decision logic: pure, no I/O.

:class:`Faults` says how often and which way the fake server misbehaves;
:class:`FaultDecider` turns it into a reproducible sequence of per-request decisions.

Example::

    >>> decider = Faults(rate=1.0, kinds=("429",), seed=7).decider()
    >>> decider.draw()
    '429'
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Final

import attrs

__all__ = ["FAULT_KINDS", "FaultDecider", "Faults"]

#: Every fault the fake server can inject, in a fixed order:
#:
#: - ``"429"``: HTTP 429 with a ``Retry-After`` header; nothing applied.
#: - ``"500"``: HTTP 500 with a JSON body; nothing applied.
#: - ``"502"``: HTTP 502 with an HTML body, as a proxy would send; nothing applied.
#: - ``"503"``: HTTP 503; nothing applied.
#: - ``"reset"``: the connection is closed without an answer; nothing applied.
#: - ``"slow"``: the answer comes after ``slow_seconds``; the request IS applied, even if
#:   the client gave up meanwhile.
#: - ``"commit_then_drop"``: the request is applied, then the connection is closed
#:   without an answer (what makes a naive retrying client create duplicates).
#:
#: Example::
#:
#:     >>> "commit_then_drop" in FAULT_KINDS
#:     True
FAULT_KINDS: Final[tuple[str, ...]] = (
    "429",
    "500",
    "502",
    "503",
    "reset",
    "slow",
    "commit_then_drop",
)


def _check_rate(_: object, __: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"rate must be between 0 and 1, got {value!r}")


def _check_kinds(_: object, __: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
    if not value:
        raise ValueError("kinds must name at least one fault kind")
    unknown = [kind for kind in value if kind not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown fault kinds {unknown!r}; known: {FAULT_KINDS!r}")


def _check_seconds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0.0:  # also refuses NaN
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _to_kinds(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen(kw_only=True)
class Faults:
    """How the fake server misbehaves: a fault on ``rate`` of the requests, of ``kinds``.

    Only ``createjobs``, ``editjobs``, ``getjobs`` and ``deletejobs`` requests that passed
    the API-key check get faults. Each such request draws, with probability ``rate``, one kind
    uniformly from ``kinds``; ``seed`` makes the sequence reproducible (``None``: a
    different sequence each run). ``retry_after`` is the ``Retry-After`` of a ``"429"``
    answer, ``slow_seconds`` the delay of a ``"slow"`` one. See :data:`FAULT_KINDS`.

    Example::

        >>> Faults(rate=0.1, kinds=("500", "reset"), seed=1).kinds
        ('500', 'reset')
        >>> Faults(rate=2.0)
        Traceback (most recent call last):
        ...
        ValueError: rate must be between 0 and 1, got 2.0
    """

    rate: float = attrs.field(default=0.2, validator=_check_rate)
    kinds: tuple[str, ...] = attrs.field(
        default=FAULT_KINDS, converter=_to_kinds, validator=_check_kinds
    )
    seed: int | None = None
    retry_after: float = attrs.field(default=0.01, validator=_check_seconds)
    slow_seconds: float = attrs.field(default=1.0, validator=_check_seconds)

    def decider(self) -> FaultDecider:
        """A fresh decider that starts this configuration's sequence from the beginning.

        Example::

            >>> Faults(rate=0.0).decider().draw() is None
            True
        """
        return FaultDecider(self)


@attrs.define
class FaultDecider:
    """The stateful, seeded source of fault decisions for one run of the fake server.

    :meth:`draw` is called once per eligible request, in arrival order; the same
    :class:`Faults` (with a seed) always gives the same sequence.

    Example::

        >>> a = Faults(rate=0.5, seed=42).decider()
        >>> b = Faults(rate=0.5, seed=42).decider()
        >>> [a.draw() for _ in range(20)] == [b.draw() for _ in range(20)]
        True
    """

    faults: Faults
    _rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)

    def draw(self) -> str | None:
        """The fault kind for the next request, or ``None`` for "answer normally".

        Example::

            >>> Faults(rate=1.0, kinds=("slow",), seed=0).decider().draw()
            'slow'
        """
        rate = self.faults.rate
        if rate <= 0.0 or self._rng.random() >= rate:
            return None
        return self._rng.choice(self.faults.kinds)

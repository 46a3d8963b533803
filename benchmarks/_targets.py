"""One target of the benchmark report, as every section builds it."""

from __future__ import annotations

from typing import Any

__all__ = ["target"]


def target(
    name: str, value: float, limit: float, kind: str = "max", unit: str = "x", **extra: Any
) -> dict[str, Any]:
    """A target with its measured ``value`` and whether it is ``met``.

    Example::

        >>> target("stall", 12.0, 20.0, unit="ms")["met"]
        True
    """
    met = value <= limit if kind == "max" else value >= limit
    return {
        "name": name,
        "value": value,
        "limit": limit,
        "kind": kind,
        "unit": unit,
        "met": met,
        **extra,
    }

"""Structuring micro-benchmark: the converter next to plain decoding and outside models.

For each job shape, ``count`` answer jobs as FakeHellotracks' job store returns them
(server fields added) are timed, in this process, as jobs per second (CPU time, best of
``repeats``) for:

- ``json.loads`` / ``orjson.loads``: the answer bytes to dicts, nothing more;
- ``converter structure`` / ``converter unstructure``: the SDK's wire dict -> :class:`Job`
  and back (typed: ``date``, aware ``datetime``, ``JobType``, ``CustomField``);
- as outside references when installed (the ``bench`` extra): a msgspec ``Struct`` and a
  pydantic v2 model with the same 61 fields and wire names, dict -> model
  (``msgspec.convert``, ``model_validate``), bytes -> models in one call
  (``msgspec.json.decode``, ``TypeAdapter.validate_json``) and model -> dict
  (``msgspec.to_builtins``, ``model_dump(by_alias=True, exclude_none=True)``). They keep
  ``day`` and the timestamps as integers, so they do less work than the converter.

Example::

    >>> rows = measure(count=200, repeats=1)
    >>> names = {row["name"].split(" (")[0] for row in rows["minimal"]}
    >>> {"orjson.loads", "converter structure"} <= names
    True
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

import attrs
import orjson

from hellotracks_async import Job
from hellotracks_async.converter import converter
from hellotracks_async.testing._store import JobStore
from hellotracks_async.wire import to_wire_name

from . import shapes

__all__ = ["answers", "measure"]


def answers(shape: shapes.Shape, count: int) -> list[dict[str, Any]]:
    """``count`` answer jobs of ``shape`` as the fake server's store makes them."""
    store = JobStore()
    created: list[dict[str, Any]] = []
    for start in range(0, count, 100):
        batch = [
            {**shapes.wire_job(shape, index), "uidSecondary": f"bench-{index}"}
            for index in range(start, min(start + 100, count))
        ]
        created += store.create("acme", {"jobs": batch})
    copies: list[dict[str, Any]] = orjson.loads(orjson.dumps(created))
    return copies


def _best(work: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        started = time.process_time()
        result = work()
        best = min(best, time.process_time() - started)
        del result
    return best


def _primitive_type(attribute: attrs.Attribute[Any]) -> Any:
    """The wire type of a Job attribute, for the outside models (no date/datetime)."""
    text = str(attribute.type)
    for kind in (bool, str, float, int):
        if kind.__name__ in text and "list" not in text:
            return kind | None
    if "date" in text or "JobType" in text:
        return int | None
    return None  # custom_fields: handled by the caller


def _msgspec_rows(
    dicts: list[dict[str, Any]], raw: bytes, count: int, repeats: int
) -> list[dict[str, Any]]:
    try:
        import msgspec
    except ImportError:
        return []

    class CustomFieldStruct(msgspec.Struct):
        key: str
        val: str

    fields: list[tuple[str, Any, Any]] = []
    renames: dict[str, str] = {}
    for attribute in attrs.fields(Job):
        if attribute.name == "extras":
            continue
        kind = _primitive_type(attribute)
        kind = list[CustomFieldStruct] | None if kind is None else kind
        fields.append((attribute.name, kind, None))
        renames[attribute.name] = to_wire_name(attribute.name)
    struct = msgspec.defstruct(
        "JobStruct", fields, kw_only=True, omit_defaults=True, rename=renames
    )
    many = list[struct]  # type: ignore[valid-type]
    structs = msgspec.convert(dicts, many)
    rows = [
        ("msgspec convert (dict -> Struct)", lambda: msgspec.convert(dicts, many)),
        ("msgspec json.decode (bytes -> Struct)", lambda: msgspec.json.decode(raw, type=many)),
        ("msgspec to_builtins (Struct -> dict)", lambda: msgspec.to_builtins(structs)),
    ]
    return [_row(name, work, count, repeats, "msgspec") for name, work in rows]


def _pydantic_rows(
    dicts: list[dict[str, Any]], raw: bytes, count: int, repeats: int
) -> list[dict[str, Any]]:
    try:
        import pydantic
    except ImportError:
        return []

    class CustomFieldModel(pydantic.BaseModel):
        key: str
        val: str

    definitions: dict[str, Any] = {}
    for attribute in attrs.fields(Job):
        if attribute.name == "extras":
            continue
        kind = _primitive_type(attribute)
        kind = list[CustomFieldModel] | None if kind is None else kind
        alias = to_wire_name(attribute.name)
        definitions[attribute.name] = (kind, pydantic.Field(None, alias=alias))
    model = pydantic.create_model("JobModel", **definitions)
    adapter = pydantic.TypeAdapter(list[model])  # type: ignore[valid-type]
    models: list[Any] = adapter.validate_python(dicts)
    rows = [
        ("pydantic validate_python (dict -> model)", lambda: adapter.validate_python(dicts)),
        ("pydantic validate_json (bytes -> model)", lambda: adapter.validate_json(raw)),
        (
            "pydantic model_dump (model -> dict)",
            lambda: [m.model_dump(by_alias=True, exclude_none=True) for m in models],
        ),
    ]
    return [_row(name, work, count, repeats, "pydantic") for name, work in rows]


def _row(
    name: str, work: Callable[[], object], count: int, repeats: int, kind: str
) -> dict[str, Any]:
    seconds = _best(work, repeats)
    return {
        "name": name,
        "kind": kind,
        "jobs_per_s": round(count / seconds, 1),
        "us_per_job": round(seconds / count * 1e6, 3),
    }


def _shape_rows(shape: shapes.Shape, count: int, repeats: int) -> list[dict[str, Any]]:
    structure = converter.get_structure_hook(Job)
    unstructure = converter.get_unstructure_hook(Job)
    dicts = answers(shape, count)
    raw = orjson.dumps(dicts)
    jobs = [structure(wire, Job) for wire in dicts]
    works: list[tuple[str, str, Callable[[], object]]] = [
        ("json.loads (bytes -> dict)", "decode", lambda: json.loads(raw)),
        ("orjson.loads (bytes -> dict)", "decode", lambda: orjson.loads(raw)),
        ("converter structure (dict -> Job)", "sdk", lambda: [structure(w, Job) for w in dicts]),
        ("converter unstructure (Job -> dict)", "sdk", lambda: [unstructure(j) for j in jobs]),
    ]
    rows = [_row(name, work, count, repeats, kind) for name, kind, work in works]
    return (
        rows
        + _msgspec_rows(dicts, raw, count, repeats)
        + _pydantic_rows(dicts, raw, count, repeats)
    )


def measure(*, count: int = 20_000, repeats: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Every row for every shape: ``{"minimal": [{"name", "kind", "jobs_per_s",
    "us_per_job"}, ...], "full": [...]}``."""
    return {shape: _shape_rows(shape, count, repeats) for shape in shapes.SHAPES}

"""Benchmarks of hellotracks-async against FakeHellotracks, run with ``make bench``.

- :mod:`benchmarks.throughput`: the SDK's ``create_jobs`` next to a raw aiohttp
  baseline and a naive one-job-per-request loop (wall time, jobs/s, client CPU).
- :mod:`benchmarks.structuring`: the converter next to ``json``/``orjson`` decoding and,
  when installed, msgspec and pydantic models of the same shape.
- :mod:`benchmarks.memory`: peak RSS of a client streaming many jobs.

The fake server always runs in a process of its own (:mod:`benchmarks._server`), so
the CPU time measured is the client's alone. See ``benchmarks/README.md``.
"""

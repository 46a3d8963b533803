"""Profile one SDK ``create_jobs`` run per job shape (``--profile``).

pyinstrument (the ``bench`` extra) writes a text call tree per shape; without it,
cProfile writes a ``.prof`` file (open with ``python -m pstats`` or snakeviz) and a
text summary of the top functions by cumulative time.

Example::

    with ServerProcess() as server:
        paths = profile(server, jobs=20_000, out_dir=Path("benchmarks/results"))
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
from pathlib import Path

from . import shapes
from ._server import ServerProcess
from .throughput import run_sdk

__all__ = ["profile"]


def profile(
    server: ServerProcess,
    *,
    jobs: int,
    out_dir: Path,
    batch_size: int = 100,
    concurrency: int = 4,
) -> list[Path]:
    """Profile ``create_jobs`` of ``jobs`` jobs of each shape; return the reports written."""
    try:
        import pyinstrument
    except ImportError:  # pragma: no cover - depends on the bench extra
        pyinstrument = None  # type: ignore[assignment]
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for shape in shapes.SHAPES:
        inputs = list(shapes.jobs(shape, jobs, start=10_000_000))
        work = run_sdk(
            server.base_url,
            server.api_key,
            inputs,
            batch_size=batch_size,
            concurrency=concurrency,
        )
        if pyinstrument is not None:
            profiler = pyinstrument.Profiler(interval=0.0005)
            profiler.start()
            asyncio.run(work)
            profiler.stop()
            path = out_dir / f"profile-{shape}.txt"
            path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
            written.append(path)
            continue
        cprofiler = cProfile.Profile()
        cprofiler.enable()
        asyncio.run(work)
        cprofiler.disable()
        prof = out_dir / f"profile-{shape}.prof"
        cprofiler.dump_stats(prof)
        text = io.StringIO()
        pstats.Stats(cprofiler, stream=text).sort_stats("cumulative").print_stats(40)
        summary = out_dir / f"profile-{shape}.txt"
        summary.write_text(text.getvalue())
        written += [prof, summary]
    return written

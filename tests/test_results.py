"""hellotracks_async.results: assembling outcomes into one BulkResult in input order."""

from __future__ import annotations

from hellotracks_async import (
    BatchFailure,
    BatchOutcome,
    Job,
    ServerError,
)
from hellotracks_async.results import ResultAssembler


def test_assembly_restores_input_order_and_keeps_every_input() -> None:
    assembler = ResultAssembler()
    failure = BatchFailure((2, 3), ("c", "d"), ServerError("x", http_status=500))
    assembler.add(BatchOutcome(indices=(4,), jobs=(Job(id="e"),), requests=1))
    assembler.add(BatchOutcome(failures=(failure,), requests=3, retries=2))
    assembler.add(BatchOutcome(indices=(0, 1), jobs=(Job(id="a"), Job(id="b")), requests=1))
    result = assembler.result(elapsed=1.5)
    assert [job.id for job in result.jobs] == ["a", "b", "e"]
    assert result.indices == (0, 1, 4)
    assert (result.succeeded, result.failed, result.ok) == (3, 2, False)
    assert (result.requests, result.retries, result.elapsed) == (5, 2, 1.5)
    assert sorted([*result.indices, *failure.indices]) == list(range(5))

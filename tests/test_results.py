"""hellotracks_async.results: assembling outcomes into one BulkResult in input order."""

from __future__ import annotations

from datetime import date

import pytest

from hellotracks_async import (
    BatchFailure,
    BatchOutcome,
    BulkResult,
    Job,
    ServerError,
    results,
)
from hellotracks_async.converter import converter
from hellotracks_async.results import JobList, ResultAssembler


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


# -- JobList: answers kept as wire dicts until read --------------------------------------


def test_job_list_structures_nothing_until_read(monkeypatch: pytest.MonkeyPatch) -> None:
    structured: list[object] = []
    hook = converter.get_structure_hook(Job)

    def counting(answer: object, kind: object) -> Job:
        structured.append(answer)
        return hook(answer, kind)  # type: ignore[no-any-return]

    class Counting:
        def get_structure_hook(self, kind: object) -> object:
            return counting

    monkeypatch.setattr(results, "converter", Counting())
    jobs = JobList([{"id": "a", "day": 20261123}, {"id": "b"}, Job(id="c")])
    assert len(jobs) == 3
    assert jobs.ids == ("a", "b", "c")
    result = BulkResult(jobs=jobs, indices=[0, 1, 2])
    assert (result.succeeded, result.ok) == (3, True)
    assert structured == []  # counts and ids cost no Job
    assert result.jobs[0].day == date(2026, 11, 23)
    assert len(structured) == 2  # every answer at once, the Job as it was
    assert [job.id for job in result.jobs] == ["a", "b", "c"]
    assert len(structured) == 2  # once


def test_job_list_compares_as_the_sequence_of_its_jobs() -> None:
    jobs = JobList([{"id": "a"}])
    assert jobs == (Job(id="a"),)
    assert jobs == [Job(id="a")]
    assert jobs != (Job(id="b"),)
    assert jobs != "a"
    assert repr(jobs).startswith("(Job(id='a'")
    assert jobs[:1] == (Job(id="a"),)


def test_the_assembled_result_keeps_answers_unstructured_in_input_order() -> None:
    assembler = ResultAssembler()
    assembler.add(BatchOutcome(indices=(2, 3), jobs=JobList([{"id": "c"}, {"id": "d"}])))
    assembler.add(BatchOutcome(indices=(0, 1), jobs=JobList([{"id": "a"}, Job(id="b")])))
    result = assembler.result(elapsed=0.0)
    assert result.jobs.ids == ("a", "b", "c", "d")
    assert [job.id for job in result.jobs] == ["a", "b", "c", "d"]


def test_outcomes_whose_indices_interleave_are_put_in_input_order() -> None:
    assembler = ResultAssembler()
    assembler.add(BatchOutcome(indices=(0, 2), jobs=JobList([{"id": "a"}, {"id": "c"}])))
    assembler.add(BatchOutcome(indices=(1, 3), jobs=JobList([{"id": "b"}, {"id": "d"}])))
    result = assembler.result(elapsed=0.0)
    assert result.indices == (0, 1, 2, 3)
    assert result.jobs.ids == ("a", "b", "c", "d")

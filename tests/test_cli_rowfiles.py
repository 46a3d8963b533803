"""Import files and failures files (hellotracks_async.cli.rowfiles), read in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from hellotracks_async.cli.rowfiles import RowReader


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("jobs.csv", "destinationName,priority\n" + "".join(f"Stop {i},5\n" for i in range(3000))),
        ("jobs.jsonl", "".join(f'{{"destinationName": "Stop {i}"}}\n' for i in range(3000))),
    ],
)
def test_bytes_read_grows_to_the_file_size(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    size = path.stat().st_size
    seen: list[int] = []

    with RowReader(path) as rows:
        assert rows.size == size
        for row in rows:
            assert row.problem is None
            seen.append(rows.bytes_read)
        assert rows.bytes_read == size

    assert len(seen) == 3000
    assert seen == sorted(seen)
    assert 0 < seen[0] < size  # read as it goes, not all at once
    assert rows.bytes_read == 0  # closed


def test_a_jsonl_error_names_the_file_line_and_the_column_only(tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"destinationName": "A"}\n\n{"destinationName": "B"\n{"a": 1, oops}\n')

    with RowReader(path) as rows:
        problems = [(row.line, row.problem) for row in rows]

    assert problems[0] == (1, None)
    assert problems[1] == (
        3,
        'not valid JSON (unexpected end of data at column 24): {"destinationName": "B"',
    )
    assert problems[2][0] == 4
    assert problems[2][1] is not None
    assert "at column 10" in problems[2][1]
    assert "line" not in problems[1][1] + problems[2][1]  # only the caller names the line


@pytest.mark.parametrize(
    ("name", "text"),
    [("empty.csv", ""), ("header.csv", "destinationName,day\n"), ("blank.jsonl", "\n\n")],
)
def test_a_file_without_rows_yields_none(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)

    with RowReader(path) as rows:
        assert list(rows) == []
        assert rows.bytes_read == rows.size == len(text)

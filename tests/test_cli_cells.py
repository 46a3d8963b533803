"""Row cells -> wire-format jobs (hellotracks_async.cli.cells): pure, no I/O."""

from __future__ import annotations

import re

import pytest

from hellotracks_async.cli.cells import RowError, parse_create, parse_edit


def test_row_parsing() -> None:
    assert parse_create({"destination_lat": " 37.5 ", "order_id": "12.0", "error": "x"}) == {
        "destinationLat": 37.5,
        "orderId": 12,
    }
    assert parse_edit({"id": "abc", "receiverUid": ""}, keep_empty=True) == (
        "abc",
        {"receiverUid": ""},
    )
    assert parse_create({"isTemplate": "false", "destinationName": "A"})["isTemplate"] is False
    for row, message in [
        ({}, "no fields"),
        ({"destinationName": "A", "destination_name": "B"}, "given twice"),
        ({"customFields": "[oops"}, "customFields='[oops' is not a JSON list"),
        ({"customFields": '[{"key": 1}]'}, "is not a string"),
        ({"id": "x", "destinationName": "A"}, "must not be set"),
        ({"windowStart": "25:00"}, "windowStart=2500 must be an HHMM time"),
        ({"destinationLat": "nan"}, "is not a number"),
    ]:
        with pytest.raises(RowError, match=re.escape(message)):
            parse_create(row)
    for row, message in [({"priority": "1"}, "no id"), ({"id": "x"}, "no field to set")]:
        with pytest.raises(RowError, match=re.escape(message)):
            parse_edit(row)

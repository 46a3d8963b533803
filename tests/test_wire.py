"""hellotracks_async.wire: Python attribute names to wire names, and unknown wire names
(as in a file's header) with suggestions."""

from __future__ import annotations

import pytest

from hellotracks_async.wire import to_wire_name, unknown_wire_names


@pytest.mark.parametrize(
    ("attribute", "wire"),
    [
        ("destination_lat", "destinationLat"),
        ("ts_check_in", "tsCheckIn"),
        ("ts_done_success", "tsDoneSuccess"),
        ("uid_secondary", "uidSecondary"),
        ("extra_number_1_key", "extra_number_1_key"),
        ("id", "id"),
    ],
)
def test_wire_names(attribute: str, wire: str) -> None:
    assert to_wire_name(attribute) == wire


def test_unknown_wire_names_for_a_header() -> None:
    header = ["destination_name", "destinationLat", "custom_PO", "ts_check_in", "notes", "qq"]
    assert unknown_wire_names(header) == {"notes": "textDispatcher", "qq": None}
    assert unknown_wire_names(["custom_", "destination-lat"]) == {
        "custom_": None,
        "destination-lat": "destinationLat",
    }

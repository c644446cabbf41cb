"""Specifications of app events: they map one to one onto the API's Event message."""

from __future__ import annotations

from dataclasses import fields

from device_runtime.apps import EVENT_TYPES, AppEvent
from device_runtime.protocol.v1 import device_pb2


def test_every_event_field_but_confidence_is_a_field_of_the_api_event_message():
    api_fields = set(device_pb2.Event.DESCRIPTOR.fields_by_name)

    # confidence goes to outputs (their {confidence} template field), not over the API.
    assert {f.name for f in fields(AppEvent)} == (api_fields - {"id"}) | {"confidence"}
    event = AppEvent(type="zone_entered", time=1.0, app_id="a", camera_id="c", confidence=0.8)
    assert "confidence" not in event.to_dict() and event.fields()["confidence"] == 0.8


def test_an_event_converts_to_the_api_message_without_renaming():
    event = AppEvent(
        type="line_crossed",
        time=1700000000.5,
        app_id="line3-safety",
        camera_id="cam-1",
        label="part",
        track_id=7,
        line="belt-count",
        direction="in",
        count=12,
        detail="part #7 crossed line 'belt-count' going in (in: 12)",
    )

    message = device_pb2.Event(id="ev-1", **event.to_dict())

    assert (message.type, message.track_id, message.line, message.count) == (
        "line_crossed",
        7,
        "belt-count",
        12,
    )
    assert message.zone == "" and message.snapshot_id == ""


def test_event_types_are_the_ones_the_api_documents():
    assert EVENT_TYPES == (
        "zone_entered",
        "zone_left",
        "line_crossed",
        "count_changed",
        "dwell_exceeded",
    )

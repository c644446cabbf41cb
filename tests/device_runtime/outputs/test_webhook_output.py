"""Webhook outputs against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from device_runtime.outputs.dispatcher import output_key
from device_runtime.outputs.sinks.base import DeliveryError
from tests.device_runtime.outputs.conftest import manifest_with, wait_until, zone_event
from tests.peers.plant_servers import HttpReceiver

pytestmark = pytest.mark.integration

KEY = "output/chat/hmac"
TOKEN = "output/chat/token"


def webhook(receiver: HttpReceiver, **extra) -> dict:
    spec = {
        "kind": "webhook",
        "name": "chat",
        "url": f"{receiver.url}/hooks/sightline?site=plant1",
        "headers": {"X-Line": "3"},
        "header_secrets": {"Authorization": TOKEN},
        "hmac_secret": KEY,
        "payload": {"text": "{class} in {zone} on {camera}", "count": "{count}"},
    }
    spec.update(extra)
    return spec


def test_events_are_posted_as_signed_json_with_headers(make_dispatcher) -> None:
    with HttpReceiver() as receiver:
        dispatcher = make_dispatcher({KEY: "hmac-key-123", TOKEN: "Bearer tok-456"})
        dispatcher.attach(manifest_with([webhook(receiver)]))
        dispatcher.submit("line3", [zone_event(2)])
        wait_until(lambda: receiver.requests, what="a POST")
        [request] = receiver.requests
    assert request.path == "/hooks/sightline?site=plant1"
    assert request.json() == {"text": "part in reject on cam-1", "count": 2}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Line"] == "3" and request.headers["Authorization"] == "Bearer tok-456"
    expected = "sha256=" + hmac.new(b"hmac-key-123", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Sightline-Signature"] == expected
    assert len(request.headers["X-Sightline-Event-Id"]) == 32


def test_the_confidence_field_carries_the_detection_score_of_the_event(make_dispatcher) -> None:
    with HttpReceiver() as receiver:
        dispatcher = make_dispatcher({KEY: "k", TOKEN: "t"})
        payload = {"confidence": "{confidence}", "text": "{class} at {confidence:.0%}"}
        dispatcher.attach(manifest_with([webhook(receiver, payload=payload)]))
        dispatcher.submit("line3", [zone_event(2, confidence=0.8731)])
        wait_until(lambda: receiver.requests, what="a POST")
        [request] = receiver.requests
    assert request.json() == {"confidence": 0.8731, "text": "part at 87%"}


def test_events_share_one_kept_connection_and_a_connection_the_server_dropped_is_replaced(make_dispatcher) -> None:
    with HttpReceiver(keep_alive=True) as receiver:
        dispatcher = make_dispatcher({KEY: "k", TOKEN: "t"})
        dispatcher.attach(manifest_with([webhook(receiver)]))
        key = output_key("line3", "chat")
        for n in (1, 2, 3):  # one at a time: each its own request
            dispatcher.submit("line3", [zone_event(n)])
            wait_until(lambda n=n: dispatcher.outbox.counters(key).delivered == n, what=f"event {n}")
        receiver.hang_up_after_answer = True  # the server drops the connection after event 4 without a word
        for n in (4, 5):
            dispatcher.submit("line3", [zone_event(n)])
            wait_until(lambda n=n: dispatcher.outbox.counters(key).delivered == n, what=f"event {n}")
        counters = dispatcher.outbox.counters(key)
        requests = list(receiver.requests)
    assert [r.json()["count"] for r in requests] == [1, 2, 3, 4, 5]
    assert len({r.client_port for r in requests[:4]}) == 1, "events 1-4 went over one connection"
    assert requests[4].client_port != requests[3].client_port, "event 5 went over a fresh connection"
    assert counters.failed == 0 and counters.last_error == ""


def test_a_server_error_is_retried_until_the_server_accepts(make_dispatcher) -> None:
    with HttpReceiver() as receiver:
        receiver.status = 503
        dispatcher = make_dispatcher({KEY: "k" * 8, TOKEN: "t" * 8})
        dispatcher.attach(manifest_with([webhook(receiver)]))
        dispatcher.submit("line3", [zone_event(1), zone_event(2)])
        key = output_key("line3", "chat")
        counters = wait_until(lambda: (c := dispatcher.outbox.counters(key)).failed >= 2 and c, what="retries")
        assert "answered HTTP 503" in counters.last_error and counters.queued == 2
        receiver.status = 200
        wait_until(lambda: dispatcher.outbox.counters(key).delivered == 2, what="delivery after recovery")
        accepted = [r.json()["count"] for r in receiver.requests[-2:]]
    assert accepted == [1, 2]


def test_a_client_error_is_a_refusal_counted_as_dropped_with_the_answer(make_dispatcher) -> None:
    with HttpReceiver() as receiver:
        receiver.status = 400
        dispatcher = make_dispatcher({KEY: "secret-hmac-key", TOKEN: "Bearer secret-token"})
        dispatcher.attach(manifest_with([webhook(receiver)]))
        dispatcher.submit("line3", [zone_event(1)])
        key = output_key("line3", "chat")
        counters = wait_until(lambda: (c := dispatcher.outbox.counters(key)).dropped and c, what="a drop")
    assert "HTTP 400" in counters.last_error and '"error": "nope"' in counters.last_error
    assert counters.queued == 0
    assert "secret-token" not in counters.last_error and "secret-hmac-key" not in counters.last_error


def test_a_missing_secret_names_the_secret_not_a_value(make_dispatcher) -> None:
    with HttpReceiver() as receiver:
        dispatcher = make_dispatcher({KEY: "k" * 8})
        spec = manifest_with([webhook(receiver)]).outputs[0]
        with pytest.raises(DeliveryError, match="secret 'output/chat/token' is not on this device"):
            dispatcher.send_test(spec, "line3")
        answer = dispatcher.send_test(spec, "line3", extra_secrets={TOKEN: "Bearer x"})
    assert answer == 'HTTP 200 OK: {"ok": true}'

"""The Cameras page finds simulated cameras by real WS-Discovery on 127.0.0.1."""

from __future__ import annotations

import secrets

import pytest

from console_app.sim.ws_discovery_responder import WsDiscoveryResponder

WAIT_MS = 10_000


@pytest.fixture
def responders():
    started = []
    for n in range(2):
        ref = f"urn:uuid:{secrets.token_hex(16)}"
        responder = WsDiscoveryResponder(
            ref, [f"http://127.0.0.1:{18080 + n}/onvif/device_service"],
            scopes=[f"onvif://www.onvif.org/name/Dock{n}", "onvif://www.onvif.org/hardware/SimCam"],
            types=["dn:NetworkVideoTransmitter"] if n == 0 else ["tds:Device"])
        responder.start()
        started.append(responder)
    yield started
    for responder in started:
        responder.stop()


def test_find_cameras_lists_each_simulated_camera_and_names_the_interface(qtbot, window, responders):
    page = window.page("Cameras")
    window.show_page(1)
    page.find_cameras()
    wanted = {r.endpoint_reference for r in responders}

    qtbot.waitUntil(lambda: wanted <= {c.endpoint_reference for c in page.found_model.cameras()},
                    timeout=WAIT_MS)
    names = {c.name for c in page.found_model.cameras() if c.endpoint_reference in wanted}
    assert names == {"Dock0", "Dock1"}
    qtbot.waitUntil(lambda: page.summary.text().startswith("Probed 127.0.0.1"), timeout=WAIT_MS)
    assert not page.cancel_button.isEnabled()
    window.grab().save("/tmp/k-cameras.png")


def test_scanning_a_too_large_subnet_is_refused_at_once(window):
    page = window.page("Cameras")
    page.subnet_edit.setText("10.0.0.0/8")
    page.scan_subnet()
    assert "/8" in page.summary.text() or "16" in page.summary.text()
    assert page._handle is None

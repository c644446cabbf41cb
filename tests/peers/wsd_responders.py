"""A pool of real WS-Discovery responders (console_app/sim) on loopback addresses, for tests.

Each responder answers on its own 127.x.y.z address (all reach ``lo`` on
Linux), so subnet scans can reach each one unicast; multicast probes from
127.0.0.1 reach them all. Tests that share the machine with other tests must
pick their own 127.x range and look only for the endpoint references they made.
"""

from __future__ import annotations

from console_app.sim.ws_discovery_responder import WsDiscoveryResponder, new_endpoint_reference


class ResponderPool:
    """Starts responders on demand; :meth:`stop_all` stops every one (use it in a fixture)."""

    def __init__(self) -> None:
        self.started: list[WsDiscoveryResponder] = []

    def start(self, address: str = "127.0.0.1", **options) -> WsDiscoveryResponder:
        """A started responder on ``address`` whose XAddrs point there unless ``xaddrs`` is given."""
        xaddrs = options.pop("xaddrs", [f"http://{address}:8080/onvif/device_service"])
        reference = options.pop("endpoint_reference", new_endpoint_reference())
        responder = WsDiscoveryResponder(reference, xaddrs, interface=address, **options)
        responder.start()
        self.started.append(responder)
        return responder

    def stop_all(self) -> None:
        """Stop every responder this pool started."""
        while self.started:
            self.started.pop().stop()

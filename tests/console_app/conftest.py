"""Fixtures the console tests share."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from console_app.sim.onvif_camera import SimulatedOnvifCamera


@pytest.fixture
def sim_cameras() -> Iterator[Callable[..., SimulatedOnvifCamera]]:
    """Start simulated ONVIF cameras (no WS-Discovery unless asked) for one test; all stop after it.

    Test modules wrap it with their own password: ``functools.partial(sim_cameras, password=...)``.
    """
    started: list[SimulatedOnvifCamera] = []

    def start(**kwargs) -> SimulatedOnvifCamera:
        kwargs.setdefault("discovery_interface", None)
        cam = SimulatedOnvifCamera(**kwargs).start()
        started.append(cam)
        return cam

    yield start
    for cam in started:
        cam.stop()

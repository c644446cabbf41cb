"""Helpers for output tests: a manifest with outputs, events, a dispatcher over a real outbox."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from device_runtime.apps.events import AppEvent
from device_runtime.outputs.dispatcher import OutputDispatcher
from device_runtime.outputs.process import OutputsProcess
from device_runtime.protocol.apps.manifest import parse_manifest


def manifest_with(outputs: list[dict[str, Any]], app_id: str = "line3") -> Any:
    """A detector manifest with one camera, a zone and a line, and ``outputs``."""
    return parse_manifest(
        {
            "schema": "sightline.app/v1",
            "id": app_id,
            "name": "Line 3",
            "version": "1.2.0",
            "kind": "detector",
            "cameras": [{"id": "cam-1", "url": "test://pattern"}],
            "model": {"name": "demo", "labels": ["part", "person"]},
            "params": {
                "zones": [{"name": "reject", "points": [[0, 0], [1, 0], [1, 1]]}],
                "lines": [{"name": "exit", "a": [0, 0.5], "b": [1, 0.5]}],
            },
            "outputs": outputs,
        }
    )


def zone_event(n: int, *, kind: str = "zone_entered", zone: str = "reject", label: str = "part", when: float | None = None,
               confidence: float = 0.0) -> AppEvent:
    return AppEvent(
        type=kind,  # type: ignore[arg-type]
        time=time.time() if when is None else when,
        app_id="line3",
        camera_id="cam-1",
        label=label,
        track_id=n,
        zone=zone,
        count=n,
        detail=f"event {n}",
        snapshot_id=f"snap-{n}",
        confidence=confidence,
    )


@pytest.fixture
def make_dispatcher(tmp_path: Path) -> Iterator[Callable[..., OutputDispatcher]]:
    made: list[OutputDispatcher] = []

    def _make(secrets: dict[str, str] | None = None, **options: Any) -> OutputDispatcher:
        values = dict(secrets or {})
        options.setdefault("retry_initial_s", 0.05)
        options.setdefault("retry_max_s", 0.5)
        dispatcher = OutputDispatcher(tmp_path / "device", device="test-device", secrets=values.get, **options)
        made.append(dispatcher)
        return dispatcher

    yield _make
    for dispatcher in made:
        dispatcher.close()


@pytest.fixture
def make_outputs_process(tmp_path: Path) -> Iterator[Callable[..., OutputsProcess]]:
    """The device's outputs (an OutputDispatcher in a child process) over a real outbox; closed after the test."""
    made: list[OutputsProcess] = []

    def _make(secrets: dict[str, str] | None = None, **options: Any) -> OutputsProcess:
        options.setdefault("retry_initial_s", 0.05)
        options.setdefault("retry_max_s", 0.5)
        process = OutputsProcess(tmp_path / "device", device="test-device", secrets=dict(secrets or {}).get, **options)
        made.append(process)
        return process

    yield _make
    for process in made:
        process.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")

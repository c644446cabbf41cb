"""A running application: model session, camera sources and workers.

The runner only wires parts together; the logic (zones, lines, tracking)
lives in ``device_runtime.apps`` and the camera loop in ``pipeline``. A
later app kind (Panorama code nodes in their own process) gets a runner of
its own with the same small surface: ``start``, ``stop``, ``set_params``,
``status``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from device_runtime.pipeline import CameraWorker, PreviewItem
from device_runtime.types import Frame

log = logging.getLogger(__name__)


class DetectorAppRunner:
    """Runs a declarative detector app on each of its cameras."""

    def __init__(
        self,
        manifest: Any,
        model: Any,
        sources: Any,
        make_logic: Callable[[Any, str], Any],
        on_events: Callable[[str, Frame, list[Any], PreviewItem], None],
        on_preview: Callable[[str, PreviewItem], None],
    ):
        self.manifest = manifest
        self.app_id = manifest.id
        self.model = model  # a shared inference session, already acquired
        self._sources = sources
        self._make_logic = make_logic
        self._on_events = on_events
        self._on_preview = on_preview
        self.params = manifest.live_params
        self.workers: dict[str, CameraWorker] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        try:
            for camera in self.manifest.cameras:
                source = self._sources.acquire(camera.id, camera.url, self.app_id)
                logic = self._make_logic(self.manifest, camera.id)
                worker = CameraWorker(
                    app_id=self.app_id,
                    camera_id=camera.id,
                    source=source,
                    session=self.model,
                    logic=logic,
                    params=lambda: self.params,
                    on_events=lambda frame, events, item: self._on_events(self.app_id, frame, events, item),
                    on_preview=self._on_preview,
                )
                self.workers[camera.id] = worker
                worker.start()
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        with self._lock:
            workers, self.workers = list(self.workers.values()), {}
        for worker in workers:
            worker.stop()
        for worker in workers:
            self._sources.release(worker.camera_id, self.app_id)

    def set_params(self, params: Any) -> None:
        """Apply new parameters from the next frame on; nothing restarts."""
        self.params = params
        for worker in list(self.workers.values()):
            worker.logic.update_params(params)

    @property
    def error(self) -> str:
        return next((w.error for w in self.workers.values() if w.error), "")

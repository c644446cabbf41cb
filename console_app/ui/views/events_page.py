"""The Events page."""

from __future__ import annotations

import threading
import time

from console_app.ui.tasks import TaskContext
from console_app.ui.views.device_pages import DeviceTablePage


class EventsPage(DeviceTablePage):
    """Streams the chosen device's events while the page is open."""

    title, icon_name = "Events", "events"
    columns = ("Time", "Application", "Camera", "Event", "Detail")
    empty_text = "Waiting for events…"

    def __init__(self, *args, **kwargs):
        self._stream = None
        self._stream_lock = threading.Lock()
        super().__init__(*args, **kwargs)
        self.reload_button.setText("&Reconnect")

    def reload(self) -> None:
        self.shutdown()
        device_id = self.picker.current_device_id()
        self.model.set_rows([])
        if device_id is None:
            self._show_status()
            return
        self._show_status("Connecting…")
        service, bridge = self._context.appliances, self._context.bridge

        def follow(ctx: TaskContext) -> None:
            with service.connect(device_id) as client:
                stream = client.events(replay=50)
                with self._stream_lock:
                    self._stream = stream
                if ctx.cancelled.is_set():
                    stream.cancel()
                bridge.call_in_gui(self._show_status, "Live: newest first.")
                for event in stream:
                    row = [time.strftime("%H:%M:%S", time.localtime(event.time)), event.app_id,
                           event.camera_id, event.type, event.detail]
                    bridge.call_in_gui(self.model.prepend_row, row)

        self._task = self._tasks.run_in_background(follow, on_failure=self._on_failed)

    def shutdown(self) -> None:
        task = getattr(self, "_task", None)
        if task is not None and not task.done:
            task.cancel()
        with self._stream_lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.cancel()

"""Live: one tile with a paired device's annotated preview stream (the next issue adds a grid)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from console_app.ui.context import ConsoleContext
from console_app.ui.icons import icon
from console_app.ui.preview.decoder import jpeg_frames
from console_app.ui.preview.video_view import VideoView
from console_app.ui.tasks import TaskRunner
from console_app.ui.views.device_pages import DevicePicker

PREVIEW_FPS = 10.0


class LivePage(QWidget):
    """Shows the chosen device's preview stream (every camera it runs) in one tile."""

    title, icon_name = "Live", "live"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context = context
        self.picker = DevicePicker(context)
        self.play_button = QPushButton(icon("play"), "&Watch")
        self.stop_button = QPushButton(icon("stop"), "S&top")
        self.play_button.clicked.connect(self.watch)
        self.stop_button.clicked.connect(self.shutdown)
        self.view = VideoView()
        self.hint = QLabel("Pick a paired device and press Watch to see what its applications see.")
        self.hint.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.picker)
        top.addWidget(self.play_button)
        top.addWidget(self.stop_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Live</h2>"))
        layout.addLayout(top)
        layout.addWidget(self.hint)
        layout.addWidget(self.view, 1)

    def refresh_icons(self) -> None:
        self.play_button.setIcon(icon("play"))
        self.stop_button.setIcon(icon("stop"))

    def watch(self) -> None:
        device_id = self.picker.current_device_id()
        if device_id is None:
            self.hint.setText("Pair a device on the Devices page first.")
            return
        service = self._context.appliances

        def jpegs(stop: threading.Event) -> Iterator[bytes]:
            with service.connect(device_id) as client, client.preview(fps=PREVIEW_FPS) as stream:
                stopper = threading.Thread(target=lambda: (stop.wait(), stream.cancel()), daemon=True)
                stopper.start()
                for frame in stream:
                    if stop.is_set():
                        return
                    yield frame.jpeg
                if not stop.is_set():
                    raise ConnectionError("the device ended the preview stream")

        name = self.picker.combo.currentText()
        self.view.play(jpeg_frames(jpegs), f"{name} preview")

    def shutdown(self) -> None:
        self.view.stop()

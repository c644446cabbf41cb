"""VideoView: paints the newest frame of a preview worker, with state, fps and resolution.

The badge never says LIVE over a frozen picture: when no frame has come for
longer than the stream's own rate explains (three frame periods, at least
:data:`STALL_AFTER_S`), it says STALLED and for how long, until frames come
again. The rate reads "—" until one is measured.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from console_app.ui.preview.decoder import FrameProducer, FrameStats, PreviewWorker, StreamState

#: The shortest silence called a stall (a 1 fps camera is not stalled between frames).
STALL_AFTER_S = 2.0
STALL_CHECK_MS = 250

STATE_COLORS = {
    StreamState.LIVE: QColor("#43a047"),
    StreamState.STALLED: QColor("#fb8c00"),
    StreamState.CONNECTING: QColor("#fb8c00"),
    StreamState.RECONNECTING: QColor("#fb8c00"),
    StreamState.FAILED: QColor("#e53935"),
    StreamState.STOPPED: QColor("#9e9e9e"),
}


class VideoView(QWidget):
    """Shows one stream. :meth:`play` starts a decoder worker; :meth:`stop` (or closing) ends it."""

    state_changed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 160)
        self.setAccessibleName("Video preview")
        self.worker: PreviewWorker | None = None
        self.image: QImage | None = None
        self.stats: FrameStats | None = None
        self.state = StreamState.STOPPED
        self.detail = ""
        self.frames_shown = 0
        self.title = ""
        self._worker_state = StreamState.STOPPED
        self._last_frame_at = 0.0
        self._stall_timer = QTimer(self)
        self._stall_timer.setInterval(STALL_CHECK_MS)
        self._stall_timer.timeout.connect(self._check_stall)

    def play(self, producer: FrameProducer, title: str) -> PreviewWorker:
        """Start showing frames from ``producer``; replaces any stream already playing."""
        self.stop()
        self.title, self.image, self.stats, self.frames_shown = title, None, None, 0
        worker = PreviewWorker(producer, title)
        worker.frame_ready.connect(self._on_frame_ready)
        worker.state_changed.connect(self._on_state)
        self.worker = worker
        worker.start()
        self._stall_timer.start()
        return worker

    def stop(self) -> None:
        """Stop the decoder and wait for its thread to end."""
        worker, self.worker = self.worker, None
        self._stall_timer.stop()
        if worker is not None:
            worker.frame_ready.disconnect(self._on_frame_ready)
            worker.state_changed.disconnect(self._on_state)
            worker.stop()
            self._on_state(StreamState.STOPPED, "")

    def _on_frame_ready(self) -> None:
        if self.worker is None:
            return
        latest = self.worker.take_frame()
        if latest is None:
            return
        self.image, self.stats = latest
        self.frames_shown += 1
        self._last_frame_at = time.monotonic()
        if self.state == StreamState.STALLED and self._worker_state == StreamState.LIVE:
            self._show_state(StreamState.LIVE, "")  # frames again
        self.update()

    def _on_state(self, state: str, detail: str) -> None:
        self._worker_state = state
        if state == StreamState.LIVE:
            self._last_frame_at = time.monotonic()
        self._show_state(state, detail)

    def _show_state(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        self.state_changed.emit(state, detail)
        self.update()

    def stall_after_s(self) -> float:
        """How long without a frame counts as a stall for this stream's rate."""
        fps = self.stats.fps if self.stats is not None else 0.0
        return max(STALL_AFTER_S, 3.0 / fps) if fps > 0 else STALL_AFTER_S

    def _check_stall(self) -> None:
        if self._worker_state != StreamState.LIVE or not self._last_frame_at:
            return
        silent = time.monotonic() - self._last_frame_at
        if silent > self.stall_after_s():
            self._show_state(StreamState.STALLED, f"no frame for {silent:.0f} s")

    def status_text(self) -> str:
        """What the overlay says, e.g. ``LIVE · 640×480 · 15.0 fps``."""
        parts = [self.state.upper()]
        if self.stats is not None and self.state == StreamState.LIVE:
            rate = f"{self.stats.fps:.1f} fps" if self.stats.fps > 0 else "— fps"  # not measured yet
            parts += [f"{self.stats.width}×{self.stats.height}", rate]
        elif self.detail and self.state != StreamState.LIVE:
            parts.append(self.detail)
        return " · ".join(parts)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor("#111214"))
        if self.image is not None and not self.image.isNull():
            scaled = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            x, y = (self.width() - scaled.width()) // 2, (self.height() - scaled.height()) // 2
            painter.drawImage(QRectF(x, y, scaled.width(), scaled.height()), self.image)
        elif self.state != StreamState.LIVE:
            painter.setPen(QColor("#bdbdbd"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "No stream" if self.state == StreamState.STOPPED else "Waiting for the first frame…")
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        text = self.status_text() + (f"  —  {self.title}" if self.title else "")
        metrics = painter.fontMetrics()
        bar = QRect(0, self.height() - metrics.height() - 10, self.width(), metrics.height() + 10)
        painter.fillRect(bar, QColor(0, 0, 0, 160))
        painter.setBrush(STATE_COLORS.get(self.state, QColor("#9e9e9e")))
        painter.setPen(Qt.PenStyle.NoPen)
        dot = metrics.height() // 2
        painter.drawEllipse(8, bar.center().y() - dot // 2, dot, dot)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(bar.adjusted(16 + dot, 0, -8, 0),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         metrics.elidedText(text, Qt.TextElideMode.ElideRight, bar.width() - 24 - dot))
        painter.end()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

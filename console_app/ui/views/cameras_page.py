"""Cameras: find cameras (WS-Discovery), register them, preview their raw streams."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console_app.ui.context import ConsoleContext
from console_app.ui.icons import icon
from console_app.ui.models.cameras_model import DiscoveredCamerasModel
from console_app.ui.preview.decoder import opencv_frames, redact_url
from console_app.ui.preview.video_view import VideoView
from console_app.ui.tasks import TaskRunner


class CamerasPage(QWidget):
    """Camera list on the left (discovery and inventory), raw preview on the right."""

    title, icon_name = "Cameras", "cameras"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("rtsp://camera-address:554/stream")
        self.url_edit.setAccessibleName("Stream URL")
        self.url_edit.returnPressed.connect(self.preview_url)
        url_label = QLabel("Stream &URL:")
        url_label.setBuddy(self.url_edit)
        self.preview_button = QPushButton(icon("play"), "Pre&view")
        self.preview_button.clicked.connect(self.preview_url)
        self.stop_button = QPushButton(icon("stop"), "S&top")
        self.stop_button.clicked.connect(self.stop_preview)
        self.view = VideoView()

        row = QHBoxLayout()
        row.addWidget(url_label)
        row.addWidget(self.url_edit, 1)
        row.addWidget(self.preview_button)
        row.addWidget(self.stop_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(row)
        right_layout.addWidget(self.view, 1)

        self.left = QWidget()
        self.left_layout = QVBoxLayout(self.left)
        self.left_layout.setContentsMargins(0, 0, 0, 0)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([560, 620])
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Cameras</h2>"))
        layout.addWidget(self.splitter, 1)
        self._build_left()

    def _build_left(self) -> None:
        self.find_button = QPushButton(icon("search"), "&Find cameras")
        self.find_button.setToolTip("Send WS-Discovery probes on the chosen interfaces")
        self.find_button.clicked.connect(self.find_cameras)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_discovery)
        self.subnet_edit = QLineEdit()
        self.subnet_edit.setPlaceholderText("10.20.0.0/24")
        self.subnet_edit.setAccessibleName("Subnet to scan")
        self.subnet_edit.returnPressed.connect(self.scan_subnet)
        subnet_label = QLabel("Scan s&ubnet:")
        subnet_label.setBuddy(self.subnet_edit)
        self.scan_button = QPushButton("&Scan")
        self.scan_button.clicked.connect(self.scan_subnet)
        self.summary = QLabel("Cameras on this network answer WS-Discovery: press Find cameras. "
                              "Scan a subnet for cameras on other VLANs.")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("discoverySummary")
        self.found_model = DiscoveredCamerasModel(self)
        self.found_table = QTableView()
        self.found_table.setModel(self.found_model)
        self.found_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.found_table.verticalHeader().setVisible(False)
        self.found_table.horizontalHeader().setStretchLastSection(True)
        self.found_table.setAlternatingRowColors(True)
        self.found_table.setAccessibleName("Cameras found")
        buttons = QHBoxLayout()
        buttons.addWidget(self.find_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        scan = QHBoxLayout()
        scan.addWidget(subnet_label)
        scan.addWidget(self.subnet_edit, 1)
        scan.addWidget(self.scan_button)
        self.left_layout.addLayout(buttons)
        self.left_layout.addLayout(scan)
        self.left_layout.addWidget(self.summary)
        self.left_layout.addWidget(self.found_table, 1)
        self._handle = None
        if self._context.camera_discovery is None:
            for widget in (self.find_button, self.scan_button, self.subnet_edit):
                widget.setEnabled(False)
            self.summary.setText("Camera discovery is not available in this installation.")

    def refresh_icons(self) -> None:
        self.preview_button.setIcon(icon("play"))
        self.stop_button.setIcon(icon("stop"))
        self.find_button.setIcon(icon("search"))

    # ---------------------------------------------------------------- discovery

    def find_cameras(self) -> None:
        """Probe the console's interfaces; cameras appear as their replies arrive."""
        where = ", ".join(self._context.interfaces) if self._context.interfaces else "every IPv4 interface"
        self._start(lambda found, done: self._context.camera_discovery.start_probe(
            self._context.interfaces, on_found=found, on_done=done), f"Probing {where}…")

    def scan_subnet(self) -> None:
        cidr = self.subnet_edit.text().strip()
        if not cidr:
            self.summary.setText("Type a subnet to scan, e.g. 10.20.0.0/24.")
            return
        self._start(lambda found, done: self._context.camera_discovery.start_scan(
            cidr, on_found=found, on_done=done), f"Scanning {cidr}…")

    def _start(self, start, text: str) -> None:
        self.cancel_discovery()
        bridge = self._context.bridge
        try:
            self._handle = start(bridge.wrap(self.found_model.upsert), bridge.wrap(self._on_discovery_done))
        except Exception as exc:  # bad interface or subnet: said at once, nothing started
            self.summary.setText(str(exc))
            return
        self.summary.setText(text)
        self.cancel_button.setEnabled(True)

    def _on_discovery_done(self, summary, error) -> None:
        self.cancel_button.setEnabled(False)
        self._handle = None
        if error is not None:
            self.summary.setText(str(error))
            return
        text = summary.describe()
        if summary.errors:
            text += " — " + "; ".join(summary.errors)
        self.summary.setText(text[0].upper() + text[1:])

    def cancel_discovery(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()
        self.cancel_button.setEnabled(False)

    def preview_url(self, url: str | None = None) -> None:
        url = (url or self.url_edit.text()).strip()
        if not url:
            return
        self.view.play(opencv_frames(url), redact_url(url))

    def stop_preview(self) -> None:
        self.view.stop()

    def shutdown(self) -> None:
        self.cancel_discovery()
        self.view.stop()

"""Cameras: find cameras (WS-Discovery), register them, preview their raw streams."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console_app.core.persistence import EditConflict
from console_app.core.services.registration import device_probe_through, is_device_only
from console_app.ui.context import ConsoleContext
from console_app.ui.dialogs.add_camera_dialog import AddCameraDialog
from console_app.ui.icons import icon
from console_app.ui.models.cameras_model import CANDIDATE_ROLE, DiscoveredCamerasModel
from console_app.ui.models.registered_cameras_model import RegisteredCamerasModel
from console_app.ui.preview.decoder import opencv_frames, probed_frames
from console_app.ui.preview.video_view import VideoView
from console_app.ui.tasks import TaskRunner
from console_app.ui.widgets.tables import record_table
from device_runtime.media.redact import redact_url


class CamerasPage(QWidget):
    """Camera list on the left (discovery and inventory), raw preview on the right."""

    title, icon_name = "Cameras", "cameras"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None,
                 inventory=None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        #: The InventoryStore (``context.inventory`` unless given); None: no inventory yet.
        self.inventory = inventory if inventory is not None else context.inventory
        self.add_dialog: AddCameraDialog | None = None
        self.conflict_box: QMessageBox | None = None
        self.conflict_reload_button: QPushButton | None = None
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
        self.found_table = record_table(self.found_model, "Cameras found")
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
        self.register_found_button = QPushButton("&Register found…")
        self.register_found_button.setToolTip("Add the selected discovered camera (its address pre-filled)")
        self.register_found_button.clicked.connect(self.add_selected_found_camera)
        self.found_table.doubleClicked.connect(lambda index: self.add_found_camera(index.row()))
        self._build_registered()
        if self._context.camera_discovery is None:
            for widget in (self.find_button, self.scan_button, self.subnet_edit):
                widget.setEnabled(False)
            self.summary.setText("Camera discovery is not available in this installation.")

    def _build_registered(self) -> None:
        self.add_button = QPushButton("&Add camera…")
        self.add_button.clicked.connect(lambda: self.open_add_camera())
        self.rename_button = QPushButton("Re&name…")
        self.rename_button.clicked.connect(self.rename_selected)
        self.preview_selected_button = QPushButton(icon("play"), "&Open stream")
        self.preview_selected_button.setToolTip("Show the selected camera's raw stream (or double-click it)")
        self.preview_selected_button.clicked.connect(self.preview_selected)
        self.registered_model = RegisteredCamerasModel(self)
        self.registered_table = record_table(self.registered_model, "Registered cameras", single_selection=True)
        self.registered_table.doubleClicked.connect(lambda _index: self.preview_selected())
        self.registered_status = QLabel()
        self.registered_status.setWordWrap(True)
        # Buttons on a row of their own, under the title: keeps the page's minimum width small.
        row = QHBoxLayout()
        row.addWidget(self.register_found_button)
        row.addWidget(self.add_button)
        row.addWidget(self.rename_button)
        row.addStretch(1)
        title_row = QHBoxLayout()
        title_row.addWidget(QLabel("<b>Registered cameras</b>"))
        title_row.addStretch(1)
        title_row.addWidget(self.preview_selected_button)
        self.left_layout.addLayout(title_row)
        self.left_layout.addLayout(row)
        self.left_layout.addWidget(self.registered_status)
        self.left_layout.addWidget(self.registered_table, 1)
        self.set_inventory(self.inventory)

    # ---------------------------------------------------------------- inventory

    def set_inventory(self, inventory) -> None:
        """Use ``inventory`` (an InventoryStore, or None) and load its cameras in the background."""
        self.inventory = inventory
        for widget in (self.add_button, self.rename_button, self.register_found_button,
                       self.preview_selected_button):
            widget.setEnabled(inventory is not None)
        if inventory is None:
            self.registered_status.setText("No inventory is open: registered cameras cannot be shown.")
            return
        self.reload_cameras()

    def reload_cameras(self) -> None:
        """Re-read the inventory's cameras (off the GUI thread) into the table."""
        if self.inventory is None:
            return
        store = self.inventory
        self._tasks.run_in_background(lambda _ctx: store.cameras.list_cameras(),
                                      on_success=self._cameras_loaded, on_failure=self._inventory_failed,
                                      progress="Loading registered cameras…")

    def _cameras_loaded(self, cameras) -> None:
        self.registered_model.set_cameras(cameras)
        self.registered_status.setText(f"{len(cameras)} camera(s) in the inventory.")

    def _inventory_failed(self, error: BaseException) -> None:
        self.registered_status.setText(str(error) or type(error).__name__)

    def open_add_camera(self, address: str = "", endpoint_reference: str = "", name: str = "") -> AddCameraDialog | None:
        """Show the Add camera dialog (non-blocking); the table reloads when it saved a camera."""
        if self.inventory is None:
            return None
        device_id = self._probe_device_id()
        probe = self._device_probe(device_id) if device_id else None
        dialog = AddCameraDialog(self._tasks, self.inventory.cameras.add_camera, self, address=address,
                                 endpoint_reference=endpoint_reference, name=name,
                                 device_probe=probe, probe_device_id=device_id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda _registration: self.reload_cameras())
        self.add_dialog = dialog
        dialog.open()
        return dialog

    def add_found_camera(self, row: int) -> AddCameraDialog | None:
        """Register the discovered camera on ``row``: its first XAddr pre-fills the address."""
        candidate = self.found_model.index(row, 0).data(CANDIDATE_ROLE)
        if candidate is None:
            return None
        address = candidate.xaddrs[0] if candidate.xaddrs else candidate.host
        return self.open_add_camera(address, candidate.endpoint_reference, candidate.name or "")

    def add_selected_found_camera(self) -> None:
        rows = self.found_table.selectionModel().selectedRows()
        if rows:
            self.add_found_camera(rows[0].row())
        else:
            self.summary.setText("Select a discovered camera to register it.")

    def selected_camera(self):
        rows = self.registered_table.selectionModel().selectedRows()
        return self.registered_model.camera_at(rows[0].row()) if rows else None

    def rename_selected(self) -> None:
        camera = self.selected_camera()
        if camera is None:
            self.registered_status.setText("Select a registered camera to rename it.")
            return
        box = QInputDialog(self)
        box.setWindowTitle("Rename camera")
        box.setLabelText(f"New name for {camera.name}:")
        box.setTextValue(camera.name)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.textValueSelected.connect(lambda name: self.rename_camera(camera, name))
        box.open()

    def rename_camera(self, camera, new_name: str) -> None:
        """Rename ``camera`` at the version it was loaded at; a conflict offers Reload."""
        new_name = new_name.strip()
        if not new_name or self.inventory is None:
            return
        self._update(camera.id, camera.version_id, {"name": new_name})

    def _update(self, camera_id: int, version: int, changes: dict) -> None:
        store = self.inventory
        self._tasks.run_in_background(
            lambda _ctx: store.cameras.update_camera(camera_id, version, **changes),
            on_success=self._camera_updated, on_failure=self._update_failed, progress="Saving the camera…")

    def _camera_updated(self, record) -> None:
        self.registered_model.replace_camera(record)
        self.registered_status.setText(f"Saved {record.name}.")
        self.reload_cameras()

    def _update_failed(self, error: BaseException) -> None:
        if not isinstance(error, EditConflict):
            self.registered_status.setText(str(error) or type(error).__name__)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Sightline", "Someone else changed this camera",
                          QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText(str(error))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        reload_button = None
        if not error.deleted:
            reload_button = box.addButton("&Reload and apply my change", QMessageBox.ButtonRole.AcceptRole)
            reload_button.clicked.connect(lambda: self._reload_and_reapply(error))
        box.finished.connect(self._conflict_closed)
        self.conflict_box, self.conflict_reload_button = box, reload_button
        box.open()

    def _conflict_closed(self, *_: object) -> None:
        self.conflict_box = self.conflict_reload_button = None

    def _reload_and_reapply(self, conflict: EditConflict) -> None:
        """Show the record as it is now, then apply the attempted change on top of its version."""
        current = conflict.current
        self.registered_model.replace_camera(current)
        self._update(current.id, current.version_id, dict(conflict.attempted))

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

    def _probe_device_id(self) -> str | None:
        """The paired device to test streams through: a reachable one first."""
        paired = self._context.appliances.paired_entries()
        reachable = [e for e in paired if e.reachable]
        return (reachable or paired)[0].device_id if paired else None

    def _device_probe(self, device_id: str):
        appliances = self._context.appliances
        return device_probe_through(lambda: appliances.connect(device_id))

    def preview_selected(self) -> None:
        """Open the selected registered camera's raw stream: locally, or through the device that reaches it."""
        camera = self.selected_camera()
        if camera is None:
            self.registered_status.setText("Select a registered camera to open its stream.")
            return
        store = self.inventory
        device_id = camera.reachable_via_device_id
        if device_id is None and is_device_only(camera.stream_uri):
            device_id = self._probe_device_id()
        probe = self._device_probe(device_id) if device_id else None

        def produce(stop):
            # Runs in the preview worker: the credential store may be a keyring (I/O).
            url = store.cameras.stream_url(camera.id)
            frames = probed_frames(probe, url) if probe is not None else opencv_frames(url)
            yield from frames(stop)

        where = f" through device {device_id}" if device_id else ""
        self.view.play(produce, f"{camera.name}{where}: {redact_url(camera.stream_uri)}")

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

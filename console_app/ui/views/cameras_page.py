"""Cameras: find cameras (WS-Discovery), register them, see their state, preview their raw streams.

The page reads at 1280x800 and fits 1024x768 (with the demo guide open too)
without scrolling sideways: the tables' Name, Address and Model columns get the
width their text needs first, the other columns share what is left, elided with
the full text in tooltips (:class:`~console_app.ui.widgets.tables.ColumnFitter`);
below :data:`SIDE_BY_SIDE_WIDTH` the preview goes under the lists instead of
beside them. The Stream URL field has a row of its own width, and the splitter
keeps the size the engineer gave it (one memory per arrangement).
Registered cameras are checked in the background while the page is shown
(:class:`~console_app.core.services.camera_status.CameraMonitor`); their
thumbnails are decoded and scaled on the monitor's thread.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QHideEvent, QResizeEvent, QShowEvent
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
from console_app.core.services.camera_discovery import NoWsDiscoveryReply
from console_app.core.services.camera_status import CameraMonitor
from console_app.core.services.registration import device_probe_through, is_device_only
from console_app.ui.context import ConsoleContext
from console_app.ui.dialogs.add_camera_dialog import AddCameraDialog, RecentCredentials
from console_app.ui.icons import icon
from console_app.ui.models import cameras_model, registered_cameras_model
from console_app.ui.models.cameras_model import CANDIDATE_ROLE, DiscoveredCamerasModel
from console_app.ui.models.registered_cameras_model import RegisteredCamerasModel, thumbnail_image
from console_app.ui.preview.decoder import device_frames, opencv_frames
from console_app.ui.preview.video_view import VideoView
from console_app.ui.tasks import TaskRunner
from console_app.ui.widgets.tables import ColumnFitter, record_table
from device_runtime.media.redact import redact_url

SPLITTER_KEY = "cameras/splitter"
#: The sizes the engineer gave the splitter when the preview is under the lists.
NARROW_SPLITTER_KEY = "cameras/splitter-narrow"
#: Below this page width the lists and the preview side by side would cut names or shrink the
#: preview to a strip (1024x768, or the demo guide open): the preview goes under the lists.
SIDE_BY_SIDE_WIDTH = 980
#: How often registered cameras are checked while the page is shown.
CHECK_INTERVAL_S = 30.0


class CamerasPage(QWidget):
    """Camera list on the left (discovery and inventory), raw preview on the right."""

    title, icon_name = "Cameras", "cameras"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None,
                 inventory=None, check_interval_s: float = CHECK_INTERVAL_S):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        # The main window's settings (splitter sizes); None when the page stands alone.
        self._settings = getattr(parent, "settings", None)
        self.check_interval_s = check_interval_s
        self.monitor: CameraMonitor | None = None
        #: The user and password of the camera registered last in this session (offered for the next).
        self.recent_credentials: RecentCredentials | None = None
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

        # The label on its own line: the field gets the pane's whole width but the buttons'.
        row = QHBoxLayout()
        row.addWidget(self.url_edit, 1)
        row.addWidget(self.preview_button)
        row.addWidget(self.stop_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(url_label)
        right_layout.addLayout(row)
        right_layout.addWidget(self.view, 1)

        self.left = QWidget()
        self.left_layout = QVBoxLayout(self.left)
        self.left_layout.setContentsMargins(0, 0, 0, 0)
        self.splitter = QSplitter()
        self.splitter.setObjectName("camerasSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 400])
        self.splitter.splitterMoved.connect(self._save_splitter)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Cameras</h2>"))
        layout.addWidget(self.splitter, 1)
        self._build_left()
        self._restore_splitter()

    # ---------------------------------------------------------------- layout memory

    @property
    def side_by_side(self) -> bool:
        """Whether the preview is beside the lists (wide pages) rather than under them."""
        return self.splitter.orientation() == Qt.Orientation.Horizontal

    def _splitter_key(self) -> str:
        return SPLITTER_KEY if self.side_by_side else NARROW_SPLITTER_KEY

    def _restore_splitter(self) -> None:
        state = self._settings.value(self._splitter_key()) if self._settings is not None else None
        orientation = self.splitter.orientation()
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.splitter.restoreState(state)
            self.splitter.setOrientation(orientation)  # the state says one; the page's width decides
        elif not self.side_by_side:
            self.splitter.setSizes([650, 350])  # the lists' rows first; the preview keeps 16:9 room

    def _save_splitter(self, *_: object) -> None:
        if self._settings is not None:
            self._settings.setValue(self._splitter_key(), self.splitter.saveState())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        wide = event.size().width() >= SIDE_BY_SIDE_WIDTH
        if wide != self.side_by_side:
            self.splitter.setOrientation(Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical)
            self._restore_splitter()

    def _build_left(self) -> None:
        self.find_button = QPushButton(icon("search"), "&Find cameras")
        self.find_button.setToolTip("Send WS-Discovery probes on the chosen interfaces")
        self.find_button.clicked.connect(self.find_cameras)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_discovery)
        self.subnet_edit = QLineEdit()
        self.subnet_edit.setPlaceholderText("10.20.0.0/24, or one camera's address")
        self.subnet_edit.setToolTip("A subnet to scan for cameras on other VLANs, or one address to ask "
                                    "directly (WS-Discovery unicast)")
        self.subnet_edit.setAccessibleName("Subnet or address to probe")
        self.subnet_edit.returnPressed.connect(self.scan_subnet)
        subnet_label = QLabel("Scan s&ubnet or address:")
        subnet_label.setBuddy(self.subnet_edit)
        self.scan_button = QPushButton("&Scan")
        self.scan_button.clicked.connect(self.scan_subnet)
        self.summary = QLabel("Cameras on this network answer WS-Discovery: press Find cameras. "
                              "Scan a subnet for cameras on other VLANs.")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("discoverySummary")
        self.summary.linkActivated.connect(self._on_summary_link)
        self.found_model = DiscoveredCamerasModel(self)
        self.found_table = record_table(self.found_model, "Cameras found")
        self.found_columns = ColumnFitter(self.found_table, (cameras_model.NAME, cameras_model.ADDRESS,
                                                             cameras_model.HARDWARE, cameras_model.REGISTERED))
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
        self.left_layout.addWidget(self.found_table, 2)
        self._handle = None
        self._last_probed = ""
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
        self.registered_table.setIconSize(QSize(*registered_cameras_model.THUMBNAIL_SIZE))
        self.registered_table.verticalHeader().setDefaultSectionSize(registered_cameras_model.THUMBNAIL_SIZE[1] + 6)
        self.registered_columns = ColumnFitter(self.registered_table, (
            registered_cameras_model.NAME, registered_cameras_model.STATE, registered_cameras_model.HOST,
            registered_cameras_model.MAKE_MODEL))
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
        self.left_layout.addWidget(self.registered_table, 3)  # thumbnail rows are taller
        self.set_inventory(self.inventory)

    # ---------------------------------------------------------------- inventory

    def set_inventory(self, inventory) -> None:
        """Use ``inventory`` (an InventoryStore, or None) and load its cameras in the background."""
        self.inventory = inventory
        for widget in (self.add_button, self.rename_button, self.register_found_button,
                       self.preview_selected_button):
            widget.setEnabled(inventory is not None)
        if self.monitor is not None:
            self.monitor.stop(timeout_s=0)
            self.monitor = None
        if inventory is None:
            self.registered_status.setText("No inventory is open: registered cameras cannot be shown.")
            return
        bridge = self._context.bridge
        deliver = bridge.wrap(self.registered_model.set_check)

        def on_result(check) -> None:  # the monitor's thread: decode and scale here, not on the GUI thread
            deliver(check, thumbnail_image(check.image))

        self.monitor = CameraMonitor(inventory.cameras.camera_password, on_result,
                                     interval_s=self.check_interval_s)
        if self.isVisible():
            self.monitor.start()
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
        self.found_model.set_registered(cameras)
        if self.monitor is not None:
            self.monitor.set_cameras(cameras)
        self.registered_status.setText(f"{len(cameras)} camera(s) in the inventory.")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.monitor is not None:
            self.monitor.start()  # checks (and thumbnails) only while the page is shown

    def hideEvent(self, event: QHideEvent) -> None:
        if self.monitor is not None:
            self.monitor.stop(timeout_s=0)  # ends after the check in progress; never waits here
        super().hideEvent(event)

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
                                 device_probe=probe, probe_device_id=device_id,
                                 registered=self.registered_model.cameras(),
                                 known_names=[c.name for c in self.found_model.cameras() if c.name],
                                 secrets_kept=self.inventory.credentials.where_for_user(),
                                 recent=self.recent_credentials)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda _registration: self._camera_added(dialog))
        self.add_dialog = dialog
        dialog.open()
        return dialog

    def _camera_added(self, dialog: AddCameraDialog) -> None:
        self.recent_credentials = dialog.used_credentials
        self.reload_cameras()

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
        """Scan the typed subnet, or ask the one typed address (add by address)."""
        cidr = self.subnet_edit.text().strip()
        if not cidr:
            self.summary.setText("Type a subnet to scan (e.g. 10.20.0.0/24) or one camera's address.")
            return
        if "/" not in cidr:
            self.probe_address(cidr)
            return
        self._start(lambda found, done: self._context.camera_discovery.start_scan(
            cidr, on_found=found, on_done=done), f"Scanning {cidr}…")

    def probe_address(self, host: str) -> None:
        """Ask one camera directly (unicast WS-Discovery); if it does not answer, offer Add camera…."""
        self._last_probed = host
        self._start(lambda found, done: self._context.camera_discovery.start_add_by_address(
            host, on_found=found, on_done=done), f"Asking {host}…")

    def _on_summary_link(self, link: str) -> None:
        if link.startswith("add:"):
            self.open_add_camera(link[4:])

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
            text = str(error)
            if isinstance(error, NoWsDiscoveryReply) and self.inventory is not None:
                host = self._last_probed
                text = (f"{html.escape(text)} — <a href=\"add:{html.escape(host, quote=True)}\">"
                        f"Add camera at {html.escape(host)}…</a>")
            self.summary.setText(text)
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
        appliances = self._context.appliances

        def produce(stop):
            # Runs in the preview worker: the credential store may be a keyring (I/O).
            url = store.cameras.stream_url(camera.id)
            if device_id:  # the device's raw view of the camera, every frame at the camera's rate
                frames = device_frames(lambda: appliances.connect(device_id), url)
            else:
                frames = opencv_frames(url)
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
        if self.monitor is not None:
            # A check of a dead camera may take seconds; its daemon thread ends by itself after it.
            self.monitor.stop(timeout_s=1.0)
        self.view.stop()

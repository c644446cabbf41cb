"""Live: the wall of annotated tiles for the paired devices the engineer ticks."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.appliances import DeviceEntry
from console_app.ui.context import ConsoleContext
from console_app.ui.icons import icon
from console_app.ui.live.wall import LiveWall
from console_app.ui.tasks import TaskRunner


class LivePage(QWidget):
    """A checkable list of paired devices beside the :class:`LiveWall` (``self.wall``).

    Ticking a device adds its cameras to the wall; unticking removes them.
    The first time the page is shown, every paired device is ticked.
    """

    title, icon_name = "Live", "live"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context = context
        data_dir = Path(context.data_dir) if context.data_dir else Path.home() / ".sightline"
        self.wall = LiveWall(
            tasks, context.appliances.connect,
            device_name=self._device_name,
            app_library=self._app_library(),
            snapshot_dir=data_dir / "snapshots",
        )
        self.devices = QListWidget()
        self.devices.setAccessibleName("Devices on the wall")
        self.devices.itemChanged.connect(self._on_item_changed)
        self.all_button = QPushButton(icon("play"), "Watch &all")
        self.none_button = QPushButton(icon("stop"), "S&top all")
        self.all_button.clicked.connect(lambda: self._check_all(True))
        self.none_button.clicked.connect(lambda: self._check_all(False))
        self.hint = QLabel("Tick paired devices to show their cameras.")
        self.hint.setWordWrap(True)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        devices_label = QLabel("&Devices:")
        devices_label.setBuddy(self.devices)
        side_layout.addWidget(devices_label)
        side_layout.addWidget(self.devices, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.all_button)
        buttons.addWidget(self.none_button)
        side_layout.addLayout(buttons)
        side_layout.addWidget(self.hint)
        self.side = side
        # An enlarged tile needs every pixel: the device list steps aside until it is back on the grid.
        self.wall.enlarged_changed.connect(lambda enlarged: side.setVisible(not enlarged))
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(side)
        splitter.addWidget(self.wall)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 800])
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Live</h2>"))
        layout.addWidget(splitter, 1)
        self._auto_watched = False
        context.bridge.devices_changed.connect(self.on_devices_changed)
        self.on_devices_changed(context.appliances.entries())

    def _app_library(self):
        return getattr(self._context, "app_library", None)

    def _device_name(self, device_id: str) -> str:
        try:
            return self._context.appliances.entry(device_id).name
        except Exception:
            return device_id

    def refresh_icons(self) -> None:
        self.all_button.setIcon(icon("play"))
        self.none_button.setIcon(icon("stop"))

    # ------------------------------------------------------------------ device list

    def on_devices_changed(self, entries: list[DeviceEntry]) -> None:
        # The service's current list, not the snapshot: snapshots made on different
        # threads can arrive out of order, and a stale one would drop a paired device.
        del entries
        paired = {e.device_id: e for e in self._context.appliances.entries() if e.paired}
        self.devices.blockSignals(True)
        for row in reversed(range(self.devices.count())):
            item = self.devices.item(row)
            if item.data(Qt.ItemDataRole.UserRole) not in paired:
                self.wall.remove_device(item.data(Qt.ItemDataRole.UserRole))
                self.devices.takeItem(row)
        shown = {self.devices.item(r).data(Qt.ItemDataRole.UserRole): self.devices.item(r)
                 for r in range(self.devices.count())}
        for device_id, entry in paired.items():
            item = shown.get(device_id)
            if item is None:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, device_id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                on_wall = device_id in self.wall.devices()
                item.setCheckState(Qt.CheckState.Checked if on_wall else Qt.CheckState.Unchecked)
                self.devices.addItem(item)
            item.setText(f"{entry.name}  ({entry.address})")
        self.devices.blockSignals(False)
        if not paired:
            self.hint.setText("Pair a device on the Devices page first.")
        else:
            self.hint.setText("Tick paired devices to show their cameras.")

    def watch(self, device_id: str) -> None:
        """Put ``device_id`` on the wall (ticks it in the list)."""
        for row in range(self.devices.count()):
            item = self.devices.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == device_id:
                item.setCheckState(Qt.CheckState.Checked)
                return
        self.wall.add_device(device_id)

    def _check_all(self, on: bool) -> None:
        for row in range(self.devices.count()):
            self.devices.item(row).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        device_id = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked:
            self.wall.add_device(device_id)
        else:
            self.wall.remove_device(device_id)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._auto_watched and self.devices.count():
            self._auto_watched = True
            self._check_all(True)

    def shutdown(self) -> None:
        self.wall.shutdown()

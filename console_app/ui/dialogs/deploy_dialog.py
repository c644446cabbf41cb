"""Deploy an app version to one or more paired devices: pick devices, watch each one's progress, retry failures."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.appliances import DeviceEntry
from console_app.core.services.deployer import (
    Deployer,
    DeployPackage,
    DeployProgress,
    DeployResult,
    Stage,
)
from console_app.ui.tasks import TaskRunner

COLUMNS = ("Device", "Stage", "Progress", "What happened")


class DeployDialog(QDialog):
    """``build_package()`` runs in the background once; the deploy then runs through ``deployer``."""

    progressed = Signal(str, object)  # device_id, DeployProgress; emitted from deploy workers
    finished_deploy = Signal(dict)

    def __init__(self, title: str, build_package: Callable[[], bytes | DeployPackage], deployer: Deployer,
                 devices: Sequence[DeviceEntry], tasks: TaskRunner, parent: QWidget | None = None,
                 preselected: Sequence[str] = ()):
        super().__init__(parent)
        self.setWindowTitle(f"Deploy {title}")
        self.resize(760, 420)
        self._build, self._deployer, self._tasks = build_package, deployer, tasks
        self._package: bytes | DeployPackage | None = None
        self.results: dict[str, DeployResult] = {}
        self.running = False
        self._rows: dict[str, int] = {}
        self._names = {d.device_id: d.name or d.device_id for d in devices}
        self.device_list = QListWidget()
        self.device_list.setAccessibleName("Devices to deploy to")
        self.device_list.setMaximumHeight(130)
        for entry in devices:
            item = QListWidgetItem(f"{entry.name}  ({entry.address})"
                                   + ("" if entry.reachable is not False else "  — not reachable now"))
            item.setData(Qt.ItemDataRole.UserRole, entry.device_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if entry.device_id in preselected else Qt.CheckState.Unchecked)
            self.device_list.addItem(item)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Deploy progress")
        self.status = QLabel("Tick the devices, then Deploy." if devices else
                             "No paired device: pair one on the Devices page first.")
        self.status.setWordWrap(True)
        self.deploy_button = QPushButton("&Deploy")
        self.retry_button = QPushButton("&Retry failed")
        self.cancel_button = QPushButton("&Cancel deploy")
        self.close_button = QPushButton("Close")
        self.deploy_button.clicked.connect(self.start)
        self.retry_button.clicked.connect(self.retry_failed)
        self.cancel_button.clicked.connect(self._deployer.cancel)
        self.close_button.clicked.connect(self.reject)
        self.device_list.itemChanged.connect(lambda _i: self._update_buttons())
        self.progressed.connect(self._on_progress)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.deploy_button, self.retry_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Devices:"))
        layout.addWidget(self.device_list)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._update_buttons()

    def reject(self) -> None:
        """Close, except while a deploy runs (Cancel deploy first: the devices then keep their versions)."""
        if self.running:
            self.status.setText("A deploy is running: press Cancel deploy first, or wait for it to finish.")
            return
        super().reject()

    def chosen_devices(self) -> list[str]:
        return [self.device_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.device_list.count())
                if self.device_list.item(i).checkState() == Qt.CheckState.Checked]

    def _update_buttons(self) -> None:
        failed = [d for d, r in self.results.items() if not r.ok]
        self.deploy_button.setEnabled(not self.running and bool(self.chosen_devices()))
        self.retry_button.setEnabled(not self.running and bool(failed))
        self.cancel_button.setEnabled(self.running)
        self.close_button.setEnabled(not self.running)
        self.device_list.setEnabled(not self.running)

    # ------------------------------------------------------------ running

    def start(self) -> None:
        """Deploy to the ticked devices (building the package first, once)."""
        devices = self.chosen_devices()
        if not devices or self.running:
            return
        self.results = {}
        self._run(devices, retry=False)

    def retry_failed(self) -> None:
        """Deploy again to the devices that failed or were cancelled, only."""
        if self.running or not any(not r.ok for r in self.results.values()):
            return
        self._run([d for d, r in self.results.items() if not r.ok], retry=True)

    def _run(self, devices: list[str], retry: bool) -> None:
        for device_id in devices:
            self._row(device_id)
        self.running = True
        self._update_buttons()
        self.status.setText(f"Deploying to {len(devices)} device(s)…")
        previous = dict(self.results)

        def work(_ctx) -> dict[str, DeployResult]:
            if self._package is None:
                self._package = self._build()
            if retry:
                return self._deployer.retry(self._package, previous, self.progressed.emit)
            return self._deployer.deploy(self._package, devices, self.progressed.emit)

        self._tasks.run_in_background(work, on_success=self._on_done, on_failure=self._on_failed,
                                      progress="Deploying")

    def _row(self, device_id: str) -> int:
        if device_id in self._rows:
            return self._rows[device_id]
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(self._names.get(device_id, device_id)))
        self.table.setItem(row, 1, QTableWidgetItem(Stage.QUEUED.value))
        bar = QProgressBar()
        bar.setRange(0, 1000)
        self.table.setCellWidget(row, 2, bar)
        self.table.setItem(row, 3, QTableWidgetItem(""))
        self._rows[device_id] = row
        return row

    def _on_progress(self, device_id: str, progress: DeployProgress) -> None:
        row = self._row(device_id)
        self.table.item(row, 1).setText(progress.stage.value)
        self.table.item(row, 3).setText(progress.describe())
        bar = self.table.cellWidget(row, 2)
        fraction = progress.fraction
        if progress.stage == Stage.INSTALLING:
            bar.setRange(0, 0)  # busy: the device is unpacking and starting
        else:
            bar.setRange(0, 1000)
            bar.setValue(int(1000 * (fraction or 0.0)))
        if progress.stage in (Stage.FAILED, Stage.CANCELLED):
            bar.setValue(0)

    def _on_done(self, results: dict[str, DeployResult]) -> None:
        self.results = results
        self.running = False
        for device_id, result in results.items():
            self._on_progress(device_id, DeployProgress(result.stage, 0, 0, result.message))
        failed = [r for r in results.values() if not r.ok]
        if failed:
            self.status.setText(f"{len(results) - len(failed)} of {len(results)} device(s) done; "
                                f"{len(failed)} did not get the app (see each row). Retry failed sends it again "
                                "to those only; they keep running the version they had.")
        else:
            self.status.setText(f"Deployed to {len(results)} device(s).")
        self._update_buttons()
        self.finished_deploy.emit(results)

    def _on_failed(self, error: BaseException) -> None:
        self.running = False
        self.status.setText(f"Could not deploy: {error}")
        self._update_buttons()

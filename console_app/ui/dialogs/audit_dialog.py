"""Audit log… : who did what on one paired device, and how it ended; exportable as CSV."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.appliances import ApplianceService, DeviceEntry
from console_app.core.services.audit_trail import CSV_COLUMNS, audit_rows, write_audit_csv
from console_app.ui.models.rows_model import RowsTableModel
from console_app.ui.tasks import BackgroundTask, TaskRunner
from console_app.ui.widgets.tables import record_table


class AuditDialog(QDialog):
    """Loads the device's audit log in the background; newest entry first; Export CSV… writes what it shows."""

    def __init__(self, service: ApplianceService, tasks: TaskRunner, entry: DeviceEntry,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Audit log of {entry.name}")
        self.resize(960, 480)
        self._service, self._tasks, self.entry = service, tasks, entry
        self.entries: list = []
        self.last_export: tuple[Path, int] | None = None
        self.export_dialog: QFileDialog | None = None
        self.model = RowsTableModel(CSV_COLUMNS, max_rows=100_000, parent=self)
        self.table = record_table(self.model, "Audit log")
        self.status = QLabel("Loading…")
        self.status.setWordWrap(True)
        self.reload_button = QPushButton("&Reload")
        self.reload_button.clicked.connect(self.reload)
        self.export_button = QPushButton("&Export CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.ask_export_path)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.reload_button)
        top.addWidget(self.export_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.reload()

    def reload(self) -> BackgroundTask:
        self.status.setText("Loading…")
        device_id = self.entry.device_id

        def fetch(_ctx) -> list:
            with self._service.connect(device_id) as client:
                return client.audit()

        return self._tasks.run_in_background(fetch, on_success=self._on_entries, on_failure=self._on_failed)

    def _on_entries(self, entries: list) -> None:
        self.entries = list(entries)
        rows = audit_rows(list(reversed(self.entries)), guard=False)[1:]
        self.model.set_rows(rows)
        self.table.resizeColumnsToContents()
        self.export_button.setEnabled(bool(self.entries))
        self.status.setText(f"{len(self.entries)} entr{'y' if len(self.entries) == 1 else 'ies'}, newest first."
                            if self.entries else "The device has recorded nothing yet.")

    def _on_failed(self, error: BaseException) -> None:
        self.status.setText(f"Could not read the audit log: {error}")

    def ask_export_path(self) -> QFileDialog:
        dialog = QFileDialog(self, "Export the audit log to CSV")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.selectFile(f"audit-{self.entry.name}-{time.strftime('%Y%m%d-%H%M%S')}.csv")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.export_csv(Path(path)))
        dialog.open()
        self.export_dialog = dialog
        return dialog

    def export_csv(self, path: Path) -> BackgroundTask:
        """Write the entries shown (oldest first, as the device keeps them) to ``path`` in the background."""
        entries = list(self.entries)

        def done(count: int) -> None:
            self.last_export = (path, count)
            self.status.setText(f"Exported {count} entr{'y' if count == 1 else 'ies'} to {path}")

        def failed(error: BaseException) -> None:
            self.status.setText(f"Export failed: {error}")

        return self._tasks.run_in_background(lambda _ctx: write_audit_csv(path, entries),
                                             on_success=done, on_failure=failed,
                                             progress="Exporting the audit log…")

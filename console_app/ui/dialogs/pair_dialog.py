"""Pair… : type the code the device printed; the console pins the device's certificate."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.appliances import ApplianceService, DeviceEntry, FingerprintMismatch
from console_app.ui import theme
from console_app.ui.tasks import TaskRunner


def grouped_fingerprint(fingerprint: str) -> str:
    """The full fingerprint in groups of four, two lines: what the engineer compares."""
    groups = [fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4)]
    half = (len(groups) + 1) // 2
    return " ".join(groups[:half]) + "\n" + " ".join(groups[half:])


class PairDialog(QDialog):
    """Pairs with one device. On error the dialog stays open, keeps the typed code and shows why."""

    def __init__(self, service: ApplianceService, tasks: TaskRunner, entry: DeviceEntry,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Pair with {entry.name}")
        self._service, self._tasks, self.entry = service, tasks, entry
        self.paired_entry: DeviceEntry | None = None

        intro = QLabel(
            f"Type the pairing code that <b>{entry.name}</b> printed at start "
            "(on its console or in its log). The console will pin the certificate below "
            "and refuse to connect if it ever changes.")
        intro.setWordWrap(True)
        self.fingerprint_label = QLabel(grouped_fingerprint(entry.fingerprint) if entry.fingerprint
                                        else "(read from the device when pairing)")
        self.fingerprint_label.setObjectName("fingerprint")
        self.fingerprint_label.setStyleSheet("font-family: monospace;")
        self.code_edit = QLineEdit()
        self.code_edit.setPlaceholderText("e.g. 4821-7730")
        self.code_edit.setAccessibleName("Pairing code")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self.error_label.setStyleSheet(f"color: {theme.danger_color().name()}; font-weight: bold;")

        form = QFormLayout()
        form.addRow("Device:", QLabel(f"{entry.name}  ({entry.address})"))
        form.addRow("Certificate to pin:", self.fingerprint_label)
        code_label = QLabel("Pairing &code:")
        code_label.setBuddy(self.code_edit)
        form.addRow(code_label, self.code_edit)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.pair_button = self.buttons.addButton("&Pair", QDialogButtonBox.ButtonRole.AcceptRole)
        self.pair_button.setDefault(True)
        # Return must always mean "pair", even after a failure moved the focus.
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)
        self.buttons.accepted.connect(self.start_pairing)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        # The dialog grows to show a whole error message (it used to clip it mid-sentence).
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.setMinimumWidth(440)
        self.code_edit.setFocus()

    def start_pairing(self) -> None:
        """Pair in the background; the dialog closes only on success."""
        if not self.pair_button.isEnabled():
            return  # already pairing
        code = self.code_edit.text()
        self.error_label.setVisible(False)
        self._set_busy(True)
        device_id = self.entry.device_id
        self._tasks.run_in_background(
            lambda ctx: self._service.pair(device_id, code),
            on_success=self._on_paired,
            on_failure=self._on_failed,
            progress=f"Pairing with {self.entry.name}…",
        )

    def _set_busy(self, busy: bool) -> None:
        self.pair_button.setEnabled(not busy)
        self.code_edit.setReadOnly(busy)
        self.pair_button.setText("Pairing…" if busy else "&Pair")
        self.pair_button.setDefault(True)

    def _on_paired(self, entry: DeviceEntry) -> None:
        self.paired_entry = entry
        self.accept()

    def _on_failed(self, error: BaseException) -> None:
        self._set_busy(False)
        if isinstance(error, FingerprintMismatch):
            text = f"⚠ DANGER: {error}"
        else:
            text = str(error)
        self.error_label.setText(text)
        self.error_label.setVisible(True)
        self.adjustSize()  # room for the whole message
        self.code_edit.setFocus()
        self.code_edit.selectAll()

"""The "Add camera" dialog: a thin Qt host over :class:`AddCameraWizard` (one stacked page per step).

The wizard owns every decision; this dialog renders its step, forwards the
typed values, and runs the blocking actions (probe, test-open, save) through
the :class:`TaskRunner`, so the GUI thread never waits on the network or the
database. On a failure the wizard is stepped back to the step that can fix
it and its (already scrubbed) error is shown; the typed address, user and
password stay in their fields. The password is never put in any label.

The Cameras page hands in what it already knows, so nothing here waits on the
inventory: the registered cameras (a duplicate is refused on the first page),
the other discovered names (the proposed name is unique), where the password
will be kept (the keyring or the encrypted file, said as it is), and the user
and password of the camera registered just before (cameras of one site often
share them: offered, never required).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.registration import AddCameraWizard, Mode, SaveFn, Step
from console_app.ui.tasks import TaskRunner
from device_runtime.media.redact import redact_url

#: Wizard steps in stack order; transient steps share the "busy" page.
PAGE_STEPS = (Step.ADDRESS, Step.CREDENTIALS, Step.PROBING, Step.CHOOSE_PROFILE, Step.TEST_STREAM,
              Step.REVIEW, Step.SAVED)


@dataclass(frozen=True)
class RecentCredentials:
    """The user and password that registered the camera named ``camera_name`` (kept in memory only)."""

    username: str
    password: str
    camera_name: str

    def __repr__(self) -> str:  # never shows the password
        return f"RecentCredentials(username={self.username!r}, camera_name={self.camera_name!r})"


class AddCameraDialog(QDialog):
    """Register one camera. ``saved(registration)`` fires after the inventory stored it.

    ``address``/``endpoint_reference``/``name`` pre-fill the first step (a
    discovered camera's XAddr). ``wizard`` may be given by a test; by
    default a fresh :class:`AddCameraWizard` saving through ``save``.
    """

    saved = Signal(object)

    def __init__(self, tasks: TaskRunner, save: SaveFn, parent: QWidget | None = None, *,
                 address: str = "", endpoint_reference: str = "", name: str = "",
                 wizard: AddCameraWizard | None = None, timeout_s: float = 8.0,
                 device_probe=None, probe_device_id: str | None = None,
                 registered=(), known_names=(), secrets_kept: str = "",
                 recent: RecentCredentials | None = None):
        super().__init__(parent)
        self.setWindowTitle("Add camera")
        self.setObjectName("addCameraDialog")
        self._tasks = tasks
        # device_probe: test-open through a paired device when this console cannot reach the camera.
        self.wizard = wizard or AddCameraWizard(save, timeout_s=timeout_s, device_probe=device_probe,
                                                probe_device_id=probe_device_id, registered=registered,
                                                known_names=known_names)
        self._endpoint_reference, self._prefill_name = endpoint_reference, name
        self._secrets_kept = secrets_kept or "in this computer's credential store"
        self._recent = recent
        #: What registered the camera (set once saved), for the Cameras page to offer next time.
        self.used_credentials: RecentCredentials | None = None
        self._task = None
        self.stack = QStackedWidget()
        self._pages: dict[Step, QWidget] = {}
        self._build_address(address)
        self._build_credentials()
        self._build_busy()
        self._build_profiles()
        self._build_test()
        self._build_review()
        self._build_saved()
        self.error_label = QLabel()
        self.error_label.setObjectName("addCameraError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.back_button = QPushButton("< &Back")
        self.next_button = QPushButton("&Next >")
        self.next_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.back_button.clicked.connect(self.go_back)
        self.next_button.clicked.connect(self.go_next)
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.back_button, self.next_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)
        self.resize(520, 380)
        self._render()

    # ------------------------------------------------------------ pages

    def _page(self, step: Step, widget: QWidget) -> None:
        self._pages[step] = widget
        self.stack.addWidget(widget)

    def _build_address(self, address: str) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.address_edit = QLineEdit(address)
        self.address_edit.setPlaceholderText("192.168.1.64, 192.168.1.64:8080, http://…/onvif/device_service "
                                             "or rtsp://…")
        self.address_edit.setAccessibleName("Camera address")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(0, 65535)
        self.port_spin.setSpecialValueText("default")
        self.port_spin.setAccessibleName("ONVIF port")
        hint = QLabel("The camera's IP address or host name (add :port when its ONVIF service is not on "
                      "port 80), or its ONVIF device address. A camera without ONVIF: its rtsp:// stream URL "
                      "from the camera's manual.")
        hint.setWordWrap(True)
        form.addRow(hint)
        form.addRow("&Address:", self.address_edit)
        form.addRow("&Port:", self.port_spin)
        self._page(Step.ADDRESS, page)

    def _build_credentials(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.user_edit = QLineEdit("admin")
        self.user_edit.setAccessibleName("User name")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName("Password")
        self.credentials_note = QLabel(self._credentials_note())
        self.credentials_note.setWordWrap(True)
        form.addRow(self.credentials_note)
        form.addRow("&User:", self.user_edit)
        form.addRow("Pass&word:", self.password_edit)
        self.reuse_check = QCheckBox()
        self.reuse_check.setAccessibleName("Use the password of the camera added before")
        self.reuse_check.toggled.connect(self._on_reuse_toggled)
        self.reuse_check.setVisible(self._recent is not None)
        if self._recent is not None:
            self.reuse_check.setText(f"Same user and password as {self._recent.camera_name}")
            self.reuse_check.setChecked(True)
        form.addRow(self.reuse_check)
        self._page(Step.CREDENTIALS, page)

    def _on_reuse_toggled(self, checked: bool) -> None:
        """Fill in (or clear) the user and password that registered the previous camera."""
        if self._recent is None:
            return
        if checked:
            self.user_edit.setText(self._recent.username)
            self.password_edit.setText(self._recent.password)
        elif self.password_edit.text() == self._recent.password:
            self.password_edit.clear()

    def _build_busy(self) -> None:
        self.busy_label = QLabel()
        self.busy_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._page(Step.PROBING, self.busy_label)

    def _build_profiles(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.camera_label = QLabel()
        self.camera_label.setWordWrap(True)
        self.profile_list = QListWidget()
        self.profile_list.setAccessibleName("Media profiles")
        layout.addWidget(self.camera_label)
        layout.addWidget(QLabel("Choose the stream Sightline will watch (its size and rate are what the "
                                "applications analyse):"))
        layout.addWidget(self.profile_list, 1)
        self._page(Step.CHOOSE_PROFILE, page)

    def _build_test(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.test_label = QLabel()
        self.test_label.setWordWrap(True)
        layout.addWidget(self.test_label)
        self._page(Step.TEST_STREAM, page)

    def _build_review(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.frame_label = QLabel()
        self.frame_label.setMinimumSize(160, 90)
        self.review_label = QLabel()
        self.review_label.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Camera name")
        form.addRow(self.frame_label)
        form.addRow(self.review_label)
        form.addRow("&Name:", self.name_edit)
        self._page(Step.REVIEW, page)

    def _build_saved(self) -> None:
        self.saved_label = QLabel()
        self.saved_label.setWordWrap(True)
        self._page(Step.SAVED, self.saved_label)

    # ------------------------------------------------------------ actions

    def _credentials_note(self) -> str:
        """What the credentials page says: whose user, and where the password is kept."""
        kept = f"The password is kept {self._secrets_kept}, never in the inventory database."
        if self.wizard.mode is not Mode.RTSP:
            return f"The camera's ONVIF user. {kept}"
        if self.wizard.address_has_password:
            return f"The stream URL carried the camera's password: it was taken out of the URL, so leave " \
                   f"Password empty. {kept}"
        return f"The camera's user for its RTSP stream (none: leave both empty). {kept}"

    @property
    def busy(self) -> bool:
        return self._task is not None

    def go_next(self) -> None:
        """Forward the current page's values to the wizard; start the blocking action it leads to."""
        if self.busy:
            return
        wizard = self.wizard
        step = wizard.step
        if step is Step.ADDRESS:
            wizard.set_address(self.address_edit.text(), self.port_spin.value() or None,
                               endpoint_reference=self._endpoint_reference, name=self._prefill_name)
            if wizard.step is Step.CREDENTIALS:
                self.error_label.clear()
                self.credentials_note.setText(self._credentials_note())
            else:
                self.error_label.setText(wizard.error)
            self._render()
        elif step is Step.CREDENTIALS:
            wizard.set_credentials(self.user_edit.text(), self.password_edit.text())
            if wizard.step is not Step.PROBING:  # refused: the typing stays, the reason is shown
                self.error_label.setText(wizard.error)
                return
            self._run(wizard.probe, "Reading the camera (clock, device information, profiles)…")
        elif step is Step.CHOOSE_PROFILE:
            item = self.profile_list.currentItem() or self.profile_list.item(0)
            wizard.choose_profile(item.data(Qt.ItemDataRole.UserRole))
            self._start_test()
        elif step is Step.TEST_STREAM:
            self._start_test()
        elif step is Step.REVIEW:
            if self.name_edit.text().strip():
                wizard.set_name(self.name_edit.text())
            self._run(wizard.save, "Saving to the inventory…")
        elif step is Step.SAVED:
            self.accept()

    def _start_test(self) -> None:
        self._run(self.wizard.test_stream, "Opening the stream…")

    def go_back(self) -> None:
        if self.busy or self.wizard.step in (Step.ADDRESS, Step.SAVED, Step.SAVING, Step.CANCELLED):
            return
        self.wizard.back()
        self.error_label.clear()
        self._render()

    def reject(self) -> None:
        """Cancel: drop any running action's result and close."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.wizard.cancel()
        super().reject()

    def _run(self, action, text: str) -> None:
        self.error_label.clear()
        self.busy_label.setText(text)
        self.stack.setCurrentWidget(self.busy_label)
        self._update_buttons()

        def work(context):
            action()
            frame = self.wizard.first_frame
            if frame is not None and frame.jpeg:
                return QImage.fromData(frame.jpeg)  # decoded here, off the GUI thread
            return None

        self._task = self._tasks.run_in_background(
            work, on_success=self._action_done, on_failure=self._action_failed, progress=text)

    def _action_done(self, image: QImage | None) -> None:
        self._task = None
        wizard = self.wizard
        if wizard.step is Step.FAILED:
            message = wizard.error
            wizard.back()  # to the step that can fix it; the typed values stay in the fields
            self.error_label.setText(message)
        if image is not None and not image.isNull():
            self.frame_label.setPixmap(QPixmap.fromImage(image).scaled(
                320, 180, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        if wizard.step is Step.SAVED and wizard.registration is not None:
            self.used_credentials = RecentCredentials(self.user_edit.text().strip(), self.password_edit.text(),
                                                      wizard.registration.name)
            self.saved.emit(wizard.registration)
        self._render()

    def _action_failed(self, error: BaseException) -> None:
        """An exception the wizard did not turn into a step (a bug or an unexpected fault).

        The wizard is stepped back from the step that was running, so Next and
        Back work again and the engineer can correct and retry.
        """
        self._task = None
        if self.wizard.step in (Step.PROBING, Step.FAILED):
            self.wizard.back()
        self.error_label.setText(f"Something went wrong: {error or type(error).__name__}. "
                                 "Check the values on this page and press Next to try again.")
        self._render()

    # ------------------------------------------------------------ rendering

    def _render(self) -> None:
        wizard = self.wizard
        step = wizard.step
        if step is Step.CHOOSE_PROFILE:
            self._fill_profiles()
        elif step is Step.TEST_STREAM:
            self.test_label.setText("The stream did not open. Check the camera, then press Next to try again.")
        elif step is Step.REVIEW:
            self._fill_review()
        elif step is Step.SAVED and wizard.registration is not None:
            self.saved_label.setText(f"{wizard.registration.name} was added to the inventory.")
        page = self._pages.get(step)
        if page is not None and not self.busy:
            self.stack.setCurrentWidget(page)
        self._update_buttons()

    def _fill_profiles(self) -> None:
        camera = self.wizard.camera
        assert camera is not None
        device = camera.device
        text = f"{device.manufacturer} {device.model} at {camera.host}:{camera.port} (auth: {camera.auth_method.value})"
        if self.wizard.warnings:
            text += "\n" + "\n".join(self.wizard.warnings)
        self.camera_label.setText(text)
        self.profile_list.clear()
        for profile in camera.profiles:
            size = f"{profile.width}×{profile.height}" if profile.width else "size unknown"
            item = QListWidgetItem(f"{profile.name or profile.token}: {profile.codec or '?'} {size} "
                                   f"@ {profile.fps:g} fps")
            item.setData(Qt.ItemDataRole.UserRole, profile.token)
            self.profile_list.addItem(item)
        self.profile_list.setCurrentRow(0)

    def _fill_review(self) -> None:
        wizard = self.wizard
        frame, profile = wizard.first_frame, wizard.profile
        lines = []
        if profile is not None:
            lines.append(f"Stream: {redact_url(profile.stream_uri)}")
        if frame is not None:
            lines.append(f"First frame: {frame.width}×{frame.height} {frame.codec} (opened from the "
                         f"{wizard.tested_via or 'console'} in {frame.open_ms:.0f} ms)")
        self.review_label.setText("\n".join(lines))
        if not self.name_edit.text():
            self.name_edit.setText(wizard.name)

    def _update_buttons(self) -> None:
        step = self.wizard.step
        busy = self.busy
        self.back_button.setEnabled(not busy and step not in (Step.ADDRESS, Step.SAVED, Step.SAVING))
        self.next_button.setEnabled(not busy)
        self.next_button.setText("&Close" if step is Step.SAVED else "&Save" if step is Step.REVIEW else "&Next >")
        self.cancel_button.setEnabled(step is not Step.SAVED)

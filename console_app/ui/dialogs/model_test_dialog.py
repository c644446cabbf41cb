"""Testing a library model on a snapshot, on this workstation's CPU, and drawing what it found.

The snapshot comes from a picture file or from a registered camera (opened
here for RTSP; through a paired device for cameras only a device can open,
such as the simulated production line). The model runs with the device's own
session code (:func:`console_app.core.model_inspection.test_on_image`), so the
boxes are the ones the device would report. Everything slow runs through the
TaskRunner; the picture is converted to a QImage off the GUI thread.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core import model_inspection
from console_app.core.services.registration import is_device_only, test_open
from console_app.ui.tasks import TaskContext, TaskRunner


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """An independent QImage of a BGR array (safe to build in a worker thread)."""
    rgb = np.ascontiguousarray(image[:, :, ::-1])
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class ModelTestDialog(QDialog):
    """Pick a snapshot, run ``model`` on it, show the boxes. ``last_result`` holds the outcome."""

    def __init__(self, model, tasks: TaskRunner, context=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self._tasks = tasks
        self._context = context
        self.snapshot: np.ndarray | None = None
        self.last_result: model_inspection.ModelTestResult | None = None
        self.annotated: QImage | None = None
        self.file_dialog: QFileDialog | None = None
        self.setWindowTitle(f"Test {model.id} on a snapshot")

        self.open_button = QPushButton("Open &picture…")
        self.open_button.clicked.connect(self.choose_picture)
        self.camera_combo = QComboBox()
        self.camera_combo.setAccessibleName("Camera")
        self.camera_combo.setMinimumWidth(200)
        self.grab_button = QPushButton("&Grab from camera")
        self.grab_button.clicked.connect(self.grab_from_camera)
        self.confidence = QDoubleSpinBox()
        self.confidence.setRange(0.01, 0.99)
        self.confidence.setSingleStep(0.05)
        self.confidence.setValue(0.25)
        self.confidence.setAccessibleName("Confidence threshold")
        confidence_label = QLabel("&Confidence:")
        confidence_label.setBuddy(self.confidence)
        self.run_button = QPushButton("&Run again")
        self.run_button.clicked.connect(self.run_model)
        self.run_button.setEnabled(False)

        self.picture = QLabel("Open a picture or grab a frame from a registered camera.")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(480, 360)
        self.picture.setAccessibleName("Snapshot with the detected boxes")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        controls = QHBoxLayout()
        controls.addWidget(self.open_button)
        controls.addWidget(self.camera_combo)
        controls.addWidget(self.grab_button)
        controls.addStretch(1)
        controls.addWidget(confidence_label)
        controls.addWidget(self.confidence)
        controls.addWidget(self.run_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self._load_cameras()

    # ------------------------------------------------------------------ sources

    def _inventory(self):
        return self._context.inventory if self._context is not None else None

    def _load_cameras(self) -> None:
        inventory = self._inventory()
        self.camera_combo.setEnabled(False)
        self.grab_button.setEnabled(False)
        if inventory is None:
            self.camera_combo.addItem("no inventory: no registered cameras")
            return
        self._tasks.run_in_background(lambda ctx: inventory.cameras.list_cameras(),
                                      on_success=self._on_cameras, on_failure=lambda e: None)

    def _on_cameras(self, cameras) -> None:
        self.camera_combo.clear()
        for camera in cameras:
            self.camera_combo.addItem(camera.name, camera.id)
        if not cameras:
            self.camera_combo.addItem("no registered cameras")
        self.camera_combo.setEnabled(bool(cameras))
        self.grab_button.setEnabled(bool(cameras))

    def choose_picture(self) -> QFileDialog:
        """A non-blocking file dialog; choosing a file loads it and runs the model."""
        dialog = QFileDialog(self, "Snapshot to test on", "", "Pictures (*.jpg *.jpeg *.png *.bmp)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.fileSelected.connect(self.load_picture)
        dialog.open()
        self.file_dialog = dialog
        return dialog

    def load_picture(self, path: str) -> None:
        """Read a picture file (in the background), then run the model on it."""
        self.summary.setText(f"Reading {path}…")
        self._tasks.run_in_background(lambda ctx: model_inspection.read_image_file(path),
                                      on_success=self.use_snapshot, on_failure=self._on_failed,
                                      progress="Reading the snapshot")

    def grab_from_camera(self) -> None:
        """Take one frame from the chosen registered camera (here, or through a paired device)."""
        camera_id = self.camera_combo.currentData()
        inventory = self._inventory()
        if camera_id is None or inventory is None:
            return
        appliances = getattr(self._context, "appliances", None)
        name = self.camera_combo.currentText()
        self.summary.setText(f"Grabbing a frame from {name}…")

        def grab(ctx: TaskContext) -> np.ndarray:
            url = inventory.cameras.stream_url(camera_id)
            # The device registration found to reach the camera; for sim:// any paired device will do.
            device_id = inventory.cameras.get_camera(camera_id).reachable_via_device_id
            if device_id is None and is_device_only(url):
                paired = appliances.paired_entries() if appliances is not None else []
                if not paired:
                    raise model_inspection.ModelTestError(
                        f"{name} is rendered by a Sightline device; pair a device to grab its frames")
                device_id = paired[0].device_id
            if device_id is not None:
                with appliances.connect(device_id) as client:
                    probe = client.probe_camera(url)
                if not probe.ok:
                    raise model_inspection.ModelTestError(f"{name}: {probe.error}")
                return model_inspection.decode_image(probe.jpeg, f"the frame of {name}")
            first = test_open(url)
            if not first.ok:
                raise model_inspection.ModelTestError(f"{name}: {first.error}")
            return model_inspection.decode_image(first.jpeg, f"the frame of {name}")

        self._tasks.run_in_background(grab, on_success=self.use_snapshot, on_failure=self._on_failed,
                                      progress=f"Grabbing a frame from {name}", cancellable=True)

    # ------------------------------------------------------------------ running

    def use_snapshot(self, image: np.ndarray) -> None:
        """Show ``image`` (BGR) and run the model on it."""
        self.snapshot = image
        self.run_button.setEnabled(True)
        self.run_model()

    def run_model(self) -> None:
        if self.snapshot is None:
            return
        image, model, confidence = self.snapshot, self.model, self.confidence.value()
        self.summary.setText(f"Running {model.id} on the CPU…")
        self.run_button.setEnabled(False)

        def run(ctx: TaskContext):
            result = model_inspection.test_on_image(
                model.path, image, decoder=model.decoder, labels=model.labels or None,
                confidence=confidence)
            drawn = model_inspection.draw_detections(image, result)
            return result, bgr_to_qimage(drawn)

        self._tasks.run_in_background(run, on_success=self._on_result, on_failure=self._on_failed,
                                      progress=f"Testing {model.id}")

    def _on_result(self, outcome) -> None:
        self.last_result, self.annotated = outcome
        self.run_button.setEnabled(True)
        self.summary.setText(self.last_result.summary())
        self._show_picture()

    def _on_failed(self, error: BaseException) -> None:
        self.run_button.setEnabled(self.snapshot is not None)
        self.summary.setText(f"⚠ {error}")

    def _show_picture(self) -> None:
        if self.annotated is None:
            return
        pixmap = QPixmap.fromImage(self.annotated)
        self.picture.setPixmap(pixmap.scaled(self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._show_picture()

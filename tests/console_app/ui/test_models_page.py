"""The Models page: importing through the page, testing on a snapshot, S3 through Settings, removal."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QInputDialog, QMessageBox, QWidget

from console_app.core.credentials import CredentialStore
from console_app.core.persistence import InventoryStore
from console_app.core.services.registration import CameraRegistration
from console_app.ui.context import ConsoleContext
from console_app.ui.dialogs.model_import_dialog import ModelImportDialog
from console_app.ui.tasks import TaskRunner
from console_app.ui.views.models_page import ModelsPage
from console_app.ui.views.settings_page import SettingsPage
from device_runtime.sources.synthetic_line import ProductionLineRenderer
from tests.peers.moto_s3 import MotoServer, isolated_aws_environment, model_tar_gz
from tests.peers.onnx_models import make_constant_detector
from tests.peers.postgres import free_port

WAIT_MS = 15_000
REPO = Path(__file__).resolve().parents[3]
DEMO_MODEL = REPO / "resources/models/sightline-demo.onnx"
DEMO_LABELS = REPO / "resources/models/sightline-demo.labels"
BUCKET = "plant-models"


class PagesHost(QWidget):
    """The two pages this file tests, with their own TaskRunner (no other page is built)."""

    def __init__(self, context):
        super().__init__()
        self.tasks = TaskRunner(context.workers, self)
        self.models = ModelsPage(context, self.tasks, self)
        self.settings = SettingsPage(context, self.tasks, self)
        layout = QHBoxLayout(self)
        layout.addWidget(self.models)
        layout.addWidget(self.settings)

    def page(self, title: str) -> QWidget:
        return {"Models": self.models, "Settings": self.settings}[title]

    def show_page(self, row: int) -> None:
        page = self.models if row == 2 else self.settings
        page.on_shown()


@pytest.fixture
def window(qtbot, console_context, tmp_path):
    console_context.settings_path = tmp_path / "console.json"
    host = PagesHost(console_context)
    qtbot.addWidget(host)
    host.show()
    yield host
    host.tasks.cancel_all()


@pytest.fixture
def page(window) -> ModelsPage:
    window.show_page(2)
    return window.models


@pytest.fixture
def moto(monkeypatch, tmp_path):
    isolated_aws_environment(monkeypatch, tmp_path / "aws")
    with MotoServer() as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server


def row_names(page: ModelsPage) -> list[str]:
    return [f"{row[0]}@{row[1]}" for row in page.model.rows()]


def import_through_file_dialog(qtbot, page: ModelsPage, path: Path) -> None:
    page.import_file_action.trigger()
    dialog = page.active_dialog
    assert isinstance(dialog, QFileDialog)
    dialog.selectFile(str(path))
    dialog.accept()


def select(page: ModelsPage, model_id: str) -> None:
    page.table.selectRow([m.id for m in page.models].index(model_id))


def test_imported_file_appears_and_test_on_snapshot_draws_the_boxes(qtbot, page, tmp_path):
    import_through_file_dialog(qtbot, page, DEMO_MODEL)
    qtbot.waitUntil(lambda: row_names(page) == ["sightline-demo@1"], timeout=WAIT_MS)
    row = page.model.rows()[0]
    assert row[2] == "yolov8" and row[3] == "images [1,3,240,320] float32" and row[5] == "17"
    assert row[7].startswith("part, defective_part, person") and row[8] == f"file:{DEMO_MODEL}"
    assert "Imported sightline-demo@1" in page.status.text()

    image, truth = ProductionLineRenderer(640, 480, seed=7).render(30)
    snapshot = tmp_path / "snapshot.png"
    cv2.imwrite(str(snapshot), image)
    select(page, "sightline-demo@1")
    page.test_action.trigger()
    dialog = page.test_dialog
    assert dialog is not None
    dialog.choose_picture().fileSelected.emit(str(snapshot))
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=WAIT_MS)

    result = dialog.last_result
    assert len(result.detections) >= len(truth) - 1 > 0
    drawn = dialog.annotated
    assert (drawn.width(), drawn.height()) == (640, 480)
    det = result.detections[0]
    x, y = int(round(det.x1)), int((det.y1 + det.y2) / 2)
    painted = drawn.pixelColor(x, y)
    original = image[y, x][::-1]
    assert (painted.red(), painted.green(), painted.blue()) != tuple(int(v) for v in original)
    assert not dialog.picture.pixmap().isNull()
    assert "detection(s)" in dialog.summary.text()
    dialog.grab().save(str(tmp_path / "model-test.png"))
    dialog.close()


@pytest.fixture
def page_with_inventory(qtbot, tmp_path, qapp):
    """The Models page of a console with an inventory open (as at a real start): (page, context, inventory)."""
    with InventoryStore(f"sqlite:///{tmp_path / 'inventory.sqlite'}",
                        credentials=CredentialStore(tmp_path / "secrets", use_keyring=False)) as store:
        context = ConsoleContext.create(tmp_path / "console", interfaces=["127.0.0.1"], inventory=store,
                                        settings_path=tmp_path / "console.json")
        host = PagesHost(context)
        qtbot.addWidget(host)
        host.show()
        host.show_page(2)
        try:
            yield host.models, context, store
        finally:
            host.tasks.cancel_all()
            context.close()


def test_test_on_snapshot_grabs_a_registered_sim_camera_through_the_paired_device_and_draws_the_boxes(
        qtbot, page_with_inventory, start_device):
    """The console cannot open sim:// itself: the frame comes from the device's ProbeCamera."""
    page, context, inventory = page_with_inventory
    device = start_device()
    entry = context.appliances.add_by_address("127.0.0.1", device.port)
    context.appliances.pair(entry.device_id, device.pairing.current_code())
    url = "sim://production-line?seed=7&width=640&height=480&fps=15"
    inventory.cameras.add_camera(CameraRegistration(
        name="Line 3 overhead", host="127.0.0.1", port=0, manufacturer="Sightline", model="SIM", serial="SIM-7",
        endpoint_reference="urn:uuid:sim-7", profiles=(), profile_token="", stream_uri=url, snapshot_uri="",
        auth_method="rtsp", clock_offset_s=0.0, username="", onvif=False,
        reachable_via_device_id=entry.device_id), None)
    import_through_file_dialog(qtbot, page, DEMO_MODEL)
    qtbot.waitUntil(lambda: row_names(page) == ["sightline-demo@1"], timeout=WAIT_MS)
    select(page, "sightline-demo@1")
    dialog = page.open_test_dialog()
    qtbot.waitUntil(lambda: dialog.grab_button.isEnabled(), timeout=WAIT_MS)
    assert dialog.camera_combo.currentText() == "Line 3 overhead"

    qtbot.mouseClick(dialog.grab_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.last_result is not None or "⚠" in dialog.summary.text(), timeout=WAIT_MS)

    assert dialog.last_result is not None, dialog.summary.text()
    frame = dialog.snapshot
    assert frame.shape == (480, 640, 3)  # the device's frame of the camera, as registered
    detections = dialog.last_result.detections
    assert detections and {d.label for d in detections} <= set(DEMO_LABELS.read_text().split())
    drawn = dialog.annotated
    assert (drawn.width(), drawn.height()) == (640, 480)
    for det in detections:  # each box's left edge is painted over the camera's pixels
        x, y = int(round(det.x1)), int((det.y1 + det.y2) / 2)
        painted = drawn.pixelColor(x, y)
        assert (painted.red(), painted.green(), painted.blue()) != tuple(int(v) for v in frame[y, x][::-1])
    assert not dialog.picture.pixmap().isNull() and "detection(s)" in dialog.summary.text()
    dialog.close()


def test_same_file_twice_is_reported_as_already_in_the_library(qtbot, page):
    import_through_file_dialog(qtbot, page, DEMO_MODEL)
    qtbot.waitUntil(lambda: row_names(page) == ["sightline-demo@1"], timeout=WAIT_MS)

    import_through_file_dialog(qtbot, page, DEMO_MODEL)
    qtbot.waitUntil(lambda: "already in the library as sightline-demo@1" in page.status.text(), timeout=WAIT_MS)
    assert row_names(page) == ["sightline-demo@1"]


def test_a_file_that_is_not_onnx_is_refused_with_a_clear_message(qtbot, page, tmp_path):
    bad = tmp_path / "weights.onnx"
    bad.write_bytes(b"\x80\x02 a pickled PyTorch checkpoint")
    import_through_file_dialog(qtbot, page, bad)

    qtbot.waitUntil(lambda: "not a valid ONNX model" in page.status.text(), timeout=WAIT_MS)
    assert str(bad) in page.status.text()
    assert page.model.rows() == []


def test_decoder_and_labels_are_set_from_the_page(qtbot, page, tmp_path):
    det = make_constant_detector(tmp_path / "det.onnx", "yolov8", [(10, 10, 50, 50, 0.9, 1)])
    import_through_file_dialog(qtbot, page, det)
    qtbot.waitUntil(lambda: row_names(page) == ["det@1"], timeout=WAIT_MS)
    select(page, "det@1")

    page.decoder_action.trigger()
    chooser = page.active_dialog
    assert isinstance(chooser, QInputDialog)
    chooser.setTextValue("raw")
    chooser.accept()
    qtbot.waitUntil(lambda: page.model.rows() and page.model.rows()[0][2] == "raw (set)", timeout=WAIT_MS)

    labels = tmp_path / "det.labels"
    labels.write_text("part\nworker\nforklift\n")
    select(page, "det@1")
    page.labels_action.trigger()
    files = page.active_dialog
    assert isinstance(files, QFileDialog)
    files.fileSelected.emit(str(labels))
    qtbot.waitUntil(lambda: page.model.rows()[0][7] == "part, worker, forklift", timeout=WAIT_MS)


def test_removal_of_a_model_in_use_asks_and_can_be_forced(qtbot, page, tmp_path):
    import_through_file_dialog(qtbot, page, DEMO_MODEL)
    qtbot.waitUntil(lambda: row_names(page) == ["sightline-demo@1"], timeout=WAIT_MS)
    page.library().set_usage_lookup(lambda model: ["dock-counter on edge-1"])
    select(page, "sightline-demo@1")

    page.remove_action.trigger()
    qtbot.waitUntil(lambda: isinstance(page.active_dialog, QMessageBox), timeout=WAIT_MS)
    box = page.active_dialog
    assert "dock-counter on edge-1" in box.informativeText()
    assert row_names(page) == ["sightline-demo@1"]

    anyway = next(b for b in box.buttons() if "anyway" in b.text())
    anyway.click()
    qtbot.waitUntil(lambda: page.model.rows() == [], timeout=WAIT_MS)
    assert "Removed sightline-demo@1" in page.status.text()


def test_s3_import_uses_the_cloud_settings_saved_on_the_settings_page(qtbot, window, page, moto, tmp_path):
    archive = model_tar_gz({"det.onnx": make_constant_detector(None, "yolov8", [(1, 1, 9, 9, 0.9, 0)]),
                            "det-fast.onnx": make_constant_detector(None, "end2end", [(1, 1, 9, 9, 0.9, 0)])})
    moto.client("s3").put_object(Bucket=BUCKET, Key="jobs/7/output/model.tar.gz", Body=archive)
    settings = window.page("Settings")
    window.show_page(7)
    settings.endpoint_edit.setText(moto.endpoint_url)
    settings.region_edit.setText("us-east-1")
    settings.save_button.click()
    qtbot.waitUntil(lambda: settings.status.text().startswith("Saved"), timeout=WAIT_MS)
    saved = json.loads((tmp_path / "console.json").read_text())
    assert saved["cloud"] == {"region": "us-east-1", "endpoint_url": moto.endpoint_url}

    window.show_page(2)
    page.import_s3_action.trigger()
    dialog = page.active_dialog
    assert isinstance(dialog, ModelImportDialog) and moto.endpoint_url in dialog.findChildren(
        type(dialog.problem))[-2].text()
    dialog.source_edit.setText(f"s3://{BUCKET}/jobs/7/output/model.tar.gz")
    dialog.buttons.accepted.emit()

    # Two models inside: the page asks again, listing them.
    qtbot.waitUntil(lambda: isinstance(page.active_dialog, ModelImportDialog)
                    and page.active_dialog is not dialog, timeout=WAIT_MS)
    again = page.active_dialog
    assert [again.member_combo.itemText(i) for i in range(again.member_combo.count())] == ["det.onnx", "det-fast.onnx"]
    again.member_combo.setCurrentIndex(1)
    again.buttons.accepted.emit()
    qtbot.waitUntil(lambda: row_names(page) == ["det-fast@1"], timeout=WAIT_MS)
    assert page.model.rows()[0][2] == "end2end"
    assert page.model.rows()[0][8] == f"s3://{BUCKET}/jobs/7/output/model.tar.gz"


def test_offline_s3_import_says_so_and_the_library_keeps_working(qtbot, window, page, monkeypatch, tmp_path):
    isolated_aws_environment(monkeypatch, tmp_path / "aws")
    endpoint = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "console.json").write_text(json.dumps({"cloud": {"endpoint_url": endpoint}}))

    page.start_import("sagemaker", "helmet-job-3")
    qtbot.waitUntil(lambda: f"cannot reach {endpoint} (offline?)" in page.status.text(), timeout=WAIT_MS)
    window.tasks.last_error_box.close()

    import_through_file_dialog(qtbot, page, DEMO_MODEL)
    qtbot.waitUntil(lambda: row_names(page) == ["sightline-demo@1"], timeout=WAIT_MS)


def test_settings_page_refuses_an_endpoint_that_is_not_a_url(qtbot, window, page, tmp_path):
    settings = window.page("Settings")
    settings.endpoint_edit.setText("minio.plant.local:9000")
    settings.save()

    assert "is not an http(s) URL with a host" in settings.status.text()
    assert not (tmp_path / "console.json").exists()


def test_snapshot_that_is_not_a_picture_is_named(qtbot, page, tmp_path):
    import_through_file_dialog(qtbot, page, DEMO_MODEL)
    qtbot.waitUntil(lambda: row_names(page) == ["sightline-demo@1"], timeout=WAIT_MS)
    select(page, "sightline-demo@1")
    dialog = page.open_test_dialog()
    (tmp_path / "notes.png").write_bytes(b"not a png")

    dialog.load_picture(str(tmp_path / "notes.png"))
    qtbot.waitUntil(lambda: "is not a picture OpenCV can read" in dialog.summary.text(), timeout=WAIT_MS)
    assert dialog.last_result is None
    dialog.use_snapshot(np.zeros((48, 64, 3), np.uint8))
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=WAIT_MS)
    dialog.close()

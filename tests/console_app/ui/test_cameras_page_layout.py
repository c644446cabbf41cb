"""The Cameras page at the sizes engineers run it: names, addresses and models readable at 1280x800,
and nothing to scroll sideways on a 1024x768 panel PC, with the demo guide open or closed.

The demo's two cameras ("Line 3 camera 1" and "2", announced as
``Line_3_camera_N``) are simulated, discovered over real WS-Discovery on
127.0.0.1 and registered in a real inventory. Set SIGHTLINE_SCREENSHOT_DIR to
keep screenshots of the page at 1024x768, 1280x800 and 1600x1000.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from console_app.core.credentials import CredentialStore
from console_app.core.persistence import InventoryStore
from console_app.core.services.registration import CameraRegistration
from console_app.sim.onvif_camera import SimulatedOnvifCamera
from console_app.ui.main_window import MainWindow
from console_app.ui.models import cameras_model, registered_cameras_model
from tests.console_app.ui.conftest import make_settings

WAIT_MS = 20_000
PASSWORD = "Layout-s3cret-pw"


@pytest.fixture
def store(tmp_path: Path):
    with InventoryStore(f"sqlite:///{tmp_path / 'inventory.sqlite'}",
                        credentials=CredentialStore(tmp_path / "secrets", use_keyring=False)) as opened:
        yield opened


def register(store, name: str, xaddr: str, endpoint_reference: str, password: str = PASSWORD) -> None:
    """Register the ONVIF camera at ``xaddr`` as the Add camera dialog does (its first profile)."""
    from console_app.core.gateways.onvif_client import read_camera

    info = read_camera(xaddr, username="admin", password=password)
    profile = info.profiles[0]
    store.cameras.add_camera(CameraRegistration(
        name=name, host=info.host, port=info.port, manufacturer=info.device.manufacturer,
        model=info.device.model, serial=info.device.serial, endpoint_reference=endpoint_reference,
        profiles=info.profiles, profile_token=profile.token, stream_uri=profile.stream_uri,
        snapshot_uri=profile.snapshot_uri, auth_method=info.auth_method.value, clock_offset_s=0.0,
        username="admin"), password)


@pytest.fixture
def demo_cameras(store):
    """The demo's cameras: one model, names as the demo gives them, each registered."""
    cams = [SimulatedOnvifCamera(password=PASSWORD, name=f"Line 3 camera {i}", model="SIM-ONVIF-DEMO",
                                 serial=f"DEMO-000{i}-{i}", discovery_interface="127.0.0.1",
                                 video_url=f"sim://production-line?seed={i}&width=640&height=480&fps=15"
                                 ).start() for i in (1, 2)]
    for cam in cams:
        register(store, cam.name, cam.url, cam.endpoint_reference)
    yield cams
    for cam in cams:
        cam.stop()


def fully_shown(table, column: int, text: str) -> bool:
    """The column lies inside the visible part of the table, and is as wide as its contents need
    (Qt's own measure, thumbnail and margins included) and at least as wide as ``text``."""
    header = table.horizontalHeader()
    left = header.sectionViewportPosition(column)
    size = header.sectionSize(column)
    return (left >= 0 and left + size <= table.viewport().width()
            and size >= table.sizeHintForColumn(column)
            and size >= table.fontMetrics().horizontalAdvance(text))


def show_cameras_page(qtbot, window, store, demo_cameras, width: int, height: int):
    window.resize(width, height)
    page = window.page("Cameras")
    page.set_inventory(store)
    window.show_page(window.page_row("Cameras"))
    page.find_cameras()
    refs = {cam.endpoint_reference for cam in demo_cameras}
    qtbot.waitUntil(lambda: refs <= {c.endpoint_reference for c in page.found_model.cameras()}
                    and page.registered_model.rowCount() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(page.registered_model.index(r, registered_cameras_model.STATE).data() == "Online"
                                for r in (0, 1)), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not page.cancel_button.isEnabled(), timeout=WAIT_MS)
    return page


def save_screenshot(window, name: str) -> None:
    folder = os.environ.get("SIGHTLINE_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        window.grab().save(str(Path(folder) / name))


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1600, 1000)])
def test_demo_camera_names_addresses_and_models_are_readable_without_scrolling_sideways(
        qtbot, window, store, demo_cameras, width, height):
    page = show_cameras_page(qtbot, window, store, demo_cameras, width, height)
    qtbot.waitUntil(lambda: window.width() == width, timeout=WAIT_MS)
    found, registered = page.found_table, page.registered_table
    checks = []
    for cam in demo_cameras:
        row = page.found_model.row_where(lambda c, ref=cam.endpoint_reference: c.endpoint_reference == ref)
        # As the camera calls itself, not "Line_3_camera_1" (with its address only when another camera
        # on this machine, e.g. a demo running beside the test, announces the same name).
        name = page.found_model.index(row, cameras_model.NAME).data()
        assert name == cam.name or name == f"{cam.name} (127.0.0.1:{cam.port})"
        checks += [(found, column, page.found_model.index(row, column).data())
                   for column in (cameras_model.NAME, cameras_model.ADDRESS, cameras_model.HARDWARE)]
    checks += [(registered, column, page.registered_model.index(row, column).data())
               for row in range(2)
               for column in (registered_cameras_model.NAME, registered_cameras_model.STATE,
                              registered_cameras_model.HOST, registered_cameras_model.MAKE_MODEL)]
    # Columns sized to their contents settle after the rows arrive (Qt lays out on a timer).
    try:
        qtbot.waitUntil(lambda: all(fully_shown(*check) for check in checks), timeout=5_000)
    finally:
        save_screenshot(window, f"cameras-{width}x{height}.png")
    for table, column, text in checks:
        assert fully_shown(table, column, text), f"{text!r} is cut at {width}x{height}"
    assert page.url_edit.width() >= 250
    assert page.view.width() >= 360
    assert page.side_by_side, "room enough: the preview stays beside the lists"


@pytest.mark.parametrize("guide", [False, True], ids=["guide-closed", "guide-open"])
def test_at_1024x768_nothing_scrolls_sideways_and_names_stay_whole(qtbot, window, store, demo_site, guide):
    from console_app.demo import show_demo_guide

    for cam in demo_site.cameras:
        register(store, cam.name, cam.xaddr, cam.endpoint_reference, cam.password)
    if guide:
        show_demo_guide(window, demo_site)
    page = show_cameras_page(qtbot, window, store, demo_site.cameras, 1024, 768)
    qtbot.waitUntil(lambda: window.width() == 1024, timeout=WAIT_MS)
    found, registered = page.found_table, page.registered_table
    checks = [(found, column, page.found_model.index(row, column).data())
              for row in range(page.found_model.rowCount())
              for column in (cameras_model.NAME, cameras_model.ADDRESS, cameras_model.HARDWARE)]
    checks += [(registered, column, page.registered_model.index(row, column).data())
               for row in range(2)
               for column in (registered_cameras_model.NAME, registered_cameras_model.STATE,
                              registered_cameras_model.HOST, registered_cameras_model.MAKE_MODEL)]
    suffix = "guide" if guide else "no-guide"
    try:
        qtbot.waitUntil(lambda: all(fully_shown(*check) for check in checks), timeout=5_000)
    finally:
        save_screenshot(window, f"cameras-1024x768-{suffix}.png")
    for table, column, text in checks:
        assert fully_shown(table, column, text), f"{text!r} is cut at 1024x768 ({suffix})"
    area = window.page_area
    assert area.horizontalScrollBar().maximum() == 0, "the page scrolls sideways"
    for table in (found, registered):
        assert table.horizontalScrollBar().maximum() == 0, f"{table.accessibleName()} scrolls sideways"
        header = table.horizontalHeader()
        last = header.count() - 1
        assert header.sectionViewportPosition(last) + header.sectionSize(last) <= table.viewport().width()
    # A column squeezed to make room still says everything in its tooltip.
    stream = page.registered_model.index(0, registered_cameras_model.STREAM)
    assert stream.data(Qt.ItemDataRole.ToolTipRole) == stream.data() and stream.data().startswith("sim://")
    assert not page.side_by_side, "the preview goes under the lists"
    assert page.url_edit.width() >= 250
    assert page.view.width() >= 360 and page.view.height() >= 150
    assert window.minimumSizeHint().width() <= 1024

    window.resize(1600, 1000)  # room again: beside the lists, as at 1280x800
    qtbot.waitUntil(lambda: page.side_by_side, timeout=WAIT_MS)


def test_the_splitter_keeps_the_size_the_engineer_gave_it(qtbot, window, settings_path, console_context):
    window.resize(1280, 800)
    page = window.page("Cameras")
    window.show_page(window.page_row("Cameras"))
    total = sum(page.splitter.sizes())
    page.splitter.setSizes([total - 520, 520])
    page.splitter.splitterMoved.emit(total - 520, 1)  # what a drag of the handle ends with
    window.close()

    again = MainWindow(console_context, make_settings(settings_path))
    again.resize(1280, 800)
    again.show()
    qtbot.waitExposed(again)
    restored = again.page("Cameras")
    again.show_page(again.page_row("Cameras"))
    qtbot.waitUntil(lambda: abs(restored.splitter.sizes()[1] - 520) <= 2, timeout=WAIT_MS)
    again.close()
    again.deleteLater()

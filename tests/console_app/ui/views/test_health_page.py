"""The Health page on a real paired device: live plots, app and stream states, the device log and its filters."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt

from console_app.core.gateways.device_client import DeviceCallError, DeviceClient
from console_app.core.packaging import build_package
from console_app.ui.models.log_model import LogFilterProxy, LogLine, LogTableModel
from console_app.ui.views.health_page import HealthPage, warning_summary
from tests.peers.line_safety_device import APP, APP_ID, CAMERA_ID, sample_manifest

WAIT_MS = 20_000


@pytest.fixture
def page(qtbot, console_context, tasks, line_device):
    page = HealthPage(console_context, tasks)
    qtbot.addWidget(page)
    page.resize(1280, 900)
    yield page
    followers = page.followers
    page.shutdown()
    for follower in followers:
        follower.stop(wait=5.0)
        assert not follower.running, f"{follower.name} still running after stop"


def proxy_lines(page: HealthPage) -> list[LogLine]:
    proxy = page.log_proxy
    return [proxy.index(row, 0).data(Qt.ItemDataRole.UserRole) for row in range(proxy.rowCount())]


def test_plots_show_real_health_of_the_device_and_its_stream(qtbot, page, line_device):
    page.show()
    qtbot.waitUntil(lambda: page.streaming, timeout=WAIT_MS)

    def plotted() -> bool:
        cpu = page.cpu_plot.series_data("CPU")[1] if "CPU" in page.cpu_plot.series_names() else []
        inferred = f"{CAMERA_ID} inferred"
        return len(cpu) >= 2 and inferred in page.fps_plot.series_names() \
            and (page.fps_plot.latest_value(inferred) or 0) > 0
    qtbot.waitUntil(plotted, timeout=WAIT_MS)

    x, cpu = page.cpu_plot.series_data("CPU")
    assert all(-600 <= t <= 0.5 for t in x), "plotted times are seconds before now, within ten minutes"
    assert all(v >= 0 for v in cpu)
    assert 0 < page.memory_plot.latest_value("Memory") <= 100
    assert set(page.fps_plot.series_names()) == {f"{CAMERA_ID} camera", f"{CAMERA_ID} inferred", f"{CAMERA_ID} dropped"}
    assert page.fps_plot.latest_value(f"{CAMERA_ID} camera") > 0
    assert page.inference_plot.latest_value(CAMERA_ID) > 0
    # No GPU on the test machine: a gap with a note, never a made-up zero.
    assert page.gpu_plot.series_names() == [] and "not readable" in page.gpu_plot.note
    qtbot.waitUntil(lambda: bool(page.apps_model.rows() and page.streams_model.rows()), timeout=WAIT_MS)
    assert page.apps_model.rows()[0][:3] == [APP_ID, "1.0.0", "running"]
    assert page.streams_model.rows()[0][:4] == [CAMERA_ID, "Online", "live", "640×480"]
    assert "CPUExecutionProvider" in page.provider_label.text()
    assert page.status.text() == "Live"

    page.stream_combo.setCurrentText(CAMERA_ID)  # one stream: its series lose the camera prefix
    assert set(page.fps_plot.series_names()) == {"camera", "inferred", "dropped"}


def test_streams_table_says_in_plain_words_which_camera_refused_the_password(qtbot, page, line_device):
    """A second app whose camera (a real RTSP server) refuses the deployed password: its row reads
    "Wrong password" beside the demo camera's "Online", as the device reports each camera's availability."""
    import json

    from console_app.core.packaging import build_package_without_passwords
    from tests.peers.rtsp_server import RtspServer

    with RtspServer(path="/live", user="admin", password="right-pw") as camera:
        manifest = sample_manifest()
        manifest["id"], manifest["name"] = "gate-watch", "Gate watch"
        manifest["cameras"] = [{"id": "gate", "url": f"rtsp://admin:wrong-pw@127.0.0.1:{camera.port}/live"}]
        manifest["params"]["geometry"] = {}
        folder = line_device.data_dir.parent / "gate-app"
        folder.mkdir()
        (folder / "app.json").write_text(json.dumps(manifest))
        package, secrets = build_package_without_passwords(folder)
        with line_device.client() as client:
            client.deploy(package, secrets=secrets)
        page.show()

        def availability() -> dict[str, str]:
            return {row[0]: row[1] for row in page.streams_model.rows()}
        qtbot.waitUntil(lambda: availability() == {CAMERA_ID: "Online", "gate": "Wrong password"}, timeout=WAIT_MS)
    gate = next(row for row in page.streams_model.rows() if row[0] == "gate")
    assert gate[2] == "failed" and "401" in gate[4]
    tabs = page.states_tabs
    assert tabs.tabText(1) == "S&treams (2) · 1 not live" and not tabs.tabIcon(1).isNull()
    assert tabs.tabText(0) == "&Applications (2)" and tabs.tabIcon(0).isNull()


def test_the_log_stops_when_the_page_is_hidden_and_health_keeps_being_recorded(qtbot, page, line_device):
    page.show()
    qtbot.waitUntil(lambda: page.history.sample_count(line_device.device_id) >= 1, timeout=WAIT_MS)
    first = page.followers
    page.hide()
    assert page.followers == []
    qtbot.waitUntil(lambda: not any(f.running for f in first), timeout=WAIT_MS)
    assert not page.redraw_timer.isActive()
    # Hidden, the page draws nothing, but the console still records the device's health.
    before = page.history.sample_count(line_device.device_id)
    qtbot.waitUntil(lambda: page.history.sample_count(line_device.device_id) > before, timeout=WAIT_MS)
    page.show()
    assert page.streaming and page.followers != first


def test_plots_hold_the_health_from_before_the_page_was_first_opened(qtbot, console_context, tasks, line_device):
    """The console follows a paired device's health from the start; the page shows that history."""
    import time

    from console_app.core.services.health_history import HealthWatch

    watch = HealthWatch(console_context.health_history, console_context.appliances.connect)
    console_context.health_watch = watch  # what the main window keeps told of the paired devices
    watch.set_devices([line_device.device_id])
    qtbot.waitUntil(lambda: console_context.health_history.sample_count(line_device.device_id) >= 3,
                    timeout=WAIT_MS)
    opened = time.time()
    page = HealthPage(console_context, tasks)
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    page.redraw()
    x, _ = page.cpu_plot.series_data("CPU")
    assert len(x) >= 3 and min(x) + page.history.clock() < opened - 1.5, "the plot starts before the page opened"
    page.shutdown()
    watch.close()


def test_temperature_plot_says_no_sensor_when_the_device_has_none(qtbot, page, line_device):
    page.show()
    qtbot.waitUntil(lambda: page.history.sample_count(line_device.device_id) >= 1, timeout=WAIT_MS)
    page.redraw()
    # The test machine (like most PCs and VMs) reports no temperature: said across the plot, not left blank.
    assert page.temperature_plot.series_names() == []
    assert page.temperature_plot.empty_note_shown
    assert page.temperature_plot.empty_label.text() == "No sensor"


def test_the_provider_warning_wraps_and_never_widens_the_page(qtbot, page):
    long_warning = ("no NVIDIA driver found (libcuda.so.1 cannot be loaded): TensorrtExecutionProvider could not "
                    "start (libonnxruntime_providers_tensorrt.so needs libcublas.so.13, which is missing); "
                    "CUDAExecutionProvider could not start; running on CPUExecutionProvider")
    page.provider_label.setText(f"Inference on CPUExecutionProvider — ⚠ {warning_summary(long_warning)}")
    page.provider_label.setVisible(True)
    assert page.provider_label.wordWrap()
    assert page.minimumSizeHint().width() <= 560
    assert warning_summary(long_warning) == "no NVIDIA driver found (details in the tooltip)"


def test_the_device_log_gets_most_of_the_room_below_the_plots(qtbot, page, line_device):
    page.show()
    qtbot.waitUntil(lambda: page.log_model.rowCount() > 3, timeout=WAIT_MS)
    rows_visible = page.log_table.viewport().height() // page.log_table.verticalHeader().defaultSectionSize()
    assert rows_visible >= 4


def test_log_level_and_text_filters_act_in_the_view_without_asking_the_device_again(qtbot, page, line_device):
    page.show()
    qtbot.waitUntil(lambda: any("deployed app line-safety" in line.message for line in proxy_lines(page)),
                    timeout=WAIT_MS)
    # A real WARNING: an unsigned package is refused (this client pairs without a signing key).
    with DeviceClient("127.0.0.1", line_device.port, line_device.credentials) as unsigned:
        with pytest.raises(DeviceCallError, match="PERMISSION_DENIED"):
            unsigned.deploy(build_package(APP))
    qtbot.waitUntil(lambda: any(line.level == "WARNING" for line in proxy_lines(page)), timeout=WAIT_MS)
    received = page.log_model.rowCount()

    page.level_combo.setCurrentText("WARNING")
    shown = proxy_lines(page)
    assert shown and all(line.levelno >= 30 for line in shown)
    assert any("refused package" in line.message for line in shown)
    page.level_combo.setCurrentText("INFO")
    qtbot.keyClicks(page.log_filter, "DEPLOYED APP")
    shown = proxy_lines(page)
    assert shown and all("deployed app" in f"{line.logger} {line.message}".lower() for line in shown)
    page.log_filter.clear()
    assert page.log_proxy.rowCount() > len(shown)

    log_follower = page.followers[0]
    assert log_follower.connections == 1, "filtering must not re-request the log"
    assert page.log_model.rowCount() >= received


def test_pause_holds_new_log_records_until_resumed(qtbot, page, line_device):
    page.show()
    qtbot.waitUntil(lambda: page.log_model.rowCount() > 0, timeout=WAIT_MS)
    page.pause_button.click()
    assert page.pause_button.text() == "&Resume log"
    rows = page.log_model.rowCount()
    with line_device.client() as client:
        client.stop_app(APP_ID)
    qtbot.waitUntil(lambda: "new while paused" in page.log_count.text(), timeout=WAIT_MS)
    assert page.log_model.rowCount() == rows
    page.pause_button.click()
    assert page.log_model.rowCount() > rows
    assert any(f"stopped app {APP_ID}" in line.message or "stopped" in line.message
               for line in page.log_model.lines()[rows:])


def test_log_model_passes_the_model_tester_and_keeps_the_newest_rows(qtmodeltester):
    model = LogTableModel(max_rows=4)
    qtmodeltester.check(model, force_py=True)
    model.append_lines([LogLine(1.0 + n, "INFO", "device_runtime.x", f"message {n}") for n in range(3)])
    model.append_lines([LogLine(5.0, "ERROR", "device_runtime.y", "boom"), LogLine(6.0, "DEBUG", "z", "noise")])
    assert [line.message for line in model.lines()] == ["message 1", "message 2", "boom", "noise"]
    assert model.data(model.index(2, 1)) == "ERROR" and model.rowCount(model.index(0, 0)) == 0
    model.append_lines([LogLine(7.0 + n, "WARNING", "w", f"w{n}") for n in range(6)])  # more than max_rows
    assert [line.message for line in model.lines()] == ["w2", "w3", "w4", "w5"]
    model.clear()
    assert model.rowCount() == 0


def test_log_filter_proxy_passes_the_model_tester_while_filters_and_rows_change(qtmodeltester):
    model = LogTableModel(max_rows=4)
    model.append_lines([LogLine(7.0 + n, "WARNING", "w", f"w{n}") for n in range(6)])
    proxy = LogFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy, force_py=True)
    proxy.set_min_level("ERROR")
    assert proxy.rowCount(QModelIndex()) == 0
    proxy.set_min_level("DEBUG")
    proxy.set_text("W4")
    assert [proxy.index(r, 3).data() for r in range(proxy.rowCount())] == ["w4"]
    model.append_lines([LogLine(20.0, "INFO", "w4-logger", "matches by its logger")])
    assert proxy.rowCount() == 2
    model.clear()
    assert proxy.rowCount() == 0


def test_health_page_is_in_the_navigation_and_streams_only_while_current(qtbot, window, line_device):
    page = window.page("Health")
    window.show_page(window.page_row(page.title))
    qtbot.waitUntil(lambda: page.streaming, timeout=WAIT_MS)
    followers = page.followers
    window.show_page(window.page_row("Devices"))
    qtbot.waitUntil(lambda: not any(f.running for f in followers), timeout=WAIT_MS)
    assert not page.streaming


def test_every_log_record_is_shown_once_even_out_of_time_order_and_replayed(qtbot, page):
    """Records of different device threads can arrive slightly out of time order: all are shown.
    The records are put where the log follower puts what it receives (the order cannot be forced
    on a real device); a reconnect's replay of the same records adds nothing."""
    lines = [LogLine(100.002, "INFO", "device_runtime.sources", "stream live"),
             LogLine(100.001, "INFO", "device_runtime.supervisor", "deployed app"),  # a hair older
             LogLine(100.003, "WARNING", "device_runtime.rpc", "refused package")]
    page._pending_logs.extend(lines)
    page.drain_logs()
    assert page.log_model.lines() == lines
    page._pending_logs.extend(lines)  # replayed after a reconnect
    page.drain_logs()
    assert page.log_model.rowCount() == 3


def test_output_delivery_state_and_a_clear_error_show_per_output(qtbot, page, line_device, tmp_path):
    """An app whose webhook host refuses connections: the Health page names the output and why."""
    import json
    import shutil

    from tests.peers.mosquitto import free_port

    folder = tmp_path / "app-with-output"
    shutil.copytree(APP, folder)
    manifest = json.loads((folder / "app.json").read_text())
    port = free_port()
    manifest["version"] = "1.1.0"
    manifest["outputs"] = [{"kind": "webhook", "name": "shift-chat", "url": f"http://127.0.0.1:{port}/hook",
                            "events": {"kinds": ["count_changed", "zone_entered", "zone_left", "line_crossed"]}}]
    (folder / "app.json").write_text(json.dumps(manifest))
    with line_device.client() as client:
        client.deploy(build_package(folder))
    page.show()

    def failing_row() -> bool:
        rows = page.outputs_model.rows()
        return bool(rows) and rows[0][0] == f"{APP_ID}/shift-chat" and rows[0][2] == "retrying"
    qtbot.waitUntil(failing_row, timeout=WAIT_MS)
    [row] = page.outputs_model.rows()
    assert row[1] == "webhook"
    assert row[7] == "-", "no latency before a first delivery"
    assert row[8] == f"cannot reach 127.0.0.1:{port}: connection refused"
    assert int(row[4]) >= 1, "events wait in the outbox"
    assert page.states_tabs.tabText(2) == "&Outputs (1) · 1 not delivering"
    page.states_tabs.setCurrentWidget(page.outputs_table)
    page.resize(830, 700)  # its share of a 1280 px window beside the navigation and the demo guide
    table = page.outputs_table
    qtbot.waitUntil(lambda: table.horizontalHeader().length() <= table.viewport().width(), timeout=WAIT_MS)
    assert not table.horizontalScrollBar().isVisible(), "nine columns, none pushed out of sight"
    assert table.columnWidth(0) >= table.sizeHintForColumn(0), "the output's name is whole"

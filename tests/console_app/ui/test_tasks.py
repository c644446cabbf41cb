"""Background operations and the bridge: work off the GUI thread, results back on it."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from console_app.core.workers import WorkerPool
from console_app.ui.bridge import Bridge
from console_app.ui.tasks import TaskRunner, TaskStatusWidget

WAIT_MS = 5000


@pytest.fixture
def workers():
    with WorkerPool(name="test-ui-io") as running:
        yield running


@pytest.fixture
def runner(qtbot, workers):
    parent = QWidget()
    qtbot.addWidget(parent)
    return TaskRunner(workers, parent)


def test_success_callback_runs_on_the_gui_thread_with_the_result(qtbot, runner):
    seen = {}

    def work(ctx):
        seen["worker"] = threading.current_thread()
        return 42

    def done(result):
        seen["result"], seen["callback"] = result, threading.current_thread()

    runner.run_in_background(work, on_success=done)
    qtbot.waitUntil(lambda: "result" in seen, timeout=WAIT_MS)
    assert seen["result"] == 42
    assert seen["callback"] is threading.main_thread()
    assert seen["worker"] is not threading.main_thread()


def test_slow_work_does_not_block_the_gui_event_loop(qtbot, runner):
    """A slow fake service (blocked on an event) stands in for a hung device call."""
    release, ticks, finished = threading.Event(), [], []
    runner.run_in_background(lambda ctx: release.wait(WAIT_MS / 1000), on_success=finished.append,
                             progress="Talking to a slow device…")
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=WAIT_MS)  # GUI kept running while blocked
    timer.stop()
    assert finished == []
    release.set()
    qtbot.waitUntil(lambda: finished == [True], timeout=WAIT_MS)


def test_failure_without_a_handler_opens_a_message_box_with_the_error_text(qtbot, runner):
    def fail(ctx):
        raise ConnectionError("device at 10.0.0.7:7443 did not answer")

    runner.run_in_background(fail, progress="Reading apps…")
    qtbot.waitUntil(lambda: runner.last_error_box is not None, timeout=WAIT_MS)
    box = runner.last_error_box
    assert box.isVisible()
    assert box.text() == "Reading apps failed"
    assert box.informativeText() == "device at 10.0.0.7:7443 did not answer"
    box.close()


def test_failure_handler_receives_the_exception(qtbot, runner):
    errors = []
    runner.run_in_background(lambda ctx: int("x"), on_failure=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert isinstance(errors[0], ValueError)
    assert runner.last_error_box is None


def test_cancel_button_cancels_the_task_and_skips_its_success_callback(qtbot, runner):
    started, results = threading.Event(), []

    def work(ctx):
        started.set()
        while not ctx.cancelled.wait(0.01):
            pass
        ctx.raise_if_cancelled()

    status = TaskStatusWidget(runner)
    qtbot.addWidget(status)
    task = runner.run_in_background(work, on_success=results.append, progress="Scanning…", cancellable=True)
    assert started.wait(WAIT_MS / 1000)
    assert status.isVisibleTo(status.parentWidget() or status) or not status.isHidden()
    assert status.label.text() == "Scanning…" and not status.cancel_button.isHidden()
    status.cancel_button.click()
    qtbot.waitUntil(lambda: task not in runner.running, timeout=WAIT_MS)
    assert results == []
    assert status.isHidden()


def test_progress_reports_reach_the_status_bar(qtbot, runner):
    status = TaskStatusWidget(runner)
    qtbot.addWidget(status)
    go = threading.Event()

    def work(ctx):
        ctx.report(0.5, "half way")
        go.wait(WAIT_MS / 1000)

    runner.run_in_background(work, progress="Uploading")
    qtbot.waitUntil(lambda: status.bar.value() == 500, timeout=WAIT_MS)
    assert status.label.text() == "Uploading: half way"
    go.set()


def test_bridge_runs_calls_from_other_threads_on_the_gui_thread(qtbot):
    bridge = Bridge()
    ran_on = []
    worker = threading.Thread(target=lambda: bridge.call_in_gui(lambda: ran_on.append(threading.current_thread())))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(ran_on), timeout=WAIT_MS)
    assert ran_on == [threading.main_thread()]


def test_bridge_drops_calls_to_widgets_that_were_closed(qtbot):
    bridge = Bridge()
    label = QWidget()
    label.setWindowTitle("before")
    bridge.call_in_gui(label.setWindowTitle, "after")  # queued
    label.deleteLater()
    from .conftest import flush_deletes

    flush_deletes()  # widget gone before the queued call runs: must not raise
    marker = []
    bridge.call_in_gui(marker.append, 1)
    qtbot.waitUntil(lambda: bool(marker), timeout=WAIT_MS)

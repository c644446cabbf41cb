"""Qt tests run offscreen; fixtures give a real console context, real devices and a leak-checked window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import secrets  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from console_app.ui.context import ConsoleContext  # noqa: E402
from console_app.ui.main_window import MainWindow  # noqa: E402
from device_runtime.config import load_config  # noqa: E402
from device_runtime.runtime import DeviceRuntime  # noqa: E402

WAIT_MS = 10_000


@pytest.fixture(autouse=True)
def _application(qapp):
    """Every UI test has the QApplication (models render icons, which need it)."""
    return qapp


@pytest.fixture
def console_context(tmp_path: Path, qapp):
    context = ConsoleContext.create(tmp_path / "console", interfaces=["127.0.0.1"])
    yield context
    context.close()


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "console-settings.ini"


def make_settings(path: Path) -> QSettings:
    return QSettings(str(path), QSettings.Format.IniFormat)


def flush_deletes() -> None:
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()


@pytest.fixture
def window(qtbot, console_context, settings_path):
    """A shown MainWindow; at the end it is closed and must leave no top-level widget behind."""
    flush_deletes()
    before = set(QApplication.topLevelWidgets())
    win = MainWindow(console_context, make_settings(settings_path))
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    win.deleteLater()
    del win
    flush_deletes()
    leaked = [f"{type(w).__name__}({w.objectName() or w.windowTitle()})"
              for w in QApplication.topLevelWidgets() if w not in before]
    assert leaked == [], f"widgets left after closing the main window: {leaked}"


@pytest.fixture
def start_device(tmp_path: Path):
    """``start_device(port=0, data_dir=None)``: a real DeviceRuntime on 127.0.0.1, stopped at the end."""
    started: list[DeviceRuntime] = []

    def start(port: int = 0, data_dir: Path | None = None, name: str | None = None) -> DeviceRuntime:
        config = load_config(None, name=name or f"k-ui-{secrets.token_hex(4)}",
                             data_dir=data_dir or tmp_path / f"device-{len(started)}",
                             listen=f"127.0.0.1:{port}", interfaces=["127.0.0.1"])
        runtime = DeviceRuntime(config).start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop(grace=0.2)


@pytest.fixture
def demo_site(tmp_path: Path):
    """The real demo site (device and the two cameras), for its guide."""
    from console_app.demo_site import DemoSite

    with DemoSite(tmp_path / "site") as site:
        yield site

"""The Settings page edits the Cloud and Python packages sections of the real settings file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from console_app.core.settings import load_settings
from console_app.ui.tasks import TaskRunner
from console_app.ui.views.settings_page import SettingsPage

WAIT_MS = 10_000


@pytest.fixture
def page(qtbot, console_context, tmp_path: Path) -> SettingsPage:
    console_context.settings_path = tmp_path / "console.json"
    console_context.settings_path.write_text(json.dumps({
        "database_url": "sqlite:////srv/site.db", "cloud": {"region": "eu-west-1"},
        "python_packages": {"index_url": "http://pypi.plant.local/simple"}}))
    shown = SettingsPage(console_context, TaskRunner(console_context.workers))
    qtbot.addWidget(shown)
    shown.show()
    qtbot.waitUntil(lambda: shown.index_url_edit.text() != "", timeout=WAIT_MS)
    return shown


def test_the_page_shows_what_the_file_holds_and_saves_both_sections_keeping_the_rest(qtbot, page, tmp_path):
    assert (page.region_edit.text(), page.index_url_edit.text()) == ("eu-west-1", "http://pypi.plant.local/simple")
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    page.wheelhouse_edit.setText(str(wheelhouse))
    page.region_edit.setText("us-east-1")

    page.wheelhouse_edit.setFocus()
    qtbot.keyClick(page.wheelhouse_edit, Qt.Key.Key_Return)  # Enter saves, as the button does

    qtbot.waitUntil(lambda: page.status.text().startswith("Saved"), timeout=WAIT_MS)
    assert f"wheelhouse {wheelhouse} and index http://pypi.plant.local/simple" in page.status.text()
    saved = load_settings(tmp_path / "console.json")
    assert (saved.database_url, saved.cloud.region) == ("sqlite:////srv/site.db", "us-east-1")
    assert (saved.python_packages.wheelhouse, saved.python_packages.index_url) == (
        str(wheelhouse), "http://pypi.plant.local/simple")


def test_an_index_that_is_not_a_url_is_refused_by_name_and_nothing_is_written(qtbot, page, tmp_path):
    before = (tmp_path / "console.json").read_text()
    page.index_url_edit.setText("pypi.plant.local")
    page.region_edit.setText("us-east-1")

    page.save_button.click()

    assert "index URL 'pypi.plant.local' is not an http(s) URL" in page.status.text()
    assert (tmp_path / "console.json").read_text() == before
    assert (page.index_url_edit.text(), page.region_edit.text()) == ("pypi.plant.local", "us-east-1"), "typing stays"


def test_a_wheelhouse_that_is_not_there_now_is_saved_with_a_warning(qtbot, page, tmp_path):
    usb = tmp_path / "media" / "usb" / "wheels"
    page.wheelhouse_edit.setText(str(usb))

    page.save_action.trigger()  # Ctrl+S

    qtbot.waitUntil(lambda: page.status.text().startswith("Saved"), timeout=WAIT_MS)
    assert f"The wheelhouse folder {usb} does not exist now." in page.status.text()
    assert load_settings(tmp_path / "console.json").python_packages.wheelhouse == str(usb)

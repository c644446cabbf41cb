"""The shell: navigation, keyboard access, remembered geometry, status bar, theme, self-test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication

from console_app.resources import ResourceMissing, icon_names, resource_path
from console_app.ui import theme
from console_app.ui.icons import icon
from console_app.ui.main_window import MainWindow
from console_app.ui.pages import PAGE_TITLES

from .conftest import flush_deletes, make_settings

REPO = Path(__file__).resolve().parents[3]


def test_navigation_lists_every_page_in_order_with_an_icon(window):
    titles = [window.nav.item(row).text() for row in range(window.nav.count())]
    assert titles == list(PAGE_TITLES)
    assert all(not window.nav.item(row).icon().isNull() for row in range(window.nav.count()))


def test_ctrl_number_switches_pages_and_arrow_keys_move_in_the_list(qtbot, window):
    window.activateWindow()
    for number, title in enumerate(PAGE_TITLES, start=1):
        qtbot.keyClick(window, str(number), Qt.KeyboardModifier.ControlModifier)
        assert window.current_page().title == title, f"Ctrl+{number}"
    window.nav.setFocus()
    qtbot.keyClick(window.nav, Qt.Key.Key_Home)
    qtbot.keyClick(window.nav, Qt.Key.Key_Down)
    assert window.current_page().title == "Cameras"


def test_pages_are_built_on_their_first_visit_and_page_by_title_builds_on_demand(window):
    from console_app.ui.pages import PAGES

    assert [p.title for p in window.built_pages()] == ["Devices"], "only the page shown (and the menu's) at start"
    assert window.stack.count() == len(PAGES)
    health = window.page("Health")
    assert health.title == "Health" and window.page("Health") is health
    assert window.stack.widget(window.page_row("Health")) is health
    assert window.current_page().title == "Devices", "building a page must not switch to it"
    window.show_page(window.page_row("Events"))
    assert window.current_page().title == "Events"
    assert [p.title for p in window.built_pages()] == ["Devices", "Health", "Events"]
    assert [(p.title, p.icon_name) for p in window.pages] == [(s.title, s.icon_name) for s in PAGES]
    try:
        window.page("Nope")
    except KeyError as exc:
        assert "no page titled 'Nope'" in str(exc)
    else:
        raise AssertionError("an unknown title must raise KeyError")


def test_keyboard_shortcuts_dialog_lists_the_page_shortcuts(qtbot, window):
    dialog = window.show_shortcuts()
    rows = dict(window.shortcut_rows())
    assert rows["Go › Devices"] == "Ctrl+1" and rows["Go › Settings"] == "Ctrl+8"
    assert rows["Devices › Pair…"] == "Ctrl+P"
    assert dialog.isVisible()
    dialog.close()


def test_menus_have_mnemonics(window):
    assert [a.text() for a in window.menuBar().actions()] == ["&File", "&Go", "&Devices", "&Help"]


def test_geometry_and_page_are_remembered_by_the_next_window(qtbot, console_context, settings_path):
    first = MainWindow(console_context, make_settings(settings_path))
    first.show()
    qtbot.waitExposed(first)
    first.setGeometry(QRect(40, 50, 720, 480))
    first.show_page(4)
    saved_size = (first.width(), first.height())
    assert saved_size[1] == 480  # not the default 1180×760: the restore below is real
    first.close()
    first.deleteLater()
    flush_deletes()

    second = MainWindow(console_context, make_settings(settings_path))
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == saved_size
    assert second.current_page().title == "Live"


def test_every_page_fits_a_1024_by_768_laptop_screen(window):
    from console_app.ui.pages import PAGE_TITLES

    too_big = {title: (hint.width(), hint.height()) for title in PAGE_TITLES
               if (hint := window.page(title).minimumSizeHint()).width() > 700 or hint.height() > 520}
    assert too_big == {}, "pages whose minimum size leaves no room for the navigation and title bar"
    assert window.minimumSizeHint().width() <= 800 and window.minimumSizeHint().height() <= 600


def test_status_bar_says_where_discovery_browses(window):
    assert window.discovery_label.text().startswith("Discovery: browsing on 127.0.0.1")
    assert window.connection_label.text() == "Connections: 0 of 0 paired reachable"


def test_dark_scheme_gives_a_dark_palette_and_light_icons(qtbot, window):
    app = QApplication.instance()
    try:
        theme.apply_theme(app, Qt.ColorScheme.Dark)
        assert theme.is_dark()
        window.refresh_icons()
        image = icon("devices").pixmap(24, 24).toImage()
        lightest = max(image.pixelColor(x, y).lightness() for x in range(24) for y in range(24)
                       if image.pixelColor(x, y).alpha() > 200)
        assert lightest > 180, "icons must be drawn light on the dark palette"
    finally:
        theme.apply_theme(app, Qt.ColorScheme.Light)
    assert not theme.is_dark()


def test_every_bundled_icon_renders():
    names = icon_names()
    assert {"devices", "cameras", "models", "applications", "live", "events", "settings"} <= set(names)
    for name in names:
        assert not icon(name).pixmap(24, 24).isNull(), name


def test_missing_resource_names_the_path():
    try:
        resource_path("icons", "no-such-icon.svg")
    except ResourceMissing as exc:
        assert "icons/no-such-icon.svg" in str(exc)
    else:
        raise AssertionError("a missing resource must raise ResourceMissing")


def run_self_test(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console_app", "--self-test", str(tmp_path / "self-test.png"),
         "--interfaces", "127.0.0.1", *extra],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def test_self_test_flag_migrates_a_scratch_inventory_saves_a_screenshot_and_exits_zero(tmp_path):
    result = run_self_test(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "inventory migrated to revision" in result.stdout
    assert "self-test passed: 19 icons, 7 pages" in result.stdout or "self-test passed" in result.stdout
    assert (tmp_path / "self-test.png").stat().st_size > 10_000


def test_self_test_names_what_failed_and_exits_non_zero(tmp_path):
    result = run_self_test(tmp_path, "--database", "nonsense://x")
    assert result.returncode == 1
    assert "self-test FAILED while preparing the inventory: 'nonsense://x' is not a database URL" in result.stderr
    assert not (tmp_path / "self-test.png").exists()


def test_no_page_can_widen_the_window_past_a_small_screen(qtbot, window):
    """A page that needs more room than there is scrolls inside the window; the window keeps its size."""
    from PySide6.QtWidgets import QLabel

    window.resize(1000, 700)
    health = window.page("Health")
    window.show_page(window.page_row("Health"))
    wide = QLabel("Inference on CPUExecutionProvider — ⚠ " + "no NVIDIA driver found; " * 40)  # never wraps
    health.layout().addWidget(wide)
    qtbot.waitUntil(lambda: window.page_area.horizontalScrollBar().maximum() > 0)
    assert window.width() == 1000
    assert window.minimumSizeHint().width() <= 800
    assert window.page_area.horizontalScrollBar().isVisible()
    # Other pages do not inherit the wide page's minimum.
    window.show_page(window.page_row("Devices"))
    qtbot.waitUntil(lambda: window.page_area.horizontalScrollBar().maximum() == 0)
    assert window.minimumSizeHint().width() <= 800


def test_window_overflow_names_a_window_wider_than_its_screen(qtbot, window):
    from console_app.ui.smoke_test import window_overflow

    screen = window.screen().availableGeometry()
    window.resize(min(screen.width(), 700), min(screen.height(), 500))
    assert window_overflow(window) == ""
    window.setMinimumWidth(screen.width() + 100)
    assert window_overflow(window).startswith(f"the main window is {screen.width() + 100}x")
    assert f"its minimum size is {screen.width() + 100}x" in window_overflow(window)


def test_a_page_fills_the_window_without_scrolling_when_it_fits(qtbot, window):
    window.resize(1024, 740)
    for title in ("Health", "Events", "Live", "Devices"):
        window.show_page(window.page_row(title))
        qtbot.waitUntil(lambda: window.stack.size() == window.page_area.viewport().size())
        assert window.page_area.verticalScrollBar().maximum() == 0, title


def test_the_window_opens_no_larger_than_its_screen(qtbot, console_context, settings_path):
    from console_app.ui.main_window import MainWindow

    window = MainWindow(console_context, make_settings(settings_path))
    qtbot.addWidget(window)
    screen = window.screen().availableGeometry()
    assert window.width() <= screen.width() and window.height() <= screen.height()


def test_a_long_database_path_on_settings_is_elided_not_a_reason_to_scroll(qtbot, window):
    from console_app.ui.widgets.elided_label import ElidedLabel

    long_url = "sqlite:////tmp/sightline-demo-h3ys3mg3/console/" + "deeper/" * 20 + "inventory.sqlite (demo site)"
    window.context.database_display = long_url
    window.resize(1000, 700)
    window.show_page(window.page_row("Settings"))
    page = window.page("Settings")
    [label] = [w for w in page.findChildren(ElidedLabel) if w.text() == long_url]
    qtbot.waitUntil(lambda: window.stack.size() == window.page_area.viewport().size())
    assert window.page_area.horizontalScrollBar().maximum() == 0
    assert label.elided and label.toolTip() == long_url

"""``sightline-console --self-test OUT.png``: prove an installation can start.

Opens the main window offscreen with a throwaway data folder and settings,
renders every bundled icon, visits every page, saves a screenshot and
returns 0; on any failure prints what failed and returns 1. The installer
runs it after installing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import traceback
from pathlib import Path

SELF_TEST_SETTINGS = "self-test.ini"


def run_self_test(out: Path, interfaces: list[str] | None = None, database_url: str | None = None) -> int:
    """Returns the process exit status; prints one line per step."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from console_app.core.persistence import InventoryError
    from console_app.resources import ResourceMissing, icon_names, resource_path
    from console_app.ui import theme
    from console_app.ui.context import ConsoleContext
    from console_app.ui.icons import icon
    from console_app.ui.main_window import MainWindow

    step = "starting Qt"
    scratch = Path(tempfile.mkdtemp(prefix="sightline-self-test-"))
    context = window = None
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        theme.apply_theme(app)
        step = "loading icons"
        names = icon_names()
        if not names:
            raise RuntimeError(f"no icons in {resource_path('icons')}")
        for name in names:
            if icon(name).pixmap(24, 24).isNull():
                raise RuntimeError(f"icon {name}.svg rendered empty")
        step = "preparing the inventory"
        database_url = _prepare_database(database_url, scratch)
        step = "starting the console services"
        context = ConsoleContext.create(scratch / "data", interfaces, database_url)
        step = "opening the main window"
        settings = QSettings(str(scratch / SELF_TEST_SETTINGS), QSettings.Format.IniFormat)
        window = MainWindow(context, settings)
        window.resize(1180, 760)
        window.show()
        for row, page in enumerate(window.pages):
            step = f"visiting the {page.title} page"
            window.show_page(row)
            app.processEvents()
            if window.current_page() is not page:
                raise RuntimeError(f"the {page.title} page did not come up")
        window.show_page(0)
        app.processEvents()
        step = f"saving the screenshot to {out}"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            raise RuntimeError(f"could not write {out}")
        print(f"self-test passed: {len(names)} icons, {len(window.pages)} pages, screenshot {out}")
        return 0
    except Exception as exc:
        print(f"self-test FAILED while {step}: {exc}", file=sys.stderr)
        if not isinstance(exc, (InventoryError, ResourceMissing)):  # those messages say it all
            traceback.print_exc(file=sys.stderr)
        return 1
    finally:
        if window is not None:
            window.close()
            window.deleteLater()
        if context is not None:
            context.close()
        app.processEvents()
        shutil.rmtree(scratch, ignore_errors=True)


def _prepare_database(database_url: str | None, scratch: Path) -> str | None:
    """Apply the inventory's migrations to a temporary SQLite database (or the given URL)."""
    from console_app.core.persistence import migrate

    url = database_url or f"sqlite:///{scratch / 'inventory.sqlite'}"
    revision = migrate(url)
    print(f"self-test: inventory migrated to revision {revision}")
    return url

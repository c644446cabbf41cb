"""``sightline-console`` (``python -m console_app``): the desktop console.

Flags:
  --database URL       inventory database (any SQLAlchemy URL; default: SQLite in the user data folder)
  --interfaces LIST    comma-separated IPv4 addresses to discover devices and cameras on (default: all)
  --data-dir DIR       where pairings and local state live (default: the user data folder)
  --self-test OUT.png  open the window offscreen, load every icon, visit every page, save a
                       screenshot, exit 0; non-zero with a message naming what failed
  --demo               open on an embedded demo site (a device and two simulated cameras on
                       127.0.0.1); its own data folder and inventory, the real ones are untouched
  --smoke-test OUT.png with --demo: walk discovery, pairing, registration, deploy and the live
                       wall headless, save a screenshot, exit 0; non-zero naming the failed step
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console_app.core.persistence import InventoryStore


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sightline-console", description="Sightline desktop console.")
    p.add_argument("--database", metavar="URL", help="inventory database URL (SQLAlchemy syntax)")
    p.add_argument("--interfaces", metavar="LIST",
                   help="comma-separated local IPv4 addresses to browse on, e.g. 127.0.0.1")
    p.add_argument("--data-dir", type=Path, metavar="DIR", help="folder for pairings and local state")
    p.add_argument("--self-test", type=Path, metavar="OUT.png",
                   help="start offscreen, visit every page, save a screenshot, exit")
    p.add_argument("--demo", action="store_true",
                   help="run on an embedded demo site on 127.0.0.1 (no hardware needed)")
    p.add_argument("--smoke-test", type=Path, metavar="OUT.png",
                   help="with --demo: walk the whole demo path offscreen, save a screenshot, exit")
    p.add_argument("--verbose", action="store_true", help="log debug messages")
    return p


def parse_interfaces(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()] or None


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("sightline")) / "console"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.smoke_test is not None and not args.demo:
        parser.error("--smoke-test needs --demo")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.self_test is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from console_app.ui.self_test import run_self_test

        return run_self_test(args.self_test, interfaces=parse_interfaces(args.interfaces) or ["127.0.0.1"],
                             database_url=args.database)
    if args.demo:
        return run_demo(args)

    from PySide6.QtWidgets import QApplication

    from console_app.ui import theme
    from console_app.ui.context import ConsoleContext
    from console_app.ui.main_window import SETTINGS_APP, SETTINGS_ORG, MainWindow

    app = QApplication(sys.argv[:1])
    app.setOrganizationName(SETTINGS_ORG)
    app.setApplicationName(SETTINGS_APP)
    theme.apply_theme(app)
    data_dir = args.data_dir or default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    inventory, database_display, inventory_error = open_inventory(args.database)
    context = ConsoleContext.create(data_dir, parse_interfaces(args.interfaces), args.database,
                                    inventory=inventory, database_display=database_display)
    context.open_libraries()
    try:
        window = MainWindow(context)
        window.show()
        if inventory_error:
            window.tasks.show_error("Opening the inventory", inventory_error)
        return app.exec()
    finally:
        context.close()


def open_inventory(flag: str | None) -> tuple[InventoryStore | None, str, str | None]:
    """Open (and migrate) the inventory: (the InventoryStore or None, how to show it, the error or None).

    Runs before the window exists, at start, so waiting here blocks no event
    loop. A bad URL or a database that is down is reported in the window and
    the rest of the console (devices, discovery, preview) still works.
    """
    from console_app.core.persistence import InventoryError, InventoryStore
    from console_app.core.persistence.database import redacted
    from console_app.core.settings import resolve_database_url

    try:
        resolved = resolve_database_url(flag)
        inventory = InventoryStore(resolved.url, create_sqlite_folder=resolved.source == "default")
        return inventory, f"{redacted(resolved.url)} (from {resolved.source})", None
    except (InventoryError, ValueError) as exc:
        return None, f"unavailable: {exc}", str(exc)


def run_demo(args: argparse.Namespace) -> int:
    """``--demo`` (and ``--smoke-test``): the console on an embedded demo site; ``--data-dir`` keeps its files."""
    if args.database or args.interfaces:
        print("sightline-console: --demo uses its own inventory on 127.0.0.1; ignoring --database/--interfaces",
              file=sys.stderr)
    if args.smoke_test is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from console_app.ui.smoke_test import run_smoke_test

        return run_smoke_test(args.smoke_test, data_dir=args.data_dir)
    from console_app.demo import run_console_demo

    return run_console_demo(args.data_dir)


if __name__ == "__main__":
    sys.exit(main())

"""The pages of the main window, in navigation order (Ctrl+1..8), and how to build one.

The window lists every page from :data:`PAGES` at start but builds a page
(importing its module) only when it is first needed: several pages pull in
heavy libraries (onvif/zeep and OpenCV for Cameras, pyqtgraph for Health,
the app library's pydantic and SQLAlchemy for Applications), and paying for
all of them before the window shows made start-up slow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from console_app.ui.context import ConsoleContext
from console_app.ui.tasks import TaskRunner


@dataclass(frozen=True)
class PageSpec:
    """What the navigation needs to list a page without building it, and how to get its class."""

    title: str
    icon_name: str
    load: Callable[[], type[QWidget]]  # imports the page's module; the first call pays for it


# One plain import statement per page, inside a function: imported on first use, and
# still visible to PyInstaller's import scan (an importlib call by name would not be).
def _devices() -> type[QWidget]:
    from console_app.ui.views.devices_page import DevicesPage
    return DevicesPage


def _cameras() -> type[QWidget]:
    from console_app.ui.views.cameras_page import CamerasPage
    return CamerasPage


def _models() -> type[QWidget]:
    from console_app.ui.views.models_page import ModelsPage
    return ModelsPage


def _applications() -> type[QWidget]:
    from console_app.ui.views.applications_page import ApplicationsPage
    return ApplicationsPage


def _live() -> type[QWidget]:
    from console_app.ui.views.live_page import LivePage
    return LivePage


def _health() -> type[QWidget]:
    from console_app.ui.views.health_page import HealthPage
    return HealthPage


def _events() -> type[QWidget]:
    from console_app.ui.views.events_page import EventsPage
    return EventsPage


def _settings() -> type[QWidget]:
    from console_app.ui.views.settings_page import SettingsPage
    return SettingsPage


PAGES = (
    PageSpec("Devices", "devices", _devices),
    PageSpec("Cameras", "cameras", _cameras),
    PageSpec("Models", "models", _models),
    PageSpec("Applications", "applications", _applications),
    PageSpec("Live", "live", _live),
    PageSpec("Health", "health", _health),
    PageSpec("Events", "events", _events),
    PageSpec("Settings", "settings", _settings),
)
PAGE_TITLES = tuple(spec.title for spec in PAGES)


def build_page(spec: PageSpec, context: ConsoleContext, tasks: TaskRunner, parent: QWidget) -> QWidget:
    """One instance of the page ``spec`` names; its ``title`` and ``icon_name`` must match the spec."""
    cls = spec.load()
    page = cls(context, tasks, parent)
    if (page.title, page.icon_name) != (spec.title, spec.icon_name):
        raise RuntimeError(f"{cls.__module__}.{cls.__qualname__} is titled {page.title!r} with icon "
                           f"{page.icon_name!r}; console_app/ui/pages.py lists {spec.title!r}, {spec.icon_name!r}")
    return page

"""The pages of the main window, in navigation order (Ctrl+1..8)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from console_app.ui.context import ConsoleContext
from console_app.ui.tasks import TaskRunner

PAGE_TITLES = ("Devices", "Cameras", "Models", "Applications", "Live", "Health", "Events", "Settings")


def build_pages(context: ConsoleContext, tasks: TaskRunner, parent: QWidget) -> list[QWidget]:
    """One instance of each page; every page has ``title`` and ``icon_name``."""
    from console_app.ui.views.applications_page import ApplicationsPage
    from console_app.ui.views.cameras_page import CamerasPage
    from console_app.ui.views.devices_page import DevicesPage
    from console_app.ui.views.events_page import EventsPage
    from console_app.ui.views.health_page import HealthPage
    from console_app.ui.views.live_page import LivePage
    from console_app.ui.views.models_page import ModelsPage
    from console_app.ui.views.settings_page import SettingsPage

    pages = [cls(context, tasks, parent) for cls in (
        DevicesPage, CamerasPage, ModelsPage, ApplicationsPage, LivePage, HealthPage, EventsPage, SettingsPage)]
    assert tuple(p.title for p in pages) == PAGE_TITLES
    return pages

"""The Applications page."""

from __future__ import annotations

from console_app.ui.views.device_pages import DeviceTablePage


class ApplicationsPage(DeviceTablePage):
    title, icon_name = "Applications", "applications"
    columns = ("Application", "Version", "State", "Cameras", "Model", "Installed versions", "Error")
    empty_text = "No applications installed on this device yet (sightline-ctl deploy installs one)."

    def fetch_rows(self, client) -> list[list[object]]:
        return [[a.name or a.app_id, a.version, a.state, ", ".join(a.camera_ids), a.model,
                 ", ".join(a.versions), a.error] for a in client.list_apps()]

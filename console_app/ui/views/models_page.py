"""The Models page."""

from __future__ import annotations

from console_app.ui.views.device_pages import DeviceTablePage, human_size


class ModelsPage(DeviceTablePage):
    title, icon_name = "Models", "models"
    columns = ("Model", "Decoder", "Size", "Labels", "Used by", "SHA-256")
    empty_text = "No models on this device yet (sightline-ctl upload-model adds one)."

    def fetch_rows(self, client) -> list[list[object]]:
        return [[m.name, m.decoder, human_size(m.size), ", ".join(m.labels[:8]) + ("…" if len(m.labels) > 8 else ""),
                 ", ".join(m.used_by), m.sha256[:16]] for m in client.list_models()]

"""Everything the windows share: the asyncio loop, the bridge, the task runner, the services.

Built once by ``console_app.__main__`` (or a test) and handed to
:class:`~console_app.ui.main_window.MainWindow`. Optional services (camera
discovery, registration, inventory) are ``None`` until they exist in this
installation; pages show what they can without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console_app.core.async_loop import AsyncLoop
from console_app.core.services.appliances import ApplianceService, FilePairingStore
from console_app.ui.bridge import Bridge


@dataclass
class ConsoleContext:
    """The console's long-lived parts. ``close()`` stops them in order."""

    loop: AsyncLoop
    bridge: Bridge
    appliances: ApplianceService
    interfaces: list[str] | None = None
    database_url: str | None = None
    data_dir: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    #: Camera WS-Discovery (console_app.core.services.camera_discovery.CameraDiscovery).
    camera_discovery: Any = None
    #: The console's CredentialStore (keyring or encrypted file), when one is open.
    credentials: Any = None
    #: The model library (console_app.core.services.model_library.ModelLibrary).
    model_library: Any = None
    #: The application library (console_app.core.services.app_library.AppLibrary).
    app_library: Any = None
    #: Ten minutes of health of every connected device (console_app.core.services.health_history.HealthHistory).
    health_history: Any = None
    #: Follows the paired devices' health into ``health_history`` from the moment they connect.
    health_watch: Any = None

    @classmethod
    def create(cls, data_dir: Path, interfaces: list[str] | None = None,
               database_url: str | None = None, start: bool = True,
               pairing_store: Any = None) -> ConsoleContext:
        """Start the loop and the appliance service (browsing ``interfaces``).

        ``pairing_store`` keeps paired devices: the inventory's when a database is
        open (``InventoryPairingStore``), else private files in ``data_dir``.
        """
        loop = AsyncLoop().start()
        bridge = Bridge()
        store = pairing_store or FilePairingStore(Path(data_dir) / "devices")
        appliances = ApplianceService(store, loop, interfaces=interfaces, on_change=bridge.on_devices_changed)
        context = cls(loop, bridge, appliances, interfaces, database_url, Path(data_dir))
        from console_app.core.services.camera_discovery import CameraDiscovery

        context.camera_discovery = CameraDiscovery(default_interfaces=interfaces)
        from console_app.core.services.health_history import HealthHistory, HealthWatch

        context.health_history = HealthHistory()
        context.health_watch = HealthWatch(context.health_history, appliances.connect)
        if start:
            appliances.start()
        return context

    def open_libraries(self, inventory: Any = None, editor: str | None = None) -> None:
        """Open the model and application libraries (kept in ``inventory`` when one is open,
        else as files in ``data_dir``) and tell the model library what uses a model: the
        library's own app versions, and what every paired device reports."""
        from console_app.core.services.app_library import AppLibrary, InventoryCameraCredentials
        from console_app.core.services.model_library import ModelLibrary, device_usage_lookup

        sessions = inventory.sessions if inventory is not None else None
        if self.model_library is None:
            self.model_library = ModelLibrary(self.data_dir, session_factory=sessions)
        if self.app_library is None:
            cameras = InventoryCameraCredentials(inventory.cameras) if inventory is not None else None
            self.app_library = AppLibrary(self.data_dir, session_factory=sessions, model_library=self.model_library,
                                          camera_credentials=cameras, editor=editor)
        in_apps, on_devices = self.app_library.models_in_use, device_usage_lookup(self.appliances)
        self.model_library.set_usage_lookup(lambda model: [*in_apps(model), *on_devices(model)])

    def close(self) -> None:
        """Stop following health, browsing and discovery, then the loop. Idempotent."""
        if self.health_watch is not None:
            self.health_watch.close()
        if self.camera_discovery is not None:
            self.camera_discovery.cancel_all()
        self.appliances.stop()
        self.loop.stop()

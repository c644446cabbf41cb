"""Everything the windows share: the worker pool, the bridge, the services, the inventory.

Built once, by :meth:`ConsoleContext.create` (called by ``console_app.__main__``,
the demo, the self-test or a test), and handed to
:class:`~console_app.ui.main_window.MainWindow`. Optional parts (the
inventory, the credential store, the libraries) are ``None`` until they exist
in this installation; pages show what they can without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from console_app.core.services.appliances import ApplianceService, FilePairingStore, PairingStore
from console_app.core.workers import WorkerPool
from console_app.ui.bridge import Bridge

if TYPE_CHECKING:  # imported lazily at run time: pages are built on first visit
    from console_app.core.credentials import CredentialStore
    from console_app.core.persistence import InventoryStore
    from console_app.core.services.app_library import AppLibrary
    from console_app.core.services.camera_discovery import CameraDiscovery
    from console_app.core.services.health_history import HealthHistory, HealthWatch
    from console_app.core.services.model_library import ModelLibrary


@dataclass
class ConsoleContext:
    """The console's long-lived parts. ``close()`` stops them in order."""

    workers: WorkerPool
    bridge: Bridge
    appliances: ApplianceService
    interfaces: list[str] | None = None
    database_url: str | None = None
    data_dir: Path | None = None
    #: The open inventory (cameras, devices, libraries), None when no database could be opened.
    inventory: InventoryStore | None = None
    #: How the inventory database is shown on the Settings page (password redacted), or why it is missing.
    database_display: str = ""
    #: The console settings file; None: the default one (console_app.core.settings.default_settings_path).
    settings_path: Path | None = None
    #: Camera WS-Discovery.
    camera_discovery: CameraDiscovery | None = None
    #: The console's credential store (keyring or encrypted file), when one is open.
    credentials: CredentialStore | None = None
    model_library: ModelLibrary | None = None
    app_library: AppLibrary | None = None
    #: Ten minutes of health of every connected device.
    health_history: HealthHistory | None = None
    #: Follows the paired devices' health into ``health_history`` from the moment they connect.
    health_watch: HealthWatch | None = None

    @classmethod
    def create(cls, data_dir: Path, interfaces: list[str] | None = None, database_url: str | None = None,
               start: bool = True, *, inventory: InventoryStore | None = None, database_display: str = "",
               credentials: CredentialStore | None = None, settings_path: Path | None = None) -> ConsoleContext:
        """Start the worker pool and the appliance service (browsing ``interfaces``).

        Paired devices are kept in ``inventory`` when one is open, else as
        private files in ``data_dir``; ``credentials`` default to the
        inventory's.
        """
        from console_app.core.services.camera_discovery import CameraDiscovery
        from console_app.core.services.health_history import HealthHistory, HealthWatch

        workers = WorkerPool().start()
        bridge = Bridge()
        store: PairingStore
        if inventory is not None:
            from console_app.core.services.inventory_pairings import InventoryPairingStore

            store = InventoryPairingStore(inventory.devices)
        else:
            store = FilePairingStore(Path(data_dir) / "devices")
        appliances = ApplianceService(store, workers, interfaces=interfaces, on_change=bridge.on_devices_changed)
        health_history = HealthHistory()
        context = cls(
            workers, bridge, appliances, interfaces, database_url, Path(data_dir),
            inventory=inventory, database_display=database_display, settings_path=settings_path,
            camera_discovery=CameraDiscovery(default_interfaces=interfaces),
            credentials=credentials if credentials is not None else (inventory.credentials if inventory else None),
            health_history=health_history, health_watch=HealthWatch(health_history, appliances.connect),
        )
        if start:
            appliances.start()
        return context

    def open_libraries(self, editor: str | None = None) -> None:
        """Open the model and application libraries (kept in the inventory when one is open,
        else as files in ``data_dir``) and tell the model library what uses a model: the
        library's own app versions, and what every paired device reports."""
        from console_app.core.services.app_library import AppLibrary, InventoryCameraCredentials
        from console_app.core.services.model_library import ModelLibrary, device_usage_lookup

        inventory = self.inventory
        sessions = inventory.sessions if inventory is not None else None
        if self.model_library is None:
            self.model_library = ModelLibrary(self.data_dir, session_factory=sessions)
        if self.app_library is None:
            cameras = InventoryCameraCredentials(inventory.cameras) if inventory is not None else None
            self.app_library = AppLibrary(self.data_dir, session_factory=sessions, model_library=self.model_library,
                                          camera_credentials=cameras, editor=editor,
                                          output_secret_store=self.credentials)
        in_apps, on_devices = self.app_library.models_in_use, device_usage_lookup(self.appliances)
        self.model_library.set_usage_lookup(lambda model: [*in_apps(model), *on_devices(model)])

    def close(self) -> None:
        """Stop following health, browsing and discovery, then the worker pool. Idempotent."""
        if self.health_watch is not None:
            self.health_watch.close()
        if self.camera_discovery is not None:
            self.camera_discovery.cancel_all()
        self.appliances.stop()
        self.workers.stop()

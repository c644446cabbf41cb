"""The console's inventory: SQLAlchemy 2 ORM, packaged Alembic migrations, optimistic concurrency.

Start with :class:`InventoryStore` (``InventoryStore.from_settings()`` in the console).
"""

from console_app.core.persistence.cameras import SecretInRecord
from console_app.core.persistence.database import migrate
from console_app.core.persistence.errors import (
    DatabaseUnavailable,
    DatabaseUrlError,
    DuplicateCamera,
    EditConflict,
    FingerprintChanged,
    InventoryError,
    MigrationError,
    NotFound,
)
from console_app.core.persistence.records import (
    CameraDraft,
    CameraRecord,
    DeviceRecord,
    ProfileRecord,
)
from console_app.core.persistence.store import InventoryStore

__all__ = [
    "CameraDraft",
    "CameraRecord",
    "DatabaseUnavailable",
    "DatabaseUrlError",
    "DeviceRecord",
    "DuplicateCamera",
    "EditConflict",
    "FingerprintChanged",
    "InventoryError",
    "InventoryStore",
    "MigrationError",
    "NotFound",
    "ProfileRecord",
    "SecretInRecord",
    "migrate",
]

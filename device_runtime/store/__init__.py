"""Storage on the device: uploads, installed app packages, desired state, models.

Everything here is plain files under one root, written so that a crash or a
power cut leaves the previous state or the new one, never a mix:

- :func:`receive_upload` streams an upload to disk, checking size and sha256;
- :class:`PackageStore` unpacks packages safely and keeps versions for rollback;
- :class:`DesiredState` remembers which apps run, at which version, with which params;
- :class:`ModelStore` keeps model files by content, found by name.

Errors are the classes in :mod:`device_runtime.store.errors`, each a subclass
of a :mod:`device_runtime.errors` root that carries its gRPC status.
"""

from __future__ import annotations

from device_runtime.store.archive import ExtractLimits
from device_runtime.store.models import ModelStore, StoredModel
from device_runtime.store.package_records import InstalledPackage
from device_runtime.store.packages import PackageStore
from device_runtime.store.state import AppDesired, DesiredState
from device_runtime.store.uploads import receive_upload

__all__ = [
    "AppDesired",
    "DesiredState",
    "ExtractLimits",
    "InstalledPackage",
    "ModelStore",
    "PackageStore",
    "StoredModel",
    "receive_upload",
]

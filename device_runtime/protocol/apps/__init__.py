"""The app contract both halves share: manifests, parameters, camera/model specs, geometry.

The device validates a package's ``app.json`` with these classes, and the console builds
and checks manifests with the very same ones, so a manifest the console accepts is one the
device accepts. Pure: pydantic and numpy, no threads, no I/O besides parsing.
"""

from __future__ import annotations

# Every kind's manifest is registered when the contract is imported, so both halves parse the
# same kinds whatever they imported first (the "panorama" kind's manifest lives beside its formats).
import device_runtime.protocol.panorama.manifest  # noqa: E402, F401

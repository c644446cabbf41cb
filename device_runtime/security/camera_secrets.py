"""Camera passwords out of installed manifests and into the secret store, and back into URLs at open time.

A package from a current console carries camera URLs without passwords; the
passwords come beside it in ``UploadHeader.secrets`` as
``camera/<camera id>/password``. A package from an older console, and every
version installed before this runtime, has ``user:password@`` in its
``app.json``: :func:`take_camera_passwords` rewrites that file without them and
returns them for the secret store. :func:`with_camera_passwords` gives the
runner a manifest whose URLs carry the passwords again, in memory only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from device_runtime.media.redact import split_url_password, url_with_password
from device_runtime.protocol.apps.specs import camera_password_secret
from device_runtime.security.identity import write_atomically


def take_camera_passwords(manifest_path: Path) -> dict[str, str]:
    """Remove the camera passwords from ``manifest_path`` (an app.json); return them by secret name.

    The file is rewritten (atomically) only when it held a password; anything
    that is not a readable manifest with a camera list is left alone (the
    parser reports it later).
    """
    try:
        data = json.loads(manifest_path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return {}
    cameras = data.get("cameras") if isinstance(data, dict) else None
    if not isinstance(cameras, list):
        return {}
    taken: dict[str, str] = {}
    for camera in cameras:
        if not isinstance(camera, dict) or not isinstance(camera.get("url"), str):
            continue
        if not isinstance(camera.get("id"), str):
            continue
        stripped, password = split_url_password(camera["url"])
        if password is not None:
            camera["url"] = stripped
            taken[camera_password_secret(camera["id"])] = password
    if taken:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        write_atomically(manifest_path, text.encode("utf-8"), mode=0o644)
    return taken


def with_camera_passwords(manifest: Any, secrets: Any) -> Any:
    """A copy of ``manifest`` whose camera URLs carry their stored passwords (for opening streams only)."""
    cameras = []
    changed = False
    for camera in manifest.cameras:
        password = secrets.get(camera_password_secret(camera.id))
        url = url_with_password(camera.url, password)
        changed = changed or url != camera.url
        cameras.append(camera.model_copy(update={"url": url}) if url != camera.url else camera)
    return manifest.model_copy(update={"cameras": cameras}) if changed else manifest

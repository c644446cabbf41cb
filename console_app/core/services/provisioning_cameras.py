"""Cameras bound in a provisioning bundle: the console writes them into the bundle's apps.

An app names its cameras by id (``cameras[].id`` in its app.json). Binding a
registered camera to an id makes every app in the bundle that names that id
use the camera's stream: :func:`bind_package` rewrites the app's app.json
(URL with the user name only, the inventory's display name) and the camera's
password travels as the named secret ``camera/<id>/password`` in the bundle's
encrypted secrets, which the device keeps in its secret store and puts into
the URL only when it opens the stream, exactly as for a deploy. The rewritten
package is signed by the console like any other; the device needs nothing
that a deploy does not already do.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from console_app.core.packaging import MANIFEST_FILE, PackageBuildError, build_package_from_members
from console_app.core.services.app_builder_types import slug
from device_runtime.media.redact import split_credentials, split_url_password, with_credentials
from device_runtime.protocol.apps.specs import CAMERA_ID_PATTERN, camera_password_secret


class CameraBindingError(ValueError):
    """A binding or an app package cannot be used; the message names which."""


@dataclass(frozen=True)
class CameraToBind:
    """A registered camera, bound to the camera id apps use for it."""

    id: str
    url: str
    name: str = ""
    username: str = ""
    password: str = field(default="", repr=False)

    def app_url(self) -> str:
        """The URL apps get: the user name only; the password is a secret."""
        bare = split_url_password(split_credentials(self.url)[0])[0]  # ?pwd= stays, empty: where it goes back
        return with_credentials(bare, self.username or None, None)

    @property
    def secret_name(self) -> str:
        return camera_password_secret(self.id)


def check_bindings(cameras: Sequence[CameraToBind]) -> None:
    """Ids valid and unique (URLs lose any password in :meth:`CameraToBind.app_url`). Raises :class:`CameraBindingError`."""
    seen: set[str] = set()
    for camera in cameras:
        if not CAMERA_ID_PATTERN.match(camera.id):
            raise CameraBindingError(f"camera id {camera.id!r} for {camera.name or camera.url}: use 1-63 letters, "
                                     "digits, '_' or '-', starting with a letter or digit")
        if camera.id in seen:
            raise CameraBindingError(f"camera id {camera.id!r} is bound twice; each id names one camera")
        seen.add(camera.id)


def bind_package(package: Path, cameras: Sequence[CameraToBind], scratch: Path) -> tuple[Path, list[str]]:
    """The package with the bound cameras' URLs in its app.json, and the ids it uses.

    A package that names none of the ids comes back as it is (same file).
    Otherwise the rewritten package is written under ``scratch``.
    """
    by_id = {c.id: c for c in cameras}
    folder = Path(tempfile.mkdtemp(prefix="unpacked-", dir=scratch))
    try:
        with tarfile.open(package, "r:gz") as tar:
            member = tar.getmember(MANIFEST_FILE)
            manifest = json.loads(tar.extractfile(member).read().decode("utf-8-sig"))  # type: ignore[union-attr]
            cameras_in_app = manifest.get("cameras") if isinstance(manifest, dict) else None
            used = [c["id"] for c in cameras_in_app or [] if isinstance(c, dict) and c.get("id") in by_id]
            if not used:
                return Path(package), []
            tar.extractall(folder, filter="data")  # no absolute paths, no '..', no links out
    except KeyError:
        raise CameraBindingError(f"{package.name}: not an app package (no {MANIFEST_FILE} at its root)") from None
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise CameraBindingError(f"{package.name}: not a readable app package ({exc})") from None
    for camera in cameras_in_app:
        bound = by_id.get(camera.get("id")) if isinstance(camera, dict) else None
        if bound is not None:
            camera["url"] = bound.app_url()
            if bound.name:
                camera["name"] = bound.name
    files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
             if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST_FILE}
    try:
        data = build_package_from_members(manifest, files)
    except PackageBuildError as exc:
        raise CameraBindingError(f"{package.name}: {exc}") from None
    out = folder.with_name(folder.name + "-" + Path(package).name)  # beside the folder, not in the package
    out.write_bytes(data)
    return out, used


def default_camera_id(name: str) -> str:
    """The id a camera is bound as unless the engineer types another: its name, as the app builder names it."""
    return slug(name, CAMERA_ID_PATTERN, lower=False) or "camera"


def registered_camera(cameras, camera_id: int, bind_as: str = "") -> CameraToBind:
    """A camera of the inventory (``CameraRepository``) as a binding; the password comes from the credential store."""
    record = cameras.get_camera(camera_id)
    return CameraToBind(bind_as or default_camera_id(record.name), record.stream_uri, record.name,
                        record.username or "", cameras.camera_password(camera_id) or "")

"""Site export/import: the inventory as one file, so a laptop is prepared in the office and used on site.

``NAME.sightline-site.zip`` holds ``site.json`` (format ``sightline.site/v1``):
devices (id, name, address, pinned certificate), cameras (as registered, URLs
without credentials), the model library's entries and the app library's
versions; ``models/<sha256>.onnx`` (the model files, unless left out); and,
only when a passphrase is given, ``secrets.enc``: camera passwords and the
devices' pairing credentials (client key and certificate), encrypted with
scrypt + AES-GCM (``device_runtime.protocol.provisioning.secrets_box``).
Without a passphrase no secret leaves the workstation: cameras arrive without
passwords and devices unpaired.

Import skips what is already there (a camera registered twice, an app version
that exists, a model with the same SHA-256), so importing twice is harmless,
and says what it did.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets as secrets_module
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from console_app.core.persistence.errors import DuplicateCamera
from console_app.core.persistence.records import CameraDraft, ProfileRecord
from device_runtime.protocol.provisioning.secrets_box import (
    SecretsError,
    open_secrets,
    seal_with_passphrase,
)

FORMAT = "sightline.site/v1"
SITE_SUFFIX = ".sightline-site.zip"
SITE_JSON = "site.json"
SECRETS = "secrets.enc"
MAX_SITE_JSON_BYTES = 32 * 1024 * 1024


class SiteTransferError(Exception):
    """The site file cannot be written or read; the message says why (and nothing was imported)."""


@dataclass
class SiteSummary:
    """What an export wrote or an import did, in words for the engineer."""

    devices: int = 0
    cameras: int = 0
    models: int = 0
    app_versions: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Import: every device in the file as (device id, name, host, port, paired here now).
    device_list: list[tuple[str, str, str, int, bool]] = field(default_factory=list)


_CAMERA_FIELDS = [f.name for f in fields(CameraDraft) if f.name != "profiles"]


def _camera_doc(record: Any) -> dict:
    doc = {name: getattr(record, name) for name in _CAMERA_FIELDS}
    doc["profiles"] = [asdict(p) for p in record.profiles]
    return doc


def export_site(path: Path, inventory: Any, *, model_library: Any = None, app_library: Any = None,
                passphrase: str = "", include_models: bool = True, exported_by: str = "") -> SiteSummary:
    """Write the site file. ``inventory``: an ``InventoryStore``. Raises :class:`SiteTransferError`."""
    summary = SiteSummary()
    secrets: dict[str, str] = {}
    devices = []
    for record in inventory.devices.list_devices():
        devices.append({"device_id": record.device_id, "name": record.name, "host": record.host,
                        "port": record.port, "pinned_fingerprint": record.pinned_fingerprint or "",
                        "device_cert_pem": record.device_cert_pem or "", "paired": record.paired})
        if passphrase and record.paired:
            creds = inventory.devices.paired_credentials(record.device_id)
            if creds is not None:
                secrets[f"device:{record.device_id}"] = json.dumps(
                    {"client_key_pem": creds.client_key_pem, "client_cert_pem": creds.client_cert_pem})
    cameras = []
    for i, record in enumerate(inventory.cameras.list_cameras()):
        doc = _camera_doc(record)
        doc["export_key"] = f"camera:{i}"
        if passphrase:
            password = inventory.cameras.camera_password(record.id)
            if password:
                secrets[doc["export_key"]] = password
        cameras.append(doc)
    models, model_files = [], []
    for model in (model_library.list() if model_library is not None else []):
        models.append({"id": model.id, "name": model.name, "sha256": model.sha256, "size": model.size,
                       "decoder": model.decoder, "labels": list(model.labels), "source": model.source})
        if include_models:
            model_files.append((f"models/{model.sha256}.onnx", model.path))
    apps = []
    for app in (app_library.list() if app_library is not None else []):
        for version in app_library.versions(app.app_id):
            apps.append({"app_id": version.app_id, "version": version.version, "manifest": version.manifest,
                         "model_id": version.model_id, "created_at": version.created_at.isoformat(),
                         "created_by": version.created_by, "note": version.note})
    doc = {"format": FORMAT, "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "exported_by": exported_by, "site_id": secrets_module.token_hex(8),
           "devices": devices, "cameras": cameras, "models": models, "apps": apps,
           "models_included": include_models, "secrets": bool(secrets)}
    tmp = path.with_name(path.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(SITE_JSON, json.dumps(doc, indent=2))
            if secrets:
                archive.writestr(SECRETS, seal_with_passphrase(secrets, passphrase, doc["site_id"]))
            for name, source in model_files:
                archive.write(source, name, compress_type=zipfile.ZIP_STORED)
        tmp.replace(path)
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise SiteTransferError(f"could not write {path}: {exc}") from exc
    summary.devices, summary.cameras = len(devices), len(cameras)
    summary.models, summary.app_versions = len(models), len(apps)
    if not passphrase:
        summary.notes.append("no passphrase: camera passwords and pairings were left out")
    return summary


def _read(path: Path, passphrase: str) -> tuple[dict, dict[str, str], zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise SiteTransferError(f"{path} is not a Sightline site file: {exc}") from None
    try:
        info = archive.getinfo(SITE_JSON)
        if info.file_size > MAX_SITE_JSON_BYTES:
            raise SiteTransferError(f"{SITE_JSON} is larger than {MAX_SITE_JSON_BYTES} bytes")
        doc = json.loads(archive.read(SITE_JSON))
    except KeyError:
        archive.close()
        raise SiteTransferError(f"{path} has no {SITE_JSON}; is it a Sightline site file?") from None
    except ValueError as exc:
        archive.close()
        raise SiteTransferError(f"{SITE_JSON} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        archive.close()
        raise SiteTransferError(f"{path} is not a {FORMAT} file")
    secrets: dict[str, str] = {}
    if doc.get("secrets"):
        if passphrase:
            try:
                secrets = open_secrets(archive.read(SECRETS), doc["site_id"], passphrase=passphrase)
            except (KeyError, SecretsError) as exc:
                archive.close()
                raise SiteTransferError(f"{exc}; nothing was imported") from None
    return doc, secrets, archive


def import_site(path: Path, inventory: Any, *, model_library: Any = None, app_library: Any = None,
                passphrase: str = "") -> SiteSummary:
    """Add the site's devices, cameras, models and app versions to this workstation's inventory."""
    from console_app.core.gateways.device_client import PairedCredentials

    doc, secrets, archive = _read(Path(path), passphrase)
    summary = SiteSummary()
    if doc.get("secrets") and not passphrase:
        summary.notes.append("the file has passwords and pairings under a passphrase; none was given, so "
                             "cameras come without passwords and devices unpaired")
    with archive:
        for device in doc.get("devices", []):
            known = inventory.devices.find_device(device["device_id"])
            record = inventory.devices.record_seen(device["device_id"], device["name"], device["host"],
                                                   int(device["port"]))
            pairing = secrets.get(f"device:{device['device_id']}")
            if pairing and device.get("device_cert_pem") and not record.paired:
                keys = json.loads(pairing)
                record = inventory.devices.mark_paired(PairedCredentials(
                    device["device_id"], device["device_cert_pem"], keys["client_key_pem"], keys["client_cert_pem"]))
            summary.device_list.append((record.device_id, record.name, record.host, record.port, record.paired))
            if known is None:
                summary.devices += 1
            else:
                summary.skipped.append(f"device {device['name']} (already known)")
        for camera in doc.get("cameras", []):
            values = {k: camera.get(k) for k in _CAMERA_FIELDS if k in camera}
            values["profiles"] = tuple(ProfileRecord(**p) for p in camera.get("profiles", []))
            try:
                inventory.cameras.add_camera(CameraDraft(**values), secrets.get(camera.get("export_key", "")))
                summary.cameras += 1
            except DuplicateCamera:
                summary.skipped.append(f"camera {camera['name']} (already registered)")
        model_ids = _import_models(doc, archive, model_library, summary)
        if app_library is not None:
            from console_app.core.services.app_library import AppVersion

            for item in doc.get("apps", []):
                version = AppVersion(item["app_id"], item["version"], item["manifest"],
                                     model_ids.get(item["model_id"], item["model_id"]),
                                     dt.datetime.fromisoformat(item["created_at"]), item.get("created_by", ""),
                                     item.get("note", ""))
                if app_library.import_version(version):
                    summary.app_versions += 1
                else:
                    summary.skipped.append(f"app {item['app_id']} {item['version']} (already there)")
    return summary


def _import_models(doc: dict, archive: zipfile.ZipFile, library: Any, summary: SiteSummary) -> dict[str, str]:
    """Import the model files; returns old model id → id in this library (for the app versions)."""
    ids: dict[str, str] = {}
    if library is None:
        return ids
    have = {m.sha256: m for m in library.list()}
    names = set(archive.namelist())
    with tempfile.TemporaryDirectory() as scratch:
        for model in doc.get("models", []):
            sha = model["sha256"]
            if sha in have:
                ids[model["id"]] = have[sha].id
                summary.skipped.append(f"model {model['name']} (already in the library)")
                continue
            member = f"models/{sha}.onnx"
            if member not in names:
                summary.notes.append(f"model {model['name']} ({sha[:12]}) was not included; import it separately")
                continue
            target = Path(scratch) / f"{model['name']}.onnx"
            with archive.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            imported = library.import_file(target, name=model["name"], labels=model.get("labels") or None,
                                           decoder=model.get("decoder") or None)
            if imported.sha256 != sha:
                raise SiteTransferError(f"model {model['name']} in the site file is damaged (SHA-256 differs)")
            ids[model["id"]] = imported.id
            have[sha] = imported
            summary.models += 1
    return ids

"""Reading a provisioning bundle safely: size cap, copy first, safe names, signature, digests.

Nothing is applied from a bundle until every check here has passed: the
bundle is first copied off the stick into the device's staging folder (so a
stick pulled out mid-read fails here, before anything changed), then opened
as a zip whose member names are checked against a fixed set (no paths that
escape, no links, nothing unlisted), the manifest's signature is verified, and
each file is extracted and hashed against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from device_runtime.errors import DataLoss, InvalidArgument, PermissionDenied, ResourceExhausted
from device_runtime.protocol.apps.validation import describe_validation_error
from device_runtime.protocol.provisioning.manifest import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    MAX_MEMBERS,
    SAFE_MEMBER,
    SECRETS_NAME,
    SIGNATURE_NAME,
    ProvisionManifest,
    signed_message,
)

_COPY_CHUNK = 1024 * 1024


class BundleError(InvalidArgument):
    """The bundle is malformed; the message names the problem."""


class BundleTooLarge(ResourceExhausted):
    """The bundle is larger than the device accepts."""


class BundleUnreadable(DataLoss):
    """The bundle could not be read to the end (stick removed, I/O error)."""


class BundleSignatureError(PermissionDenied):
    """The manifest's signature does not verify, or its key is not one the device trusts."""


@dataclass
class VerifiedBundle:
    """A bundle whose signature and digests checked out, extracted into ``folder``."""

    manifest: ProvisionManifest
    signing_key: bytes
    folder: Path
    manifest_sha256: str
    secrets_blob: bytes | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def path(self, member: str) -> Path:
        return self.files[member]


def _copy_capped(source: Path, target: Path, max_bytes: int) -> None:
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise BundleUnreadable(f"cannot read the bundle {source}: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise BundleTooLarge(f"the bundle is {size} bytes; this device accepts at most {max_bytes}")
    copied = 0
    try:
        with open(source, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(_COPY_CHUNK):
                copied += len(chunk)
                if copied > max_bytes:
                    raise BundleTooLarge(f"the bundle grew past {max_bytes} bytes while being read")
                dst.write(chunk)
    except OSError as exc:
        raise BundleUnreadable(
            f"reading the bundle failed after {copied} bytes ({exc.strerror or exc}); was the stick removed? "
            "Nothing was changed") from exc
    if copied != size:
        raise BundleUnreadable(f"the bundle was {size} bytes but only {copied} could be read; nothing was changed")


def _check_members(archive: zipfile.ZipFile, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BundleError(f"the bundle holds {len(infos)} entries; at most {MAX_MEMBERS} are accepted")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        if info.is_dir():
            if name in ("apps/", "models/"):
                continue
            raise BundleError(f"unexpected folder {name!r} in the bundle")
        # Zip writers that record no file type leave it 0; any type but "regular" is a link or worse.
        if stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG):
            raise BundleError(f"{name!r} in the bundle is not a plain file (a link or device)")
        if name not in (MANIFEST_NAME, SIGNATURE_NAME, SECRETS_NAME) and not SAFE_MEMBER.fullmatch(name):
            raise BundleError(f"unsafe or unexpected name {name!r} in the bundle (only apps/NAME and models/NAME)")
        if name in members:
            raise BundleError(f"{name!r} appears twice in the bundle")
        total += info.file_size
        if total > max_bytes:
            raise BundleTooLarge(f"the bundle unpacks to more than {max_bytes} bytes")
        members[name] = info
    for required in (MANIFEST_NAME, SIGNATURE_NAME):
        if required not in members:
            raise BundleError(f"the bundle has no {required}; is it a Sightline provisioning bundle?")
    return members


def _verify_signature(manifest_bytes: bytes, signature: bytes,
                      trusted_keys: list[bytes] | None) -> tuple[dict, bytes]:
    try:
        doc = json.loads(manifest_bytes)
        key_hex = doc["trust"]["signing_public_key"]
        key = bytes.fromhex(key_hex)
        public = Ed25519PublicKey.from_public_bytes(key)
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"manifest.json has no usable trust.signing_public_key: {exc}") from None
    try:
        public.verify(signature, signed_message(manifest_bytes))
    except InvalidSignature:
        raise BundleSignatureError(
            "the bundle's signature does not verify: it was changed after the console signed it") from None
    if trusted_keys is not None and key not in trusted_keys:
        raise BundleSignatureError(
            "the bundle is signed by a console this device does not trust; it is already paired with other "
            "consoles, so only they may provision it (make the bundle on one of them)")
    return doc, key


def read_bundle(source: Path, staging: Path, *, max_bytes: int,
                trusted_keys: list[bytes] | None = None) -> VerifiedBundle:
    """Copy, check and extract the bundle at ``source`` into ``staging`` (emptied first).

    ``trusted_keys``: ``None`` on a device that trusts no console yet (the
    bundle's own key is accepted); otherwise the signing key must be one of them.
    Raises a ``device_runtime.errors`` subclass naming the problem.
    """
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True, mode=0o700)
    copy = staging / "bundle.zip"
    _copy_capped(Path(source), copy, max_bytes)
    try:
        archive = zipfile.ZipFile(copy)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"the bundle is not a readable zip file ({exc}); was it copied completely?") from None
    with archive:
        members = _check_members(archive, max_bytes)
        try:
            if members[MANIFEST_NAME].file_size > MAX_MANIFEST_BYTES:
                raise BundleError(f"manifest.json is larger than {MAX_MANIFEST_BYTES} bytes")
            manifest_bytes = archive.read(MANIFEST_NAME)
            signature = archive.read(SIGNATURE_NAME)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"the bundle is damaged: {exc}") from None
        doc, key = _verify_signature(manifest_bytes, signature, trusted_keys)
        try:
            manifest = ProvisionManifest.model_validate(doc)
        except ValidationError as exc:
            raise BundleError(describe_validation_error(exc, "manifest.json")) from None
        listed = {f.file: f for f in manifest.files()}
        expected = set(listed) | {MANIFEST_NAME, SIGNATURE_NAME} | ({SECRETS_NAME} if manifest.secrets else set())
        unlisted = set(members) - expected
        if unlisted:
            raise BundleError(f"the bundle holds files its manifest does not list: {', '.join(sorted(unlisted))}")
        bundle = VerifiedBundle(manifest, key, staging, hashlib.sha256(manifest_bytes).hexdigest())
        for name, item in listed.items():
            if name not in members:
                raise BundleError(f"the manifest lists {name} but the bundle does not hold it")
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            try:
                with archive.open(members[name]) as src, open(target, "wb") as dst:
                    while chunk := src.read(_COPY_CHUNK):
                        size += len(chunk)
                        if size > item.size:
                            break
                        digest.update(chunk)
                        dst.write(chunk)
            except (zipfile.BadZipFile, OSError) as exc:
                raise BundleError(f"{name} in the bundle is damaged: {exc}") from None
            if size != item.size or digest.hexdigest() != item.sha256:
                raise BundleSignatureError(
                    f"{name} does not match the signed manifest (size or SHA-256 differs): the bundle was changed")
            bundle.files[name] = target
        if manifest.secrets is not None:
            if SECRETS_NAME not in members:
                raise BundleError("the manifest lists secrets but the bundle has no secrets.enc")
            blob = archive.read(SECRETS_NAME)
            if hashlib.sha256(blob).hexdigest() != manifest.secrets.sha256.lower():
                raise BundleSignatureError("secrets.enc does not match the signed manifest: the bundle was changed")
            bundle.secrets_blob = blob
    copy.unlink(missing_ok=True)
    return bundle

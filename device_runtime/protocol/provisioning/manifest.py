"""The provisioning bundle's manifest and the report a device writes back (both sides use these).

A bundle is a zip file (``*.sightline-provision.zip``)::

    manifest.json     ProvisionManifest, UTF-8 JSON
    manifest.sig      64-byte Ed25519 signature over signed_message(manifest.json bytes)
    apps/*.tar.gz     app packages, each with its own package signature in the manifest
    models/*.onnx     models
    secrets.enc       optional: named secrets, encrypted (see secrets_box)

Cameras bound by the console are already in the apps' app.json (URL with the
user name); their passwords are the secrets ``camera/<id>/password``.

The manifest lists the SHA-256 of every other file, so the one signature covers
the whole bundle. The signing key is the console's package key (sent in the
manifest's ``trust`` as well): a device that trusts no console yet accepts it
(whoever holds the box and the stick is its owner), a device that already
trusts consoles accepts only a bundle signed by one of them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from device_runtime.protocol.apps.validation import StrictModel

FORMAT = "sightline.provision/v1"
BUNDLE_SUFFIX = ".sightline-provision.zip"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
SECRETS_NAME = "secrets.enc"
#: Prepended to the manifest digest before signing; never valid as a package signature.
SIGNATURE_DOMAIN = b"sightline-provision-v1\0"
#: Bundles larger than this are refused before anything is read (the device config may lower it).
DEFAULT_MAX_BUNDLE_BYTES = 4 * 1024**3
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_MEMBERS = 256

_IFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
SAFE_MEMBER = re.compile(r"(apps|models)/[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def signed_message(manifest_bytes: bytes) -> bytes:
    """What ``manifest.sig`` signs: the domain tag and the manifest's SHA-256."""
    return SIGNATURE_DOMAIN + hashlib.sha256(manifest_bytes).digest()


def report_name(bundle_filename: str) -> str:
    """The report a device writes next to a bundle: ``site-cam-1.sightline-provision.zip`` → ``site-cam-1.report.json``."""
    stem = bundle_filename[: -len(BUNDLE_SUFFIX)] if bundle_filename.endswith(BUNDLE_SUFFIX) else bundle_filename
    return f"{stem}.report.json"


class InterfaceSettings(StrictModel):
    """How one network interface gets its address."""

    name: str = Field(title="Interface", description="Kernel interface name on the device, e.g. eth0 or enP8p1s0.")
    method: Literal["dhcp", "static"] = Field(
        title="Addressing", description="dhcp: ask the network; static: use address, gateway and DNS below.")
    address: str = Field(
        default="", title="Address",
        description="Static only: IPv4 address with its prefix or mask, e.g. 192.168.10.20/24 or 192.168.10.20/255.255.255.0.")
    gateway: str = Field(default="", title="Gateway", description="Static only: default gateway; empty for none (an isolated camera VLAN).")
    dns: list[str] = Field(default_factory=list, title="DNS servers", description="Static only: name servers, in order.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _IFACE.fullmatch(value):
            raise ValueError(f"{value!r} is not an interface name (letters, digits, _ . : -, at most 15)")
        return value

    @model_validator(mode="after")
    def _check_static(self) -> InterfaceSettings:
        if self.method == "dhcp":
            if self.address or self.gateway or self.dns:
                raise ValueError(f"{self.name}: DHCP takes no address, gateway or DNS; choose static to set them")
            return self
        if not self.address:
            raise ValueError(f"{self.name}: a static interface needs an address such as 192.168.10.20/24")
        try:
            iface = ipaddress.IPv4Interface(self.address)
        except ValueError as exc:
            raise ValueError(f"{self.name}: address {self.address!r} is not IPv4 address/prefix: {exc}") from None
        if iface.network.prefixlen == 32 or iface.ip in (iface.network.network_address, iface.network.broadcast_address):
            raise ValueError(f"{self.name}: {self.address} is a network or broadcast address, not a host")
        object.__setattr__(self, "address", iface.with_prefixlen)
        if self.gateway:
            try:
                gateway = ipaddress.IPv4Address(self.gateway)
            except ValueError:
                raise ValueError(f"{self.name}: gateway {self.gateway!r} is not an IPv4 address") from None
            if gateway not in iface.network:
                raise ValueError(f"{self.name}: gateway {gateway} is outside {iface.network}")
        for server in self.dns:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise ValueError(f"{self.name}: DNS server {server!r} is not an IP address") from None
        return self

    @property
    def interface(self) -> ipaddress.IPv4Interface | None:
        return ipaddress.IPv4Interface(self.address) if self.address else None


class NetworkSettings(StrictModel):
    """The device's network, time servers and time zone. Unset parts are left as they are."""

    interfaces: list[InterfaceSettings] = Field(
        default_factory=list, title="Interfaces", description="Interfaces to configure; others are left alone.")
    ntp_servers: list[str] | None = Field(
        default=None, title="NTP servers",
        description="Time servers, in order. Empty list: no NTP (a site with no time server). Unset: leave as is.")
    timezone: str = Field(default="", title="Time zone", description="IANA name such as Europe/Berlin; empty: leave as is.")
    allow_address_change: bool = Field(
        default=False, title="Allow cutting off current addresses",
        description=(
            "A device that is already paired refuses a network change that drops an address it is reachable "
            "at now, unless this is set (the engineer confirmed it)."))

    @field_validator("ntp_servers")
    @classmethod
    def _check_ntp(cls, value: list[str] | None) -> list[str] | None:
        for server in value or []:
            if not _HOST.fullmatch(server):
                raise ValueError(f"NTP server {server!r} is not a host name or address")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        if value and (not re.fullmatch(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*", value) or ".." in value):
            raise ValueError(f"{value!r} is not an IANA time zone name such as Europe/Berlin")
        return value

    @model_validator(mode="after")
    def _unique(self) -> NetworkSettings:
        names = [i.name for i in self.interfaces]
        if len(names) != len(set(names)):
            raise ValueError("each interface may appear once")
        return self


class Trust(StrictModel):
    """The console the device will trust: its package key, and a one-time pairing secret's hash."""

    console_name: str = Field(title="Console", description="How the console names itself; shown in the audit log.", max_length=64)
    signing_public_key: str = Field(title="Signing key", description="The console's raw Ed25519 public key, 64 hex characters.")
    pairing_secret_sha256: str = Field(
        title="Pairing secret hash",
        description="SHA-256 (hex) of the one-time secret the console keeps; the device pairs the console that sends it, once.")

    @field_validator("signing_public_key", "pairing_secret_sha256")
    @classmethod
    def _check_hex(cls, value: str) -> str:
        value = value.lower()
        if not _HEX64.fullmatch(value):
            raise ValueError("expected 64 hex characters")
        return value


class Target(StrictModel):
    """Which device the bundle is for; empty: any device (a fresh box)."""

    device_id: str = Field(default="", title="Device id", description="Only this device may apply the bundle.")
    device_fingerprint: str = Field(
        default="", title="Device certificate", description="SHA-256 of the device certificate, hex; only that device may apply it.")


class BundleFile(StrictModel):
    """A file carried in the bundle, with its digest (covered by the manifest's signature)."""

    file: str = Field(title="Path in the bundle", description="apps/NAME or models/NAME; nothing else is accepted.")
    sha256: str = Field(title="SHA-256", description="Hex digest of the file's bytes.")
    size: int = Field(title="Size", description="Bytes.", ge=0)

    @field_validator("file")
    @classmethod
    def _check_file(cls, value: str) -> str:
        if not SAFE_MEMBER.fullmatch(value) or ".." in value:
            raise ValueError(f"{value!r}: bundle files live in apps/ or models/ with a plain name")
        return value

    @field_validator("sha256")
    @classmethod
    def _check_sha(cls, value: str) -> str:
        value = value.lower()
        if not _HEX64.fullmatch(value):
            raise ValueError("expected a 64-hex-character SHA-256")
        return value


class AppItem(BundleFile):
    """An app package to install and start, signed like any deploy."""

    signature: str = Field(title="Package signature", description="Hex Ed25519 signature over the package digest (package_signature.py).")


class ModelItem(BundleFile):
    """A model to store under a name apps refer to."""

    name: str = Field(title="Model name", description="The name apps use.", min_length=1, max_length=128)
    labels: list[str] = Field(default_factory=list, title="Labels", description="Class names, in output order.")
    decoder: str = Field(default="", title="Decoder", description="Override of the output family; empty: detected.")


class SecretsInfo(StrictModel):
    """How ``secrets.enc`` is protected."""

    scheme: Literal["passphrase", "device-key"] = Field(
        title="Protection", description="passphrase: scrypt + AES-GCM; device-key: ECDH with the device certificate's key + AES-GCM.")
    names: list[str] = Field(default_factory=list, title="Secret names", description="Names only, so the report can say what was stored.")
    sha256: str = Field(title="SHA-256", description="Digest of secrets.enc.")


class ProvisionManifest(StrictModel):
    """Everything a bundle asks a device to become."""

    format: Literal["sightline.provision/v1"] = Field(default=FORMAT, title="Format", description="Bundle format and version.")
    bundle_id: str = Field(title="Bundle id", description="Random id; applying the same bundle again changes nothing.",
                           pattern=r"^[A-Za-z0-9_-]{8,64}$")
    created_at: str = Field(title="Created", description="ISO 8601 time the console wrote it.")
    device_name: str = Field(default="", title="Device name", description="Name shown in consoles; empty: keep.", max_length=63)
    target: Target = Field(default_factory=Target, title="For device", description="Restricts the bundle to one device.")
    network: NetworkSettings = Field(default_factory=NetworkSettings, title="Network", description="Addresses, time servers, time zone.")
    trust: Trust = Field(title="Console trust", description="The console to trust and pair on first contact.")
    apps: list[AppItem] = Field(default_factory=list, title="Apps", description="Packages to install and start.")
    models: list[ModelItem] = Field(default_factory=list, title="Models", description="Models to store.")
    secrets: SecretsInfo | None = Field(default=None, title="Secrets", description="Encrypted named secrets, if any.")

    @field_validator("device_name")
    @classmethod
    def _check_device_name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._-]*", value):
            raise ValueError(f"{value!r}: a device name uses letters, digits, space, . _ -")
        return value

    def files(self) -> list[BundleFile]:
        return [*self.apps, *self.models]


class ProvisionReport(StrictModel):
    """What a device writes back next to the bundle (and keeps in its data folder)."""

    bundle_id: str = Field(default="", title="Bundle id", description="Empty when the bundle could not be read.")
    ok: bool = Field(title="Applied", description="True when everything was applied (or would be, in a dry run).")
    dry_run: bool = Field(default=False, title="Dry run", description="Nothing was changed; 'applied' lists what would be.")
    time: str = Field(title="Time", description="ISO 8601, the device's clock.")
    device_id: str = Field(default="", title="Device id", description="The device that wrote the report.")
    device_name: str = Field(default="", title="Device name", description="Its name after provisioning.")
    cert_fingerprint: str = Field(default="", title="Certificate fingerprint", description="SHA-256 of the device certificate: pin this.")
    cert_pem: str = Field(default="", title="Certificate", description="The device certificate, PEM.")
    port: int = Field(default=0, title="API port", description="The port its API listens on.")
    addresses: list[str] = Field(default_factory=list, title="Addresses", description="interface: address/prefix, as configured now.")
    applied: list[str] = Field(default_factory=list, title="Applied", description="One line per change made (or planned).")
    unchanged: list[str] = Field(default_factory=list, title="Already so", description="Parts that needed no change.")
    errors: list[str] = Field(default_factory=list, title="Errors", description="Why it was refused or what failed.")
    warnings: list[str] = Field(default_factory=list, title="Warnings", description="Things to check.")

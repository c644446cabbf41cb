"""Applying a bundle's network, time-server and time-zone settings through the OS's own tools.

Two backends, detected: NetworkManager (``nmcli``, when its daemon runs) and
systemd-networkd (``.network`` files in ``/etc/systemd/network``, then
``networkctl reload``). Each turns :class:`NetworkSettings` into a list of
:class:`Change` objects (a file to write or a command to run) that is printed
as-is in a dry run and executed otherwise, so the dry run shows exactly what
would be done. Files are compared first: an unchanged file is not rewritten,
which makes applying the same bundle twice harmless. Time servers go to a
systemd-timesyncd drop-in; the time zone is the ``/etc/localtime`` link.

``root`` prefixes every path (``/`` on a device; a scratch folder in tests
and image builds). The cut-off check refuses a change that would drop an
address a paired device is reachable at now, unless confirmed.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from device_runtime.errors import FailedPrecondition, InvalidArgument
from device_runtime.protocol.provisioning.manifest import InterfaceSettings, NetworkSettings
from device_runtime.security.identity import write_atomically

log = logging.getLogger(__name__)

NETWORKD_DIR = "etc/systemd/network"
TIMESYNCD_DROPIN = "etc/systemd/timesyncd.conf.d/50-sightline.conf"
ZONEINFO = Path("/usr/share/zoneinfo")
COMMAND_TIMEOUT_S = 60.0
NETWORKD_BINARIES = ("/lib/systemd/systemd-networkd", "/usr/lib/systemd/systemd-networkd")

Runner = Callable[..., subprocess.CompletedProcess]


class NetworkToolMissing(FailedPrecondition):
    """Neither NetworkManager nor systemd-networkd manages this device's network."""


class NetworkCutOff(FailedPrecondition):
    """The settings would drop an address the device is reachable at, and nobody confirmed it."""


@dataclass(frozen=True)
class Change:
    """One thing to do: write ``content`` to ``path``, or run ``argv``; ``what`` says why in words."""

    what: str
    path: Path | None = None
    content: str = ""
    argv: tuple[str, ...] = ()
    link_to: str = ""
    #: A command whose failure only warns (e.g. networkctl when networkd is not running yet).
    optional: bool = False

    def describe(self) -> str:
        if self.argv:
            return f"{self.what}: run {shlex.join(self.argv)}"
        if self.link_to:
            return f"{self.what}: link {self.path} -> {self.link_to}"
        return f"{self.what}: write {self.path}\n" + "".join(f"    {line}\n" for line in self.content.splitlines())


@dataclass
class Plan:
    """What applying the settings would do, and what is already so."""

    tool: str
    changes: list[Change]
    unchanged: list[str]


def _file_change(what: str, path: Path, content: str, unchanged: list[str]) -> Change | None:
    try:
        if path.read_text(encoding="utf-8") == content:
            unchanged.append(f"{what} ({path})")
            return None
    except (OSError, UnicodeDecodeError):
        pass
    return Change(what, path=path, content=content)


def _header(bundle_id: str) -> str:
    return f"# Written by Sightline provisioning (bundle {bundle_id}); replaced by the next one.\n"


class NetworkdBackend:
    """systemd-networkd: one ``10-sightline-IFACE.network`` file per interface."""

    name = "systemd-networkd"

    def __init__(self, root: Path = Path("/"), live: bool | None = None):
        self.root = Path(root)
        #: Whether the files are the running system's: only then is networkd told to reload them
        #: (files under another root, an image being prepared, must not touch this machine's network).
        self.live = self.root == Path("/") if live is None else live

    def network_file(self, iface: InterfaceSettings, bundle_id: str) -> str:
        lines = [_header(bundle_id).rstrip("\n"), "[Match]", f"Name={iface.name}", "", "[Network]"]
        if iface.method == "dhcp":
            lines.append("DHCP=ipv4")
        else:
            lines.append(f"Address={iface.address}")
            if iface.gateway:
                lines.append(f"Gateway={iface.gateway}")
            lines += [f"DNS={server}" for server in iface.dns]
        # Cameras on an isolated VLAN: the link is configured even before a cable is in.
        lines.append("ConfigureWithoutCarrier=yes")
        return "\n".join(lines) + "\n"

    def interface_changes(self, settings: NetworkSettings, bundle_id: str, unchanged: list[str]) -> list[Change]:
        changes = []
        for iface in settings.interfaces:
            path = self.root / NETWORKD_DIR / f"10-sightline-{iface.name}.network"
            change = _file_change(f"{iface.name}: {_summary(iface)}", path, self.network_file(iface, bundle_id), unchanged)
            if change is not None:
                changes.append(change)
        if changes and self.live:
            names = tuple(i.name for i in settings.interfaces)
            changes.append(Change("make systemd-networkd read the new files", argv=("networkctl", "reload"), optional=True))
            changes.append(Change("apply them to the interfaces now", argv=("networkctl", "reconfigure", *names), optional=True))
        return changes


class NmcliBackend:
    """NetworkManager: one connection profile ``sightline-IFACE`` per interface, made or modified with nmcli."""

    name = "NetworkManager"

    def __init__(self, run: Runner = subprocess.run):
        self._run = run

    def _exists(self, connection: str) -> bool:
        result = self._run(["nmcli", "-t", "-f", "NAME", "connection", "show"], capture_output=True, text=True,
                           timeout=COMMAND_TIMEOUT_S)
        return connection in result.stdout.splitlines()

    @staticmethod
    def settings_args(iface: InterfaceSettings) -> list[str]:
        if iface.method == "dhcp":
            return ["ipv4.method", "auto", "ipv4.addresses", "", "ipv4.gateway", "", "ipv4.dns", "",
                    "connection.autoconnect", "yes"]
        return ["ipv4.method", "manual", "ipv4.addresses", iface.address, "ipv4.gateway", iface.gateway,
                "ipv4.dns", ",".join(iface.dns), "connection.autoconnect", "yes"]

    def interface_changes(self, settings: NetworkSettings, bundle_id: str, unchanged: list[str]) -> list[Change]:
        changes = []
        for iface in settings.interfaces:
            connection = f"sightline-{iface.name}"
            if self._exists(connection):
                argv = ("nmcli", "connection", "modify", connection, *self.settings_args(iface))
            else:
                argv = ("nmcli", "connection", "add", "type", "ethernet", "con-name", connection,
                        "ifname", iface.name, *self.settings_args(iface))
            changes.append(Change(f"{iface.name}: {_summary(iface)}", argv=argv))
            changes.append(Change(f"{iface.name}: activate", argv=("nmcli", "connection", "up", connection)))
        return changes


def _summary(iface: InterfaceSettings) -> str:
    if iface.method == "dhcp":
        return "DHCP"
    extra = f" via {iface.gateway}" if iface.gateway else " (no gateway)"
    dns = f", DNS {', '.join(iface.dns)}" if iface.dns else ""
    return f"static {iface.address}{extra}{dns}"


def time_changes(settings: NetworkSettings, bundle_id: str, root: Path, unchanged: list[str],
                 live: bool | None = None) -> list[Change]:
    """Time servers (systemd-timesyncd drop-in) and time zone (/etc/localtime), when the bundle sets them.

    ``live``: the files are the running system's, so time sync is restarted or stopped too.
    """
    live = Path(root) == Path("/") if live is None else live
    changes: list[Change] = []
    if settings.ntp_servers is not None:
        servers = " ".join(settings.ntp_servers)
        content = _header(bundle_id) + "[Time]\n" + f"NTP={servers}\n" + "FallbackNTP=\n"
        what = f"time servers {servers}" if servers else "no time servers (NTP off)"
        change = _file_change(what, root / TIMESYNCD_DROPIN, content, unchanged)
        if change is not None:
            changes.append(change)
            if live and settings.ntp_servers:
                changes.append(Change("restart time sync", argv=("systemctl", "try-restart", "systemd-timesyncd"),
                                      optional=True))
            elif live:
                changes.append(Change("stop time sync", argv=("timedatectl", "set-ntp", "false"), optional=True))
    if settings.timezone:
        zone = ZONEINFO / settings.timezone
        if not zone.is_file():
            raise InvalidArgument(f"time zone {settings.timezone!r} is not known on this device ({ZONEINFO})")
        localtime = root / "etc/localtime"
        if os.path.islink(localtime) and os.readlink(localtime) == str(zone):
            unchanged.append(f"time zone {settings.timezone}")
        else:
            changes.append(Change(f"time zone {settings.timezone}", path=localtime, link_to=str(zone)))
            tz_file = _file_change(f"time zone name {settings.timezone}", root / "etc/timezone",
                                   settings.timezone + "\n", [])
            if tz_file is not None:
                changes.append(tz_file)
    return changes


def detect_backend(root: Path = Path("/"), *, which: Callable[[str], str | None] = shutil.which,
                   run: Runner = subprocess.run, prefer: str = "") -> NetworkdBackend | NmcliBackend:
    """The tool that manages this device's network: ``prefer`` (nmcli | networkd) or the one running."""
    if prefer == "networkd":
        return NetworkdBackend(root)
    if prefer == "nmcli":
        return NmcliBackend(run)
    if prefer:
        raise InvalidArgument(f"unknown network tool {prefer!r}; expected nmcli or networkd")
    if which("nmcli"):
        try:
            state = run(["nmcli", "-t", "-f", "RUNNING", "general"], capture_output=True, text=True,
                        timeout=COMMAND_TIMEOUT_S)
            if state.returncode == 0 and state.stdout.strip() == "running":
                return NmcliBackend(run)
        except (OSError, subprocess.SubprocessError):
            pass
    # The tools are looked for on this system; ``root`` only moves the files written.
    if which("networkctl") and (Path("/run/systemd/netif").is_dir() or (root / NETWORKD_DIR).is_dir()
                                or any(Path(p).exists() for p in NETWORKD_BINARIES)):
        return NetworkdBackend(root)
    raise NetworkToolMissing(
        "neither NetworkManager (nmcli) nor systemd-networkd manages this device's network; "
        "install one, or leave the network out of the bundle")


def current_addresses(run: Runner = subprocess.run) -> dict[str, list[dict]]:
    """Interface name → its IPv4 addresses (``{"address": "a.b.c.d/len", "dynamic": bool}``), from ``ip -j``."""
    result = run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    links = run(["ip", "-j", "link", "show"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    found: dict[str, list[dict]] = {link["ifname"]: [] for link in json.loads(links.stdout or "[]")}
    for link in json.loads(result.stdout or "[]"):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                found.setdefault(link["ifname"], []).append(
                    {"address": f"{info['local']}/{info['prefixlen']}", "dynamic": bool(info.get("dynamic"))})
    return found


def check_reachability(settings: NetworkSettings, current: dict[str, list[dict]], *, managed: bool,
                       confirmed: bool) -> list[str]:
    """Problems that stop the network change; empty when it may go ahead.

    Every interface must exist. On a device that is already managed (paired),
    a change that drops an address it has now would cut its consoles off:
    refused unless ``confirmed`` (the bundle's ``allow_address_change`` or
    ``--confirm-network-change``).
    """
    problems = []
    for iface in settings.interfaces:
        if iface.name not in current:
            have = ", ".join(sorted(n for n in current if n != "lo")) or "none"
            problems.append(f"there is no interface {iface.name} on this device (it has: {have})")
            continue
        if not managed or confirmed:
            continue
        now = current[iface.name]
        if iface.method == "static":
            dropped = [a["address"] for a in now if a["address"] != iface.address]
        else:
            dropped = [a["address"] for a in now if not a["dynamic"]]
        if dropped:
            problems.append(
                f"{iface.name}: the change would drop {', '.join(dropped)}, which paired consoles may use to reach "
                "this device; confirm it (tick 'allow cutting off current addresses' in the console, or "
                "run with --confirm-network-change)")
    return problems


def plan(settings: NetworkSettings, bundle_id: str, backend: NetworkdBackend | NmcliBackend,
         root: Path = Path("/")) -> Plan:
    """Every change applying ``settings`` needs (nothing for what is already so)."""
    unchanged: list[str] = []
    changes = backend.interface_changes(settings, bundle_id, unchanged) if settings.interfaces else []
    changes += time_changes(settings, bundle_id, root, unchanged, getattr(backend, "live", None))
    return Plan(backend.name, changes, unchanged)


def execute(changes: list[Change], run: Runner = subprocess.run) -> tuple[list[str], list[str], list[str]]:
    """Carry the changes out in order: (done, warnings, errors). Stops at the first required failure."""
    done: list[str] = []
    warnings: list[str] = []
    errors: list[str] = []
    for change in changes:
        if change.argv:
            try:
                result = run(list(change.argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
                failure = "" if result.returncode == 0 else (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
            except (OSError, subprocess.SubprocessError) as exc:
                failure = str(exc)
            if failure:
                message = f"{change.what}: {shlex.join(change.argv)} failed: {failure}"
                if change.optional:
                    warnings.append(message + " (the files are in place and take effect when the service starts)")
                    continue
                errors.append(message)
                break
            done.append(f"{change.what} ({shlex.join(change.argv)})")
        elif change.link_to:
            assert change.path is not None
            change.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = change.path.with_name(f".{change.path.name}.sightline-tmp")
            tmp.unlink(missing_ok=True)
            os.symlink(change.link_to, tmp)
            os.replace(tmp, change.path)
            done.append(f"{change.what} ({change.path} -> {change.link_to})")
        else:
            assert change.path is not None
            change.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(change.path, change.content.encode("utf-8"), mode=0o644)
            done.append(f"{change.what} ({change.path})")
    return done, warnings, errors

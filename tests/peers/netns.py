"""A network namespace with a veth pair, made by the test and removed after; never the host's network.

``start_networkd()`` runs the real systemd-networkd inside the namespace (in its own
mount namespace, with /etc/systemd/network bound to a test folder and /sys read-only
so networkd does not wait for udev), so .network files written by provisioning are
applied by the tool a device uses.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from pathlib import Path

NETWORKD = Path("/lib/systemd/systemd-networkd")

_NETWORKD_SCRIPT = """
set -e
mount -o remount,bind,ro /sys
mkdir -p /etc/systemd/network
mount --bind "$1" /etc/systemd/network
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/netif
chown systemd-network:systemd-network /run/systemd/netif 2>/dev/null || true
exec {networkd}
"""


def can_make_namespaces() -> str:
    """Empty when this machine lets tests create namespaces; otherwise why not."""
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    probe = f"sl-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create network namespaces here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


class NetNamespace:
    """``ip netns`` namespace ``name`` holding veth ``inner`` (its peer ``outer`` stays in the namespace too)."""

    def __init__(self, inner: str = "slp0", outer: str = "slp1"):
        self.name = f"sl-prov-{secrets.token_hex(4)}"
        self.inner, self.outer = inner, outer
        self._networkd: subprocess.Popen | None = None
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        for cmd in (["link", "set", "lo", "up"], ["link", "add", inner, "type", "veth", "peer", "name", outer],
                    ["link", "set", outer, "up"]):
            subprocess.run(["ip", "-n", self.name, *cmd], check=True)

    def run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], **kwargs)

    def addresses(self, iface: str) -> list[str]:
        out = subprocess.run(["ip", "-n", self.name, "-j", "-4", "addr", "show", iface], capture_output=True,
                             text=True, check=True)
        return [f"{a['local']}/{a['prefixlen']}" for link in json.loads(out.stdout or "[]") for a in link["addr_info"]]

    def default_route(self) -> str:
        out = subprocess.run(["ip", "-n", self.name, "-j", "-4", "route", "show", "default"], capture_output=True,
                             text=True, check=True)
        routes = json.loads(out.stdout or "[]")
        return routes[0].get("gateway", "") if routes else ""

    def start_networkd(self, network_dir: Path, log: Path) -> None:
        script = _NETWORKD_SCRIPT.format(networkd=NETWORKD)
        with open(log, "wb") as out:
            self._networkd = subprocess.Popen(
                ["ip", "netns", "exec", self.name, "unshare", "-m", "sh", "-c", script, "sh", str(network_dir)],
                stdout=out, stderr=subprocess.STDOUT)

    def wait_for_address(self, iface: str, address: str, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.addresses(iface)
            if address in found:
                return found
            if self._networkd is not None and self._networkd.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{iface} in {self.name} did not get {address}; it has {self.addresses(iface)}")

    def close(self) -> None:
        if self._networkd is not None:
            self._networkd.terminate()
            try:
                self._networkd.wait(10)
            except subprocess.TimeoutExpired:
                self._networkd.kill()
                self._networkd.wait(5)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

"""A real Avahi mDNS daemon on the loopback interface only, with its own private D-Bus.

Avahi is the mDNS stack of most Linux desktops and of Jetsons, so it is the
independent peer for our zeroconf-based advertiser and browser. Its tools
(``avahi-browse``, ``avahi-publish-service``) talk to the daemon over the D-Bus
*system* bus; tests must not touch the machine's own bus or daemon, so
:class:`AvahiDaemon` starts

* a private ``dbus-daemon`` listening on a socket in a temporary folder, and
* ``avahi-daemon`` with ``allow-interfaces=lo`` (it never sends on a real
  network), IPv4 only, in a private mount namespace with a tmpfs over
  ``/run/avahi-daemon``, because Avahi's pid file and socket paths are
  compiled in and two daemons (a parallel test, a system one) would
  otherwise refuse to coexist.

Needs root (for the mount namespace), ``dbus-daemon``, ``avahi-daemon``,
``avahi-utils`` and ``unshare`` (util-linux), as on the project's test
machines. Processes are stopped by their own process ids.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

STARTUP_TIMEOUT_S = 10.0

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

_AVAHI_CONFIG = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
[reflector]
enable-reflector=no
[rlimits]
"""


class _LineWatcher:
    """Reads a process's output on a thread; lets the test wait for a line without polling."""

    def __init__(self, process: subprocess.Popen[str], name: str) -> None:
        self.lines: list[str] = []
        self.process = process
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, name=f"{name}-output", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, needle: str, timeout: float) -> str | None:
        """The first output line containing ``needle``; None on timeout or exit."""

        def found() -> str | None:
            return next((line for line in self.lines if needle in line), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None or not self._thread.is_alive(), timeout)
            return found()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class AvahiDaemon:
    """Context manager: a private D-Bus + loopback-only Avahi; ``env`` is for Avahi's tools."""

    def __init__(self) -> None:
        for tool in ("dbus-daemon", "avahi-daemon", "unshare", "avahi-browse"):
            if shutil.which(tool) is None:
                raise RuntimeError(
                    f"{tool} is not installed; install the Debian packages dbus, "
                    "avahi-daemon, avahi-utils and util-linux"
                )
        self._tmp = Path(tempfile.mkdtemp(prefix="sightline-avahi-"))
        self.bus_address = f"unix:path={self._tmp / 'bus.sock'}"
        self.env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address}
        self._processes: list[tuple[subprocess.Popen[str], _LineWatcher]] = []

    def __enter__(self) -> AvahiDaemon:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        bus_config = self._tmp / "bus.conf"
        bus_config.write_text(_BUS_CONFIG.format(socket=self._tmp / "bus.sock"))
        dbus = self._spawn(
            ["dbus-daemon", f"--config-file={bus_config}", "--nofork", "--print-address=1"],
            "dbus",
        )
        if dbus.wait_for("unix:path=", STARTUP_TIMEOUT_S) is None:
            raise RuntimeError(f"private dbus-daemon did not start: {dbus.lines}")
        avahi_config = self._tmp / "avahi-daemon.conf"
        avahi_config.write_text(_AVAHI_CONFIG)
        # unshare execs the shell, which execs avahi-daemon: one process id.
        script = (
            "mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon && "
            f"exec avahi-daemon -f {avahi_config} --no-drop-root --no-chroot --no-rlimits"
        )
        avahi = self._spawn(["unshare", "--mount", "sh", "-c", script], "avahi")
        if avahi.wait_for("Server startup complete", STARTUP_TIMEOUT_S) is None:
            raise RuntimeError(
                "avahi-daemon did not start on loopback within "
                f"{STARTUP_TIMEOUT_S:.0f} s; its output: {avahi.lines}"
            )

    def _spawn(self, argv: list[str], name: str) -> _LineWatcher:
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )
        watcher = _LineWatcher(process, name)
        self._processes.append((process, watcher))
        return watcher

    def run_tool(self, argv: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        """Run an Avahi client tool (avahi-browse, ...) against this daemon and wait for it."""
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def start_tool(self, argv: list[str]) -> _LineWatcher:
        """Start a long-running Avahi client tool (avahi-browse, avahi-publish-service).

        Returns a watcher of its output (``wait_for``, ``lines``, ``process``);
        the tool is stopped when the daemon context exits.
        """
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )
        watcher = _LineWatcher(process, argv[0])
        self._processes.append((process, watcher))
        return watcher

    def __exit__(self, *exc_info: object) -> None:
        # Newest first: clients, then avahi, then the bus they talk over.
        for process, watcher in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            watcher.join(timeout=5)
            if process.stdout is not None:
                process.stdout.close()
        self._processes.clear()
        shutil.rmtree(self._tmp, ignore_errors=True)

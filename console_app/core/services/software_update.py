"""Device software updates from the console: push a signed .deb to several devices, with progress.

The same bounded-parallel upload as app deploys (:class:`~console_app.core.services.deployer.Deployer`,
its progress, cancel and retry); the device verifies and stages the .deb, and its
root updater installs it, restarts and rolls back unless the new version is healthy
in time. :func:`wait_for_outcome` follows one device until the update has ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from console_app.core.services.deployer import Deployer, Stage

#: GetUpdateStatus states in which the update has ended.
FINAL_STATES = ("installed", "rolled-back", "failed")


class SoftwareUpdater(Deployer):
    """``deploy(deb_bytes, device_ids, on_progress)`` uploads device software instead of an app."""

    def _send(self, client: Any, package: bytes, progress: Callable[[int, int], None],
              secrets: Mapping[str, str]) -> Any:
        return client.update_software(package, progress=progress)  # software carries no secrets

    def _outcome(self, status: Any, name: str) -> tuple[Stage, str]:
        return Stage.INSTALLED, (f"{name}: version {status.version} staged (running {status.running_version}); "
                                 "the device installs it and restarts")


def wait_for_outcome(appliances: Any, device_id: str, timeout: float = 600.0, interval: float = 2.0,
                     clock: Callable[[], float] = time.monotonic) -> Any:
    """Poll ``GetUpdateStatus`` (reconnecting across the restart) until the update ended; the last status.

    Raises ``TimeoutError`` naming the last state seen.
    """
    deadline = clock() + timeout
    last = None
    while clock() < deadline:
        try:
            with appliances.connect(device_id) as client:
                last = client.update_status()
            if last.state in FINAL_STATES:
                return last
        except Exception:  # restarting: the device does not answer for a while
            pass
        time.sleep(interval)
    raise TimeoutError(f"the update of {device_id} had not ended after {timeout:.0f} s "
                       f"(last state: {last.state if last is not None else 'unknown'})")

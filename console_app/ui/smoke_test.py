"""``sightline-console --demo --smoke-test OUT.png``: walk the whole demo path headless, step by step.

Starts the demo site and the demo console (offscreen), then drives the real
pages and services one named step at a time, each with its own time limit:

==================  ==============================================================
start-site          the device runtime and both simulated cameras start on 127.0.0.1
open-console        the demo console opens (inventory, model library, main window)
discover            the device's mDNS advert appears in the Devices list, reachable
pair                the Pair dialog pairs with the site's code (the certificate is pinned)
discover-cameras    Cameras › Find cameras (WS-Discovery on 127.0.0.1) lists both cameras
register            each is registered through the Add camera dialog (ONVIF, stream test
                    through the paired device) into the inventory, with its password
deploy              the line-safety sample, on both registered cameras, is deployed and runs
live-wall           the Live page shows frames from both cameras with detections on them
screenshot          the window is grabbed and saved to OUT.png
enlarge-tile        a tile is enlarged with its tuning panel; the video is the largest thing
health              the Health page plots from before it was opened (the console follows a
                    paired device from the start) and shows the device log
events              the Events page lists the demo's events, one row per crossing
pages               every page is shown once more and grabbed to OUT-<page>.png
==================  ==============================================================

After every step that shows something the main window must fit the screen:
neither its width nor its minimum width (nor height) may exceed the
screen's available area (run it offscreen with a 1024x768 screen to check a
small panel PC). Prints one line per step; returns 0, or prints ``smoke test failed at step
<name>: <reason>`` and returns 1. Waiting never blocks the event loop: a
nested :class:`QEventLoop` runs until the step's condition holds or its
time is up, so background tasks and bridge signals keep flowing.
"""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QEventLoop, QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from console_app.demo import quiet_device_logs, start_demo_console
from console_app.demo_site import MODEL_NAME, DemoSite, demo_app_folder

STEP_TIMEOUT_S = 90.0
POLL_MS = 50
#: Frames each live tile must have painted (with detections) before the screenshot: enough for its fps to show.
FRAMES_BEFORE_SCREENSHOT = 12


class SmokeStepFailed(Exception):
    """The step could not be completed; the message is the reason shown to the user."""


class SmokeTest:
    """One run. ``pairing_code`` overrides the site's code (to prove a bad code fails at ``pair``)."""

    def __init__(self, out: Path, *, data_dir: Path | None = None, pairing_code: str | None = None,
                 step_timeout_s: float = STEP_TIMEOUT_S, echo: Callable[[str], None] | None = None) -> None:
        self.out = Path(out)
        self.data_dir = data_dir
        self.pairing_code = pairing_code
        self.step_timeout_s = step_timeout_s
        self.echo = echo or (lambda line: print(line, flush=True))
        self.step = ""
        self.site = None
        self.demo = None
        self.app_status = None
        self._deadline = 0.0

    # ------------------------------------------------------------ driver

    def run(self) -> int:
        app = QApplication.instance() or QApplication(sys.argv[:1])
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("start-site", self.start_site), ("open-console", self.open_console), ("discover", self.discover),
            ("pair", self.pair), ("discover-cameras", self.discover_cameras), ("register", self.register),
            ("deploy", self.deploy), ("live-wall", self.live_wall), ("screenshot", self.screenshot),
            ("enlarge-tile", self.enlarge_tile), ("health", self.health), ("events", self.events),
            ("pages", self.pages),
        ]
        previous_handler = qInstallMessageHandler(_drop_offscreen_noise)
        try:
            from console_app.ui import theme

            quiet_device_logs()
            theme.apply_theme(app)
            for name, action in steps:
                self.step = name
                started = time.monotonic()
                self._deadline = started + self.step_timeout_s
                detail = action()
                if self.demo is not None:
                    self.check_fits()
                suffix = f": {detail}" if detail else ""
                self.echo(f"smoke test: {name} ok ({time.monotonic() - started:.1f} s){suffix}")
            self.echo(f"smoke test passed: screenshot of the live wall in {self.out}")
            return 0
        except SmokeStepFailed as exc:
            print(f"smoke test failed at step {self.step}: {exc}", file=sys.stderr, flush=True)
            return 1
        except Exception as exc:  # a bug or an unexpected fault: still name the step
            print(f"smoke test failed at step {self.step}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            traceback.print_exc(file=sys.stderr)
            return 1
        finally:
            self.close()
            qInstallMessageHandler(previous_handler)

    def close(self) -> None:
        demo, self.demo = self.demo, None
        if demo is not None:
            demo.close()
        site, self.site = self.site, None
        if site is not None:
            site.stop()
        QApplication.processEvents()

    def wait_until(self, condition: Callable[[], Any], what: str, detail: Callable[[], str] | None = None) -> Any:
        """Run the event loop until ``condition()`` is truthy (returned) or the step's time is up.

        ``condition`` may raise :class:`SmokeStepFailed` to end the step at once.
        """
        outcome: dict[str, Any] = {}
        loop = QEventLoop()

        def check() -> None:
            if outcome:
                return  # already decided; the loop is on its way out
            try:
                value = condition()
            except Exception as exc:
                outcome["error"] = exc
                loop.quit()
                return
            if value:
                outcome["value"] = value
                loop.quit()
            elif time.monotonic() >= self._deadline:
                outcome["timed_out"] = True
                loop.quit()

        timer = QTimer()
        timer.setInterval(POLL_MS)
        timer.timeout.connect(check)
        QTimer.singleShot(0, check)
        timer.start()
        loop.exec()
        timer.stop()
        if "error" in outcome:
            raise outcome["error"]
        if "value" not in outcome:
            extra = f" ({detail()})" if detail is not None else ""
            raise SmokeStepFailed(f"timed out after {self.step_timeout_s:.0f} s waiting for {what}{extra}")
        return outcome["value"]

    def pause(self, seconds: float) -> None:
        """Let the event loop run for ``seconds`` (between polls of a device)."""
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def in_background(self, work: Callable[[], Any], what: str) -> Any:
        """Run blocking ``work`` through the window's TaskRunner (as the pages do); its result or error."""
        result: dict[str, Any] = {}
        self.window.tasks.run_in_background(lambda _ctx: work(), on_success=lambda v: result.setdefault("ok", v),
                                            on_failure=lambda e: result.setdefault("error", e), progress=what)
        self.wait_until(lambda: result, what)
        if "error" in result:
            raise SmokeStepFailed(f"{what} failed: {result['error']}")
        return result["ok"]

    @property
    def window(self):
        return self.demo.window

    @property
    def context(self):
        return self.demo.context

    # ------------------------------------------------------------ steps

    def start_site(self) -> str:
        self.site = DemoSite(self.data_dir).start()
        return f"device on 127.0.0.1:{self.site.device_port}, {len(self.site.cameras)} cameras"

    def open_console(self) -> str:
        self.demo = start_demo_console(self.site, show_guide=True)
        screen = self.window.screen().availableGeometry()
        self.window.resize(screen.width(), screen.height())  # as a panel PC shows it: the whole screen
        if not any(m.name == MODEL_NAME for m in self.context.model_library.list()):
            raise SmokeStepFailed(f"the demo model {MODEL_NAME} is not in the model library")
        names = [m.name for m in self.context.model_library.list()]
        return f"model library: {', '.join(names)}"

    def discover(self) -> str:
        page = self.window.page("Devices")
        self.window.show_page(self.window.page_row(page.title))
        device_id = self.site.device_id

        def listed():
            row = page.model.row_of(device_id)
            return row >= 0 and page.model.entry_at(row).reachable

        self.wait_until(listed, f"device {self.site.device_name} ({device_id}) to appear reachable in Devices",
                        lambda: f"listed: {[e.name for e in page.model.entries()]}")
        return self.site.device_name

    def pair(self) -> str:
        page = self.window.page("Devices")
        device_id = self.site.device_id
        page.select_device(device_id)
        dialog = page.pair_selected()
        if dialog is None:
            raise SmokeStepFailed(f"the Pair action is not available for {self.site.device_name}")
        outcome: dict[str, Any] = {}
        dialog.accepted.connect(lambda: outcome.setdefault("paired", True))
        dialog.code_edit.setText(self.pairing_code or self.site.pairing_code)
        dialog.start_pairing()

        def done():
            if "paired" in outcome:
                return True
            if not dialog.error_label.isHidden() and dialog.error_label.text():
                message = dialog.error_label.text()
                dialog.reject()
                raise SmokeStepFailed(message)
            return False

        self.wait_until(done, "the Pair dialog to finish")
        self.wait_until(lambda: self.context.appliances.entry(device_id).paired, "the device to show as paired")
        return f"certificate {self.context.appliances.entry(device_id).pinned_fingerprint[:16]}… pinned"

    def discover_cameras(self) -> str:
        page = self.window.page("Cameras")
        self.window.show_page(self.window.page_row(page.title))
        wanted = {c.endpoint_reference for c in self.site.cameras}

        def found() -> bool:
            seen = {c.endpoint_reference for c in page.found_model.cameras()}
            if wanted <= seen:
                return True
            if not page.cancel_button.isEnabled():  # the last probe finished: send another
                page.find_cameras()
            return False

        page.find_cameras()
        self.wait_until(found, f"WS-Discovery to find both demo cameras ({', '.join(sorted(wanted))})",
                        lambda: f"{page.summary.text()}; found {[c.name for c in page.found_model.cameras()]}")
        return page.summary.text()

    def register(self) -> str:
        page = self.window.page("Cameras")
        for camera in self.site.cameras:
            self._register_one(page, camera)
        wanted = {c.endpoint_reference for c in self.site.cameras}
        page.reload_cameras()
        self.wait_until(lambda: wanted <= {c.endpoint_reference for c in page.registered_model.cameras()},
                        "both cameras in the registered list",
                        lambda: page.registered_status.text())
        return ", ".join(c.name for c in page.registered_model.cameras())

    def _register_one(self, page, camera) -> None:
        from console_app.core.services.registration import Step

        rows = [i for i, c in enumerate(page.found_model.cameras())
                if c.endpoint_reference == camera.endpoint_reference]
        if not rows:
            raise SmokeStepFailed(f"{camera.name} is no longer in the discovered list")
        dialog = page.add_found_camera(rows[0])
        if dialog is None:
            raise SmokeStepFailed("the Add camera dialog did not open (no inventory?)")
        wizard = dialog.wizard
        try:
            script = {
                Step.ADDRESS: lambda: None,
                Step.CREDENTIALS: lambda: (dialog.user_edit.setText(camera.username),
                                           dialog.password_edit.setText(camera.password)),
                Step.CHOOSE_PROFILE: lambda: _choose_profile(dialog, "main"),
                Step.TEST_STREAM: lambda: None,
                Step.REVIEW: lambda: None,
            }
            while wizard.step is not Step.SAVED:
                step = wizard.step
                if step not in script:
                    raise SmokeStepFailed(f"{camera.name}: the Add camera dialog stopped at {step.value}")
                script[step]()
                dialog.go_next()
                self.wait_until(lambda: not dialog.busy, f"{camera.name}: the Add camera dialog's {step.value} step")
                if dialog.error_label.text():
                    raise SmokeStepFailed(f"{camera.name} at {step.value}: {dialog.error_label.text()}")
                if wizard.step is step and step is not Step.TEST_STREAM:
                    raise SmokeStepFailed(f"{camera.name}: the Add camera dialog did not leave {step.value}")
            dialog.go_next()  # Close
        finally:
            if shiboken6.isValid(dialog) and dialog.isVisible():
                dialog.reject()

    def deploy(self) -> str:
        """Save the app in the app library, package it (model bundled, signed on upload), deploy it."""
        from console_app.core.services.deployer import Deployer

        manifest = demo_app_manifest(self._site_records())
        device_id = self.site.device_id
        library = self.context.app_library
        version = self.in_background(lambda: library.save_version(manifest), "Saving the demo app")
        package = self.in_background(lambda: library.deploy_package(version.app_id, version.version),
                                     "Packaging the demo app")
        deployer = Deployer(self.context.appliances)
        results = self.in_background(lambda: deployer.deploy(package, [device_id]), "Deploying the demo app")
        result = results[device_id]
        if not result.ok:
            raise SmokeStepFailed(f"{version.app_id} {version.version} was not deployed: {result.message}")
        expected = sorted(c["id"] for c in manifest["cameras"])
        appliances = self.context.appliances

        def app_status():
            with appliances.connect(device_id) as client:
                return next((a for a in client.list_apps() if a.app_id == version.app_id), None)

        while True:
            status = self.in_background(app_status, "Reading the app's state")
            if status is not None and status.state == "failed":
                raise SmokeStepFailed(f"the app {version.app_id} failed on the device: {status.error}")
            if status is not None and status.state == "running" and sorted(status.camera_ids) == expected:
                self.app_status = status
                break
            if time.monotonic() >= self._deadline:
                state = status.state if status is not None else "not installed"
                raise SmokeStepFailed(f"timed out waiting for {version.app_id} to run on "
                                      f"{', '.join(expected)} (it is {state})")
            self.pause(0.3)
        return f"{version.app_id} {version.version} running on {', '.join(expected)}"

    def _site_records(self) -> list:
        page = self.window.page("Cameras")
        by_ref = {c.endpoint_reference: c for c in page.registered_model.cameras()}
        return [by_ref[c.endpoint_reference] for c in self.site.cameras]

    def live_wall(self) -> str:
        page = self.window.page("Live")
        self.window.show_page(self.window.page_row(page.title))
        device_id = self.site.device_id
        camera_ids = sorted(self.app_status.camera_ids)
        return self._live_wall(page.wall, device_id, camera_ids)

    def _live_wall(self, wall, device_id: str, camera_ids: list[str]) -> str:
        wall.add_device(device_id)  # idempotent: the page may have added it already

        def tile(camera_id: str):
            return wall.tile(device_id, camera_id)

        def annotated() -> bool:
            tiles = [tile(c) for c in camera_ids]
            return all(t is not None and t.frames_painted >= FRAMES_BEFORE_SCREENSHOT and t.last_detections
                       for t in tiles)

        def progress() -> str:
            return "; ".join(f"{c}: " + ("no tile" if tile(c) is None else
                                        f"{tile(c).state}, {tile(c).frames_painted} painted, "
                                        f"{len(tile(c).last_detections)} detections") for c in camera_ids)

        self.wait_until(annotated, "annotated frames from every camera on the live wall", progress)
        return progress()

    def screenshot(self, out: Path | None = None) -> str:
        out = out or self.out
        QApplication.processEvents()
        image = self.window.grab().toImage()
        if image.isNull() or image.width() < 200:
            raise SmokeStepFailed("the window could not be grabbed")
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out)):
            raise SmokeStepFailed(f"could not write {out}")
        return f"{image.width()}x{image.height()}"

    def page_screenshot(self, name: str) -> Path:
        """Grab the window into ``OUT-<name>.png`` beside OUT; the file."""
        path = self.out.with_name(f"{self.out.stem}-{name}{self.out.suffix or '.png'}")
        self.screenshot(path)
        return path

    def check_fits(self) -> None:
        """Fail the step when the main window, or its minimum size, is larger than the screen."""
        problem = window_overflow(self.window)
        if problem:
            page = self.window.current_page()
            raise SmokeStepFailed(f"on the {getattr(page, 'title', '?')} page {problem}")

    def enlarge_tile(self) -> str:
        """Enlarge the first tile: its video must be the largest thing in the window, counts shown."""
        wall = self.window.page("Live").wall
        tile = wall.tiles()[0]
        wall.enlarge(tile)
        painted = tile.frames_painted
        self.wait_until(lambda: tile.frames_painted >= painted + 3 and tile.isVisible(),
                        "the enlarged tile to keep playing")
        QApplication.processEvents()
        video = tile.video_rect()
        panel = wall.tuning
        if video.width() * video.height() < panel.width() * panel.height() or video.height() < 240:
            raise SmokeStepFailed(f"the enlarged video is {video.width():.0f}x{video.height():.0f}, smaller than "
                                  f"the tuning panel ({panel.width()}x{panel.height()})")
        counts = [text for kind, text in tile.chips_painted if kind == "line"]
        if not counts or " in " not in counts[0]:
            raise SmokeStepFailed(f"the enlarged tile shows no line count (it drew {tile.chips_painted})")
        path = self.page_screenshot("enlarged")
        detail = (f"video {video.width():.0f}x{video.height():.0f}, panel {panel.width()}x{panel.height()}, "
                  f"{counts[0]!r}; {path.name}")
        self.check_fits()
        wall.restore()
        return detail

    def health(self) -> str:
        """Health shows samples taken before the page was first opened, and more than one log row."""
        opened = time.time()
        page = self.window.page("Health")
        self.window.show_page(self.window.page_row(page.title))
        device_id = self.site.device_id

        def plotted() -> bool:
            times, _ = page.history.series(device_id, "", "cpu_percent")
            return bool(times) and page.log_model.rowCount() > 1

        self.wait_until(plotted, "CPU samples and device log rows on the Health page",
                        lambda: f"{page.log_model.rowCount()} log rows; status {page.status.text()!r}")
        first = page.history.series(device_id, "", "cpu_percent")[0][0]
        if first > opened - 1.0:
            raise SmokeStepFailed(f"the CPU plot starts when the page opened ({opened - first:.1f} s before), "
                                  "not when the device was connected")
        page.redraw()
        path = self.page_screenshot("health")
        return f"plots from {opened - first:.0f} s before the page opened, {page.log_model.rowCount()} log rows; " \
               f"{path.name}"

    def events(self) -> str:
        """Events lists the demo's events; no crossing takes two rows."""
        page = self.window.page("Events")
        self.window.show_page(self.window.page_row(page.title))
        self.wait_until(lambda: page.model.rowCount() > 0, "events on the Events page",
                        lambda: page.status.text())
        types = sorted({r.type for r in page.model.records()})
        if "count_changed" in types:
            raise SmokeStepFailed("the Events page lists a count_changed row beside each crossing")
        path = self.page_screenshot("events")
        return f"{page.model.rowCount()} rows ({', '.join(types)}); {path.name}"

    def pages(self) -> str:
        """Every page once more, checked against the screen and grabbed."""
        from console_app.ui.pages import PAGE_TITLES

        shots = []
        for row, title in enumerate(PAGE_TITLES):
            self.window.show_page(row)
            QApplication.processEvents()
            self.check_fits()
            shots.append(self.page_screenshot(title.lower()).name)
        return ", ".join(shots)


def window_overflow(window) -> str:
    """Why ``window`` does not fit its screen's available area ("" when it does).

    Its size and its minimum size both count: a minimum larger than the
    screen lets the window grow off screen and refuses any smaller size.
    """
    QApplication.processEvents()
    screen = window.screen().availableGeometry()
    minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
    problems = []
    for what, size in (("the main window", window.size()), ("its minimum size", minimum)):
        if size.width() > screen.width() or size.height() > screen.height():
            problems.append(f"{what} is {size.width()}x{size.height()}")
    if problems:
        return f"{' and '.join(problems)}, larger than the {screen.width()}x{screen.height()} screen"
    return ""


def _drop_offscreen_noise(mode, context, message: str) -> None:
    """Qt's messages, less the offscreen platform's complaint about every dialog's size hints."""
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr, flush=True)


def _choose_profile(dialog, token: str) -> None:
    from PySide6.QtCore import Qt

    for row in range(dialog.profile_list.count()):
        if dialog.profile_list.item(row).data(Qt.ItemDataRole.UserRole) == token:
            dialog.profile_list.setCurrentRow(row)
            return
    raise SmokeStepFailed(f"the camera offers no '{token}' profile")


def camera_id_for(name: str) -> str:
    """A manifest camera id from a camera's display name ("Line 3 camera 1" -> "line-3-camera-1")."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]
    return slug or "camera"


def demo_app_manifest(records) -> dict:
    """resources/apps/line-safety reading the registered cameras ``records``, in the demo's order.

    The sample's camera ids stay (its zones and lines are keyed by them and
    drawn for each demo camera's own scene); names and URLs are the records'.
    """
    manifest = json.loads((demo_app_folder() / "app.json").read_text(encoding="utf-8"))
    sample = manifest["cameras"]
    manifest["cameras"] = [
        {"id": sample[i]["id"] if i < len(sample) else camera_id_for(r.name), "name": r.name, "url": r.stream_uri}
        for i, r in enumerate(records)
    ]
    return manifest


def run_smoke_test(out: Path, data_dir: Path | None = None, pairing_code: str | None = None,
                   step_timeout_s: float = STEP_TIMEOUT_S) -> int:
    """The process exit status of one smoke test (see the module docstring)."""
    return SmokeTest(out, data_dir=data_dir, pairing_code=pairing_code, step_timeout_s=step_timeout_s).run()

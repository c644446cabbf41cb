"""The demos: the console on an embedded demo site, and its terminal fallback.

``sightline-console --demo`` (what ``make demo`` opens on a desktop) starts a
:class:`~console_app.demo_site.DemoSite` (a device runtime and two simulated
ONVIF cameras on 127.0.0.1) and the normal console next to it: interfaces
forced to 127.0.0.1, its own data folder, inventory, credential file and
window settings inside the demo folder (the user's real inventory and OS
keyring are never touched), the trained demo model already in the model
library, and a guide docked in the window saying what to click. Nothing is
done for the newcomer: discovery, pairing, registration, deploy and the live
wall are theirs to try (``--smoke-test`` walks them headless).

``python -m console_app.demo`` is the terminal demo, for a box without a
display: the same site, driven the way a console would (discover the
cameras over ONVIF, pair, upload the model, deploy resources/apps/line-safety
on both cameras), then live counts, health and events printed until
interrupted (or for ``--duration`` seconds).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console_app.demo_site import (
    CAMERA_USERNAME,
    MODEL_DECODER,
    MODEL_NAME,
    DemoSite,
    DemoSiteError,
    demo_app_folder,
    demo_labels,
    demo_model_path,
)

log = logging.getLogger(__name__)

DEMO_INTERFACES = ["127.0.0.1"]
WINDOW_SETTINGS_FILE = "window.ini"


# ---------------------------------------------------------------- the console on the demo site


@dataclass
class DemoConsole:
    """The demo console's parts (Qt objects are typed loosely: this module imports Qt lazily)."""

    site: DemoSite
    context: Any            # ConsoleContext
    window: Any             # MainWindow
    inventory: Any          # InventoryStore
    guide: Any = None       # the guide's QDockWidget, when shown

    def close(self) -> None:
        """Close the window and stop the console's services (the site is the caller's). Idempotent."""
        window, self.window = self.window, None
        if window is not None:
            window.close()
            window.deleteLater()
        context, self.context = self.context, None
        if context is not None:
            context.close()
        inventory, self.inventory = self.inventory, None
        if inventory is not None:
            inventory.close()


def start_demo_console(site: DemoSite, *, show_guide: bool = True) -> DemoConsole:
    """Open the main window on ``site`` (which must be running). Needs a QApplication.

    Blocking work here (migrating the demo inventory, importing the demo
    model) happens before the window exists, as at any console start.
    """
    from PySide6.QtCore import QSettings

    from console_app.core.credentials import CredentialStore
    from console_app.core.persistence import InventoryStore
    from console_app.ui.context import ConsoleContext
    from console_app.ui.main_window import MainWindow

    folder = site.console_dir
    folder.mkdir(parents=True, exist_ok=True)
    # A private encrypted file, never the OS keyring: demo secrets must not outlive the demo.
    credentials = CredentialStore(folder / "credentials", use_keyring=False)
    database_url = f"sqlite:///{(folder / 'inventory.sqlite').as_posix()}"
    inventory = InventoryStore(database_url, credentials=credentials, editor="sightline-demo")
    context = None
    try:
        context = ConsoleContext.create(folder, DEMO_INTERFACES, database_url, inventory=inventory,
                                        database_display=f"{inventory.url_for_display} (demo site)",
                                        credentials=credentials)
        demo = DemoConsole(site, context, None, inventory)
        _open_libraries(demo)
        settings = QSettings(str(folder / WINDOW_SETTINGS_FILE), QSettings.Format.IniFormat)
        window = MainWindow(context, settings)
        demo.window = window
        window.show()
        if show_guide:
            demo.guide = show_demo_guide(window, site)
        return demo
    except BaseException:
        if context is not None:
            context.close()
        inventory.close()
        raise


def _open_libraries(demo: DemoConsole) -> None:
    """Model and app libraries on the demo inventory, the trained demo model imported into the first."""
    demo.context.open_libraries(editor="sightline-demo")
    library = demo.context.model_library
    if not any(m.name == MODEL_NAME for m in library.list()):
        library.import_file(demo_model_path(), name=MODEL_NAME, labels=demo_labels(), decoder=MODEL_DECODER)


def guide_progress(window, site: DemoSite) -> list[bool]:
    """Which of the guide's steps (``site.guide_lines()``) the newcomer has done, from what the
    console holds in memory (never a database or network call: this runs on the GUI thread)."""
    context = window.context
    device_id = site.device_id
    paired = any(e.device_id == device_id and e.paired for e in context.appliances.entries())
    pages = {getattr(page, "title", ""): page for page in window.built_pages()}
    cameras = pages.get("Cameras")
    wanted = {c.endpoint_reference for c in site.cameras}
    registered = cameras is not None and hasattr(cameras, "registered_model") and wanted <= {
        c.endpoint_reference for c in cameras.registered_model.cameras()}
    history = context.health_history
    deployed = history is not None and any(a.state == "running" for a in history.apps(device_id))
    live = pages.get("Live")
    watching = live is not None and device_id in live.wall.devices() and any(
        t.frames_painted for t in live.wall.tiles() if t.device_id == device_id)
    return [paired, registered, True, deployed, watching]  # the model is in the library from the start


def show_demo_guide(window, site: DemoSite):
    """Dock a "what to click" guide on the right of ``window``, ticking off the steps done.

    Help › Demo guide shows it again once closed.
    """
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QDockWidget, QLabel

    dock = QDockWidget("Demo site: what to try", window)
    dock.setObjectName("demoGuide")
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetMovable)
    label = QLabel()
    label.setObjectName("demoGuideText")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setMargin(10)
    label.setMinimumWidth(240)
    dock.setWidget(label)

    def render() -> None:
        if not site.running:
            return
        done = guide_progress(window, site)
        lines = site.guide_lines()
        # Once paired, the device's next code is for another console: showing it reads as a failure.
        if done[0]:
            lines[0] = f"Devices: '{site.device_name}' is paired with this console (its certificate is pinned)."
        steps = "".join(_guide_step(line, finished) for line, finished in zip(lines, done, strict=False))
        finished = sum(done)
        label.setText(
            "<p>A device and two cameras are running on this computer (127.0.0.1 only), "
            "showing a simulated production line. "
            + ("Nothing is set up yet:</p>" if finished <= 1 else f"{finished} of {len(done)} steps done:</p>")
            + f"<ol>{steps}</ol><p>Everything you do here stays in the demo's own folder. "
            "Help › Demo guide shows this again once closed.</p>")
        label.setProperty("steps_done", done)

    render()
    timer = QTimer(dock)
    timer.setInterval(1000)
    timer.timeout.connect(render)
    timer.start()
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    toggle = dock.toggleViewAction()
    toggle.setText("Demo &guide")
    toggle.setToolTip("Show or hide the demo site's step-by-step guide")
    help_menu = getattr(window, "help_menu", None)
    if help_menu is not None:
        actions = help_menu.actions()
        help_menu.insertAction(actions[0] if actions else None, toggle)
    dock.show()
    return dock


def _guide_step(line: str, finished: bool) -> str:
    text = _html(line)
    if finished:
        text = f"<span style='color:gray'>✓ {text}</span>"
    return f"<li style='margin-bottom:6px'>{text}</li>"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quiet_device_logs() -> None:
    """Keep the embedded device's INFO records off the terminal (they stay in its log stream).

    The runtime sets its own package logger to INFO so its log stream carries
    them; unless the console was started with ``--verbose`` (root at DEBUG),
    the terminal shows warnings only.
    """
    root = logging.getLogger()
    if root.level > logging.INFO or root.level == logging.NOTSET:
        for handler in root.handlers:
            handler.setLevel(max(handler.level, logging.WARNING))


def run_console_demo(data_dir: Path | None = None) -> int:
    """``sightline-console --demo``: the window on a fresh demo site until it is closed."""
    from PySide6.QtWidgets import QApplication

    from console_app.ui import theme
    from console_app.ui.main_window import SETTINGS_APP, SETTINGS_ORG

    quiet_device_logs()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(SETTINGS_ORG)
    app.setApplicationName(SETTINGS_APP)
    theme.apply_theme(app)
    site = DemoSite(data_dir)
    try:
        site.start()
    except DemoSiteError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    demo = None
    try:
        demo = start_demo_console(site)
        _quit_on_signals(app)
        print(f"Demo site: device '{site.device_name}' on 127.0.0.1:{site.device_port}, pairing code "
              f"{site.pairing_code}; cameras " + ", ".join(c.xaddr for c in site.cameras), flush=True)
        return app.exec()
    finally:
        if demo is not None:
            demo.close()
        site.stop()


def _quit_on_signals(app) -> None:
    """Ctrl-C or SIGTERM in the terminal closes the window, so the site stops and its folder goes.

    Python runs signal handlers only when it gets control; Qt's event loop
    would keep it away, hence the idle timer.
    """
    import signal

    from PySide6.QtCore import QTimer

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: app.quit())
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(250)


# ---------------------------------------------------------------- the terminal demo


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m console_app.demo",
                                description="Sightline demo site in the terminal (no display needed).")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--data-dir", type=Path, help="keep the demo's data here (default: a temporary folder)")
    return p


def _print_events(client, stop: threading.Event) -> None:
    from console_app.core.gateways.device_client import DeviceCallError

    try:
        with client.events(replay=0) as stream:
            for event in stream:
                if stop.is_set():
                    return
                stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
                print(f"  {stamp}  EVENT  {event.detail or event.type}", flush=True)
    except DeviceCallError:
        pass  # the demo is ending


def terminal_manifest(site: DemoSite) -> dict:
    """The line-safety sample app, reading each demo camera's stream URI as its ONVIF service reports it."""
    from console_app.core.gateways.onvif_client import read_camera

    manifest = json.loads((demo_app_folder() / "app.json").read_text(encoding="utf-8"))
    cameras = []
    for index, camera in enumerate(site.cameras, start=1):
        info = read_camera(camera.xaddr, camera.port, CAMERA_USERNAME, camera.password, timeout_s=10)
        profile = next((p for p in info.profiles if p.token == "main"), info.profiles[0])
        cameras.append({"id": f"line3-cam{index}", "name": camera.name, "url": profile.stream_uri})
    manifest["cameras"] = cameras
    return manifest


def main(argv: list[str] | None = None) -> int:
    """The terminal demo; returns the exit status."""
    from console_app.core.gateways.device_client import DeviceCallError, DeviceClient, pair
    from console_app.core.packaging import build_package_from_members
    from console_app.core.signing import PackageSigner

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_device_logs()
    stop = threading.Event()
    try:
        site = DemoSite(args.data_dir).start()
    except (DemoSiteError, OSError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"Device runtime '{site.device_name}' listening on 127.0.0.1:{site.device_port} (TLS), "
              "advertised on 127.0.0.1")
        for camera in site.cameras:
            print(f"Simulated ONVIF camera '{camera.name}' at {camera.xaddr}")
        manifest = terminal_manifest(site)
        print("Cameras read over ONVIF: " + ", ".join(c["url"] for c in manifest["cameras"]))
        signer = PackageSigner.generate()
        creds = pair("127.0.0.1", site.device_port, site.pairing_code, "make-demo", signer=signer)
        print(f"Paired; device certificate {creds.fingerprint[:16]}…")
        client = DeviceClient("127.0.0.1", site.device_port, creds, signer=signer)
        info = client.info()
        print(f"Inference on {info.active_provider}")
        client.upload_model(demo_model_path(), MODEL_NAME, demo_labels(), decoder=MODEL_DECODER)
        app = client.deploy(build_package_from_members(manifest, {}))
        print(f"Deployed {app.app_id} {app.version}: {app.state}. Live results (Ctrl-C to stop):\n")
        threading.Thread(target=_print_events, args=(client, stop), daemon=True).start()
        deadline = time.monotonic() + args.duration if args.duration else None
        with client.health(interval_s=2.0) as health:
            for sample in health:
                for s in sample.streams:
                    _print_stream(client, s, DeviceCallError)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        client.close()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        site.stop()


def _print_stream(client, s, call_error) -> None:
    try:
        frame = client.snapshot(s.camera_id, max_width=64)
    except call_error:
        print(f"{s.camera_id}: {s.state}, waiting for the first processed frame", flush=True)
        return
    counts = ", ".join(f"{k}={v}" for k, v in sorted(frame.counts.items())) or "-"
    seen: dict[str, int] = {}
    for d in frame.detections:
        seen[d.label] = seen.get(d.label, 0) + 1
    print(
        f"{s.camera_id}: {s.state}, camera {s.camera_fps:.1f} fps, inferred {s.inferred_fps:.1f} fps, "
        f"inference {s.inference_ms:.1f} ms | in view: {json.dumps(seen)} | counts: {counts}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())

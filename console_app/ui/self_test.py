"""``sightline-console --self-test OUT.png``: prove an installation can start.

Opens the main window offscreen with a throwaway data folder and settings,
applies the inventory's migrations to a temporary SQLite database, loads
every bundled resource (icons, models, sample apps, ONVIF WSDLs, the
protocol modules, OpenCV's FFmpeg backend), visits every page, saves a
screenshot and returns 0; on any failure prints what failed and returns 1.
The packaging check (.ci/run, ``make package``) runs it on the frozen build,
so a bundle that lost a data file fails naming it.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

SELF_TEST_SETTINGS = "self-test.ini"
# Printed as soon as the window is on screen: benchmarks/package.py times
# a frozen start up to this line.
WINDOW_SHOWN_MARKER = "self-test: main window shown"
# The ONVIF services the console creates clients for (console_app.core.gateways.onvif_client).
ONVIF_WSDLS = ("devicemgmt.wsdl", "media.wsdl")


class BundleCheckFailed(RuntimeError):
    """A bundled resource is present but unusable; the message names it."""


def run_self_test(out: Path, interfaces: list[str] | None = None, database_url: str | None = None) -> int:
    """Returns the process exit status; prints one line per step."""
    started = time.monotonic()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from console_app.core.persistence import InventoryError
    from console_app.resources import ResourceMissing, icon_names, installed_version, resource_path
    from console_app.ui import theme
    from console_app.ui.context import ConsoleContext
    from console_app.ui.icons import icon
    from console_app.ui.main_window import MainWindow
    from console_app.ui.pages import PAGE_TITLES

    step = "starting Qt"
    scratch = Path(tempfile.mkdtemp(prefix="sightline-self-test-"))
    context = window = None
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        theme.apply_theme(app)
        step = "reading the installed version"
        print(f"self-test: Sightline console {installed_version()}")
        step = "preparing the inventory"
        database_url = _prepare_database(database_url, scratch)
        step = "starting the console services"
        context = ConsoleContext.create(scratch / "data", interfaces, database_url)
        step = "opening the main window"
        settings = QSettings(str(scratch / SELF_TEST_SETTINGS), QSettings.Format.IniFormat)
        window = MainWindow(context, settings)
        window.resize(1180, 760)
        window.show()
        app.processEvents()
        print(f"{WINDOW_SHOWN_MARKER} after {time.monotonic() - started:.2f} s", flush=True)
        step = "loading icons"
        names = icon_names()
        if not names:
            raise RuntimeError(f"no icons in {resource_path('icons')}")
        for name in names:
            if icon(name).pixmap(24, 24).isNull():
                raise RuntimeError(f"icon {name}.svg rendered empty")
        step = "loading the bundled resources"
        for line in check_bundled_resources():
            print(f"self-test: {line}")
        for row, title in enumerate(PAGE_TITLES):
            step = f"visiting the {title} page"  # the window builds each page on its first visit
            window.show_page(row)
            app.processEvents()
            if getattr(window.current_page(), "title", None) != title:
                raise RuntimeError(f"the {title} page did not come up")
        window.show_page(0)
        app.processEvents()
        step = f"saving the screenshot to {out}"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            raise RuntimeError(f"could not write {out}")
        print(f"self-test passed: {len(names)} icons, {len(PAGE_TITLES)} pages, screenshot {out}")
        return 0
    except Exception as exc:
        print(f"self-test FAILED while {step}: {exc}", file=sys.stderr)
        if not isinstance(exc, (InventoryError, ResourceMissing, BundleCheckFailed)):
            traceback.print_exc(file=sys.stderr)  # those messages say it all
        return 1
    finally:
        if window is not None:
            window.close()
            window.deleteLater()
        if context is not None:
            context.close()
        app.processEvents()
        shutil.rmtree(scratch, ignore_errors=True)


def _prepare_database(database_url: str | None, scratch: Path) -> str | None:
    """Apply the inventory's migrations to a temporary SQLite database (or the given URL)."""
    from console_app.core.persistence import migrate

    url = database_url or f"sqlite:///{scratch / 'inventory.sqlite'}"
    revision = migrate(url)
    print(f"self-test: inventory migrated to revision {revision}")
    return url


def check_bundled_resources() -> list[str]:
    """Load every resource the console ships; one line per kind, or an exception naming the file.

    Raises :class:`~console_app.resources.ResourceMissing` for a file that is
    not there and :class:`BundleCheckFailed` for one that is there but unusable.
    """
    return [_check_models(), _check_apps(), _check_wsdls(), _check_protocol(), _check_video_decoding()]


def _check_models() -> str:
    """Every bundled model loads on the CPU with the device's own code, with its labels."""
    from console_app.resources import resource_path
    from device_runtime.inference.session import ModelSession

    models = sorted(resource_path("models").glob("*.onnx"))
    if not models:
        raise BundleCheckFailed(f"no models (*.onnx) in {resource_path('models')}")
    for model in models:
        labels_file = resource_path("models", f"{model.stem}.labels")
        labels = [line.strip() for line in labels_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        try:
            ModelSession.inspect(model, labels=labels)
        except Exception as exc:
            raise BundleCheckFailed(f"bundled model {model.name} does not load: {exc}") from exc
    return f"{len(models)} model(s) load: {', '.join(m.name for m in models)}"


def _check_apps() -> str:
    """Every sample app's manifest parses and names a model the bundle carries."""
    from console_app.resources import resource_path

    manifests = sorted(resource_path("apps").glob("*/app.json"))
    if not manifests:
        raise BundleCheckFailed(f"no sample apps (*/app.json) in {resource_path('apps')}")
    for manifest in manifests:
        where = f"{manifest.parent.name}/app.json"
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BundleCheckFailed(f"sample app {where} is not valid JSON: {exc}") from exc
        model = (data.get("model") or {}).get("name") if isinstance(data, dict) else None
        if not isinstance(model, str) or not model:
            raise BundleCheckFailed(f"sample app {where} names no model (model.name)")
        resource_path("models", f"{model}.onnx")  # raises ResourceMissing naming the model
    return f"{len(manifests)} sample app(s) parse: {', '.join(m.parent.name for m in manifests)}"


def _check_wsdls() -> str:
    """The ONVIF WSDLs onvif-zeep needs parse (offline) from where the console looks for them."""
    import zeep

    from console_app.core.gateways.onvif_client import WSDL_DIR
    from console_app.resources import ResourceMissing

    for name in ONVIF_WSDLS:
        path = Path(WSDL_DIR) / name
        if not path.is_file():
            raise ResourceMissing(f"ONVIF WSDL {name} is missing (looked for {path})")
        try:
            zeep.Client(str(path))
        except Exception as exc:
            raise BundleCheckFailed(f"ONVIF WSDL {path} does not load: {exc}") from exc
    return f"{len(ONVIF_WSDLS)} ONVIF WSDLs load from {WSDL_DIR}"


def _check_protocol() -> str:
    """The generated protobuf/gRPC modules of the device API import and describe the service."""
    from device_runtime.protocol.v1 import device_pb2, device_pb2_grpc

    services = list(device_pb2.DESCRIPTOR.services_by_name)
    if not services or not hasattr(device_pb2_grpc, f"{services[0]}Stub"):
        raise BundleCheckFailed("the generated device protocol modules have no service stub")
    return f"device protocol modules load (services: {', '.join(services)})"


def _check_video_decoding() -> str:
    """OpenCV with its FFmpeg backend, which the camera preview decodes RTSP with."""
    import cv2

    if not cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG):
        raise BundleCheckFailed(f"OpenCV {cv2.__version__} in this installation has no FFmpeg backend: "
                                "the camera preview cannot decode streams")
    return f"OpenCV {cv2.__version__} with FFmpeg"

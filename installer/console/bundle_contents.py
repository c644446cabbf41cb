"""What goes into the console bundle: data files, hidden imports, exclusions.

Kept apart from ``sightline-console.spec`` so the tests (tests/installer/)
can check the lists without running PyInstaller. Paths are found from this
file and from the installed packages; nothing here builds anything.
"""

from __future__ import annotations

import fnmatch
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_NAME = "sightline-console"  # dist/<BUNDLE_NAME>/ and the executable's name
ENTRY_SCRIPT = Path(__file__).resolve().parent / "sightline_console.py"
MIGRATIONS = Path("console_app/core/persistence/migrations")


class BundleInputMissing(FileNotFoundError):
    """Something the bundle must carry is not in this checkout or environment."""


def onvif_wsdl_dir() -> Path:
    """onvif-zeep's WSDL folder: ``site-packages/wsdl``, beside (not inside) the package.

    console_app.core.gateways.onvif_client looks for it at ``dirname(onvif)/../wsdl``,
    which in the bundle is ``<bundle>/_internal/wsdl``: hence the destination ``wsdl``.
    """
    spec = importlib.util.find_spec("onvif")
    if spec is None or spec.origin is None:
        raise BundleInputMissing("onvif-zeep is not installed; install the console extra first")
    folder = Path(spec.origin).resolve().parents[1] / "wsdl"
    if not (folder / "devicemgmt.wsdl").is_file():
        raise BundleInputMissing(f"onvif-zeep's WSDL folder has no devicemgmt.wsdl: {folder}")
    return folder


def _files(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Files under ``folder`` matching ``patterns``, without caches."""
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
        and any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)
    )


def console_datas(root: Path = ROOT) -> list[tuple[str, str]]:
    """``(source file or folder, destination folder in the bundle)`` for PyInstaller's ``datas``.

    Listed explicitly (no whole-tree grabs of the source checkout) so a stray
    file in the checkout never ships.
    """
    datas: list[tuple[str, str]] = []
    resources = root / "resources"
    for path in _files(resources, ("*.svg", "*.onnx", "*.labels", "*.md", "*.json")):
        datas.append((str(path), str(path.parent.relative_to(root)).replace("\\", "/")))
    # Alembic reads the migration scripts as files (script_location
    # "console_app.core.persistence:migrations"), so they travel as data
    # next to where the package's modules appear in the bundle.
    for path in _files(root / MIGRATIONS, ("*.py", "*.mako")):
        datas.append((str(path), str(path.parent.relative_to(root)).replace("\\", "/")))
    datas.append((str(onvif_wsdl_dir()), "wsdl"))
    return datas


# Modules PyInstaller cannot see being imported.
HIDDEN_IMPORTS = [
    # Imported by the migration scripts and env.py, which are data files.
    "alembic", "alembic.op", "alembic.context", "alembic.runtime.migration",
    "alembic.ddl.sqlite", "alembic.ddl.postgresql", "alembic.script",
    "console_app.core.persistence.models",
    # SQLAlchemy loads dialects by name from the URL.
    "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.postgresql.psycopg2",
    # keyring picks its backend at run time from entry points.
    "keyring.backends", "keyring.backends.SecretService", "keyring.backends.Windows",
    "keyring.backends.macOS", "keyring.backends.chainer", "keyring.backends.fail",
    "keyring.backends.null",
    # (zeroconf's compiled modules import each other from C: the spec adds
    # every zeroconf submodule with collect_submodules.)
    # pyqtgraph resolves its Qt binding at import.
    "pyqtgraph", "PySide6.QtSvg",
    # The generated protobuf and gRPC modules the console speaks.
    "device_runtime.protocol.v1.device_pb2", "device_runtime.protocol.v1.device_pb2_grpc",
]

# Installed in a development environment but never used by the console;
# listing them keeps them out however they get referenced.
EXCLUDES = [
    "tkinter", "_tkinter", "matplotlib", "IPython", "jupyter", "notebook", "torch", "torchvision",
    "scipy", "pandas", "PyQt5", "PyQt6", "PySide2", "OpenGL", "pytest", "_pytest", "pytestqt",
    "moto", "grpc_tools", "onnx", "sympy", "networkx", "training", "pyqtgraph.opengl",
    "pyqtgraph.examples", "pyqtgraph.jupyter",
    # The system's PyGObject, linked into a source venv for the device's GStreamer backend: the
    # console never reads cameras through GStreamer (an in-console demo device falls back to OpenCV).
    "gi",
    # Qt modules the console does not use (PySide6-Essentials ships some of them).
    # Not QtOpenGL/QtOpenGLWidgets: pyqtgraph's curve drawing imports them.
    "PySide6.QtQml", "PySide6.QtQmlFeatures", "PySide6.QtQuick", "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest", "PySide6.QtQuickWidgets", "PySide6.QtDesigner", "PySide6.QtHelp",
    "PySide6.QtUiTools", "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtConcurrent", "PySide6.QtLabsStyleKit",
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtWebEngineQuick",
    "PySide6.Qt3DCore", "PySide6.Qt3DRender", "PySide6.Qt3DExtras", "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets", "PySide6.QtCharts", "PySide6.QtDataVisualization",
    "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtBluetooth", "PySide6.QtPositioning",
    "PySide6.QtLocation", "PySide6.QtSerialPort", "PySide6.QtWebSockets", "PySide6.QtSensors",
    "PySide6.QtRemoteObjects", "PySide6.QtTextToSpeech", "PySide6.QtXml",
]

# Shared libraries dropped after analysis (matched against the file name).
# onnxruntime-gpu's CUDA and TensorRT providers are ~270 MB; the console
# only inspects and test-runs models on the CPU.
EXCLUDED_BINARIES = [
    "libonnxruntime_providers_cuda*", "libonnxruntime_providers_tensorrt*",
    "onnxruntime_providers_cuda*.dll", "onnxruntime_providers_tensorrt*.dll",
    # Qt pieces no console page needs: QML/Quick runtimes, designer, PDF, virtual keyboard.
    "libQt6Qml*", "libQt6Quick*", "libQt6Designer*", "libQt6Pdf*", "libQt6VirtualKeyboard*",
    "libQt6Sql*", "libQt6LabsStyleKit*", "Qt6Qml*.dll", "Qt6Quick*.dll", "Qt6Pdf*.dll",
    "Qt6VirtualKeyboard*.dll",
    # The GTK3 platform theme (left out below) and the GTK stack only it loads: ~18 MB.
    # Qt draws its own widgets and follows the OS colour scheme without it.
    "libgtk-3.so*", "libgdk-3.so*", "libatk-1.0.so*", "libatk-bridge-2.0.so*", "libatspi.so*",
    "libcairo.so*", "libcairo-gobject.so*", "libpango-1.0.so*", "libpangocairo-1.0.so*",
    "libpangoft2-1.0.so*", "libgdk_pixbuf-2.0.so*", "libepoxy.so*", "libpixman-1.so*",
    "libthai.so*", "libdatrie.so*", "libfribidi.so*", "libgraphite2.so*", "libharfbuzz.so*",
    # Embedded-Linux (EGLFS) platform support: consoles run on desktops.
    "libQt6EglFSDeviceIntegration.so*", "libQt6EglFsKmsSupport.so*",
]

# Qt plugin folders dropped (the destination path contains one of these).
EXCLUDED_QT_PLUGIN_DIRS = [
    "plugins/qmltooling", "plugins/designer", "plugins/sqldrivers", "plugins/virtualkeyboard",
    "plugins/egldeviceintegrations", "plugins/wayland-graphics-integration-server",
    "plugins/imageformats/libqpdf", "plugins/imageformats/qpdf",
    "plugins/platformthemes/libqgtk3", "plugins/platforms/libqeglfs",
    # Qt's own translations (~7 MB): the console's text is English only.
    "Qt/translations/",
]


# botocore carries API models of ~400 AWS services (~25 MB); the model
# library talks to S3 and SageMaker only (console_app/core/gateways/model_sources.py),
# and STS/SSO resolve credentials. Add a service here when the console uses one.
BOTOCORE_SERVICES_KEPT = frozenset({"s3", "sagemaker", "sts", "sso", "sso-oidc"})


def is_left_out(dest_name: str) -> bool:
    """True when PyInstaller's ``binaries``/``datas`` entry ``dest_name`` stays out of the bundle."""
    normalized = dest_name.replace("\\", "/")
    base = normalized.rsplit("/", 1)[-1]
    if any(fnmatch.fnmatch(base, pattern) for pattern in EXCLUDED_BINARIES):
        return True
    if normalized.startswith("botocore/data/"):
        service = normalized.split("/")[2]
        return "/" in normalized[len("botocore/data/"):] and service not in BOTOCORE_SERVICES_KEPT
    return any(part in normalized for part in EXCLUDED_QT_PLUGIN_DIRS)

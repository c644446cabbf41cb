"""Import an AWS Panorama app: open its folder or zip, see its graph, bind cameras and models, deploy.

The project is read and the package built in the background
(``console_app.core.services.panorama_import``); a problem shows under the
form with the file, node or field it concerns, and nothing typed is lost.
Deploying opens the usual :class:`DeployDialog` with the built package.
When the code nodes' Dockerfiles ``pip install`` packages, ``wheel_context``
(run in the background) gives the paired devices' Pythons and the settings'
wheelhouse or index, and the package bundles the wheels those devices lack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.app_builder_types import CAMERA_ID_PATTERN, CameraOption, slug
from console_app.core.services.panorama_import import (
    ImportedProject,
    build_panorama_package,
    open_panorama_project,
)
from console_app.core.services.panorama_wheels import WheelTarget
from console_app.core.settings import PythonPackagesSettings
from console_app.ui.tasks import TaskRunner
from device_runtime.media.redact import with_camera_credentials


class PanoramaImportDialog(QDialog):
    """``cameras``: the registered cameras to bind; ``open_deploy(title, package)`` shows the deploy dialog."""

    def __init__(self, cameras: Sequence[CameraOption], tasks: TaskRunner,
                 open_deploy: Callable[[str, bytes], None],
                 credentials: Callable[[str], tuple[str, str] | None] | None = None,
                 parent: QWidget | None = None,
                 wheel_context: Callable[[], tuple[list[WheelTarget | None], PythonPackagesSettings]] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Import Panorama app")
        self.resize(820, 720)
        self._cameras, self._tasks, self._open_deploy = list(cameras), tasks, open_deploy
        self._credentials = credentials
        self._wheel_context = wheel_context
        self.imported: ImportedProject | None = None
        self.path_label = QLabel("Open a Panorama project folder (graphs/, packages/) or its zip.")
        self.path_label.setWordWrap(True)
        self.folder_button = QPushButton("Open &folder…")
        self.zip_button = QPushButton("Open &zip…")
        self.folder_button.clicked.connect(self._choose_folder)
        self.zip_button.clicked.connect(self._choose_zip)
        self.graph = QTreeWidget()
        self.graph.setHeaderLabels(["Node", "Details"])
        self.graph.setAccessibleName("Application graph")
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.app_id, self.app_name, self.version = QLineEdit(), QLineEdit(), QLineEdit("1.0.0")
        self.camera_lists: dict[str, QListWidget] = {}
        self.model_paths: dict[str, QLineEdit] = {}
        self.param_edits: dict[str, QLineEdit] = {}
        self.cameras_box, self.models_box, self.params_box = QGroupBox("Cameras"), QGroupBox("Models"), QGroupBox("Parameters")
        for box in (self.cameras_box, self.models_box, self.params_box):
            QFormLayout(box)
        self.camera_url = QLineEdit()
        self.camera_url.setPlaceholderText("or a camera by URL: rtsp://host:554/stream1, sim://production-line")
        self.add_camera_button = QPushButton("&Add camera")
        self.add_camera_button.clicked.connect(lambda: self.add_camera_url(self.camera_url.text()))
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.deploy_button = QPushButton("&Deploy…")
        self.deploy_button.setEnabled(False)
        self.deploy_button.clicked.connect(self.deploy)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.path_label, 1)
        top.addWidget(self.folder_button)
        top.addWidget(self.zip_button)
        form = QFormLayout()
        form.addRow("App id", self.app_id)
        form.addRow("Name", self.app_name)
        form.addRow("Version", self.version)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.deploy_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.graph, 1)
        layout.addWidget(self.warnings)
        layout.addLayout(form)
        layout.addWidget(self.cameras_box)
        url_row = QHBoxLayout()
        url_row.addWidget(self.camera_url, 1)
        url_row.addWidget(self.add_camera_button)
        layout.addLayout(url_row)
        layout.addWidget(self.models_box)
        layout.addWidget(self.params_box)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    # ------------------------------------------------------------ loading

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Panorama project folder")
        if path:
            self.load(Path(path))

    def _choose_zip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Panorama project zip", "", "Zip files (*.zip)")
        if path:
            self.load(Path(path))

    def load(self, path: Path, overrides: Sequence[str] = ()) -> None:
        """Read ``path`` in the background; the graph and the form appear when it is checked."""
        self.status.setText(f"Reading {path.name}…")
        self.deploy_button.setEnabled(False)
        self._tasks.run_in_background(lambda _ctx: open_panorama_project(path, list(overrides)),
                                      on_success=self._show, on_failure=self._show_error)

    def _show_error(self, exc: BaseException) -> None:
        self.status.setText(f"Cannot import: {exc}")

    def _show(self, imported: ImportedProject) -> None:
        if self.imported is not None:
            self.imported.close()
        self.imported = imported
        summary = imported.summary()
        self.path_label.setText(f"<b>{summary['name']}</b> — {summary['description'] or imported.root.name}")
        self._fill_graph(summary)
        notes = [f"⚠ {w}" for w in summary["warnings"]]
        if summary["requirements"]:
            notes.append(f"pip requirements: {', '.join(summary['requirements'])} (wheels for your paired devices "
                         "are gathered from the settings' wheelhouse or index when you Deploy)")
        self.warnings.setText("\n".join(notes))
        self.app_id.setText(slug(summary["name"]) or "panorama-app")
        self.app_name.setText(summary["name"].replace("_", " "))
        self._fill_form(summary)
        self.status.setText("Bind every camera node to at least one camera, then Deploy.")
        self.deploy_button.setEnabled(True)

    def _fill_graph(self, summary: dict[str, Any]) -> None:
        self.graph.clear()
        sections = {
            "Code nodes": [(n["name"], ", ".join(f"{port} ← {src}" for port, src in n["inputs"].items()))
                           for n in summary["code_nodes"]],
            "Model nodes": [(name, ", ".join(f"{i['name']} {i['shape']}" for i in inputs))
                            for name, inputs in summary["model_nodes"].items()],
            "Camera nodes": [(name, ", ".join(s["name"] + (" (on signal)" if s["launch"] == "onSignal" else "")
                                              for s in streams)) for name, streams in summary["camera_nodes"].items()],
            "Parameters": [(name, f"{p['type']} = {p['value']}" + (f"  ({p['title']})" if p["title"] else ""))
                           for name, p in summary["parameters"].items()],
            "Display": [(name, "the app's live preview") for name in summary["displays"]],
        }
        for title, rows in sections.items():
            parent = QTreeWidgetItem([title, str(len(rows))])
            for name, details in rows:
                parent.addChild(QTreeWidgetItem([name, details]))
            self.graph.addTopLevelItem(parent)
            parent.setExpanded(True)
        self.graph.resizeColumnToContents(0)

    def _fill_form(self, summary: dict[str, Any]) -> None:
        for box in (self.cameras_box, self.models_box, self.params_box):
            layout = box.layout()
            while layout.rowCount():
                layout.removeRow(0)
        self.camera_lists, self.model_paths, self.param_edits = {}, {}, {}
        for streams in summary["camera_nodes"].values():
            for stream in streams:  # an override's concrete cameras are bound one by one
                target = stream["name"]
                widget = QListWidget()
                widget.setAccessibleName(f"Cameras for {target}")
                widget.setMaximumHeight(90)
                for camera in self._cameras:
                    item = QListWidgetItem(f"{camera.name}  ({camera.url})")
                    item.setData(Qt.ItemDataRole.UserRole, camera)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Unchecked)
                    widget.addItem(item)
                self.camera_lists[target] = widget
                self.cameras_box.layout().addRow(target, widget)
        for node in summary["model_nodes"]:
            bundled = self.imported.bundled_model(node) if self.imported else None
            edit = QLineEdit(str(bundled) if bundled else "")
            edit.setPlaceholderText("the ONNX export of this model")
            choose = QPushButton("Choose…")
            choose.clicked.connect(lambda _=False, e=edit: self._choose_model(e))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(choose)
            self.model_paths[node] = edit
            self.models_box.layout().addRow(node, row)
        for name, parameter in summary["parameters"].items():
            edit = QLineEdit(str(parameter["value"]).lower() if isinstance(parameter["value"], bool) else str(parameter["value"]))
            edit.setToolTip(parameter["description"] or parameter["type"])
            edit.setPlaceholderText(parameter["constraint"] or parameter["type"])
            self.param_edits[name] = edit
            self.params_box.layout().addRow(parameter["title"] or name, edit)

    def add_camera_url(self, url: str) -> None:
        """Offer a camera that is not registered (a URL) for every camera node."""
        url = url.strip()
        if "://" not in url:
            self.status.setText(f"Not a camera URL: {url!r} (expected e.g. rtsp://host:554/stream1)")
            return
        camera = CameraOption(url, url.rstrip("/").split("/")[-1].split("?")[0] or "camera", url)
        self._cameras.append(camera)
        for widget in self.camera_lists.values():
            item = QListWidgetItem(f"{camera.name}  ({camera.url})")
            item.setData(Qt.ItemDataRole.UserRole, camera)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            widget.addItem(item)
        self.camera_url.clear()

    def _choose_model(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "ONNX export", "", "ONNX models (*.onnx)")
        if path:
            edit.setText(path)

    # ------------------------------------------------------------ deploying

    def bind(self, target: str, camera_names: Sequence[str]) -> None:
        """Tick ``camera_names`` (registered camera names) for camera node ``target``."""
        widget = self.camera_lists[target]
        for i in range(widget.count()):
            item = widget.item(i)
            camera = item.data(Qt.ItemDataRole.UserRole)
            item.setCheckState(Qt.CheckState.Checked if camera.name in camera_names else Qt.CheckState.Unchecked)

    def _inputs(self) -> dict[str, Any]:
        cameras: dict[str, str] = {}
        bindings: dict[str, list[str]] = {}
        ids: dict[str, str] = {}
        for target, widget in self.camera_lists.items():
            for i in range(widget.count()):
                item = widget.item(i)
                if item.checkState() != Qt.CheckState.Checked:
                    continue
                camera: CameraOption = item.data(Qt.ItemDataRole.UserRole)
                if camera.key not in ids:
                    base = slug(camera.name, CAMERA_ID_PATTERN, lower=False) or "camera"
                    cid, n = base, 2
                    while cid in cameras:
                        cid, n = f"{base[:58]}-{n}", n + 1
                    ids[camera.key] = cid
                    found = self._credentials(camera.url) if self._credentials else None
                    cameras[cid] = with_camera_credentials(camera.url, *found) if found else camera.url
                bindings.setdefault(target, []).append(ids[camera.key])
        return {
            "app_id": self.app_id.text().strip(),
            "name": self.app_name.text().strip(),
            "version": self.version.text().strip(),
            "cameras": cameras,
            "bindings": bindings,
            "models": {node: Path(e.text().strip()) for node, e in self.model_paths.items() if e.text().strip()},
            "params": {name: e.text() for name, e in self.param_edits.items()},
        }

    def deploy(self) -> None:
        """Build the package in the background, then open the deploy dialog with it."""
        imported = self.imported
        if imported is None:
            return
        inputs = self._inputs()
        unbound = [t for t in self.camera_lists if t not in inputs["bindings"]]
        if unbound:
            self.status.setText(f"Choose a camera for {', '.join(unbound)}.")
            return
        self.status.setText("Checking the models and building the package…")
        self.deploy_button.setEnabled(False)

        def done(package: bytes) -> None:
            self.deploy_button.setEnabled(True)
            self.status.setText(f"Package ready ({len(package) / 1e6:.1f} MB).")
            self._open_deploy(f"{inputs['name']} {inputs['version']}", package)

        def failed(exc: BaseException) -> None:
            self.deploy_button.setEnabled(True)
            self.status.setText(f"Cannot build the package: {exc}")

        wheel_context = self._wheel_context if imported.requirements else None

        def build(_ctx: Any) -> bytes:  # a worker thread: asking the devices for their Python is I/O
            targets, settings = wheel_context() if wheel_context is not None else ([], None)
            return build_panorama_package(imported, **inputs, wheel_targets=targets, python_packages=settings)

        self._tasks.run_in_background(build,
                                      on_success=done, on_failure=failed, progress="Building the Panorama app package")

    def done(self, result: int) -> None:  # noqa: D102 - QDialog.done: also remove an unpacked zip
        if self.imported is not None:
            self.imported.close()
            self.imported = None
        super().done(result)

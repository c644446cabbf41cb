"""Import an AWS Panorama project (folder or zip) and build a signed-ready ``panorama`` package from it.

The console's side of Panorama code apps, without Qt:

    imported = open_panorama_project(Path("people_counter.zip"))   # read + checked
    imported.summary()              # nodes, edges, parameters with their deploy-form text
    package = build_panorama_package(
        imported, app_id="dock-counter", name="Dock counter", version="1.0.0",
        cameras={"dock-cam": "rtsp://10.0.0.5/stream1"},
        bindings={"camera_node": ["dock-cam"]},
        models={"model_node": Path("exports/detector.onnx")},
        params={"threshold": 0.7},
        wheel_targets=[WheelTarget.from_device_info(client.info())],   # the devices it goes to
        python_packages=settings.python_packages,                     # wheelhouse / index URL
    )
    deployer.deploy(package, device_ids)          # signed by the device client, as any app

The project is read with the device's own parser
(``device_runtime.protocol.panorama``), so an import the console accepts is
one the device accepts; each model file is checked against its node's
descriptor before anything is built. The code nodes' Dockerfile ``pip
install`` requirements that a target device lacks are gathered as wheels for
that device's platform and Python (``panorama_wheels``) into the package's
``wheels/``, which the device installs offline into the app's own venv.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from console_app.core.packaging import build_package_from_members
from console_app.core.services.panorama_wheels import WheelError, WheelTarget, gather_wheels
from console_app.core.settings import PythonPackagesSettings
from device_runtime.inference.session import ModelSession
from device_runtime.protocol.apps.errors import ManifestError
from device_runtime.protocol.apps.manifest import parse_manifest
from device_runtime.protocol.panorama.dockerfile import read_dockerfile
from device_runtime.protocol.panorama.formats import PanoramaFormatError
from device_runtime.protocol.panorama.project import (
    PanoramaProject,
    check_constraint,
    coerce_parameter,
    descriptor_problems,
    load_project,
)

MAX_ZIP_BYTES = 4 * 1024**3  # unpacked
PROJECT_FOLDER = "project"
WHEELS_FOLDER = "wheels"  # the device's panorama kind installs from here (device_runtime.panorama.kind.WHEELS_DIR)


class PanoramaImportError(Exception):
    """The project cannot be imported or packaged; the message names the file, node or field."""


@dataclass
class ImportedProject:
    """A checked Panorama project and what the deploy form needs from it."""

    root: Path
    project: PanoramaProject
    overrides: list[Path]
    warnings: list[str] = field(default_factory=list)
    #: The code nodes' Dockerfile ``pip install`` requirements, in order, without repeats.
    requirements: list[str] = field(default_factory=list)
    _temp: Path | None = None

    def summary(self) -> dict[str, Any]:
        """Nodes, edges, parameters (with title, description, constraint) and cameras to bind."""
        project = self.project
        return {
            "name": project.name,
            "description": project.description,
            "code_nodes": [
                {
                    "name": node.name,
                    "inputs": {port: b.cameras or b.parameter or b.type for port, b in node.inputs.items()},
                    "outputs": node.outputs,
                    "routes": [rule.hostPort for rule in node.routes],
                }
                for node in project.code_nodes
            ],
            "model_nodes": {
                name: [{"name": i.name, "shape": list(i.shape)} for i in node.descriptor.inputs]
                for name, node in project.model_nodes.items()
            },
            "camera_nodes": {
                name: [{"name": s.name, "launch": s.launch} for s in node.streams] for name, node in project.cameras.items()
            },
            "parameters": {
                name: {
                    "type": p.type, "value": p.value, "title": p.title, "description": p.description,
                    "constraint": p.constraint_text, "regex": p.constraint_regex,
                }
                for name, p in project.parameters.items()
            },
            "displays": project.displays,
            "requirements": list(self.requirements),
            "warnings": list(self.warnings),
        }

    def bundled_model(self, node: str) -> Path | None:
        """The one ``.onnx`` in a model node's package folder, if there is exactly one."""
        found = sorted(self.project.model_nodes[node].folder.glob("*.onnx"))
        return found[0] if len(found) == 1 else None

    def close(self) -> None:
        """Remove the folder a zip was unpacked into."""
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None


def _unzip(archive: Path) -> tuple[Path, Path]:
    """Unpack safely (no absolute paths, no '..', no links, bounded size); (temp folder, project root)."""
    temp = Path(tempfile.mkdtemp(prefix="panorama-import-"))
    try:
        with zipfile.ZipFile(archive) as zf:
            total = 0
            for info in zf.infolist():
                name = PurePosixPath(info.filename)
                if info.filename.startswith("/") or ".." in name.parts or "\\" in info.filename:
                    raise PanoramaImportError(f"{archive.name}: member {info.filename!r} leaves the project folder")
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise PanoramaImportError(f"{archive.name}: member {info.filename!r} is a symbolic link")
                total += info.file_size
                if total > MAX_ZIP_BYTES:
                    raise PanoramaImportError(f"{archive.name}: unpacks to more than {MAX_ZIP_BYTES >> 30} GiB")
            zf.extractall(temp)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise PanoramaImportError(f"{archive.name}: not a zip file ({exc})") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    root = temp
    entries = [p for p in temp.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if not (temp / "graphs").is_dir() and len(entries) == 1 and (entries[0] / "graphs").is_dir():
        root = entries[0]
    return temp, root


def open_panorama_project(path: Path, overrides: list[str] | None = None) -> ImportedProject:
    """Read and check a project folder or zip; ``overrides`` are paths inside the project."""
    path = Path(path)
    temp = None
    if path.is_file():
        temp, root = _unzip(path)
    elif path.is_dir():
        root = path
    else:
        raise PanoramaImportError(f"{path}: no such folder or zip file")
    try:
        override_paths = [root / name for name in overrides or []]
        project = load_project(root, override_paths)
        warnings = list(project.warnings)
        requirements: list[str] = []
        for node in project.code_nodes:
            info = read_dockerfile(node.folder / "Dockerfile", node.folder, source=f"packages/{node.folder.name}/Dockerfile")
            warnings.extend(info.warnings)
            requirements.extend(r for r in info.requirements if r not in requirements)
    except PanoramaFormatError as exc:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        raise PanoramaImportError(str(exc)) from None
    return ImportedProject(root.resolve(), project, override_paths, warnings, requirements, temp)


def check_model(imported: ImportedProject, node: str, path: Path) -> None:
    """Refuse an ONNX file that does not fit the model node's descriptor, naming the difference."""
    if node not in imported.project.model_nodes:
        known = ", ".join(imported.project.model_nodes) or "none"
        raise PanoramaImportError(f"the graph has no model node {node!r} (model nodes: {known})")
    try:
        description = ModelSession.inspect(path, name=node, decoder="raw")
    except Exception as exc:
        raise PanoramaImportError(f"model node '{node}': {exc}") from None
    inputs = [(t.name, t.shape, t.describe()) for t in description.inputs]
    problems = descriptor_problems(imported.project.model_nodes[node], inputs, Path(path).name)
    if problems:
        raise PanoramaImportError("\n".join(problems))


def build_panorama_package(
    imported: ImportedProject,
    *,
    app_id: str,
    name: str,
    version: str,
    cameras: dict[str, str],
    bindings: dict[str, list[str]] | None = None,
    models: dict[str, Path] | None = None,
    params: dict[str, Any] | None = None,
    paused: list[str] | None = None,
    memory_mb: int = 2048,
    wheel_targets: Sequence[WheelTarget | None] = (),
    python_packages: PythonPackagesSettings | None = None,
) -> bytes:
    """A ``panorama`` package: ``app.json`` + the project unchanged + each model node's ONNX file.

    ``wheel_targets`` are the Pythons of the devices it goes to (None: a device
    too old to report it, skipped): the requirements each lacks are gathered
    from ``python_packages``' wheelhouse or index into ``wheels/``.
    """
    models = dict(models or {})
    for node in imported.project.model_nodes:
        if node not in models:
            bundled = imported.bundled_model(node)
            if bundled is None:
                raise PanoramaImportError(
                    f"model node '{node}': choose its ONNX export (Panorama compiled "
                    f"{imported.project.model_nodes[node].descriptor.framework} models; Sightline runs ONNX)"
                )
            models[node] = bundled
    members: dict[str, bytes | Path] = {}
    model_specs = {}
    for node, path in models.items():
        path = Path(path).resolve()
        check_model(imported, node, path)
        if path.is_relative_to(imported.root):  # already in the project: no second copy
            member = f"{PROJECT_FOLDER}/{path.relative_to(imported.root).as_posix()}"
        else:
            member = f"models/{node}.onnx"
            members[member] = path
        model_specs[node] = {"name": f"{app_id}-{node}", "file": member}
    checked_params = {}
    for key, value in (params or {}).items():
        parameter = imported.project.parameters.get(key)
        if parameter is None:
            known = ", ".join(imported.project.parameters) or "none"
            raise PanoramaImportError(f"parameter {key!r}: the graph has no such parameter node (parameters: {known})")
        try:
            checked_params[key] = coerce_parameter(parameter.type, value, f"parameter {key}")
            check_constraint(parameter, checked_params[key], f"parameter {key}")
        except ValueError as exc:
            raise PanoramaImportError(str(exc)) from None
    for path in sorted(imported.root.rglob("*")):
        if path.is_symlink():
            raise PanoramaImportError(f"{path.relative_to(imported.root)}: packages may not contain symbolic links")
        if path.is_file():
            members[f"{PROJECT_FOLDER}/{path.relative_to(imported.root).as_posix()}"] = path
    manifest = {
        "schema": "sightline.app/v1",
        "kind": "panorama",
        "id": app_id,
        "name": name,
        "version": version,
        "description": imported.project.description[:2000],
        "cameras": [{"id": camera_id, "url": url} for camera_id, url in cameras.items()],
        "project": PROJECT_FOLDER,
        "overrides": [p.relative_to(imported.root).as_posix() for p in imported.overrides],
        "bindings": bindings or {},
        "paused": paused or [],
        "models": model_specs,
        "params": checked_params,
        "limits": {"memory_mb": memory_mb},
    }
    try:
        parse_manifest(manifest)
    except ManifestError as exc:
        raise PanoramaImportError(str(exc)) from None
    targets = [t for t in wheel_targets if t is not None]
    with tempfile.TemporaryDirectory(prefix="panorama-wheels-") as temp:
        try:
            wheels = gather_wheels(imported.requirements, targets, python_packages or PythonPackagesSettings(), Path(temp))
        except WheelError as exc:
            raise PanoramaImportError(f"Dockerfile pip requirements: {exc}") from None
        for wheel in wheels:
            members[f"{WHEELS_FOLDER}/{wheel.name}"] = wheel
        return build_package_from_members(manifest, members)

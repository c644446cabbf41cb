"""The layering rules of docs/architecture.md, enforced on the source text."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in forbidden or name in forbidden:
                found.append(f"{path.relative_to(REPO)} imports {name}")
    return found


QT = ("PySide6", "shiboken6", "PyQt5", "PyQt6")


@pytest.mark.parametrize(
    "folder, forbidden",
    [
        ("device_runtime", ("console_app",) + QT),
        ("console_app/core", QT),
    ],
)
def test_layer_does_not_import_what_it_must_not(folder: str, forbidden: tuple[str, ...]) -> None:
    assert offenders(folder, forbidden) == []


def test_layering_check_detects_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from PySide6.QtCore import QObject\nimport console_app.cli\n")
    assert {"PySide6.QtCore", "console_app.cli"} <= imported_modules(sample)


#: What the console may use from the device side: the API contract, the pure model knowledge
#: (inspection, decoders, NMS) so a model tested in the console behaves exactly as on the device,
#: and the camera-media helpers (redaction, DESCRIBE diagnosis, FFmpeg capture, test-open).
CONSOLE_MAY_IMPORT = ("device_runtime.protocol", "device_runtime.inference", "device_runtime.media")
#: The demo and the simulators run a device or its video sources on purpose.
CONSOLE_EXEMPT = ("console_app/sim/", "console_app/demo")


def console_reaches_into_device() -> list[str]:
    found = []
    for path in sorted((REPO / "console_app").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith(CONSOLE_EXEMPT):
            continue
        for name in imported_modules(path):
            if name.split(".")[0] == "device_runtime" and not name.startswith(CONSOLE_MAY_IMPORT):
                found.append(f"{relative} imports {name}")
    return found


def test_console_uses_only_the_protocol_model_knowledge_and_media_helpers_of_the_device() -> None:
    assert console_reaches_into_device() == []


def test_media_helpers_do_not_drag_the_device_runtime_into_the_console() -> None:
    """device_runtime.media is shared with the console: it may use only the protocol and itself."""
    found = []
    for path in sorted((REPO / "device_runtime" / "media").rglob("*.py")):
        for name in imported_modules(path):
            if name.startswith("device_runtime") and not name.startswith(
                ("device_runtime.media", "device_runtime.protocol")
            ):
                found.append(f"{path.relative_to(REPO)} imports {name}")
    assert found == []

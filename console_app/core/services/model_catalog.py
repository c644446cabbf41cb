"""The model library's plumbing: its errors, the stored-model value, names, labels files and the JSON index.

Split from :mod:`console_app.core.services.model_library`, which re-exports
what callers need; nothing here knows about imports or the inventory.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from console_app.core.files import write_atomically
from console_app.core.model_inspection import TensorInfo
from device_runtime.protocol.apps.specs import MODEL_NAME_PATTERN


class ModelLibraryError(Exception):
    """Base of the library's own errors; messages name the model and the problem."""


class UnknownModel(ModelLibraryError, KeyError):
    """No model with that id, sha256 or name is in the library."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class LabelsError(ModelLibraryError):
    """A labels file or list the library cannot use (empty names, repeats, wrong count)."""


class ModelInUse(ModelLibraryError):
    """Removal refused: deployed apps use the model (``apps`` names them)."""

    def __init__(self, message: str, model: LibraryModel, apps: Sequence[str]):
        super().__init__(message)
        self.model = model
        self.apps = tuple(apps)


@dataclass(frozen=True)
class LibraryModel:
    """One stored version of a model. ``id`` is ``"<name>@<version>"``; ``path`` its file."""

    id: str
    name: str
    version: int
    sha256: str
    path: Path
    size: int
    decoder: str
    labels: tuple[str, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    opset: int | None
    source: str
    imported_at: datetime
    detected_decoder: str = ""
    input_size: tuple[int, int] | None = None  # (height, width) frames are letterboxed to
    row_version: int | None = None  # the inventory's edit guard; None with the JSON index

    @property
    def available(self) -> bool:
        """False when the row is in a shared inventory but the file is on another workstation."""
        return self.path.is_file()

    @property
    def decoder_overridden(self) -> bool:
        return bool(self.detected_decoder) and self.decoder != self.detected_decoder

    @classmethod
    def from_entry(cls, entry: dict[str, Any], path: Path) -> LibraryModel:
        """From an index entry (the JSON index's dict, or the inventory row's), stored at ``path``."""
        imported = entry.get("imported_at")
        size = entry.get("input_size")
        return cls(
            id=f"{entry['name']}@{entry['version']}",
            name=entry["name"],
            version=int(entry["version"]),
            sha256=entry["sha256"],
            path=path,
            size=int(entry["size"]),
            decoder=entry["decoder"],
            labels=tuple(entry.get("labels") or ()),
            inputs=tuple(TensorInfo.from_json(t) for t in entry.get("inputs") or ()),
            outputs=tuple(TensorInfo.from_json(t) for t in entry.get("outputs") or ()),
            opset=entry.get("opset"),
            source=entry.get("source") or "",
            imported_at=datetime.fromisoformat(imported) if imported else datetime.now(timezone.utc),
            detected_decoder=entry.get("detected_decoder") or "",
            input_size=(int(size[0]), int(size[1])) if size else None,
            row_version=entry.get("row_version"),
        )


def read_labels_file(path: str | os.PathLike) -> tuple[str, ...]:
    """Class names from a text file, one per line (line n = class id n); trailing blanks ignored."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LabelsError(f"{path} is not a UTF-8 text file of class names") from None
    except OSError as exc:
        raise LabelsError(f"cannot read the labels file {path}: {exc.strerror or exc}") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return check_labels(lines, str(path))


def check_labels(labels: Sequence[str], shown_as: str = "the labels") -> tuple[str, ...]:
    """Refuse empty names and repeats (class ids would be ambiguous)."""
    labels = tuple(str(label).strip() for label in labels)
    if not labels:
        raise LabelsError(f"{shown_as}: no class names (expected one name per line)")
    seen: dict[str, int] = {}
    for index, label in enumerate(labels):
        if not label:
            raise LabelsError(f"{shown_as}: line {index + 1} is empty; class {index} needs a name")
        if label in seen:
            raise LabelsError(
                f"{shown_as}: {label!r} on line {index + 1} repeats line {seen[label] + 1}"
            )
        seen[label] = index
    return labels


def class_count(decoder: str, outputs: Sequence[TensorInfo]) -> int | None:
    """How many classes the model's outputs carry, where the layout says (None: unknown)."""
    if len(outputs) != 1:
        return None
    shape = outputs[0].shape
    count = None
    if decoder == "yolov8" and len(shape) == 3:
        count = shape[1] - 4 if shape[1] > 0 else None
    elif decoder == "yolov5" and len(shape) == 3:
        count = shape[2] - 5 if shape[2] > 0 else None
    elif decoder == "classification" and len(shape) in (2, 4):
        count = shape[1] if shape[1] > 0 else None
    return count if count and count > 0 else None


def model_name_from(text: str) -> str:
    """A library name from a file name or key: allowed characters kept, others become '-'."""
    stem = PurePosixPath(text.replace("\\", "/")).name
    for suffix in (".tar.gz", ".tgz", ".tar", ".onnx"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:128]
    return cleaned or "model"


def check_model_name(name: str) -> str:
    name = (name or "").strip()
    if not MODEL_NAME_PATTERN.match(name):
        raise ModelLibraryError(
            f"model name {name!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (the device knows models by this name)"
        )
    return name


class JsonIndex:
    """The library's entries in ``models/index.json`` (no database): atomic rewrites under a lock."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()

    def _read(self) -> list[dict[str, Any]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ModelLibraryError(f"the model library index {self.path} cannot be read: {exc}") from None
        models = raw.get("models") if isinstance(raw, dict) else None
        if not isinstance(models, list):
            raise ModelLibraryError(f"the model library index {self.path} has no 'models' list")
        return models

    def _write(self, entries: list[dict[str, Any]]) -> None:
        write_atomically(self.path, json.dumps({"format": 1, "models": entries}, indent=1))

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted(self._read(), key=lambda e: (e["name"], e["version"]))

    def by_sha256(self, sha256: str) -> dict[str, Any] | None:
        with self._lock:
            return next((e for e in self._read() if e["sha256"] == sha256), None)

    def add(self, entry: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        with self._lock:
            entries = self._read()
            for existing in entries:
                if existing["sha256"] == entry["sha256"]:
                    return existing, False
            versions = [e["version"] for e in entries if e["name"] == entry["name"]]
            stored = dict(entry, version=max(versions, default=0) + 1)
            self._write(entries + [stored])
            return stored, True

    def update(self, sha256: str, expected_row_version: int | None, **changes: Any) -> dict[str, Any]:
        with self._lock:
            entries = self._read()
            for index, entry in enumerate(entries):
                if entry["sha256"] == sha256:
                    entries[index] = dict(entry, **changes)
                    self._write(entries)
                    return entries[index]
            raise UnknownModel(f"model {sha256[:12]} is no longer in the library")

    def delete(self, sha256: str) -> bool:
        with self._lock:
            entries = self._read()
            kept = [e for e in entries if e["sha256"] != sha256]
            if len(kept) == len(entries):
                return False
            self._write(kept)
            return True

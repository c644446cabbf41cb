"""Model files, stored once per content and found by name.

Layout under ``root``::

    models/blobs/<sha256>.onnx   the model bytes, named by their digest
    models/index.json            name -> digest, size, labels, decoder, added_at
    staging/models/              uploads in progress; emptied on open

Names are what apps refer to. Adding a name again with new content points it
at the new blob; blobs no name points to are deleted when a model is removed,
on :meth:`ModelStore.collect_garbage`, and on open (so a crash between writing
a blob and the index leaves nothing behind). The index is replaced atomically.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_runtime.errors import InvalidArgument
from device_runtime.store.atomic import (
    atomic_write_json,
    disk_full_error,
    fsync_dir,
    load_json_file,
    remove_stale_temp_files,
)
from device_runtime.store.digests import file_sha256
from device_runtime.store.errors import ChecksumMismatch, ModelInUse, ModelNotFound
from device_runtime.store.names import check_id
from device_runtime.store.uploads import check_sha256

log = logging.getLogger(__name__)

_FORMAT = 1
_BLOB_SUFFIX = ".onnx"
_COPY_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class StoredModel:
    """A named model: its blob's digest, size and path, class labels and output decoder."""

    name: str
    sha256: str
    size: int
    path: Path
    labels: tuple[str, ...]
    decoder: str | None
    added_at: float


def _check_labels(name: str, labels: object) -> tuple[str, ...]:
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise InvalidArgument(f"labels of model {name!r} must be a list of strings")
    for index, label in enumerate(labels):
        if not isinstance(label, str) or "\n" in label or "\r" in label:
            raise InvalidArgument(
                f"label {index} of model {name!r} must be a one-line string, got {label!r}"
            )
    return tuple(labels)


def _check_decoder(name: str, decoder: object) -> str | None:
    if decoder is None or decoder == "":
        return None
    if not isinstance(decoder, str):
        raise InvalidArgument(f"decoder of model {name!r} must be a string, got {decoder!r}")
    return decoder


def _check_index(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"expected an object with format {_FORMAT}")
    if not isinstance(data["models"], dict):
        raise ValueError("'models' is not an object")
    for name, entry in data["models"].items():
        try:
            check_id("model name", name)
            check_sha256(entry["sha256"], f"sha256 of model {name!r}")
            _check_labels(name, entry["labels"])
            _check_decoder(name, entry["decoder"])
        except InvalidArgument as exc:
            raise ValueError(str(exc)) from exc
        if not isinstance(entry["size"], int) or entry["size"] < 0:
            raise ValueError(f"size of model {name!r} is not a byte count")
        float(entry["added_at"])


class ModelStore:
    """Named, content-addressed model files under ``root``; safe to share between threads.

    Problems repaired on open (an unreadable index moved aside, entries whose
    blob is gone) are described in ``warnings``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.warnings: list[str] = []
        self._blobs_dir = self.root / "models" / "blobs"
        self._index_path = self.root / "models" / "index.json"
        self._staging_dir = self.root / "staging" / "models"
        # Re-entrant: in_use_by runs under the lock and may call back into the store.
        self._lock = threading.RLock()
        self._models: dict[str, StoredModel] = {}
        self._open()

    @property
    def staging_dir(self) -> Path:
        """Where model uploads should be received (same disk as the blobs, emptied on open)."""
        return self._staging_dir

    def get(self, name: str) -> StoredModel:
        """The model called ``name``; ModelNotFound (naming the known models) if none is."""
        with self._lock:
            model = self._models.get(name)
            if model is None:
                known = ", ".join(sorted(self._models)) or "none"
                raise ModelNotFound(f"model {name!r} not found; known models: {known}")
            return model

    def list(self) -> list[StoredModel]:
        """Every stored model, sorted by name."""
        with self._lock:
            return [self._models[name] for name in sorted(self._models)]

    def add(
        self,
        path: Path,
        name: str,
        labels: Sequence[str],
        decoder: str | None,
        sha256: str,
        *,
        move: bool = False,
    ) -> StoredModel:
        """Store the model file at ``path`` under ``name`` and return it.

        ``sha256`` is the digest the uploader declared; the bytes are hashed
        again here (a content-addressed store must never file bytes under a
        wrong name) and ChecksumMismatch is raised if they differ. With
        ``move=True`` the file is moved into the store when it is on the same
        disk (an upload in ``staging_dir`` is), else copied; the caller's file
        is left alone with ``move=False``. An existing ``name`` now points to
        the new content.
        """
        check_id("model name", name)
        expected = check_sha256(sha256, f"sha256 of model {name!r}")
        labels = _check_labels(name, labels)
        decoder = _check_decoder(name, decoder)
        path = Path(path)
        with self._lock:
            blob = self._blobs_dir / f"{expected}{_BLOB_SUFFIX}"
            size = self._place_blob(path, blob, expected, move)
            model = StoredModel(name, expected, size, blob, labels, decoder, time.time())
            models = dict(self._models)
            models[name] = model
            self._write(models)
            log.info("stored model %s (%s, %d bytes)", name, expected, size)
            return model

    def remove(self, name: str, in_use_by: Callable[[str], list[str]]) -> None:
        """Forget ``name`` unless ``in_use_by(name)`` lists apps using it; free its blob if unused."""
        with self._lock:
            if name not in self._models:
                known = ", ".join(sorted(self._models)) or "none"
                raise ModelNotFound(f"model {name!r} not found; known models: {known}")
            users = sorted(in_use_by(name))
            if users:
                raise ModelInUse(
                    f"model {name!r} is used by app(s) {', '.join(users)}; stop or remove them first"
                )
            models = dict(self._models)
            del models[name]
            self._write(models)
            self._collect_garbage()

    def collect_garbage(self) -> list[str]:
        """Delete blobs no name points to; return their digests."""
        with self._lock:
            return self._collect_garbage()

    # ------------------------------------------------------------------ internals

    def _place_blob(self, source: Path, blob: Path, expected: str, move: bool) -> int:
        """Put ``source``'s bytes at ``blob`` (checking the digest); return the size."""
        if move and not blob.exists():
            actual = file_sha256(source)
            self._check_digest(source, expected, actual)
            try:
                os.replace(source, blob)
                fsync_dir(self._blobs_dir)
                return blob.stat().st_size
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                # Another disk: fall through to copying.
        if blob.exists():
            self._check_digest(source, expected, file_sha256(source))
        else:
            self._copy_into(source, blob, expected)
        if move:
            source.unlink(missing_ok=True)
        return blob.stat().st_size

    def _copy_into(self, source: Path, blob: Path, expected: str) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=f".{blob.name}.", suffix=".tmp", dir=blob.parent)
        try:
            digest = hashlib.sha256()
            with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
                for block in iter(lambda: src.read(_COPY_BUFFER), b""):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            self._check_digest(source, expected, digest.hexdigest())
            os.replace(temp_name, blob)
        except BaseException as exc:
            Path(temp_name).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                full = disk_full_error(exc, f"model blob {blob.name}")
                if full is not None:
                    raise full from exc
            raise
        fsync_dir(blob.parent)

    @staticmethod
    def _check_digest(source: Path, expected: str, actual: str) -> None:
        if actual != expected:
            raise ChecksumMismatch(
                f"model file {source.name} has sha256 {actual}, not the declared {expected}"
            )

    def _write(self, models: dict[str, StoredModel]) -> None:
        atomic_write_json(
            self._index_path,
            {
                "format": _FORMAT,
                "models": {
                    m.name: {
                        "sha256": m.sha256,
                        "size": m.size,
                        "labels": list(m.labels),
                        "decoder": m.decoder,
                        "added_at": m.added_at,
                    }
                    for m in models.values()
                },
            },
        )
        self._models = models

    def _collect_garbage(self) -> list[str]:
        referenced = {m.sha256 for m in self._models.values()}
        removed = []
        for blob in self._blobs_dir.glob(f"*{_BLOB_SUFFIX}"):
            digest = blob.name[: -len(_BLOB_SUFFIX)]
            if digest not in referenced:
                blob.unlink(missing_ok=True)
                removed.append(digest)
                log.info("deleted unused model blob %s", digest)
        if removed:
            fsync_dir(self._blobs_dir)
        return removed

    def _recover_from_blobs(self, warning: str) -> None:
        """After the index was lost, list every blob as ``recovered-<digest>`` so none is lost.

        Names, labels and decoders cannot be recovered; the models stay
        visible (and removable) until someone uploads them again properly.
        """
        models = {}
        for blob in sorted(self._blobs_dir.glob(f"*{_BLOB_SUFFIX}")):
            digest = blob.name[: -len(_BLOB_SUFFIX)]
            try:
                check_sha256(digest)
            except InvalidArgument:
                continue
            name = f"recovered-{digest[:12]}"
            info = blob.stat()
            models[name] = StoredModel(name, digest, info.st_size, blob, (), None, info.st_mtime)
        self._write(models)
        message = (
            f"{warning}; listed its {len(models)} model file(s) as recovered-<digest> "
            "(names and labels were lost)"
        )
        log.error("%s", message)
        self.warnings.append(message)

    def _open(self) -> None:
        if self._staging_dir.exists():
            shutil.rmtree(self._staging_dir, ignore_errors=True)
        self._staging_dir.mkdir(parents=True, exist_ok=True)
        self._blobs_dir.mkdir(parents=True, exist_ok=True)
        for stale in self._blobs_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        remove_stale_temp_files(self._index_path)
        data, _moved, warning = load_json_file(self._index_path, _check_index)
        if warning is not None:
            self._recover_from_blobs(warning)
            return
        models = {}
        for name, entry in (data or {"models": {}})["models"].items():
            blob = self._blobs_dir / f"{entry['sha256']}{_BLOB_SUFFIX}"
            if not blob.is_file():
                message = f"model {name!r} is listed but its file {blob.name} is gone; dropped it"
                log.warning("%s", message)
                self.warnings.append(message)
                continue
            models[name] = StoredModel(
                name,
                entry["sha256"],
                entry["size"],
                blob,
                tuple(entry["labels"]),
                entry["decoder"],
                float(entry["added_at"]),
            )
        self._models = models
        if data is not None and len(models) != len(data["models"]):
            self._write(models)
        self._collect_garbage()

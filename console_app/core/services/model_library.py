"""The console's model library: ONNX models imported from files, S3 or SageMaker, versioned.

Every import goes the same way, so nothing is ever half-imported:

1. the bytes are copied or downloaded to a temporary file under
   ``data_dir/models/.incoming`` (same disk, so the last step is a rename);
2. the file is judged with the device's own inference code on the CPU
   (:func:`console_app.core.model_inspection.inspect_model`): not ONNX, no
   usable output, an input no camera gives → :class:`ModelRejected`, and the
   temporary file is deleted;
3. its SHA-256 names it: ``data_dir/models/<sha256>.onnx`` (content-addressed;
   the same bytes imported twice are stored once and the existing entry is
   returned);
4. the entry is recorded as the next version of its name (1, 2, …): in the
   inventory database when a session factory is given (table
   ``library_models``), else in ``data_dir/models/index.json``.

Removing a model asks the usage lookup (``set_usage_lookup``; the app
library answers which deployed apps use it) and refuses with
:class:`ModelInUse` naming them unless ``force=True``.

Every method is blocking I/O: the UI calls them from background tasks.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from console_app.core.gateways import model_sources
from console_app.core.gateways.model_sources import (
    AmbiguousArchive,
    DownloadCancelled,
    ModelSourceError,
)
from console_app.core.model_inspection import (
    DECODER_FAMILIES,
    ModelInspection,
    ModelRejected,
    TensorInfo,
    inspect_model,
)
from console_app.core.services.model_catalog import (
    JsonIndex,
    LabelsError,
    LibraryModel,
    ModelInUse,
    ModelLibraryError,
    UnknownModel,
    check_labels,
    check_model_name,
    class_count,
    model_name_from,
    read_labels_file,
)
from console_app.core.settings import CloudSettings

log = logging.getLogger(__name__)

INDEX_FILE_NAME = "index.json"
INCOMING_DIR_NAME = ".incoming"

#: ``progress(fraction 0..1 or None, text)``: the shape of ``TaskContext.report``.
ProgressFn = Callable[[float | None, str], None]
CancelFlag = threading.Event | Callable[[], bool] | None

__all__ = [
    "AmbiguousArchive",
    "DownloadCancelled",
    "LabelsError",
    "LibraryModel",
    "ModelInUse",
    "ModelLibrary",
    "ModelLibraryError",
    "ModelRejected",
    "ModelSourceError",
    "UnknownModel",
    "read_labels_file",
]


def _is_cancelled(flag: CancelFlag) -> bool:
    if flag is None:
        return False
    if isinstance(flag, threading.Event):
        return flag.is_set()
    return bool(flag())


class ModelLibrary:
    """Models stored content-addressed under ``data_dir/models``, indexed by name and version.

    ``session_factory``: the inventory's SQLAlchemy sessionmaker (entries go to
    its ``library_models`` table); ``None``: a JSON index beside the files.
    ``cloud``: profile/region/endpoint for S3 and SageMaker imports.
    """

    def __init__(self, data_dir: Path, session_factory=None, cloud: CloudSettings | None = None):
        self.folder = Path(data_dir) / "models"
        self.incoming = self.folder / INCOMING_DIR_NAME
        self.incoming.mkdir(parents=True, exist_ok=True)
        self.cloud = cloud or CloudSettings()
        if session_factory is not None:
            from console_app.core.persistence.library_models import LibraryModelRepository

            self._index = LibraryModelRepository(session_factory)
        else:
            self._index = JsonIndex(self.folder / INDEX_FILE_NAME)
        self._usage_lookup: Callable[[LibraryModel], list[str]] | None = None
        self._clean_incoming()

    # ------------------------------------------------------------------ reading

    def list(self) -> list[LibraryModel]:
        """Every stored version, by name then version."""
        return [self._model(entry) for entry in self._index.entries()]

    def get(self, model_id: str) -> LibraryModel:
        """By id (``"name@3"``), by sha256, or by name (its newest version)."""
        models = self.list()
        for model in models:
            if model_id in (model.id, model.sha256):
                return model
        named = [m for m in models if m.name == model_id]
        if named:
            return max(named, key=lambda m: m.version)
        raise UnknownModel(f"no model {model_id!r} in the library")

    def versions(self, name: str) -> list[LibraryModel]:
        return [m for m in self.list() if m.name == name]

    def path_of(self, sha256: str) -> Path:
        return self.folder / f"{sha256}.onnx"

    # ------------------------------------------------------------------ importing

    def import_file(self, path: str | os.PathLike, name: str | None = None,
                    labels: Sequence[str] | str | os.PathLike | None = None,
                    decoder: str | None = None, progress: ProgressFn | None = None,
                    cancel: CancelFlag = None) -> LibraryModel:
        """Import a local .onnx file (or a model.tar.gz holding one)."""
        source_path = Path(path)
        tmp = self._temp_path()
        report = _Reporter(progress, "copying")
        model_sources.copy_file(source_path, tmp, progress=report.bytes,
                                cancelled=lambda: _is_cancelled(cancel))
        return self._import_fetched(tmp, source=f"file:{source_path.resolve()}", shown_as=str(source_path),
                                    default_name=model_name_from(source_path.name), name=name,
                                    labels=labels, decoder=decoder, progress=progress, cancel=cancel)

    def import_s3(self, uri: str, name: str | None = None,
                  labels: Sequence[str] | str | os.PathLike | None = None,
                  decoder: str | None = None, progress: ProgressFn | None = None,
                  cancel: CancelFlag = None, member: str | None = None,
                  cloud: CloudSettings | None = None, source: str | None = None,
                  default_name: str | None = None) -> LibraryModel:
        """Import ``s3://bucket/key.onnx`` or ``s3://bucket/…/model.tar.gz`` (``member`` picks inside)."""
        location = model_sources.parse_s3_uri(uri)
        tmp = self._temp_path()
        report = _Reporter(progress, f"downloading {location.uri}")
        model_sources.download_s3(location.uri, tmp, cloud or self.cloud, progress=report.bytes,
                                  cancelled=lambda: _is_cancelled(cancel))
        return self._import_fetched(tmp, source=source or location.uri, shown_as=location.uri,
                                    default_name=default_name or model_name_from(location.key),
                                    name=name, labels=labels, decoder=decoder, progress=progress,
                                    cancel=cancel, member=member)

    def import_sagemaker(self, job_name_or_uri: str, name: str | None = None,
                         labels: Sequence[str] | str | os.PathLike | None = None,
                         decoder: str | None = None, progress: ProgressFn | None = None,
                         cancel: CancelFlag = None, member: str | None = None,
                         cloud: CloudSettings | None = None) -> LibraryModel:
        """Import a SageMaker training job's model.tar.gz (by job name, ARN, or its s3:// URI)."""
        cloud = cloud or self.cloud
        text = (job_name_or_uri or "").strip()
        if text.lower().startswith("s3://"):
            return self.import_s3(text, name, labels, decoder, progress, cancel, member, cloud)
        job = model_sources.training_job_name(text)
        if progress is not None:
            progress(None, f"asking SageMaker for training job {job}")
        uri = model_sources.training_job_artifact(job, cloud)
        return self.import_s3(uri, name, labels, decoder, progress, cancel, member, cloud,
                              source=f"sagemaker:{job} ({uri})", default_name=model_name_from(job))

    def _import_fetched(self, tmp: Path, *, source: str, shown_as: str, default_name: str,
                        name: str | None, labels, decoder: str | None,
                        progress: ProgressFn | None, cancel: CancelFlag,
                        member: str | None = None) -> LibraryModel:
        """Steps 2-4 of the module docstring for a file already fetched to ``tmp``."""
        extracted: Path | None = None
        try:
            if model_sources.looks_like_archive(tmp):
                extracted = self._temp_path()
                if progress is not None:
                    progress(None, "extracting the model from the archive")
                inner = model_sources.extract_onnx(tmp, extracted, member, shown_as=shown_as,
                                                   cancelled=lambda: _is_cancelled(cancel))
                shown_as = f"{shown_as}!{inner}"
                if default_name == "model":  # SageMaker's model.tar.gz: the inner file says more
                    default_name = model_name_from(inner)
                tmp.unlink(missing_ok=True)
                tmp, extracted = extracted, None
            if _is_cancelled(cancel):
                raise DownloadCancelled(f"import of {shown_as} cancelled")
            final_name = check_model_name(name) if name else check_model_name(default_name)
            label_list = self._labels_argument(labels)
            if progress is not None:
                progress(None, "checking the model as the device will")
            inspection = inspect_model(tmp, decoder=decoder, labels=label_list, shown_as=shown_as)
            detected = inspection.decoder if decoder is None else self._detected(tmp, decoder)
            if label_list is not None:
                self._check_label_count(label_list, inspection.decoder, inspection.outputs, shown_as)
            return self._store(tmp, inspection, final_name, detected, label_list, source)
        finally:
            tmp.unlink(missing_ok=True)
            if extracted is not None:
                extracted.unlink(missing_ok=True)

    def _detected(self, tmp: Path, decoder: str) -> str:
        try:
            return inspect_model(tmp).decoder
        except ModelRejected:
            return ""  # only the engineer's decoder fits; nothing detected on its own

    def _store(self, tmp: Path, inspection: ModelInspection, name: str, detected: str,
               labels: tuple[str, ...] | None, source: str) -> LibraryModel:
        existing = self._index.by_sha256(inspection.sha256)
        if existing is not None:
            log.info("model %s is already in the library as %s@%s", inspection.sha256[:12],
                     existing["name"], existing["version"])
            return self._model(existing)
        final = self.path_of(inspection.sha256)
        placed = not final.exists()
        if placed:
            os.replace(tmp, final)
        entry = {
            "name": name, "version": 0, "sha256": inspection.sha256, "size": inspection.size,
            "decoder": inspection.decoder, "detected_decoder": detected,
            "labels": list(labels if labels is not None else inspection.labels),
            "inputs": [t.to_json() for t in inspection.inputs],
            "outputs": [t.to_json() for t in inspection.outputs],
            "opset": inspection.opset,
            "input_size": list(inspection.input_size) if inspection.input_size else None,
            "source": source, "imported_at": datetime.now(timezone.utc).isoformat(),
        }
        try:
            stored, _created = self._index.add(entry)
        except BaseException:
            if placed and self._index.by_sha256(inspection.sha256) is None:
                final.unlink(missing_ok=True)  # nothing half-imported
            raise
        log.info("imported %s@%s (%s) from %s", stored["name"], stored["version"],
                 inspection.sha256[:12], source)
        return self._model(stored)

    # ------------------------------------------------------------------ editing

    def set_decoder(self, model_id: str, decoder: str | None) -> LibraryModel:
        """Override the decoder family (None: back to the detected one), checked by a real load."""
        model = self._available(model_id)
        wanted = decoder or model.detected_decoder or None
        if wanted is not None and wanted not in DECODER_FAMILIES:
            raise ModelRejected(
                f"unknown decoder {wanted!r}; expected one of {', '.join(DECODER_FAMILIES)}"
            )
        inspection = inspect_model(model.path, decoder=wanted, shown_as=f"{model.id}")
        stored = self._index.update(model.sha256, model.row_version, decoder=inspection.decoder)
        return self._model(stored)

    def attach_labels(self, model_id: str, labels: Sequence[str] | str | os.PathLike) -> LibraryModel:
        """Name the classes (a labels file path, or the names); the count must fit the outputs."""
        model = self.get(model_id)
        label_list = self._labels_argument(labels)
        assert label_list is not None
        self._check_label_count(label_list, model.decoder, model.outputs, f"model {model.id}")
        stored = self._index.update(model.sha256, model.row_version, labels=list(label_list))
        return self._model(stored)

    # ------------------------------------------------------------------ removing

    def set_usage_lookup(self, fn: Callable[[LibraryModel], list[str]] | None) -> None:
        """``fn(model)`` → names of the deployed apps using it; consulted by :meth:`remove`."""
        self._usage_lookup = fn

    def used_by(self, model: LibraryModel) -> list[str]:
        return list(self._usage_lookup(model)) if self._usage_lookup is not None else []

    def remove(self, model_id: str, force: bool = False) -> LibraryModel:
        """Delete one version (entry and file). Refuses with :class:`ModelInUse` unless ``force``.

        A usage lookup that fails also refuses (we cannot tell it is unused),
        naming the failure; ``force`` removes anyway.
        """
        model = self.get(model_id)
        if not force:
            try:
                users = self.used_by(model)
            except Exception as exc:
                raise ModelInUse(
                    f"cannot tell whether {model.id} is in use ({exc}); not removed", model, []
                ) from exc
            if users:
                raise ModelInUse(
                    f"{model.id} is used by the deployed app(s) {', '.join(users)}; remove or "
                    "redeploy them first (or remove anyway)", model, users,
                )
        self._index.delete(model.sha256)
        model.path.unlink(missing_ok=True)
        log.info("removed %s (%s)", model.id, model.sha256[:12])
        return model

    # ------------------------------------------------------------------ helpers

    def _available(self, model_id: str) -> LibraryModel:
        model = self.get(model_id)
        if not model.available:
            raise ModelLibraryError(
                f"the file of {model.id} ({model.path.name}) is not on this workstation; it was "
                "imported on another console sharing the inventory"
            )
        return model

    def _labels_argument(self, labels) -> tuple[str, ...] | None:
        if labels is None:
            return None
        if isinstance(labels, (str, os.PathLike)):
            return read_labels_file(labels)
        return check_labels(list(labels))

    @staticmethod
    def _check_label_count(labels: tuple[str, ...], decoder: str, outputs: Sequence[TensorInfo], shown: str) -> None:
        count = class_count(decoder, outputs)
        if count is not None and count != len(labels):
            raise LabelsError(
                f"{len(labels)} class names for {shown}, whose outputs carry {count} classes; "
                f"give exactly {count} names (line n = class id n)"
            )

    def _temp_path(self) -> Path:
        self.incoming.mkdir(parents=True, exist_ok=True)
        return self.incoming / f"{secrets.token_hex(8)}.part"

    def _clean_incoming(self) -> None:
        # Leftovers of a console that was killed mid-import: never part of the library.
        for leftover in self.incoming.glob("*.part"):
            leftover.unlink(missing_ok=True)

    def _model(self, entry: dict[str, Any]) -> LibraryModel:
        return LibraryModel.from_entry(entry, self.path_of(entry["sha256"]))


def device_usage_lookup(appliances) -> Callable[[LibraryModel], list[str]]:
    """A usage lookup asking every paired device which apps use a model (by sha256).

    ``appliances`` is the :class:`~console_app.core.services.appliances.ApplianceService`.
    The answer names ``"<app> on <device>"``. A paired device that cannot be
    asked raises ``ConnectionError`` naming it: the library then refuses to
    remove (it cannot tell the model is unused) unless forced.
    """

    def lookup(model: LibraryModel) -> list[str]:
        users: list[str] = []
        unreachable: list[str] = []
        for entry in appliances.paired_entries():
            try:
                with appliances.connect(entry.device_id) as client:
                    infos = client.list_models()
            except Exception as exc:  # any failure means "cannot tell"
                unreachable.append(f"{entry.name} ({exc})")
                continue
            for info in infos:
                if info.sha256 == model.sha256:
                    users += [f"{app} on {entry.name}" for app in info.used_by]
        if unreachable and not users:
            raise ConnectionError(f"cannot ask device(s) {', '.join(unreachable)}")
        return users

    return lookup


class _Reporter:
    """Turns byte counts into ``progress(fraction, text)`` calls."""

    def __init__(self, progress: ProgressFn | None, verb: str):
        self.progress, self.verb = progress, verb

    def bytes(self, done: int, total: int | None) -> None:
        if self.progress is None:
            return
        mb = done / 1024**2
        if total:
            self.progress(done / total, f"{self.verb}: {mb:.1f} of {total / 1024**2:.1f} MB")
        else:
            self.progress(None, f"{self.verb}: {mb:.1f} MB")


"""Domain objects to protobuf messages and back. No logic beyond field copying."""

from __future__ import annotations

import json
import time
from typing import Any

from device_runtime.pipeline import PreviewItem
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.supervisor import AppView, UploadSpec


def app_status(view: AppView) -> pb.AppStatus:
    return pb.AppStatus(
        app_id=view.app_id,
        name=view.name,
        kind=view.kind,
        version=view.version,
        state=view.state,
        error=view.error,
        versions=view.versions,
        params_json=view.params_json,
        camera_ids=view.camera_ids,
        model=view.model,
        manifest_json=view.manifest_json,
        nodes=[
            pb.CodeNodeStatus(
                name=n.name,
                state=n.state,
                pid=n.pid,
                crashes=n.crashes,
                last_traceback=n.last_traceback,
                results_per_s=n.results_per_s,
            )
            for n in view.nodes
        ],
    )


def upload_spec(header: pb.UploadHeader) -> UploadSpec:
    return UploadSpec(
        size=header.size,
        sha256=header.sha256,
        filename=header.filename,
        name=header.name,
        labels=header.labels,
        decoder=header.decoder,
        signature=header.signature,
        secrets=dict(header.secrets),
    )


def tensor_specs(specs: list[Any]) -> list[pb.TensorSpec]:
    return [
        pb.TensorSpec(name=s.name, shape=[d if isinstance(d, int) else -1 for d in s.shape], type=str(s.type))
        for s in specs
    ]


def model_info(stored: Any, meta: Any, used_by: list[str]) -> pb.ModelInfo:
    return pb.ModelInfo(
        name=stored.name,
        sha256=stored.sha256,
        size=stored.size,
        inputs=tensor_specs(meta.inputs) if meta else [],
        outputs=tensor_specs(meta.outputs) if meta else [],
        decoder=stored.decoder or (meta.decoder if meta else ""),
        labels=list(stored.labels),
        used_by=used_by,
    )


def event(e: Any) -> pb.Event:
    return pb.Event(
        id=getattr(e, "id", "") or "",
        time=e.time,
        app_id=e.app_id,
        camera_id=e.camera_id,
        type=e.type,
        label=e.label or "",
        track_id=e.track_id or 0,
        zone=e.zone or "",
        line=e.line or "",
        direction=e.direction or "",
        count=e.count or 0,
        snapshot_id=e.snapshot_id or "",
        detail=e.detail or "",
    )


def preview_frame(item: PreviewItem, jpeg: bytes, state: str = "") -> pb.PreviewFrame:
    frame = item.frame
    w, h = float(frame.width), float(frame.height)
    return pb.PreviewFrame(
        camera_id=frame.stream_id,
        seq=frame.seq,
        capture_time=frame.capture_time,
        jpeg=jpeg,
        width=frame.width,
        height=frame.height,
        detections=[
            pb.BoxDetection(
                x1=d.x1 / w, y1=d.y1 / h, x2=d.x2 / w, y2=d.y2 / h,
                score=d.score, class_id=d.class_id, label=d.label, track_id=d.track_id or 0,
            )
            for d in item.detections
        ],
        timings_ms=item.timings_ms,
        app_id=item.app_id,
        counts=item.counts,
        provider=item.provider,
        sent_time=time.time(),
        state=state,
        labels=[pb.OverlayLabel(text=text, x=x, y=y) for text, x, y in item.labels],
    )


def raw_frame(step: Any, jpeg: bytes) -> pb.PreviewFrame:
    """A raw view step (device_runtime.raw_view.RawFrame): a frame, or only the stream's state."""
    frame = step.frame
    if frame is None:
        return pb.PreviewFrame(state=step.state, state_reason=step.reason, sent_time=time.time())
    return pb.PreviewFrame(
        camera_id=frame.stream_id, seq=frame.seq, capture_time=frame.capture_time, jpeg=jpeg,
        width=frame.width, height=frame.height, sent_time=time.time(), state=step.state,
    )


def audit_entry(entry: Any) -> pb.AuditEntry:
    """A :class:`~device_runtime.security.audit.AuditEntry` as its protobuf."""
    return pb.AuditEntry(
        time=entry.time, action=entry.action, actor=entry.actor,
        actor_fingerprint=entry.actor_fingerprint, signing_key=entry.signing_key,
        target=entry.target, outcome=entry.outcome, detail=entry.detail,
    )


def update_status(state: Any, running_version: str) -> pb.UpdateStatus:
    """An :class:`~device_runtime.update.staging.UpdateState` as its protobuf."""
    return pb.UpdateStatus(state=state.state, version=state.version, previous_version=state.previous_version,
                           running_version=running_version, detail=state.detail, time=state.time)


def stored_snapshot_frame(jpeg: bytes, meta: dict | None) -> pb.PreviewFrame:
    """An event's stored snapshot with the boxes, counts and the camera's zones and lines kept with it
    (just the JPEG when none were)."""
    if not meta:
        return pb.PreviewFrame(jpeg=jpeg)
    return pb.PreviewFrame(
        camera_id=str(meta.get("camera_id", "")),
        capture_time=float(meta.get("capture_time", 0.0)),
        jpeg=jpeg,
        width=int(meta.get("width", 0)),
        height=int(meta.get("height", 0)),
        detections=[
            pb.BoxDetection(x1=d["x1"], y1=d["y1"], x2=d["x2"], y2=d["y2"], score=d["score"],
                            class_id=d["class_id"], label=d["label"], track_id=d["track_id"])
            for d in meta.get("detections", [])
        ],
        app_id=str(meta.get("app_id", "")),
        counts={str(k): int(v) for k, v in meta.get("counts", {}).items()},
        geometry_json=json.dumps(meta["geometry"]) if isinstance(meta.get("geometry"), dict) else "",
    )

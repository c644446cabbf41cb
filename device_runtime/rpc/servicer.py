"""gRPC servicer for sightline.device.v1.Device.

Thin by rule: protobuf in, one call on the domain (``Supervisor``,
``PairingManager``, ``status``), protobuf out. Authorisation and error
mapping happen in ``interceptor``; streams end when the client goes away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import grpc

from device_runtime import status
from device_runtime.errors import InvalidArgument
from device_runtime.pipeline import encode_jpeg
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.protocol.v1 import device_pb2_grpc as pb_grpc
from device_runtime.rpc import mappers
from device_runtime.security.authz import is_paired, peer_certificate
from device_runtime.sources.probe import probe_url

log = logging.getLogger(__name__)

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


def _upload(request_iterator: Iterator[pb.UploadChunk]) -> tuple[Any, Iterator[bytes]]:
    """Split an upload stream into its header and an iterator over the data chunks."""
    first = next(request_iterator, None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidArgument("an upload must start with a header chunk (size, sha256)")

    def data() -> Iterator[bytes]:
        for chunk in request_iterator:
            if chunk.WhichOneof("part") != "data":
                raise InvalidArgument("an upload carries exactly one header, first")
            yield chunk.data

    return mappers.upload_spec(first.header), data()


class DeviceServicer(pb_grpc.DeviceServicer):
    def __init__(self, device: Any):
        # ``device`` is the DeviceRuntime: supervisor, identity, pairing, config.
        self.device = device
        self.supervisor = device.supervisor

    # ---------------------------------------------------------------- open

    def GetInfo(self, request: pb.GetInfoRequest, context: grpc.ServicerContext) -> pb.DeviceInfo:
        info = status.device_info(self.device)
        info.caller_paired = is_paired(context, self.device.pairing)
        return info

    def Pair(self, request: pb.PairRequest, context: grpc.ServicerContext) -> pb.PairResponse:
        cert = self.device.pairing.pair(
            request.code, request.client_name, request.csr_pem, request.signing_public_key
        )
        log.info("paired client %r", request.client_name)
        return pb.PairResponse(
            client_cert_pem=cert,
            device_cert_pem=self.device.identity.cert_pem.decode(),
            device_id=self.device.identity.device_id,
        )

    # ---------------------------------------------------------------- health

    def WatchHealth(self, request: pb.WatchHealthRequest, context: grpc.ServicerContext) -> Iterator[pb.Health]:
        interval = request.interval_s if request.interval_s > 0 else 1.0
        interval = min(max(interval, 0.1), 60.0)
        while context.is_active():
            yield status.health(self.device)
            time.sleep(interval)

    # ---------------------------------------------------------------- apps

    def ListApps(self, request: pb.ListAppsRequest, context: grpc.ServicerContext) -> pb.ListAppsResponse:
        return pb.ListAppsResponse(apps=[mappers.app_status(v) for v in self.supervisor.list_apps()])

    def DeployApp(self, request_iterator: Iterator[pb.UploadChunk], context: grpc.ServicerContext) -> pb.AppStatus:
        spec, data = _upload(request_iterator)
        # Keys are read per deploy, so a client revoked a moment ago no longer counts.
        trusted = self.device.pairing.signing_keys()
        return mappers.app_status(self.supervisor.deploy(spec, data, trusted_keys=trusted))

    def StartApp(self, request: pb.AppRef, context: grpc.ServicerContext) -> pb.AppStatus:
        return mappers.app_status(self.supervisor.start_app(request.app_id))

    def StopApp(self, request: pb.AppRef, context: grpc.ServicerContext) -> pb.AppStatus:
        return mappers.app_status(self.supervisor.stop_app(request.app_id))

    def RemoveApp(self, request: pb.AppRef, context: grpc.ServicerContext) -> pb.RemoveAppResponse:
        self.supervisor.remove_app(request.app_id)
        return pb.RemoveAppResponse()

    def RollbackApp(self, request: pb.RollbackRequest, context: grpc.ServicerContext) -> pb.AppStatus:
        return mappers.app_status(self.supervisor.rollback_app(request.app_id, request.version))

    def SetParams(self, request: pb.SetParamsRequest, context: grpc.ServicerContext) -> pb.AppStatus:
        return mappers.app_status(self.supervisor.set_params(request.app_id, request.params_json))

    def SetCameraPaused(self, request: pb.SetCameraPausedRequest, context: grpc.ServicerContext) -> pb.AppStatus:
        view = self.supervisor.set_camera_paused(request.app_id, request.camera_id, request.paused)
        return mappers.app_status(view)

    # ---------------------------------------------------------------- models

    def UploadModel(self, request_iterator: Iterator[pb.UploadChunk], context: grpc.ServicerContext) -> pb.ModelInfo:
        spec, data = _upload(request_iterator)
        stored = self.supervisor.upload_model(spec, data)
        return self._model_info(stored)

    def ListModels(self, request: pb.ListModelsRequest, context: grpc.ServicerContext) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[self._model_info(m) for m in self.supervisor.list_models()])

    def RemoveModel(self, request: pb.ModelRef, context: grpc.ServicerContext) -> pb.RemoveModelResponse:
        self.supervisor.remove_model(request.name)
        return pb.RemoveModelResponse()

    def _model_info(self, stored: Any) -> pb.ModelInfo:
        meta = self.supervisor.model_metadata(stored)
        return mappers.model_info(stored, meta, self.supervisor.model_users(stored.name))

    # ---------------------------------------------------------------- streams

    def WatchEvents(self, request: pb.WatchEventsRequest, context: grpc.ServicerContext) -> Iterator[pb.Event]:
        app_id = request.app_id
        accept = (lambda e: e.app_id == app_id) if app_id else None
        with self.supervisor.events.subscribe(replay=max(request.replay, 0), accept=accept) as sub:
            while context.is_active():
                event = sub.get(timeout=0.5)
                if event is not None:
                    yield mappers.event(event)

    def WatchLogs(self, request: pb.WatchLogsRequest, context: grpc.ServicerContext) -> Iterator[pb.LogRecord]:
        level_name = (request.min_level or "INFO").upper()
        if level_name not in _LEVELS:
            raise InvalidArgument(f"min_level must be one of {', '.join(_LEVELS)}, got {request.min_level!r}")
        level, needle = _LEVELS[level_name], request.contains.lower()

        def accept(entry: Any) -> bool:
            return entry.levelno >= level and (not needle or needle in entry.message.lower())

        with self.supervisor.logs.subscribe(replay=max(request.replay, 0), accept=accept) as sub:
            while context.is_active():
                entry = sub.get(timeout=0.5)
                if entry is not None:
                    yield pb.LogRecord(time=entry.time, level=entry.level, logger=entry.logger, message=entry.message)

    def WatchPreview(self, request: pb.PreviewRequest, context: grpc.ServicerContext) -> Iterator[pb.PreviewFrame]:
        fps = request.fps if request.fps > 0 else 5.0
        period = 1.0 / min(fps, 60.0)
        max_width = request.max_width if request.max_width > 0 else 640
        quality = request.jpeg_quality if 0 < request.jpeg_quality <= 100 else 75
        camera = request.camera_id or None
        if camera is not None and camera not in self.supervisor.preview_ids():
            known = ", ".join(self.supervisor.preview_ids()) or "none running"
            raise InvalidArgument(f"no running camera {camera!r} (running: {known})")
        seen = 0
        while context.is_active():
            # This thread encodes at the client's pace; the pipeline never waits for it.
            batch = self.supervisor.previews.wait_newer(camera, seen, timeout=1.0)
            # Pace from when frames arrived, not from before the wait: otherwise, when the client
            # asks for the camera's own rate, every frame waits out most of a period (up to 66 ms
            # at 15 fps). 0.9 leaves room for jitter so no frame is skipped.
            due = time.monotonic() + period * 0.9
            for camera_id, version, item in batch:
                seen = max(seen, version)
                jpeg = encode_jpeg(item.frame.image, max_width, quality)
                yield mappers.preview_frame(item, jpeg, status.stream_state(self.supervisor, camera_id))
            remaining = due - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)

    def GetSnapshot(self, request: pb.SnapshotRequest, context: grpc.ServicerContext) -> pb.PreviewFrame:
        jpeg, item = self.supervisor.snapshot(request.camera_id, request.snapshot_id, request.max_width)
        if item is None:
            return mappers.stored_snapshot_frame(jpeg, self.supervisor.snapshot_meta(request.snapshot_id))
        return mappers.preview_frame(item, jpeg, status.stream_state(self.supervisor, request.camera_id))

    def WatchCamera(self, request: pb.WatchCameraRequest, context: grpc.ServicerContext) -> Iterator[pb.PreviewFrame]:
        if not request.url:
            raise InvalidArgument("watching a camera needs its URL")
        max_width = request.max_width if request.max_width > 0 else 960
        quality = request.jpeg_quality if 0 < request.jpeg_quality <= 100 else 80
        for step in self.supervisor.raw_views.watch(request.url, context.is_active):
            yield mappers.raw_frame(step, encode_jpeg(step.frame.image, max_width, quality) if step.frame else b"")

    def TestOutput(self, request: pb.TestOutputRequest, context: grpc.ServicerContext) -> pb.TestOutputResponse:
        ok, answer = self.supervisor.test_output(request.output_json, dict(request.secrets), request.app_id or "test")
        return pb.TestOutputResponse(ok=ok, answer=answer)

    def ProbeCamera(self, request: pb.ProbeCameraRequest, context: grpc.ServicerContext) -> pb.ProbeCameraResponse:
        if not request.url:
            raise InvalidArgument("probe needs a camera URL")
        timeout_ms = request.timeout_ms if request.timeout_ms > 0 else 5000
        result = probe_url(request.url, timeout_ms=min(timeout_ms, 30000))
        return pb.ProbeCameraResponse(
            ok=result.ok,
            error=result.error or "",
            width=result.width or 0,
            height=result.height or 0,
            fps=result.fps or 0.0,
            codec=result.codec or "",
            jpeg=result.jpeg or b"",
            open_ms=result.open_ms or 0.0,
        )

    # ---------------------------------------------------------------- pairing & audit

    def Unpair(self, request: pb.UnpairRequest, context: grpc.ServicerContext) -> pb.UnpairResponse:
        fingerprint = request.fingerprint
        if not fingerprint:
            client = self.device.pairing.client_for(peer_certificate(context))
            fingerprint = client.fingerprint if client is not None else ""
        removed = self.device.pairing.revoke(fingerprint)
        return pb.UnpairResponse(name=removed.name, fingerprint=removed.fingerprint)

    def ListAudit(self, request: pb.ListAuditRequest, context: grpc.ServicerContext) -> pb.ListAuditResponse:
        entries = self.device.audit.entries(
            limit=max(request.limit, 0), since=max(request.since, 0.0), action=request.action
        )
        return pb.ListAuditResponse(entries=[mappers.audit_entry(e) for e in entries])

    def WatchAudit(self, request: pb.WatchAuditRequest, context: grpc.ServicerContext) -> Iterator[pb.AuditEntry]:
        with self.device.audit.feed.subscribe() as sub:
            # Subscribed before reading the file, so nothing recorded in between is lost.
            replayed = self.device.audit.entries(limit=max(request.replay, 0)) if request.replay > 0 else []
            for entry in replayed:
                yield mappers.audit_entry(entry)
            already_sent = set(replayed)
            while context.is_active():
                entry = sub.get(timeout=0.5)
                if entry is not None and entry not in already_sent:
                    yield mappers.audit_entry(entry)

    # ---------------------------------------------------------------- device software

    def UpdateSoftware(self, request_iterator: Iterator[pb.UploadChunk], context: grpc.ServicerContext) -> pb.UpdateStatus:
        spec, data = _upload(request_iterator)
        client = self.device.pairing.client_for(peer_certificate(context))
        state = self.device.updates.stage(spec.size, spec.sha256, spec.signature, data,
                                          self.device.pairing.signing_keys(),
                                          requested_by=client.name if client else "")
        return mappers.update_status(state, self.device.updates.running_version)

    def GetUpdateStatus(self, request: pb.GetUpdateStatusRequest, context: grpc.ServicerContext) -> pb.UpdateStatus:
        return mappers.update_status(self.device.updates.state(), self.device.updates.running_version)

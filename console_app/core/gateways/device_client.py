"""A blocking client for one device's API (sightline.device.v1).

Used by ``sightline-ctl`` and by the console's services (which run it off the
GUI thread). Every call goes over TLS to a device whose certificate
fingerprint is pinned; after pairing, the client certificate the device
issued is presented on every call.

Packages: :func:`pair` sends the public key of the client's
:class:`~console_app.core.signing.PackageSigner`, and a
``DeviceClient(..., signer=...)`` signs every :meth:`DeviceClient.deploy`
with it; devices install only packages signed by a paired client's key.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import grpc

from console_app.core.gateways.device_tls import (
    CHANNEL_OPTIONS,
    FingerprintMismatch,
    certificate_fingerprint,
    channel_credentials,
    fetch_device_certificate,
    new_client_key_and_csr,
    normalize_fingerprint,
)
from console_app.core.paired_credentials import PairedCredentials
from console_app.core.signing import PackageSigner
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.protocol.v1 import device_pb2_grpc as pb_grpc

CHUNK_BYTES = 256 * 1024


class DeviceCallError(Exception):
    """The device refused or failed a call; ``code`` is the gRPC status name."""

    def __init__(self, method: str, code: str, message: str):
        super().__init__(f"{method}: {code}: {message}")
        self.method = method
        self.code = code
        self.message = message


def parse_target(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {target!r}")
    return host.strip("[]"), int(port)


def pair(host: str, port: int, code: str, client_name: str, expected_fingerprint: str | None = None,
         timeout: float = 10.0, signer: PackageSigner | None = None) -> PairedCredentials:
    """Pair with the device at host:port using the code it printed.

    The device's certificate is fetched and, when ``expected_fingerprint`` is
    given (from the mDNS advert or typed by the engineer), must match it.
    ``signer``: the device will trust packages signed with its key. Without
    one this client cannot deploy to a device that requires signed packages.
    """
    device_pem = fetch_device_certificate(host, port, timeout=timeout)
    seen = certificate_fingerprint(device_pem)
    if expected_fingerprint and normalize_fingerprint(expected_fingerprint) != seen:
        raise FingerprintMismatch(host, port, seen, normalize_fingerprint(expected_fingerprint))
    key_pem, csr_pem = new_client_key_and_csr(client_name)
    channel = grpc.secure_channel(f"{host}:{port}", channel_credentials(device_pem), options=list(CHANNEL_OPTIONS))
    try:
        stub = pb_grpc.DeviceStub(channel)
        request = pb.PairRequest(
            code=code, client_name=client_name, csr_pem=csr_pem,
            signing_public_key=signer.public_key_bytes() if signer is not None else b"",
        )
        reply = _call("Pair", stub.Pair, request, timeout)
    finally:
        channel.close()
    return PairedCredentials(reply.device_id, device_pem, key_pem, reply.client_cert_pem)


def _call(method: str, fn, request, timeout: float | None):
    try:
        return fn(request, timeout=timeout)
    except grpc.RpcError as exc:
        raise DeviceCallError(method, exc.code().name, exc.details() or "") from None


class DeviceStream:
    """A server stream: iterate it for messages; ``cancel()`` (or leave the ``with``) to end it."""

    def __init__(self, method: str, call):
        self.method = method
        self._call = call

    def __iter__(self):
        try:
            yield from self._call
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise DeviceCallError(self.method, exc.code().name, exc.details() or "") from None

    def cancel(self) -> None:
        self._call.cancel()

    def __enter__(self) -> DeviceStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _stream(method: str, call) -> DeviceStream:
    return DeviceStream(method, call)


#: ``progress(bytes_sent, total)``, called as gRPC takes each chunk.
UploadProgress = Callable[[int, int], None]


def _upload_chunks(header: pb.UploadHeader, data: bytes | Path,
                   progress: UploadProgress | None = None) -> Iterator[pb.UploadChunk]:
    yield pb.UploadChunk(header=header)
    stream = io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")
    sent = 0
    with stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield pb.UploadChunk(data=chunk)
            sent += len(chunk)
            if progress is not None:
                progress(sent, header.size)


def _digest(data: bytes | Path) -> tuple[int, str]:
    if isinstance(data, bytes):
        return len(data), hashlib.sha256(data).hexdigest()
    h = hashlib.sha256()
    with open(data, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return os.path.getsize(data), h.hexdigest()


class DeviceClient:
    """Calls on one device. ``credentials=None`` gives an unpaired (guest) client.

    ``signer`` signs every package :meth:`deploy` sends (the key this client,
    or another client of the device, sent at pairing).
    """

    def __init__(self, host: str, port: int, credentials: PairedCredentials | None = None,
                 pinned_fingerprint: str | None = None, timeout: float = 15.0,
                 signer: PackageSigner | None = None):
        self.host, self.port, self.timeout = host, port, timeout
        self.signer = signer
        if credentials is not None:
            device_pem = credentials.device_cert_pem
            pinned = pinned_fingerprint or credentials.fingerprint
            presented = certificate_fingerprint(fetch_device_certificate(host, port, timeout=timeout))
            if presented != normalize_fingerprint(pinned):
                raise FingerprintMismatch(host, port, presented, normalize_fingerprint(pinned))
            creds = channel_credentials(device_pem, credentials.client_key_pem, credentials.client_cert_pem)
        else:
            device_pem = fetch_device_certificate(host, port, timeout=timeout)
            presented = certificate_fingerprint(device_pem)
            if pinned_fingerprint and presented != normalize_fingerprint(pinned_fingerprint):
                raise FingerprintMismatch(host, port, presented, normalize_fingerprint(pinned_fingerprint))
            creds = channel_credentials(device_pem)
        self.fingerprint = presented
        self._channel = grpc.secure_channel(f"{host}:{port}", creds, options=list(CHANNEL_OPTIONS))
        self._stub = pb_grpc.DeviceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ calls

    def info(self) -> pb.DeviceInfo:
        return _call("GetInfo", self._stub.GetInfo, pb.GetInfoRequest(), self.timeout)

    def health(self, interval_s: float = 1.0) -> DeviceStream:
        return _stream("WatchHealth", self._stub.WatchHealth(pb.WatchHealthRequest(interval_s=interval_s)))

    def list_apps(self) -> list[pb.AppStatus]:
        return list(_call("ListApps", self._stub.ListApps, pb.ListAppsRequest(), self.timeout).apps)

    def deploy(self, package: bytes | Path, signature: bytes = b"",
               progress: UploadProgress | None = None,
               secrets: Mapping[str, str] | None = None) -> pb.AppStatus:
        """Upload, install and start a package; the device keeps its running version on any failure.

        Signed with this client's ``signer`` unless ``signature`` (made
        earlier, e.g. when the package was built) is given. A device refuses
        unsigned and tampered packages with ``PERMISSION_DENIED``.
        ``progress(sent, total)`` follows the upload. ``secrets`` (name →
        value, e.g. ``camera/<id>/password``) travel in the upload's header
        over this paired TLS connection, outside the package and its
        signature; the device keeps them in its secret store.
        """
        size, sha = _digest(package)
        if not signature and self.signer is not None:
            signature = self.signer.sign_package(sha)
        name = package.name if isinstance(package, Path) else "package.tar.gz"
        header = pb.UploadHeader(filename=name, size=size, sha256=sha, signature=signature,
                                 secrets=dict(secrets or {}))
        return _call("DeployApp", self._stub.DeployApp, _upload_chunks(header, package, progress), None)

    def start_app(self, app_id: str) -> pb.AppStatus:
        return _call("StartApp", self._stub.StartApp, pb.AppRef(app_id=app_id), self.timeout)

    def stop_app(self, app_id: str) -> pb.AppStatus:
        return _call("StopApp", self._stub.StopApp, pb.AppRef(app_id=app_id), self.timeout)

    def remove_app(self, app_id: str) -> None:
        _call("RemoveApp", self._stub.RemoveApp, pb.AppRef(app_id=app_id), self.timeout)

    def rollback_app(self, app_id: str, version: str = "") -> pb.AppStatus:
        return _call("RollbackApp", self._stub.RollbackApp, pb.RollbackRequest(app_id=app_id, version=version), self.timeout)

    def set_params(self, app_id: str, params_json: str) -> pb.AppStatus:
        request = pb.SetParamsRequest(app_id=app_id, params_json=params_json)
        return _call("SetParams", self._stub.SetParams, request, self.timeout)

    def set_camera_paused(self, app_id: str, camera_id: str, paused: bool) -> pb.AppStatus:
        """Pause or resume one camera of a code app (Panorama ``onSignal`` cameras start paused)."""
        request = pb.SetCameraPausedRequest(app_id=app_id, camera_id=camera_id, paused=paused)
        return _call("SetCameraPaused", self._stub.SetCameraPaused, request, self.timeout)

    def upload_model(self, model: bytes | Path, name: str, labels: list[str] | None = None,
                     decoder: str = "") -> pb.ModelInfo:
        size, sha = _digest(model)
        header = pb.UploadHeader(
            filename=model.name if isinstance(model, Path) else f"{name}.onnx",
            size=size, sha256=sha, name=name, labels="\n".join(labels or []), decoder=decoder,
        )
        return _call("UploadModel", self._stub.UploadModel, _upload_chunks(header, model), None)

    def list_models(self) -> list[pb.ModelInfo]:
        return list(_call("ListModels", self._stub.ListModels, pb.ListModelsRequest(), self.timeout).models)

    def remove_model(self, name: str) -> None:
        _call("RemoveModel", self._stub.RemoveModel, pb.ModelRef(name=name), self.timeout)

    def events(self, app_id: str = "", replay: int = 0) -> DeviceStream:
        return _stream("WatchEvents", self._stub.WatchEvents(pb.WatchEventsRequest(app_id=app_id, replay=replay)))

    def logs(self, min_level: str = "INFO", replay: int = 100, contains: str = "") -> DeviceStream:
        request = pb.WatchLogsRequest(min_level=min_level, replay=replay, contains=contains)
        return _stream("WatchLogs", self._stub.WatchLogs(request))

    def preview(self, camera_id: str = "", fps: float = 5.0, max_width: int = 640,
                jpeg_quality: int = 75) -> DeviceStream:
        request = pb.PreviewRequest(camera_id=camera_id, fps=fps, max_width=max_width, jpeg_quality=jpeg_quality)
        return _stream("WatchPreview", self._stub.WatchPreview(request))

    def snapshot(self, camera_id: str = "", snapshot_id: str = "", max_width: int = 0) -> pb.PreviewFrame:
        request = pb.SnapshotRequest(camera_id=camera_id, snapshot_id=snapshot_id, max_width=max_width)
        return _call("GetSnapshot", self._stub.GetSnapshot, request, self.timeout)

    def watch_camera(self, url: str, max_width: int = 960, jpeg_quality: int = 80) -> DeviceStream:
        """A camera's raw frames as the device reads them, at the camera's rate (no app needed).

        Frames without ``jpeg`` carry the stream's state and reason while no frame arrives.
        ``url`` may hold the camera's password: it travels only over the paired TLS connection.
        """
        request = pb.WatchCameraRequest(url=url, max_width=max_width, jpeg_quality=jpeg_quality)
        return _stream("WatchCamera", self._stub.WatchCamera(request))

    def test_output(self, output: dict, secrets: dict[str, str] | None = None, app_id: str = "test",
                    timeout_s: float = 60.0) -> pb.TestOutputResponse:
        """Have the device send one sample event to ``output`` (a manifest ``outputs`` entry); its answer.

        ``secrets`` (name -> value) travel over the paired TLS channel for this test only.
        """
        request = pb.TestOutputRequest(output_json=json.dumps(output), secrets=dict(secrets or {}), app_id=app_id)
        return _call("TestOutput", self._stub.TestOutput, request, timeout_s)

    def probe_camera(self, url: str, timeout_ms: int = 5000) -> pb.ProbeCameraResponse:
        request = pb.ProbeCameraRequest(url=url, timeout_ms=timeout_ms)
        return _call("ProbeCamera", self._stub.ProbeCamera, request, timeout_ms / 1000 + self.timeout)

    # ------------------------------------------------------------ pairing & audit

    def unpair(self, fingerprint: str = "") -> pb.UnpairResponse:
        """Unpair a client of the device (this one when ``fingerprint`` is empty)."""
        return _call("Unpair", self._stub.Unpair, pb.UnpairRequest(fingerprint=fingerprint), self.timeout)

    def audit(self, limit: int = 0, since: float = 0.0, action: str = "") -> list[pb.AuditEntry]:
        """The device's audit log, oldest first (the newest ``limit`` entries; 0: all it keeps)."""
        request = pb.ListAuditRequest(limit=limit, since=since, action=action)
        return list(_call("ListAudit", self._stub.ListAudit, request, self.timeout).entries)

    def watch_audit(self, replay: int = 0) -> DeviceStream:
        return _stream("WatchAudit", self._stub.WatchAudit(pb.WatchAuditRequest(replay=replay)))

    # ------------------------------------------------------------ device software

    def update_software(self, deb: bytes | Path, progress: UploadProgress | None = None) -> pb.UpdateStatus:
        """Upload a signed sightline-device .deb; the device stages it and its updater installs it."""
        size, sha = _digest(deb)
        signature = self.signer.sign_update(sha) if self.signer is not None else b""
        name = deb.name if isinstance(deb, Path) else "sightline-device.deb"
        header = pb.UploadHeader(filename=name, size=size, sha256=sha, signature=signature)
        return _call("UpdateSoftware", self._stub.UpdateSoftware, _upload_chunks(header, deb, progress), None)

    def update_status(self) -> pb.UpdateStatus:
        return _call("GetUpdateStatus", self._stub.GetUpdateStatus, pb.GetUpdateStatusRequest(), self.timeout)

"""Which API calls the audit log records, and how each names its target.

Read by :class:`~device_runtime.rpc.interceptor.DeviceInterceptor`, the one
place calls are recorded; servicers know nothing of auditing. Reads (lists,
watches, info) are not audited; every call that changes the device is, whether
it succeeded or was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from device_runtime.protocol.package_signature import key_fingerprint
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.security.audit import Actor
from device_runtime.security.identity import certificate_fingerprint
from device_runtime.security.pairing import PairingManager, sanitize_client_name

_PREFIX = "/sightline.device.v1.Device/"


@dataclass(frozen=True)
class Rule:
    """``target(request, header, response)``: what the call acted on (response is None on failure)."""

    action: str
    target: Callable[[Any, Any, Any], str]


def _app(request: Any, header: Any, response: Any) -> str:
    return request.app_id


def _deployed(request: Any, header: Any, response: Any) -> str:
    if response is not None:
        return f"{response.app_id} {response.version}"
    if header is not None:
        return f"{header.filename or 'package'} sha256 {header.sha256[:12]}"
    return ""


def _model_uploaded(request: Any, header: Any, response: Any) -> str:
    if response is not None:
        return f"{response.name} sha256 {response.sha256[:12]}"
    return header.name if header is not None else ""


def _rollback(request: Any, header: Any, response: Any) -> str:
    if response is not None:
        return f"{response.app_id} {response.version}"
    return f"{request.app_id} {request.version}".strip()


def _params(request: Any, header: Any, response: Any) -> str:
    return request.app_id


def _updated(request: Any, header: Any, response: Any) -> str:
    if response is not None:
        return f"{response.previous_version} -> {response.version} (staged)"
    return f"{header.filename or 'update'} sha256 {header.sha256[:12]}" if header is not None else ""


def _unpair(request: Any, header: Any, response: Any) -> str:
    if response is not None and response.name:
        return f"{response.name} {response.fingerprint}"
    return request.fingerprint or "(the caller itself)"


RULES: dict[str, Rule] = {
    _PREFIX + "Pair": Rule("pair", lambda req, h, resp: req.client_name),
    _PREFIX + "Unpair": Rule("unpair", _unpair),
    _PREFIX + "DeployApp": Rule("deploy", _deployed),
    _PREFIX + "StartApp": Rule("start", _app),
    _PREFIX + "StopApp": Rule("stop", _app),
    _PREFIX + "RemoveApp": Rule("remove", _app),
    _PREFIX + "RollbackApp": Rule("rollback", _rollback),
    _PREFIX + "SetParams": Rule("params", _params),
    _PREFIX + "UploadModel": Rule("model-upload", _model_uploaded),
    _PREFIX + "RemoveModel": Rule("model-remove", lambda req, h, resp: req.name),
    _PREFIX + "UpdateSoftware": Rule("update", _updated),
}


def actor_of(peer_cert: bytes | None, pairing: PairingManager, method: str, request: Any,
             response: Any) -> Actor:
    """The paired client behind a call; for ``Pair``, the client that was just paired (or tried)."""
    if method == _PREFIX + "Pair" and request is not None:
        signing = key_fingerprint(request.signing_public_key) if request.signing_public_key else ""
        name = sanitize_client_name(request.client_name)
        if response is None:
            return Actor(name, "", signing)
        return Actor(name, certificate_fingerprint(response.client_cert_pem), signing)
    client = pairing.client_for(peer_cert)
    if client is None:
        return Actor("unpaired caller")
    signing = key_fingerprint(bytes.fromhex(client.signing_public_key)) if client.signing_public_key else ""
    return Actor(client.name, client.fingerprint, signing)


class HeaderTap:
    """Passes an upload stream through, keeping its header for the audit entry."""

    def __init__(self, chunks: Any):
        self._chunks = iter(chunks)
        self.header: pb.UploadHeader | None = None

    def __iter__(self) -> HeaderTap:
        return self

    def __next__(self) -> Any:
        chunk = next(self._chunks)
        if self.header is None and chunk.WhichOneof("part") == "header":
            self.header = chunk.header
        return chunk

"""OPC UA (asyncua's synchronous client): write values to nodes of a server per event.

Each write's value is a template over the payload fields converted to the
node's type (``int32``, ``int64``, ``double``, ``boolean``, ``string``). With a
security policy the client certificate (from the manifest) and its private
key (from the secret store) are written to a private temporary folder for
asyncua to load, and removed when the output stops. A Bad status on a write
(not writable, access denied, unknown node, type mismatch) is a refusal:
counted as dropped with the server's status name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.sync import Client

from device_runtime.outputs.outbox import Message
from device_runtime.outputs.sinks.base import DeliveryError, Sink, SinkContext
from device_runtime.protocol.apps.outputs import render_text

_TYPES = {
    "int32": (ua.VariantType.Int32, int),
    "int64": (ua.VariantType.Int64, int),
    "double": (ua.VariantType.Double, float),
    "string": (ua.VariantType.String, str),
}


def convert(text: str, kind: str) -> ua.Variant:
    """``text`` as an OPC UA Variant of ``kind``; ValueError naming the problem."""
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return ua.Variant(True, ua.VariantType.Boolean)
        if lowered in ("false", "0", "no", "off", ""):
            return ua.Variant(False, ua.VariantType.Boolean)
        raise ValueError(f"{text!r} is not a boolean (true/false, 1/0)")
    variant_type, cast = _TYPES[kind]
    if cast is int:
        return ua.Variant(int(float(text)), variant_type)
    return ua.Variant(cast(text), variant_type)


class OpcUaSink(Sink):
    """Writes the spec's nodes, in order, for each event."""

    def __init__(self, spec: Any, context: SinkContext) -> None:
        super().__init__(spec, context)
        self._client: Client | None = None
        self._folder: Path | None = None

    def _security_string(self) -> str:
        spec = self.spec
        key = self.context.require(spec.private_key_secret, "OPC UA private key")
        self._folder = Path(tempfile.mkdtemp(prefix="sightline-opcua-"))
        cert_path, key_path = self._folder / "cert.pem", self._folder / "key.pem"
        cert_path.write_text(spec.certificate)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        parts = [spec.security_policy, spec.security_mode, str(cert_path), str(key_path)]
        if spec.server_certificate:
            server_path = self._folder / "server.pem"
            server_path.write_text(spec.server_certificate)
            parts.append(str(server_path))
        return ",".join(parts)

    def _connect(self) -> Client:
        if self._client is not None:
            return self._client
        spec = self.spec
        client = Client(spec.url, timeout=spec.timeout_s)
        try:
            if spec.username:
                client.set_user(spec.username)
                password = self.context.optional(spec.password_secret, "OPC UA password")
                if password is not None:
                    client.set_password(password)
            if spec.security_policy != "None":
                uri = _application_uri(spec.certificate)
                if uri:  # servers check that the session's application URI is the certificate's
                    client.application_uri = uri
                client.set_security_string(self._security_string())
            client.connect()
        except DeliveryError:
            self._close_client(client)
            raise
        except ua.UaStatusCodeError as exc:
            self._close_client(client)
            raise DeliveryError(f"the OPC UA server at {spec.url} refused the session: {_status(exc)}") from None
        except ConnectionRefusedError:
            self._close_client(client)
            raise DeliveryError(f"cannot reach the OPC UA server at {spec.url}: connection refused") from None
        except (OSError, TimeoutError) as exc:
            self._close_client(client)
            raise DeliveryError(f"cannot reach the OPC UA server at {spec.url}: {exc or type(exc).__name__}") from None
        except Exception as exc:  # asyncua raises plain Exceptions for handshake problems
            self._close_client(client)
            if "No matching endpoints" in str(exc):
                mode = "" if spec.security_policy == "None" else f" and mode {spec.security_mode}"
                raise DeliveryError(
                    f"the OPC UA server at {spec.url} offers no endpoint with security policy "
                    f"{spec.security_policy}{mode}"
                ) from None
            raise DeliveryError(f"cannot open a session with {spec.url}: {type(exc).__name__}: {exc}") from None
        self._client = client
        return client

    def send(self, message: Message) -> str:
        client = self._connect()
        written = []
        for write in self.spec.writes:
            text = render_text(write.value, message.fields)
            try:
                variant = convert(text, write.type)
            except ValueError as exc:
                raise DeliveryError(f"node {write.node_id}: {exc}", permanent=True) from None
            try:
                client.get_node(write.node_id).write_value(ua.DataValue(variant))
            except ua.UaStatusCodeError as exc:
                raise DeliveryError(
                    f"the OPC UA server refused the write to {write.node_id}: {_status(exc)}", permanent=True
                ) from None
            except Exception as exc:
                self._drop_client()
                raise DeliveryError(f"lost the OPC UA server at {self.spec.url}: {type(exc).__name__}: {exc}") from None
            written.append(f"{write.node_id}={variant.Value!r}")
        return f"OPC UA server wrote {', '.join(written)}"

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._close_client(client)

    @staticmethod
    def _close_client(client: Client) -> None:
        try:
            client.disconnect()
        except Exception:  # disconnecting from a server that is gone is best effort
            pass

    def close(self) -> None:
        self._drop_client()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _application_uri(certificate_pem: str) -> str:
    """The URI in the certificate's subject alternative names ('' if none or unreadable)."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    except (ValueError, x509.ExtensionNotFound):
        return ""
    return uris[0] if uris else ""


def _status(exc: ua.UaStatusCodeError) -> str:
    """The status name (BadNotWritable, ...) and asyncua's sentence about it."""
    name, text = type(exc).__name__, str(exc).strip()
    return f"{name}: {text}" if text and name not in text else (text or name)

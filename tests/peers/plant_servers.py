"""Real plant-side servers on 127.0.0.1 for output tests: Modbus TCP (pymodbus), OPC UA (asyncua), HTTP.

- :class:`ModbusServer`: pymodbus's TCP server with 32 coils and 32 holding
  registers (unit 1); every write request it receives is recorded with its
  arrival time (through pymodbus's ``trace_pdu`` hook), and a write past
  address 31 is answered with "illegal data address", as a PLC does.
- :class:`OpcUaServer`: asyncua's server with ``ns=2;s=Line3.Count`` (Int32),
  ``Line3.Alarm`` (Boolean), ``Line3.LastDefect`` (String), all writable, and
  ``Line3.ReadOnly`` (Int32) that refuses writes (BadNotWritable).
- :class:`HttpReceiver`: a stdlib HTTP server that records each request and
  answers with the status the test sets.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.peers.mosquitto import free_port


class ModbusServer:
    """pymodbus ModbusTcpServer in a thread with its own event loop."""

    SIZE = 32

    def __init__(self) -> None:
        from pymodbus.datastore import (
            ModbusDeviceContext,
            ModbusSequentialDataBlock,
            ModbusServerContext,
        )

        # pymodbus 3.x's sequential blocks start one above the first address they serve.
        device = ModbusDeviceContext(
            co=ModbusSequentialDataBlock(1, [0] * self.SIZE), hr=ModbusSequentialDataBlock(1, [0] * self.SIZE)
        )
        self.context = ModbusServerContext(devices=device, single=True)
        self.port = free_port()
        self.writes: list[tuple[float, str, int, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def _trace(self, sending: bool, pdu: Any) -> Any:
        name = type(pdu).__name__
        if not sending and name.startswith("Write"):
            value = pdu.bits[0] if "Coil" in name else pdu.registers[0]
            self.writes.append((time.monotonic(), "coil" if "Coil" in name else "register", pdu.address, value))
        return pdu

    def _run(self) -> None:
        from pymodbus.server import ModbusTcpServer

        async def main() -> None:
            self._server = ModbusTcpServer(self.context, address=("127.0.0.1", self.port), trace_pdu=self._trace)
            self._loop.call_soon(self._ready.set)
            await self._server.serve_forever()

        self._loop.run_until_complete(main())

    def start(self) -> ModbusServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Modbus server did not start")
        from pymodbus.client import ModbusTcpClient

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=1, retries=0)
            if client.connect():
                client.close()
                return self
            time.sleep(0.05)
        raise RuntimeError("the Modbus server is not listening")

    def stop(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
        self._thread.join(10)

    def __enter__(self) -> ModbusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_opcua_certificate(application_uri: str, server: bool = False) -> tuple[str, str]:
    """A self-signed RSA application certificate as OPC UA wants it (URI in the SAN); (cert PEM, key PEM)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, application_uri.rsplit(":", 1)[-1])])
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                          data_encipherment=True, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(application_uri)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


class OpcUaServer:
    """asyncua's (synchronous wrapper) server on a free port, anonymous access.

    ``secured_in``: a folder for the server's certificate; then the only
    endpoint is Basic256Sha256 with SignAndEncrypt (no plain endpoint).
    """

    def __init__(self, secured_in: Path | None = None) -> None:
        from asyncua import ua
        from asyncua.sync import Server

        self.port = free_port()
        self.url = f"opc.tcp://127.0.0.1:{self.port}/sightline/"
        self.server = Server()
        self.server.set_endpoint(self.url)
        if secured_in is None:
            self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        else:
            secured_in.mkdir(parents=True, exist_ok=True)
            cert, key = make_opcua_certificate("urn:sightline:test-plant", server=True)
            (secured_in / "server.pem").write_text(cert)
            (secured_in / "server-key.pem").write_text(key)
            self.server.load_certificate(str(secured_in / "server.pem"))
            self.server.load_private_key(str(secured_in / "server-key.pem"))
            self.server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        idx = self.server.register_namespace("urn:sightline:test-plant")
        line = self.server.nodes.objects.add_object(idx, "Line3")
        self.nodes = {}
        for name, value, kind in (
            ("Count", 0, ua.VariantType.Int32),
            ("Alarm", False, ua.VariantType.Boolean),
            ("LastDefect", "", ua.VariantType.String),
            ("ReadOnly", 0, ua.VariantType.Int32),
        ):
            node = line.add_variable(f"ns={idx};s=Line3.{name}", name, ua.Variant(value, kind))
            if name != "ReadOnly":
                node.set_writable()
            self.nodes[name] = node
        self.namespace = idx

    def value(self, name: str) -> Any:
        return self.nodes[name].read_value()

    def __enter__(self) -> OpcUaServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0  # the sender's TCP port: the same on requests over one kept connection

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """Records POSTs; answers ``status`` (200 unless the test changes it).

    ``keep_alive``: HTTP/1.1 with persistent connections, as most real
    receivers; otherwise HTTP/1.0, one connection per request. Setting
    ``hang_up_after_answer`` closes each connection after the answer without
    saying so, as a server that drops idle connections does.
    """

    def __init__(self, keep_alive: bool = False) -> None:
        self.requests: list[Request] = []
        self.status = 200
        self.hang_up_after_answer = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
            # As production servers do: the answer leaves in one write, without Nagle's delay. The
            # stdlib's defaults (headers and body written separately, Nagle on) make each answer on
            # a kept connection wait for the client's delayed ACK, 40 ms on Linux.
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Request(self.path, dict(self.headers.items()), body, self.client_address[1]))
                answer = b'{"ok": true}' if receiver.status < 300 else b'{"error": "nope"}'
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                if receiver.hang_up_after_answer:
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_in_this_process() -> None:
    """``python -m tests.peers.plant_servers``: an HTTP receiver and a Modbus server until stdin closes.

    Prints ``{"http": URL, "modbus": PORT}`` as one JSON line first. Benchmarks
    run the plant side in its own process, as it would be on its own machine,
    so its CPU is not charged to the device being measured.
    """
    import sys

    with HttpReceiver(keep_alive=True) as http, ModbusServer() as plc:
        print(json.dumps({"http": http.url, "modbus": plc.port}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    serve_in_this_process()

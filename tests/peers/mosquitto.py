"""A real Mosquitto broker (Debian ``mosquitto``) on 127.0.0.1 with its own config, TLS and password file.

Each broker gets a folder with ``mosquitto.conf``, a password file made by
``mosquitto_passwd``, and a throwaway CA plus a server certificate for
127.0.0.1. Three listeners: plain (``port``) and TLS (``tls_port``), both
requiring a user name and password, and TLS with a client certificate
(``x509_port``, as AWS IoT Core on 8883; :func:`make_client_cert`). :meth:`stop` and :meth:`start` keep the
ports, so a test can take the broker away and bring it back.

:class:`Subscriber` is a paho-mqtt client that records every message on a
topic filter, for asserting what arrived.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER = "sightline"
PASSWORD = "mqtt-test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_client_cert(folder: Path, common_name: str) -> tuple[str, str]:
    """A client certificate signed by the broker's CA (as AWS IoT issues a thing's); (cert PEM, key PEM)."""
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    now = dt.datetime.now(dt.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key).decode()


def make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it; returns (ca.pem, server.pem, server.key)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    (folder / "ca.key").write_bytes(_pem_key(ca_key))
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("sightline test CA"))
        .issuer_name(_name("sightline test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class MosquittoBroker:
    """``mosquitto -c <folder>/mosquitto.conf``; stop() and start() again on the same ports."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port()
        self.x509_port = free_port()
        self.ca_path, cert, key = make_ca_and_server_cert(self.folder)
        passwords = self.folder / "passwords"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD], check=True, capture_output=True)
        passwords.chmod(0o600)
        self.config = self.folder / "mosquitto.conf"
        self.config.write_text(
            "\n".join(
                [
                    "user root",
                    "per_listener_settings false",
                    "allow_anonymous false",
                    f"password_file {passwords}",
                    # Sessions survive a stop/start, so a test subscriber misses nothing published
                    # while it reconnects.
                    "persistence true",
                    f"persistence_location {self.folder}/",
                    "autosave_interval 1",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    f"listener {self.port} 127.0.0.1",
                    f"listener {self.tls_port} 127.0.0.1",
                    f"cafile {self.ca_path}",
                    f"certfile {cert}",
                    f"keyfile {key}",
                    # As AWS IoT Core: TLS with a client certificate instead of a password.
                    f"listener {self.x509_port} 127.0.0.1",
                    f"cafile {self.ca_path}",
                    f"certfile {cert}",
                    f"keyfile {key}",
                    "require_certificate true",
                    "use_identity_as_username true",
                    "",
                ]
            )
        )
        self._process: subprocess.Popen | None = None
        self._log = open(self.folder / "mosquitto.log", "ab")  # noqa: SIM115 - closed in close()

    @property
    def pid(self) -> int:
        """The running broker's process id."""
        if self._process is None:
            raise RuntimeError("mosquitto is not running")
        return self._process.pid

    @property
    def ca_pem(self) -> str:
        return self.ca_path.read_text()

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self._process = subprocess.Popen([binary, "-c", str(self.config)], stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None

    def close(self) -> None:
        self.stop()
        self._log.close()

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class Subscriber:
    """Records every message on ``topic`` (a filter, QoS 1); reconnects by itself when the broker comes back."""

    def __init__(self, broker: MosquittoBroker, topic: str = "#") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        # A persistent session (clean_session=False) on a broker with persistence: nothing
        # published while this subscriber reconnects after a broker restart is lost to it.
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{free_port()}", clean_session=False
        )
        self._client.username_pw_set(USER, PASSWORD)
        self._client.reconnect_delay_set(0.1, 0.5)
        self._client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the test subscriber could not subscribe")

    def _on_message(self, client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def snapshot(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate, timeout: float = 20.0) -> list[tuple[str, bytes, bool]]:
        """Wait until ``predicate(messages)`` holds; the messages then (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.snapshot()
            if predicate(messages):
                return messages
            time.sleep(0.05)
        raise AssertionError(f"timed out; received {len(self.snapshot())} message(s): {self.snapshot()[-5:]}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

"""MQTT (paho-mqtt), also for AWS IoT Core (mqtts on 8883 with an X.509 client certificate).

One connection per output, made on the first delivery and made again after
any failure. A batch is published back to back and then each message's
acknowledgement (PUBACK for QoS 1, PUBCOMP for QoS 2) is awaited in order,
so the outbox removes only what the broker confirmed. With ``online_topic``
the device publishes ``online`` (retained) after connecting and leaves
``offline`` as its last will.

paho's network loop runs on the output's own delivery thread (``client.loop``
while a delivery waits for its acknowledgements, and from :meth:`MqttSink.idle`
between deliveries, which keeps the connection alive), not on a thread of
paho's own (``loop_start``): the output is the connection's only user, and
handing each publish and each PUBACK between two threads cost the device as
much CPU as the publishing itself (``benchmarks/outputs.py``).
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from device_runtime.outputs.outbox import Message
from device_runtime.outputs.sinks.base import DeliveryError, Sink, SinkContext
from device_runtime.protocol.apps.outputs import render_text


def tls_context(ca_pem: str, cert_pem: str = "", key_pem: str | None = None) -> ssl.SSLContext:
    """A client TLS context from PEM text (the key is written only to a private temporary file while loading)."""
    context = ssl.create_default_context(cadata=ca_pem or None)
    if not ca_pem:
        context.load_default_certs()
    if cert_pem and key_pem:
        with tempfile.TemporaryDirectory(prefix="sightline-tls-") as folder:
            cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
            cert_path.write_text(cert_pem)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key_pem)
            context.load_cert_chain(str(cert_path), str(key_path))
    return context


class MqttSink(Sink):
    """Publishes events as JSON to the spec's topic template."""

    def __init__(self, spec: Any, context: SinkContext) -> None:
        super().__init__(spec, context)
        parts = urlsplit(spec.url)
        self.host = parts.hostname or ""
        self.tls = parts.scheme == "mqtts"
        self.port = parts.port or (8883 if self.tls else 1883)
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._connect_result: str = ""
        self._lost: str = ""
        self._last_loop = 0.0  # when paho's network loop last ran (monotonic)

    # ------------------------------------------------------------------ connection

    def _template_fields(self) -> dict[str, str]:
        return {"device": self.context.device, "app": self.context.app_id, "output": self.spec.name}

    def _connect(self) -> mqtt.Client:
        if self._client is not None and self._client.is_connected() and not self._lost:
            return self._client
        self._drop_client()
        spec = self.spec
        client_id = spec.client_id or f"sightline-{self.context.device}-{self.context.app_id}-{spec.name}"[:128]
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True
        )
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)
        if spec.username:
            client.username_pw_set(spec.username, self.context.optional(spec.password_secret, "broker password"))
        if self.tls:
            key = self.context.optional(spec.client_key_secret, "client certificate key")
            try:
                client.tls_set_context(tls_context(spec.ca_cert, spec.client_cert, key))
            except (ssl.SSLError, ValueError) as exc:
                raise DeliveryError(f"the output's certificates cannot be loaded: {exc}") from None
        if spec.online_topic:
            client.will_set(render_text(spec.online_topic, self._template_fields()), "offline", qos=1, retain=True)
        self._connected.clear()
        self._connect_result = ""
        self._lost = ""
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        where = f"{self.host}:{self.port}"
        try:
            client.connect(self.host, self.port, keepalive=spec.keepalive_s)
        except ConnectionRefusedError:
            raise DeliveryError(f"cannot reach the MQTT broker at {where}: connection refused") from None
        except socket.gaierror:
            raise DeliveryError(f"cannot reach the MQTT broker: unknown host {self.host!r}") from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"TLS to {where}: the broker's certificate is not trusted ({exc.verify_message})") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS handshake with {where} failed: {exc.reason or exc}") from None
        except TimeoutError:
            raise DeliveryError(f"cannot reach the MQTT broker at {where}: timed out") from None
        except OSError as exc:
            raise DeliveryError(f"cannot reach the MQTT broker at {where}: {exc.strerror or exc}") from None
        self._client = client
        if not self._pump(client, self._connected.is_set, spec.timeout_s):
            self._drop_client()
            raise DeliveryError(f"the MQTT broker at {where} did not answer the connection within {spec.timeout_s:g} s")
        if self._connect_result:
            result = self._connect_result
            self._drop_client()
            raise DeliveryError(f"the MQTT broker at {where} refused the connection: {result}")
        if self._lost:
            self._drop_client()
            if self.tls and not spec.client_cert:
                hint = "; does it require a client certificate, as AWS IoT Core does?"
            elif spec.client_cert:
                hint = f"; is the client certificate registered and allowed to connect as {client_id!r}?"
            else:
                hint = ""
            raise DeliveryError(f"the MQTT broker at {where} closed the connection before accepting it{hint}")
        if spec.online_topic:
            client.publish(render_text(spec.online_topic, self._template_fields()), "online", qos=1, retain=True)
        return client

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self._connect_result = str(reason_code)
        self._connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self._lost = f"the connection to the MQTT broker at {self.host}:{self.port} was lost ({reason_code})"
        self._connected.set()

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()  # written at once; paho closes the socket after it (or already has)

    def _pump(self, client: mqtt.Client, done: Callable[[], bool], timeout: float) -> bool:
        """Run the client's network loop on this thread until ``done()``; False if it is not done in ``timeout``."""
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            result = client.loop(timeout=min(remaining, 1.0))
            self._last_loop = time.monotonic()
            if result != mqtt.MQTT_ERR_SUCCESS:
                self._lost = self._lost or (
                    f"the connection to the MQTT broker at {self.host}:{self.port} was lost ({mqtt.error_string(result)})"
                )
                return done()
        return True

    def idle(self) -> None:
        """Between deliveries: answer the broker, send keep-alive pings, notice a lost connection."""
        client = self._client
        self._last_loop = time.monotonic()
        if client is not None and client.loop(timeout=0) != mqtt.MQTT_ERR_SUCCESS:
            self._lost = self._lost or f"the connection to the MQTT broker at {self.host}:{self.port} was lost"
            self._drop_client()

    # ------------------------------------------------------------------ delivery

    def _publish(self, client: mqtt.Client, message: Message) -> mqtt.MQTTMessageInfo:
        topic = render_text(self.spec.topic, message.fields)
        payload = json.dumps(self.spec.render(message.fields), ensure_ascii=False, separators=(",", ":"))
        return client.publish(topic, payload, qos=self.spec.qos, retain=self.spec.retain)

    def deliver(self, messages: list[Message]) -> int:
        client = self._connect()
        infos = [self._publish(client, m) for m in messages]
        failed = next((i for i in infos if i.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN)), None)
        self._pump(client, lambda: failed is None and all(i.is_published() for i in infos), self.spec.timeout_s)
        if time.monotonic() - self._last_loop > 1.0:  # QoS 0 never waits in the loop: read and ping now and then
            self.idle()
        delivered = next((index for index, info in enumerate(infos) if not info.is_published()), len(infos))
        if delivered == len(infos):
            return delivered
        self._drop_client()
        if failed is not None and not self._lost:
            error = f"publish failed: {mqtt.error_string(failed.rc)}"
        else:
            error = self._lost or f"the MQTT broker did not acknowledge within {self.spec.timeout_s:g} s"
        raise DeliveryError(error, delivered=delivered)

    def send(self, message: Message) -> str:
        self.deliver([message])
        topic = render_text(self.spec.topic, message.fields)
        ack = {0: "sent (QoS 0, no acknowledgement)", 1: "acknowledged (PUBACK)", 2: "acknowledged (PUBCOMP)"}
        return f"broker {self.host}:{self.port} {ack[self.spec.qos]} on topic {topic!r}"

    def close(self) -> None:
        if self._client is not None and self.spec.online_topic and self._client.is_connected():
            # A clean stop: say so, since the broker will not send the will.
            info = self._client.publish(
                render_text(self.spec.online_topic, self._template_fields()), "offline", qos=1, retain=True
            )
            self._pump(self._client, info.is_published, 2.0)
        self._drop_client()

"""HTTP webhook: POST each event as JSON (stdlib http.client, no extra dependency on the device).

Headers sent with every request: ``Content-Type: application/json``,
``X-Sightline-Event-Id`` (stable across retries, for de-duplication), the
spec's headers and secret headers, and with ``hmac_secret`` the signature
header ``sha256=<hex HMAC-SHA256 of the exact body>``. A 2xx answer is a
delivery; 408, 425, 429 and 5xx are retried; any other answer is a refusal
that retrying cannot fix (counted as dropped, with the status in the error).

The connection is kept open between events when the server allows it
(HTTP/1.1 keep-alive): a new TCP (and TLS) connection per event costs the
device more CPU than the request itself. A kept connection the server has
closed meanwhile is noticed on the next request, which is sent once more on a
fresh connection.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from device_runtime.outputs.outbox import Message
from device_runtime.outputs.sinks.base import DeliveryError, Sink, SinkContext

RETRYABLE = {408, 425, 429}
MAX_KEPT_ANSWER = 64 * 1024  # a longer answer is not read to the end: the connection is closed instead
# What a kept connection the server closed while idle looks like on the next request.
STALE_CONNECTION = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def signature(key: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex>`` (verify it the same way on the receiver)."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink(Sink):
    """POSTs the rendered payload to the spec's URL."""

    def __init__(self, spec: Any, context: SinkContext) -> None:
        super().__init__(spec, context)
        parts = urlsplit(spec.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._kept: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._https:
            context = ssl.create_default_context(cadata=self.spec.ca_cert or None)
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.spec.timeout_s, context=context)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.spec.timeout_s)

    def send(self, message: Message) -> str:
        spec = self.spec
        body = json.dumps(spec.render(message.fields), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "sightline-device",
                   "X-Sightline-Event-Id": str(message.fields.get("event_id", ""))}
        headers.update(spec.headers)
        for header, secret in spec.header_secrets.items():
            headers[header] = self.context.require(secret, f"header {header}")
        if spec.hmac_secret:
            headers[spec.signature_header] = signature(self.context.require(spec.hmac_secret, "HMAC key"), body)
        where = f"{self._host}:{self._port}"
        try:
            response, answer = self._post(body, headers)
        except ConnectionRefusedError:
            raise DeliveryError(f"cannot reach {where}: connection refused") from None
        except socket.gaierror:
            raise DeliveryError(f"cannot reach the webhook: unknown host {self._host!r}") from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"TLS to {where}: the server's certificate is not trusted ({exc.verify_message})") from None
        except TimeoutError:
            raise DeliveryError(f"{where} did not answer within {spec.timeout_s:g} s") from None
        except OSError as exc:
            raise DeliveryError(f"cannot reach {where}: {exc.strerror or exc}") from None
        except http.client.HTTPException as exc:
            raise DeliveryError(f"{where} sent a broken HTTP answer: {type(exc).__name__}") from None
        status = f"HTTP {response.status} {response.reason}" + (f": {answer[:200]}" if answer else "")
        if 200 <= response.status < 300:
            return status
        retry = response.status >= 500 or response.status in RETRYABLE
        raise DeliveryError(f"{spec.url} answered {status}", permanent=not retry)

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[http.client.HTTPResponse, str]:
        """POST on the kept connection (once more on a fresh one if the server had closed it); the answer's start."""
        reused = self._kept is not None
        connection = self._kept or self._connection()
        self._kept = None
        try:
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_KEPT_ANSWER + 1)
        except STALE_CONNECTION:
            connection.close()
            if not reused:
                raise
            return self._post(body, headers)
        except BaseException:
            connection.close()
            raise
        if response.will_close or len(data) > MAX_KEPT_ANSWER:
            connection.close()
        else:
            self._kept = connection
        return response, data[:300].decode("utf-8", "replace").strip()

    def close(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()

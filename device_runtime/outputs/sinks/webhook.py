"""HTTP webhook: POST each event as JSON (stdlib http.client, no extra dependency on the device).

Headers sent with every request: ``Content-Type: application/json``,
``X-Sightline-Event-Id`` (stable across retries, for de-duplication), the
spec's headers and secret headers, and with ``hmac_secret`` the signature
header ``sha256=<hex HMAC-SHA256 of the exact body>``. A 2xx answer is a
delivery; 408, 425, 429 and 5xx are retried; any other answer is a refusal
that retrying cannot fix (counted as dropped, with the status in the error).
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
        connection = self._connection()
        try:
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read(300).decode("utf-8", "replace").strip()
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
        finally:
            connection.close()
        status = f"HTTP {response.status} {response.reason}" + (f": {answer[:200]}" if answer else "")
        if 200 <= response.status < 300:
            return status
        retry = response.status >= 500 or response.status in RETRYABLE
        raise DeliveryError(f"{spec.url} answered {status}", permanent=not retry)

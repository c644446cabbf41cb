"""What every sink (MQTT, webhook, Modbus, OPC UA, S3, CloudWatch) shares.

A sink turns queued messages into deliveries. It is called from its
output's own delivery thread, so it may block (up to its timeout) without
slowing any camera. It raises :class:`DeliveryError` with a sentence a plant
engineer can act on; ``permanent`` marks answers that retrying cannot change
(a PLC refusing the address, an HTTP 400), which the outbox counts and drops
instead of blocking the queue behind them forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from device_runtime.outputs.outbox import Message

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A delivery failed. ``delivered``: messages of the batch delivered before this one."""

    def __init__(self, message: str, *, permanent: bool = False, delivered: int = 0) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.delivered = delivered


@dataclass
class SinkContext:
    """What a sink may know besides its spec: where secrets come from, and who is sending."""

    secret: Callable[[str], str | None]
    device: str = ""
    app_id: str = ""
    app_version: str = ""
    secrets_used: list[str] = field(default_factory=list)

    def require(self, name: str, what: str) -> str:
        """The secret ``name``; a DeliveryError naming it (never its value) if the device lacks it."""
        value = self.secret(name) if name else None
        if value is None:
            raise DeliveryError(
                f"{what}: secret {name!r} is not on this device; deploy the app again from a console that has it"
            )
        return value

    def optional(self, name: str, what: str) -> str | None:
        """The secret ``name`` when one is named, else None."""
        return self.require(name, what) if name else None


class Sink:
    """Base class: subclasses implement :meth:`send` (one message) and may override :meth:`deliver`."""

    #: Whether queued messages carry the event's JPEG snapshot.
    wants_snapshot = False

    def __init__(self, spec: Any, context: SinkContext) -> None:
        self.spec = spec
        self.context = context

    def send(self, message: Message) -> str:
        """Deliver one message; return what the receiver answered, in a few words."""
        raise NotImplementedError

    def deliver(self, messages: list[Message]) -> int:
        """Deliver messages in order; all of them, or raise DeliveryError saying how many got through."""
        for index, message in enumerate(messages):
            try:
                self.send(message)
            except DeliveryError as exc:
                exc.delivered = index
                raise
            except Exception as exc:
                raise DeliveryError(describe_exception(exc), delivered=index) from exc
        return len(messages)

    def idle(self) -> None:
        """Called on the delivery thread about every half second while nothing is to be sent (keep-alives)."""

    def close(self) -> None:
        """Release connections; the sink is not used again."""


def describe_exception(exc: BaseException) -> str:
    """A short sentence for an unexpected library error."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused ({text})"
    if isinstance(exc, TimeoutError):
        return f"timed out ({text})"
    return f"{type(exc).__name__}: {text}"

"""Modbus TCP (pymodbus): write a coil or a holding register on a PLC.

Modes: ``pulse`` sets the value for ``pulse_ms`` then clears it (a reject
gate, a horn), ``occupied`` sets it while the event's zone holds objects and
clears it when the zone is empty (a stack light), ``count`` writes the event's
count. The pulse's wait happens on the output's own delivery thread, never on
a camera's. An exception answer from the PLC (illegal address, illegal value,
device failure) is a refusal: counted as dropped with the PLC's reason, since
writing the same thing again cannot succeed.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from device_runtime.outputs.outbox import Message
from device_runtime.outputs.sinks.base import DeliveryError, Sink, SinkContext, describe_exception

# pymodbus logs a failed connection at ERROR on every attempt and keeps the reason to itself; the
# output's error (in health, and logged once per distinct error) says it, reason included.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

EXCEPTION_CODES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
RETRYABLE_CODES = {5, 6, 10, 11}


class ModbusSink(Sink):
    """Writes one coil or holding register per event."""

    def __init__(self, spec: Any, context: SinkContext) -> None:
        super().__init__(spec, context)
        self._client: ModbusTcpClient | None = None
        self.where = f"{spec.host}:{spec.port}"

    def _connect(self) -> ModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        self._drop_client()
        client = ModbusTcpClient(self.spec.host, port=self.spec.port, timeout=self.spec.timeout_s, retries=0)
        if not client.connect():
            client.close()
            raise DeliveryError(f"cannot reach the PLC at {self.where} (Modbus TCP): {self._why_unreachable()}")
        self._client = client
        return client

    def _why_unreachable(self) -> str:
        """Why a connection fails: pymodbus only returns False, so ask the network once more for the reason."""
        try:
            socket.create_connection((self.spec.host, self.spec.port), timeout=self.spec.timeout_s).close()
        except OSError as exc:
            return describe_exception(exc)
        return "no connection (the PLC accepted one just after)"

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _write(self, value: int) -> None:
        spec = self.spec
        what = f"{'coil' if spec.target == 'coil' else 'holding register'} {spec.address} (unit {spec.unit_id})"
        client = self._connect()
        try:
            if spec.target == "coil":
                result = client.write_coil(spec.address, bool(value), device_id=spec.unit_id)
            else:
                result = client.write_register(spec.address, int(value) & 0xFFFF, device_id=spec.unit_id)
        except ModbusException as exc:
            self._drop_client()
            raise DeliveryError(f"the PLC at {self.where} did not answer the write to {what}: {exc}") from None
        except OSError as exc:
            self._drop_client()
            raise DeliveryError(f"lost the PLC at {self.where}: {exc}") from None
        if result.isError():
            code = getattr(result, "exception_code", 0)
            reason = EXCEPTION_CODES.get(code, f"exception code {code}")
            raise DeliveryError(
                f"the PLC at {self.where} refused the write to {what}: {reason}", permanent=code not in RETRYABLE_CODES
            )

    def send(self, message: Message) -> str:
        spec = self.spec
        age = time.time() - float(message.fields.get("time") or message.created)
        if spec.stale_after_s and age > spec.stale_after_s:
            raise DeliveryError(
                f"event is {age:.0f} s old (stale_after_s {spec.stale_after_s:g}): not written to the PLC", permanent=True
            )
        count = int(message.fields.get("count") or 0)
        if spec.mode == "pulse":
            self._write(spec.value)
            time.sleep(spec.pulse_ms / 1000.0)
            self._write(0)
            return f"PLC {self.where} pulsed {spec.target} {spec.address} for {spec.pulse_ms} ms"
        value = (spec.value if count > 0 else 0) if spec.mode == "occupied" else count
        self._write(value)
        return f"PLC {self.where} wrote {value} to {spec.target} {spec.address}"

    def close(self) -> None:
        self._drop_client()

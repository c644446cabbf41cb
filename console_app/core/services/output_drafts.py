"""The app builder's Outputs step, without Qt: a list of outputs being edited, and their secrets.

Each output is kept as the manifest entry it will become (plain data) and
checked with the device's own model (``device_runtime.protocol.apps.outputs``),
so the form reports exactly what a deploy would refuse. Secret values typed
into the form (passwords, tokens, keys) are kept apart, under the secret
names the entry refers to (``password_secret: "output/<name>/password"``);
they go to the console's credential store when the app is saved
(:func:`save_output_secrets`), travel to the device at deploy
(:func:`output_secrets`) and never enter the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from console_app.core.services.app_builder_types import Problem
from device_runtime.protocol.apps.outputs import (
    OUTPUT_KINDS,
    CloudWatchOutput,
    ModbusOutput,
    MqttOutput,
    OpcUaOutput,
    S3Output,
    WebhookOutput,
    output_field_problems,
    output_problems,
    parse_output,
    secret_name,
)

#: Kind -> its model class (the form reads fields, titles and descriptions from it).
OUTPUT_MODELS: dict[str, type] = {
    "mqtt": MqttOutput,
    "webhook": WebhookOutput,
    "modbus": ModbusOutput,
    "opcua": OpcUaOutput,
    "s3": S3Output,
    "cloudwatch": CloudWatchOutput,
}

# What a new output of each kind starts with (the required fields a form must show filled).
_STARTERS: dict[str, dict[str, Any]] = {
    "mqtt": {"url": "mqtt://broker:1883"},
    "webhook": {"url": "https://example.invalid/hook"},
    "modbus": {"host": "plc", "address": 0},
    "opcua": {"url": "opc.tcp://server:4840", "writes": [{"node_id": "ns=2;s=Line.Count", "value": "{count}", "type": "int32"}]},
    "s3": {"bucket": "plant-snapshots"},
    "cloudwatch": {},
}

CREDENTIAL_PREFIX = "output-secret:"


def credential_ref(name: str) -> str:
    """The credential store reference of an output secret (the store keeps other kinds too)."""
    return CREDENTIAL_PREFIX + name


class OutputDrafts:
    """Outputs being edited in the builder; mutate through the methods."""

    def __init__(self, items: list[Mapping[str, Any]] | None = None) -> None:
        self.items: list[dict[str, Any]] = [dict(item) for item in items or []]
        self.secret_values: dict[str, str] = {}

    def add(self, kind: str) -> int:
        """A new output of ``kind`` with a free name; its index."""
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {kind!r} (kinds: {', '.join(OUTPUT_KINDS)})")
        taken = {item.get("name") for item in self.items}
        number = 1
        while f"{kind}-{number}" in taken:
            number += 1
        self.items.append({"kind": kind, "name": f"{kind}-{number}", **_STARTERS[kind]})
        return len(self.items) - 1

    def update(self, index: int, **changes: Any) -> dict[str, Any]:
        """Change fields of one output; a value of ``None`` removes the field (its default applies)."""
        item = self.items[index]
        for key, value in changes.items():
            if value is None:
                item.pop(key, None)
            else:
                item[key] = value
        return item

    def remove(self, index: int) -> None:
        del self.items[index]

    def set_secret(self, index: int, field: str, value: str) -> str:
        """Keep a typed secret for ``field`` (e.g. ``password_secret``); names it when unnamed. Returns the name."""
        item = self.items[index]
        name = item.get(field) or secret_name(item["name"], field.removesuffix("_secret").replace("_", "-"))
        item[field] = name
        self.secret_values[name] = value
        return name

    def problems(self, *, zones: list[str] | None = None, lines: list[str] | None = None,
                 classes: list[str] | None = None, camera_ids: list[str] | None = None) -> list[Problem]:
        """Every problem of every output, as builder problems (``outputs[0].url: ...``)."""
        problems = []
        for index, item in enumerate(self.items):
            problems += [Problem(f"outputs[{index}]" + (f".{path}" if path else ""), message)
                         for path, message in output_field_problems(item)]
        if not problems:
            parsed = [parse_output(item) for item in self.items]
            known = {"zones": zones, "lines": lines, "labels": classes or None, "camera_ids": camera_ids}
            for loc, message in output_problems(parsed, **known):
                path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
                problems.append(Problem(f"outputs{path}", message))
        return problems

    def manifest_entries(self) -> list[dict[str, Any]]:
        """The outputs as they go into the manifest (no secret values)."""
        return [dict(item) for item in self.items]

    def secrets(self) -> dict[str, str]:
        """Typed secret values still referenced by an output, by secret name."""
        used = set()
        for item in self.items:
            used.update(_secret_names(item))
        return {name: value for name, value in self.secret_values.items() if name in used}


def _secret_names(item: Mapping[str, Any]) -> list[str]:
    names = [value for key, value in item.items() if key.endswith("_secret") and isinstance(value, str) and value]
    headers = item.get("header_secrets") or {}
    return names + [value for value in headers.values() if isinstance(value, str) and value]


def save_output_secrets(store: Any, values: Mapping[str, str]) -> None:
    """Keep output secret values in the console's credential store (keyring or encrypted file)."""
    for name, value in values.items():
        store.put(credential_ref(name), value)


class MissingOutputSecrets(LookupError):
    """The console does not hold some secrets a manifest's outputs need; lists their names (never values)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(
            "the console has no value for the output secret(s) " + ", ".join(repr(n) for n in names)
            + "; enter them in the app's Outputs step and save the app again"
        )


def output_secrets(manifest: Mapping[str, Any], store: Any) -> dict[str, str]:
    """``{secret name: value}`` for every secret a manifest's outputs name, from the credential store.

    What the deploy sends in ``UploadHeader.secrets``. :class:`MissingOutputSecrets`
    lists any the store lacks.
    """
    names: list[str] = []
    for item in manifest.get("outputs", []) or []:
        names += [n for n in _secret_names(item) if n not in names]
    values, missing = {}, []
    for name in names:
        value = store.get(credential_ref(name))
        if value is None:
            missing.append(name)
        else:
            values[name] = value
    if missing:
        raise MissingOutputSecrets(missing)
    return values


def send_test_event(appliances: Any, entry: Mapping[str, Any], secrets: Mapping[str, str], app_id: str = "test") -> str:
    """Ask paired devices, in turn, to send one sample event to ``entry``; ``"<device>: <answer>"``.

    The first device that can run the test decides (outputs live on the plant
    network, which the device reaches and the workstation may not). Raises
    RuntimeError with each device's answer when none delivered. Blocking:
    call it from a background task.
    """
    problems = []
    entries = appliances.paired_entries() if appliances is not None else []
    for device in entries:
        try:
            with appliances.connect(device.device_id) as client:
                reply = client.test_output(dict(entry), dict(secrets), app_id=app_id)
        except Exception as exc:  # next device; every answer is shown to the engineer
            problems.append(f"{device.name}: {exc}")
            continue
        if reply.ok:
            return f"{device.name}: {reply.answer}"
        problems.append(f"{device.name}: {reply.answer}")
    if not entries:
        raise RuntimeError("no paired device to send the test event from; pair one on the Devices page")
    raise RuntimeError("; ".join(problems))

"""Modbus TCP and OPC UA outputs against real servers (pymodbus, asyncua) on 127.0.0.1."""

from __future__ import annotations

import logging
import time

import pytest

from device_runtime.outputs.dispatcher import output_key
from device_runtime.outputs.sinks.base import DeliveryError
from tests.device_runtime.outputs.conftest import manifest_with, wait_until, zone_event
from tests.peers.plant_servers import ModbusServer, OpcUaServer

pytestmark = pytest.mark.integration


def modbus(server: ModbusServer, **extra) -> dict:
    spec = {"kind": "modbus", "name": "reject-gate", "host": "127.0.0.1", "port": server.port, "address": 4}
    spec.update(extra)
    return spec


def test_a_pulse_sets_the_coil_for_pulse_ms_then_clears_it(make_dispatcher) -> None:
    with ModbusServer() as server:
        dispatcher = make_dispatcher()
        dispatcher.attach(manifest_with([modbus(server, mode="pulse", pulse_ms=300, events={"kinds": ["zone_entered"]})]))
        dispatcher.submit("line3", [zone_event(1)])
        wait_until(lambda: len(server.writes) >= 2, what="set and clear")
        (t_on, kind, address, on), (t_off, _, _, off) = server.writes[:2]
    assert (kind, address, on, off) == ("coil", 4, True, False)
    assert 0.28 <= t_off - t_on < 1.5, f"pulse lasted {t_off - t_on:.3f} s"


def test_occupied_mode_holds_a_register_while_the_zone_has_objects(make_dispatcher) -> None:
    with ModbusServer() as server:
        dispatcher = make_dispatcher()
        dispatcher.attach(
            manifest_with([modbus(server, name="stack-light", target="holding_register", address=7, value=2, mode="occupied")])
        )
        now = time.time()
        dispatcher.submit("line3", [zone_event(1, when=now), zone_event(2, when=now + 0.1)])
        dispatcher.submit("line3", [zone_event(0, kind="zone_left", when=now + 0.2)])
        wait_until(lambda: len(server.writes) >= 3, what="three writes")
    assert [(kind, address, value) for _, kind, address, value in server.writes] == [
        ("register", 7, 2), ("register", 7, 2), ("register", 7, 0)
    ]


def test_a_refused_write_is_a_clear_error_and_does_not_block_later_events(make_dispatcher) -> None:
    with ModbusServer() as server:
        dispatcher = make_dispatcher()
        dispatcher.attach(manifest_with([modbus(server, address=500, mode="occupied")]))
        dispatcher.submit("line3", [zone_event(1)])
        key = output_key("line3", "reject-gate")
        counters = wait_until(lambda: (c := dispatcher.outbox.counters(key)).dropped and c, what="a refusal")
    assert counters.last_error == (
        f"refused, message dropped: the PLC at 127.0.0.1:{server.port} refused the write to coil 500 (unit 1): "
        "illegal data address"
    )


def test_an_unreachable_plc_keeps_events_queued_and_says_why(make_dispatcher, caplog) -> None:
    from tests.peers.mosquitto import free_port

    caplog.set_level(logging.DEBUG)
    port = free_port()
    dispatcher = make_dispatcher()
    dispatcher.attach(manifest_with([{"kind": "modbus", "name": "plc", "host": "127.0.0.1", "port": port, "address": 1}]))
    dispatcher.submit("line3", [zone_event(1)])
    counters = wait_until(lambda: (c := dispatcher.outbox.counters(output_key("line3", "plc"))).last_error and c, what="an error")
    assert counters.last_error == (
        f"cannot reach the PLC at 127.0.0.1:{port} (Modbus TCP): connection refused ([Errno 111] Connection refused)"
    )
    assert counters.queued == 1
    wait_until(lambda: dispatcher.outbox.counters(output_key("line3", "plc")).failed >= 3, what="retries")
    # One line in the device log for the whole outage, not one per attempt (nor pymodbus's own on top).
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in said] == ["device_runtime.outputs.dispatcher"]
    assert "cannot reach the PLC" in said[0].getMessage()


def test_stale_pulses_are_not_fired_when_the_plc_comes_back(make_dispatcher) -> None:
    with ModbusServer() as server:
        dispatcher = make_dispatcher()
        dispatcher.attach(manifest_with([modbus(server, stale_after_s=5)]))
        dispatcher.submit("line3", [zone_event(1, when=time.time() - 60)])
        key = output_key("line3", "reject-gate")
        counters = wait_until(lambda: (c := dispatcher.outbox.counters(key)).dropped and c, what="a stale drop")
        assert "not written to the PLC" in counters.last_error
        assert server.writes == []


def test_opcua_writes_a_counter_an_alarm_and_the_last_defect_text(make_dispatcher) -> None:
    with OpcUaServer() as server:
        ns = server.namespace
        dispatcher = make_dispatcher()
        dispatcher.attach(
            manifest_with(
                [
                    {
                        "kind": "opcua",
                        "name": "scada",
                        "url": server.url,
                        "writes": [
                            {"node_id": f"ns={ns};s=Line3.Count", "value": "{count}", "type": "int32"},
                            {"node_id": f"ns={ns};s=Line3.Alarm", "value": "true", "type": "boolean"},
                            {"node_id": f"ns={ns};s=Line3.LastDefect", "value": "{class} in {zone}", "type": "string"},
                        ],
                    }
                ]
            )
        )
        dispatcher.submit("line3", [zone_event(7)])
        wait_until(lambda: server.value("Count") == 7, what="the counter")
        assert server.value("Alarm") is True
        assert server.value("LastDefect") == "part in reject"


def test_opcua_a_refused_write_names_the_node_and_the_status(make_dispatcher) -> None:
    with OpcUaServer() as server:
        dispatcher = make_dispatcher()
        node = f"ns={server.namespace};s=Line3.ReadOnly"
        spec = manifest_with(
            [{"kind": "opcua", "name": "scada", "url": server.url, "writes": [{"node_id": node, "value": "{count}", "type": "int32"}]}]
        )
        dispatcher.attach(spec)
        dispatcher.submit("line3", [zone_event(1)])
        key = output_key("line3", "scada")
        counters = wait_until(lambda: (c := dispatcher.outbox.counters(key)).dropped and c, what="a refusal")
    assert f"refused the write to {node}" in counters.last_error
    assert counters.last_error.endswith(
        "User does not have permission to perform the requested operation.(BadUserAccessDenied)"
    )


def test_opcua_signs_and_encrypts_with_the_outputs_certificate(make_dispatcher, tmp_path) -> None:
    from tests.peers.plant_servers import make_opcua_certificate

    cert, key = make_opcua_certificate("urn:sightline:line3-device")
    with OpcUaServer(secured_in=tmp_path / "opcua") as server:
        node = f"ns={server.namespace};s=Line3.Count"
        write = {"node_id": node, "value": "{count}", "type": "int32"}
        dispatcher = make_dispatcher({"output/scada/key": key})
        secured = {"kind": "opcua", "name": "scada", "url": server.url, "security_policy": "Basic256Sha256",
                   "certificate": cert, "private_key_secret": "output/scada/key", "writes": [write]}
        dispatcher.attach(manifest_with([secured]))
        dispatcher.submit("line3", [zone_event(9)])
        wait_until(lambda: server.value("Count") == 9, what="the secured write")

        plain = manifest_with([{"kind": "opcua", "name": "scada", "url": server.url, "writes": [write]}]).outputs[0]
        with pytest.raises(DeliveryError) as refused:
            dispatcher.send_test(plain, "line3")
    assert str(refused.value) == f"the OPC UA server at {server.url} offers no endpoint with security policy None"
    assert "PRIVATE KEY" not in str(refused.value)

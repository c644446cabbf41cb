"""The outputs process: the device's outputs delivered from a child process, to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from device_runtime.outputs.host import Host
from device_runtime.outputs.process import OutputsProcess
from device_runtime.outputs.wire import BlockingSender, FrameReader, encode
from tests.device_runtime.outputs.conftest import manifest_with, wait_until, zone_event
from tests.peers.plant_servers import HttpReceiver

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "output/chat/token"


def webhook(receiver: HttpReceiver, **extra) -> dict:
    spec = {"kind": "webhook", "name": "chat", "url": f"{receiver.url}/hooks", "header_secrets": {"Authorization": TOKEN},
            "payload": {"zone": "{zone}", "count": "{count}"}}
    spec.update(extra)
    return spec


@pytest.fixture
def outputs(make_outputs_process):
    return make_outputs_process


def status_of(process: OutputsProcess, name: str = "chat"):
    return next(s for s in process.statuses() if s.name == name)


def child_pid(process: OutputsProcess) -> int:
    return wait_until(lambda: process.pid, what="the outputs process")


def test_events_reach_the_receiver_in_order_with_the_secret_and_the_counters_come_back(outputs) -> None:
    with HttpReceiver() as receiver:
        process = outputs({TOKEN: "Bearer tok-456"})
        process.attach(manifest_with([webhook(receiver)]))
        assert status_of(process).state == "idle"  # listed at once, before the child reports
        process.submit("line3", [zone_event(n) for n in range(1, 6)])
        wait_until(lambda: len(receiver.requests) == 5, what="five POSTs")
        wait_until(lambda: status_of(process).counters.delivered == 5, what="the delivered count")
    assert [r.json()["count"] for r in receiver.requests] == [1, 2, 3, 4, 5]
    assert {r.headers["Authorization"] for r in receiver.requests} == {"Bearer tok-456"}
    status = status_of(process)
    assert status.state == "ok"
    assert status.latency_ms["messages"] == 5 and 0 < status.latency_ms["p50"] <= status.latency_ms["max"] < 20_000
    assert process.events_by_kind() == {("line3", "zone_entered"): 5}


def test_the_process_runs_at_the_configured_niceness_and_the_device_keeps_its_own(outputs) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the niceness is read from Linux's /proc")
    with HttpReceiver() as receiver:
        process = outputs(nice=15)
        process.attach(manifest_with([webhook(receiver, header_secrets={})]))
        pid = child_pid(process)
        process.submit("line3", [zone_event(1)])
        wait_until(lambda: receiver.requests, what="a POST")
    tasks = Path(f"/proc/{pid}/task")
    nices = {int((task / "stat").read_text().rsplit(")", 1)[1].split()[16]) for task in tasks.iterdir()}
    assert nices == {15}  # every thread of the outputs process, the delivery threads included
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0


def test_an_error_names_the_problem_in_the_status_and_the_device_log(outputs, caplog) -> None:
    with HttpReceiver() as receiver:
        receiver.status = 503
        process = outputs({TOKEN: "Bearer secret-value-789"})
        with caplog.at_level(logging.WARNING, logger="device_runtime"):
            process.attach(manifest_with([webhook(receiver)]))
            process.submit("line3", [zone_event(1)])
            status = wait_until(lambda: (s := status_of(process)).state == "retrying" and s, what="retrying")
            wait_until(lambda: any("line3/chat" in r.getMessage() for r in caplog.records), what="the warning")
    assert "503" in status.counters.last_error
    assert status.counters.queued == 1
    [record] = [r for r in caplog.records if "line3/chat" in r.getMessage()]
    assert record.name == "device_runtime.outputs.dispatcher" and record.app_id == "line3"
    assert "secret-value-789" not in status.counters.last_error + record.getMessage()


def test_a_killed_outputs_process_is_started_again_and_keeps_delivering(outputs, caplog) -> None:
    with HttpReceiver() as receiver:
        process = outputs({TOKEN: "t"})
        process.attach(manifest_with([webhook(receiver)]))
        process.submit("line3", [zone_event(1)])
        wait_until(lambda: len(receiver.requests) == 1, what="the first POST")
        first = child_pid(process)
        with caplog.at_level(logging.ERROR, logger="device_runtime"):
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: process.pid not in (None, first), what="a new outputs process")
        assert "the outputs process stopped" in caplog.text
        process.submit("line3", [zone_event(2)])  # the app was attached to the new process
        wait_until(lambda: len(receiver.requests) == 2, what="the second POST")
    assert receiver.requests[1].json()["count"] == 2
    assert process.restarts == 1


# A device in a process of its own: 20 events to an output whose server refuses them, held in the
# outputs process's memory only (a write-behind longer than the test), until the test stops the device.
DEVICE = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from device_runtime.outputs.process import OutputsProcess
    from tests.device_runtime.outputs.conftest import manifest_with, zone_event
    process = OutputsProcess(Path({data!r}), secrets={{}}.get, retry_initial_s=0.05, retry_max_s=0.2,
                             write_behind_s=600)
    signal.signal(signal.SIGTERM, lambda *_: (process.close(), sys.exit(0)))  # as the device's own stop does
    process.attach(manifest_with([{spec}]))
    process.submit("line3", [zone_event(n) for n in range(1, 21)])
    while not any(s.counters.failed for s in process.statuses()):
        time.sleep(0.05)
    print(process.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("stop", ["kill -9 of the device", "SIGTERM to every process of the device"])
def test_a_device_stopped_while_the_receiver_refuses_loses_nothing(outputs, tmp_path, stop) -> None:
    """The outputs process stores what it holds when its device goes, killed or stopped as systemd stops a
    service (a SIGTERM to each of its processes); the next device delivers it all."""
    with HttpReceiver() as receiver:
        receiver.status = 503
        spec = json.dumps(webhook(receiver, header_secrets={}))
        script = DEVICE.format(root=str(ROOT), data=str(tmp_path / "device"), spec=spec)
        device = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                  start_new_session=True)
        try:
            line = device.stdout.readline() if device.stdout else ""
            assert line.strip(), "the device did not start its outputs"
            child = int(line)
            if stop.startswith("kill"):
                os.kill(device.pid, signal.SIGKILL)  # the device only: its outputs process sees its socket end
            else:
                os.killpg(device.pid, signal.SIGTERM)
            device.wait(30)
        finally:
            if device.poll() is None:
                device.kill()
                device.wait(10)
        wait_until(lambda: _gone(child), what="the outputs process to exit")
        receiver.status = 200
        process = outputs()
        process.attach(manifest_with([webhook(receiver, header_secrets={})]))
        wait_until(lambda: len({r.json()["count"] for r in receiver.requests}) == 20, timeout=30, what="all 20 events")
    assert sorted({r.json()["count"] for r in receiver.requests}) == list(range(1, 21))


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie nobody waited for counts)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_command_the_outputs_process_cannot_carry_out_is_logged_and_the_next_ones_still_run(tmp_path, caplog) -> None:
    """Run in this process (the host's loop over a real socket): a broken frame stands in for a bug."""
    device_end, host_end = socket.socketpair()
    reports, _ = socket.socketpair()
    options = {"data_dir": str(tmp_path / "device"), "max_bytes": 1 << 20, "max_age_s": 3600.0, "write_behind_s": 0.2,
               "retry_initial_s": 0.05, "retry_max_s": 0.5, "stall_after_s": 300.0}
    host = Host(options, BlockingSender(reports))
    serving = threading.Thread(target=host.serve, args=(FrameReader(host_end),), daemon=True)
    with HttpReceiver() as receiver, caplog.at_level(logging.ERROR, logger="device_runtime"):
        serving.start()
        device_end.sendall(encode(("params", "line3")))  # one argument short
        device_end.sendall(encode(("attach", manifest_with([webhook(receiver, header_secrets={})]), {})))
        device_end.sendall(encode(("submit", "line3", [zone_event(1).fields()], b"", None, 0.0)))
        wait_until(lambda: receiver.requests, what="the event after the broken command")
        device_end.sendall(encode(("close",)))
        serving.join(20)
    assert not serving.is_alive()
    assert "outputs process: params failed" in caplog.text

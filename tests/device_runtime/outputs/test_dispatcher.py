"""The dispatcher's delivery threads: they yield the CPU to the cameras (Linux niceness per thread)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from device_runtime.outputs.dispatcher import output_key
from tests.device_runtime.outputs.conftest import manifest_with, wait_until, zone_event
from tests.peers.plant_servers import HttpReceiver

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness per thread is a Linux feature"),
]


def nice_of(thread_name: str) -> int | None:
    """The niceness the kernel gives the Python thread ``thread_name`` (as ``top -H`` shows it)."""
    thread = next((t for t in threading.enumerate() if t.name == thread_name), None)
    if thread is None or thread.native_id is None:
        return None
    stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.parametrize("nice", [None, 0, 19])
def test_delivery_threads_run_below_the_cameras_priority_and_still_deliver(make_dispatcher, nice) -> None:
    with HttpReceiver() as receiver:
        dispatcher = make_dispatcher() if nice is None else make_dispatcher(delivery_nice=nice)
        dispatcher.attach(manifest_with([{"kind": "webhook", "name": "hook", "url": f"{receiver.url}/events"}]))
        dispatcher.submit("line3", [zone_event(1)])
        wait_until(lambda: dispatcher.outbox.counters(output_key("line3", "hook")).delivered == 1, what="delivery")

        wanted = 10 if nice is None else nice
        camera = nice_of(threading.current_thread().name)  # 0 unless the tests themselves run niced
        assert nice_of("output-line3/hook") == max(wanted, camera)
        assert camera == os.getpriority(os.PRIO_PROCESS, 0), "the submitting (camera) thread keeps its priority"
        assert len(receiver.requests) == 1

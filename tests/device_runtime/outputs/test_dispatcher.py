"""The dispatcher's delivery threads: they yield the CPU to the cameras (Linux niceness per thread),
and one stuck in its client library shows in health."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from device_runtime.outputs.dispatcher import output_key
from device_runtime.outputs.sinks.base import Sink
from tests.device_runtime.outputs.conftest import manifest_with, wait_until, zone_event
from tests.peers.plant_servers import HttpReceiver

pytestmark = pytest.mark.integration


def nice_of(thread_name: str) -> int | None:
    """The niceness the kernel gives the Python thread ``thread_name`` (as ``top -H`` shows it)."""
    thread = next((t for t in threading.enumerate() if t.name == thread_name), None)
    if thread is None or thread.native_id is None:
        return None
    stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness per thread is a Linux feature")
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


class _HungSink(Sink):
    """A client library call that does not return. A fake: every real sink has timeouts of its own,
    so a real server cannot make one hang; a library bug can."""

    def __init__(self, spec, context) -> None:
        super().__init__(spec, context)
        self.release = threading.Event()

    def send(self, message) -> str:
        self.release.wait(60)
        return "answered at last"


def test_an_output_whose_client_library_never_returns_is_reported_stalled(make_dispatcher) -> None:
    made: list[_HungSink] = []

    def factory(spec, context):
        made.append(_HungSink(spec, context))
        return made[-1]

    dispatcher = make_dispatcher(sink_factory=factory, stall_after_s=0.5)
    dispatcher.attach(manifest_with([{"kind": "webhook", "name": "hook", "url": "http://127.0.0.1:9/events"}]))
    dispatcher.submit("line3", [zone_event(1)])
    status = wait_until(lambda: next((s for s in dispatcher.statuses() if s.state == "stalled"), None),
                        what="the stalled state")
    assert status.name == "hook" and status.counters.queued == 1
    assert status.counters.last_error.startswith("the webhook client has not returned for ")
    assert "restart the app" in status.counters.last_error

    made[0].release.set()  # the library returns after all: the output is fine again
    wait_until(lambda: [(s.state, s.counters.delivered, s.counters.last_error) for s in dispatcher.statuses()]
               == [("ok", 1, "")], what="delivery after the stall")

"""From app events to output deliveries: filter, debounce, enqueue; one delivery thread per output.

On a device it runs in the outputs process (:mod:`device_runtime.outputs.process`),
where ``submit`` runs on the thread that reads the device's frames; used
directly (tests, benchmarks, tools) it runs on the caller's threads.
``submit`` filters and debounces
the events for each output of the app, builds each event's template fields
once (times formatted, an event id), and hands them (plus the snapshot for
outputs that want it) to the :class:`Outbox` without waiting: no I/O, no
rendering, no lock that I/O holds, some tens of microseconds per event.
Each output's :class:`Delivery` thread takes its own messages oldest first,
hands them to its sink, and on failure retries the same messages after a
capped exponential backoff, so order per output holds through any outage.
Delivery threads can run at a lower CPU priority (``delivery_nice``, Linux
nice 10 by default; 0 in the outputs process, which is niced as a whole).
Each keeps its last messages' delivery latency for health.

Secret values a sink read are scrubbed from every error text before it is
logged or stored, so they never reach health, logs or events.
"""

from __future__ import annotations

import itertools
import logging
import os
import statistics
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device_runtime.outputs.app_logs import LEVELS, AppLogHandler, capture_app_logs
from device_runtime.outputs.outbox import FILE_NAME, Outbox, OutputCounters
from device_runtime.outputs.overlays import overlay_data
from device_runtime.outputs.sinks import make_sink
from device_runtime.outputs.sinks.base import DeliveryError, Sink, SinkContext, describe_exception
from device_runtime.protocol.apps.outputs import EventFilter, event_fields

log = logging.getLogger(__name__)

BATCH = 100
#: A sink call this long is stuck in its client library: every sink has timeouts far shorter.
STALL_AFTER_S = 300.0
LATENCY_SAMPLES = 1000  # an output's delivery latency is measured over its last this many messages
LOG_SUFFIX = ".log"  # an output's app log stream: "<output>.log" (output names cannot contain '.')


@dataclass
class OutputStatus:
    """One output's state, for health and metrics."""

    app_id: str
    name: str
    kind: str
    state: str  # ok | retrying | idle | stalled | detached
    counters: OutputCounters
    #: From the camera's hand-over (submit) to the receiver's confirmation, over the last LATENCY_SAMPLES messages delivered
    #: (``p50``, ``p99``, ``max`` in milliseconds, ``messages``); empty before the first.
    latency_ms: dict[str, float] = field(default_factory=dict)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """Median, 99th percentile and maximum of latencies in seconds, in milliseconds (empty for none)."""
    if not seconds:
        return {}
    q = statistics.quantiles(seconds, n=100, method="inclusive") if len(seconds) > 1 else [seconds[0]] * 99
    return {"p50": round(q[49] * 1000, 1), "p99": round(q[98] * 1000, 1), "max": round(max(seconds) * 1000, 1),
            "messages": len(seconds)}


def output_key(app_id: str, name: str) -> str:
    """The outbox's name for an app's output."""
    return f"{app_id}/{name}"


class Backoff:
    """Capped exponential backoff: initial, 2×, 4× … up to ``cap`` seconds."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0) -> None:
        self.initial = initial
        self.cap = cap
        self.attempts = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * (2**self.attempts))
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0


class _Secrets:
    """Reads secrets for one sink and remembers the values, so errors can be scrubbed of them."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self._lookup = lookup
        self.values: set[str] = set()

    def __call__(self, name: str) -> str | None:
        value = self._lookup(name)
        if value:
            self.values.add(value)
        return value

    def scrub(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            if len(value) >= 3:
                text = text.replace(value, "***")
        return text


class _BrokenSink(Sink):
    """Stands in for a sink that could not be made; every delivery fails with the reason."""

    def __init__(self, spec: Any, context: SinkContext, reason: str) -> None:
        super().__init__(spec, context)
        self.reason = reason

    def send(self, message: Any) -> str:
        raise DeliveryError(self.reason)


def lower_thread_priority(nice: int) -> None:
    """Give the calling thread (not the process: Linux keeps a nice value per thread) niceness ``nice``.

    Best effort: where threads have no priority of their own (not Linux), nothing changes.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:  # a device already started niced stays as it is
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        log.debug("cannot lower the priority of %s: %s", threading.current_thread().name, exc)


class Delivery:
    """The delivery thread of one output."""

    def __init__(self, key: str, spec: Any, sink: Sink, secrets: _Secrets, outbox: Outbox, backoff: Backoff,
                 nice: int = 0) -> None:
        self.key = key
        self._nice = nice
        self.spec = spec
        self.sink = sink
        self._secrets = secrets
        self._outbox = outbox
        self._backoff = backoff
        self._stop = threading.Event()
        self.retrying = False
        #: Monotonic time the sink call now running started (None between calls): a call that never
        #: returns (a hung client library) shows in health as "stalled" instead of a silent queue.
        self._busy_since: float | None = None
        self._last_logged = ""
        #: Seconds from each recent message's submit to its confirmation (messages from disk included).
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._thread = threading.Thread(target=self._run, name=f"output-{key}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._outbox.wake(self.key)
        self._thread.join(timeout)
        try:
            self.sink.close()
        except Exception:  # closing a broken connection is best effort
            log.debug("output %s: close failed", self.key, exc_info=True)

    def _run(self) -> None:
        lower_thread_priority(self._nice)
        while not self._stop.is_set():
            messages = self._outbox.take(self.key, BATCH, timeout=0.5)
            self._busy_since = time.monotonic()
            try:
                delay = self._deliver(messages) if messages else self._idle()
            finally:
                self._busy_since = None
            if delay:
                self._stop.wait(delay)

    def stalled_for(self) -> float:
        """Seconds the sink call now running has taken so far (0 between calls)."""
        since = self._busy_since
        return time.monotonic() - since if since is not None else 0.0

    def _idle(self) -> float:
        try:
            self.sink.idle()
        except Exception:  # a broken connection shows at the next delivery, which makes a new one
            log.debug("output %s: idle work failed", self.key, exc_info=True)
        return 0.0

    def _deliver(self, messages: list[Any]) -> float:
        """Hand ``messages`` to the sink and settle them; the backoff to wait before the next try (0: none)."""
        try:
            delivered = self.sink.deliver(messages)
            now = time.time()
            self.latencies.extend(now - m.created for m in messages[:delivered])
            self._outbox.ack(self.key, [m.id for m in messages[:delivered]])
            if self.retrying:
                log.info("output %s: delivering again", self.key)
                self._last_logged = ""
            # Also after a restart: the error stored before it no longer holds.
            self._outbox.clear_error(self.key)
            self.retrying = False
            self._backoff.reset()
            return 0.0
        except Exception as exc:
            if not isinstance(exc, DeliveryError):
                exc = DeliveryError(describe_exception(exc))
            self._outbox.ack(self.key, [m.id for m in messages[: exc.delivered]])
            error = self._secrets.scrub(str(exc))
            if exc.permanent:
                self._log_once(error)
                self._outbox.reject(self.key, messages[exc.delivered].id, error)
                return 0.0
            if not self.retrying:
                self._log_once(f"{error}; retrying with backoff (queued messages are kept)")
            self.retrying = True
            self._outbox.record_failure(self.key, error)
            return self._backoff.next_delay()

    def _log_once(self, text: str) -> None:
        """A warning per distinct error, not per message: a refusing PLC must not flood the log."""
        if text != self._last_logged:
            log.warning("output %s: %s", self.key, text)
            self._last_logged = text


class _EventIds:
    """Unique event ids without a system call per event: a random prefix per start and a counter."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


class _LazyFields:
    """One event's template fields, built the first time one of its outputs' messages needs them."""

    __slots__ = ("_data", "_device", "_app_version", "_ids", "_base")

    def __init__(self, data: dict[str, Any], device: str, app_version: str, ids: _EventIds) -> None:
        self._data, self._device, self._app_version, self._ids = data, device, app_version, ids
        self._base: dict[str, Any] | None = None

    def build(self, output: str, overlay: dict[str, Any] | None, params: Any) -> dict[str, Any]:
        if self._base is None:  # the same event_id for every output of the event
            self._base = event_fields(self._data, device=self._device, app_version=self._app_version,
                                      event_id=self._ids.next())
        fields = dict(self._base, output=output)
        if overlay is not None:
            fields["overlay"] = overlay_data(overlay, params, self._data)
        return fields


class OutputDispatcher:
    """Every app's outputs on this device, over one outbox in ``<data_dir>/outbox.sqlite3``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        device: str = "",
        secrets: Callable[[str], str | None] | None = None,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 7 * 86400.0,
        write_behind_s: float = 0.2,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        delivery_nice: int = 10,
        sink_factory: Callable[..., Sink] = make_sink,
        stall_after_s: float = STALL_AFTER_S,
        capture_app_logs: bool = True,
    ) -> None:
        """``delivery_nice``: the delivery threads' niceness; ``sink_factory(spec, context)`` makes each
        output's sink; an output whose sink call has run ``stall_after_s`` is reported ``stalled``.
        ``capture_app_logs``: this process's log records feed the apps' log outputs (False in the
        outputs process, where the device captures them and puts them with :meth:`Outbox.put`)."""
        self.outbox = Outbox(
            Path(data_dir) / FILE_NAME, max_bytes=max_bytes, max_age_s=max_age_s, persist_after_s=write_behind_s
        )
        self.device = device
        self._secret_lookup = secrets or (lambda name: None)
        self._retry = (retry_initial_s, retry_max_s)
        self.delivery_nice = delivery_nice
        self.stall_after_s = stall_after_s
        self._make_sink = sink_factory
        self._capture_app_logs = capture_app_logs
        self._apps: dict[str, list[tuple[Any, Delivery]]] = {}
        self._params: dict[str, Any] = {}  # app id -> live params (zones and lines drawn on overlays)
        # App id -> its outputs' app log deliveries; replaced, never changed in place (the log handler reads it unlocked).
        self._log_deliveries: dict[str, list[tuple[Any, Delivery]]] = {}
        self._log_targets: dict[str, list[tuple[str, int]]] = {}
        self._log_handler: AppLogHandler | None = None
        self._event_ids = _EventIds()
        self._last_sent: dict[tuple[str, tuple[str, ...]], float] = {}
        self._debounce_lock = threading.Lock()
        self._events_by_kind: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def use_secrets(self, lookup: Callable[[str], str | None]) -> None:
        """Read output secrets from ``lookup`` (the device's SecretStore.get) from now on."""
        self._secret_lookup = lookup

    def context(self, app_id: str = "", app_version: str = "") -> tuple[SinkContext, _Secrets]:
        secrets = _Secrets(lambda name: self._secret_lookup(name))
        return SinkContext(secret=secrets, device=self.device, app_id=app_id, app_version=app_version), secrets

    # ------------------------------------------------------------------ apps

    def attach(self, manifest: Any) -> None:
        """Start delivering the outputs of ``manifest`` (replacing the app's previous ones)."""
        self.detach(manifest.id)
        deliveries = []
        for spec in getattr(manifest, "outputs", []) or []:
            if not spec.enabled:
                continue
            context, secrets = self.context(manifest.id, manifest.version)
            try:
                sink = self._make_sink(spec, context)
            except DeliveryError as exc:  # a missing library: the app runs, health says why nothing is sent
                sink = _BrokenSink(spec, context, str(exc))
            deliveries.append((spec, self._delivery(output_key(manifest.id, spec.name), spec, sink, secrets)))
        log_deliveries = [(spec, self._app_log_delivery(manifest, spec)) for spec, _ in deliveries
                          if getattr(spec, "app_log", False)]
        with self._lock:
            self._apps[manifest.id] = deliveries
            self._params[manifest.id] = getattr(manifest, "live_params", None)
            if log_deliveries:
                self._log_deliveries = {**self._log_deliveries, manifest.id: log_deliveries}
            self._update_log_targets()
        for _, delivery in deliveries + log_deliveries:
            delivery.start()
        if deliveries:
            log.info("app %s: %d output(s) attached", manifest.id, len(deliveries))

    def update_params(self, app_id: str, params: Any) -> None:
        """The app's live parameters changed: overlays draw its new zones and lines from now on."""
        with self._lock:
            if app_id in self._apps:
                self._params[app_id] = params

    def detach(self, app_id: str) -> None:
        """Stop the app's delivery threads; what they had queued stays in the outbox for the next start."""
        with self._lock:
            deliveries = self._apps.pop(app_id, [])
            self._params.pop(app_id, None)
            deliveries += self._log_deliveries.get(app_id, [])
            self._log_deliveries = {k: v for k, v in self._log_deliveries.items() if k != app_id}
            self._update_log_targets()
        for _, delivery in deliveries:
            delivery.stop()

    # ------------------------------------------------------------------ app logs

    def _app_log_delivery(self, manifest: Any, spec: Any) -> Delivery:
        from device_runtime.outputs.sinks.aws import CloudWatchAppLogSink

        context, secrets = self.context(manifest.id, manifest.version)
        key = output_key(manifest.id, spec.name + LOG_SUFFIX)
        return self._delivery(key, spec, CloudWatchAppLogSink(spec, context), secrets)

    def _delivery(self, key: str, spec: Any, sink: Sink, secrets: _Secrets) -> Delivery:
        """An output's delivery thread (not started) over this dispatcher's outbox, backoff and priority."""
        return Delivery(key, spec, sink, secrets, self.outbox, Backoff(*self._retry), self.delivery_nice)

    def _update_log_targets(self) -> None:
        """Point the log handler at the app log outputs now attached; install or remove it. Holds ``_lock``."""
        self._log_targets = {
            app_id: [(d.key, LEVELS[spec.app_log_level]) for spec, d in items]
            for app_id, items in self._log_deliveries.items()
        }
        if self._capture_app_logs:
            self._log_handler = capture_app_logs(self._log_handler, self._log_targets, lambda: self._log_targets,
                                                 self.outbox.put)

    # ------------------------------------------------------------------ the pipeline side

    def submit(
        self, app_id: str, events: list[Any], snapshot: bytes = b"", overlay: dict[str, Any] | None = None,
        submitted: float | None = None,
    ) -> None:
        """Queue ``events`` for the app's matching outputs. Never blocks on an output.

        ``overlay`` is the frame's ``snapshot_meta`` (boxes and counts): outputs
        with ``overlays`` draw it, and the event's zone or line, on the snapshot
        when they deliver it (not here, on the camera's thread). ``submitted``:
        when the camera handed the events over (default now), the start of
        their delivery latency.
        """
        with self._lock:
            deliveries = self._apps.get(app_id, [])
            params = self._params.get(app_id)
            for event in events:
                kind = (app_id, getattr(event, "type", ""))
                self._events_by_kind[kind] = self._events_by_kind.get(kind, 0) + 1
        if not deliveries:
            return
        # Routed here, not on another thread: handing the events to a thread of their own
        # would cost the device more CPU (a cold thread's wake-up) than the routing does.
        data = [event.fields() if hasattr(event, "fields") else dict(event) for event in events]
        self.outbox.put_many(self._route(data, deliveries, snapshot, overlay, params), submitted)

    def _route(self, events: list[dict[str, Any]], deliveries: list[tuple[Any, Delivery]], snapshot: bytes,
               overlay: dict[str, Any] | None, params: Any) -> list[tuple[str, Any, bytes]]:
        """The ``(output key, fields, blob)`` messages of one submit."""
        messages: list[tuple[str, Any, bytes]] = []
        for data in events:
            lazy: _LazyFields | None = None
            for spec, delivery in deliveries:
                events_filter: EventFilter = spec.events
                if not events_filter.matches(data):
                    continue
                if events_filter.min_interval_s > 0 and not self._debounce(delivery.key, events_filter, data):
                    self.outbox.count_suppressed(delivery.key)
                    continue
                if lazy is None:  # once per event, shared by its outputs
                    lazy = _LazyFields(data, self.device, delivery.sink.context.app_version, self._event_ids)
                blob = snapshot if delivery.sink.wants_snapshot else b""
                drawn = overlay if blob and getattr(spec, "overlays", False) else None
                messages.append((delivery.key, lazy.build(spec.name, drawn, params), blob))
        return messages

    def _debounce(self, key: str, events_filter: EventFilter, data: dict[str, Any]) -> bool:
        """Whether the output sends this event: not the same event within its ``min_interval_s``."""
        debounce_key = (key, EventFilter.debounce_key(data))
        with self._debounce_lock:  # cameras submit from threads of their own
            last = self._last_sent.get(debounce_key)
            if last is not None and data["time"] - last < events_filter.min_interval_s:
                return False
            self._last_sent[debounce_key] = data["time"]
            return True

    # ------------------------------------------------------------------ reporting

    def statuses(self) -> list[OutputStatus]:
        """Every attached output's state and counters, then outputs that still hold messages but are detached."""
        with self._lock:
            attached = [(app_id, spec, d, "") for app_id, items in self._apps.items() for spec, d in items]
            attached += [(app_id, spec, d, LOG_SUFFIX) for app_id, items in self._log_deliveries.items() for spec, d in items]
        result = []
        seen = set()
        for app_id, spec, delivery, suffix in attached:
            counters = self.outbox.counters(delivery.key)
            state = "retrying" if delivery.retrying else ("ok" if counters.delivered or counters.queued else "idle")
            stuck = delivery.stalled_for()
            if stuck > self.stall_after_s:
                state = "stalled"
                counters.last_error = (f"the {spec.kind} client has not returned for {stuck:.0f} s (stuck in its "
                                       "library?); restart the app to give the output a new connection")
                counters.last_error_time = time.time() - stuck
            result.append(OutputStatus(app_id, spec.name + suffix, spec.kind, state, counters,
                                       latency_summary(list(delivery.latencies))))
            seen.add(delivery.key)
        for key in self.outbox.outputs():
            if key not in seen:
                counters = self.outbox.counters(key)
                if counters.queued:
                    app_id, _, name = key.partition("/")
                    result.append(OutputStatus(app_id, name, "", "detached", counters))
        return result

    def events_by_kind(self) -> dict[tuple[str, str], int]:
        """Events seen per (app, kind) since start, for metrics."""
        with self._lock:
            return dict(self._events_by_kind)

    # ------------------------------------------------------------------ test sends

    def send_test(self, spec: Any, app_id: str = "test", extra_secrets: dict[str, str] | None = None) -> str:
        """Deliver one sample event to ``spec`` now, bypassing the outbox: see :func:`send_test`."""
        return send_test(spec, app_id, device=self.device, secrets=self._secret_lookup, extra_secrets=extra_secrets,
                         sink_factory=self._make_sink)

    def close(self) -> None:
        """Stop every delivery thread and flush the outbox to disk."""
        with self._lock:
            app_ids = list(self._apps)
        for app_id in app_ids:
            self.detach(app_id)
        self.outbox.close()


def send_test(spec: Any, app_id: str = "test", *, device: str = "", secrets: Callable[[str], str | None],
              extra_secrets: dict[str, str] | None = None, sink_factory: Callable[..., Sink] = make_sink) -> str:
    """Deliver one sample event to ``spec`` now, bypassing the outbox; the receiver's answer.

    Raises :class:`DeliveryError` with the (scrubbed) reason when it fails.
    ``extra_secrets`` are used before ``secrets`` (a form's values not yet deployed).
    """
    extra = dict(extra_secrets or {})
    used = _Secrets(lambda name: extra.get(name) or secrets(name))
    context = SinkContext(secret=used, device=device, app_id=app_id, app_version="test")
    now = time.time()
    fields = event_fields(
        {"type": "zone_entered", "time": now, "app_id": app_id, "camera_id": "test-camera", "label": "test",
         "zone": "test-zone", "count": 1, "detail": "test event sent from the console"},
        device=device, app_version="test", output=spec.name, event_id=uuid.uuid4().hex,
    )
    from device_runtime.outputs.outbox import Message
    from device_runtime.outputs.sinks.test_image import test_jpeg

    sink = None
    try:
        sink = sink_factory(spec, context)
        blob = test_jpeg() if sink.wants_snapshot else b""
        return sink.send(Message(0, spec.name, now, fields, blob))
    except DeliveryError as exc:
        raise DeliveryError(used.scrub(str(exc)), permanent=exc.permanent) from None
    except Exception as exc:
        raise DeliveryError(used.scrub(describe_exception(exc))) from None
    finally:
        if sink is not None:
            sink.close()

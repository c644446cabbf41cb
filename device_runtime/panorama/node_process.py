"""One Panorama code node in its own OS process, and the runtime's side of its channel.

:class:`CodeNodeHost` starts ``sightline_node_boot.py`` with the app's
Python, hands it one end of a socket pair and serves its requests:

- ``get``: frames of a media port (:class:`~device_runtime.panorama.frames.FeedGroup`),
  answered with shared-memory slot descriptions;
- ``put``: frames for an output port (the display becomes the app's preview);
- ``call``: a model call on the device's shared :class:`ModelSession`;
- ``alloc``: a shared-memory block for large model inputs.

Each request runs on a worker thread, so a slow model call never holds up a
``get`` from another of the app's threads. The node's stdout and stderr go
to the device log, tagged ``app/node``. When the process dies it is started
again after a capped exponential backoff; the crash count and the last
traceback are kept for health. Memory, CPU-core and niceness limits are set
by the child on itself before the app's code runs (``resource.setrlimit``,
``sched_setaffinity``, ``nice``), so the app cannot lift them.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from device_runtime.panorama.frames import FeedGroup
from device_runtime.protocol.panorama.project import CodeNode

log = logging.getLogger(__name__)

SDK_DIR = Path(__file__).resolve().parent / "sdk"
BOOT_SCRIPT = SDK_DIR / "sightline_node_boot.py"
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a run this long resets the backoff
READERS_DRAIN_S = 2.0  # how long an exit waits for its last stderr lines and crash report
STOP_GRACE_S = 2.0
_MIN_BLOCK = 1 << 20


@dataclass(frozen=True)
class NodeLimits:
    """Resource limits of one code node process."""

    memory_mb: int = 2048  # address space (RLIMIT_AS); 0: unlimited
    cpu_cores: int = 0  # cores the process may run on; 0: all
    nice: int = 5  # lower priority than the runtime's camera and inference threads


DEFAULT_LIMITS = NodeLimits()


@dataclass
class OutputMedia:
    """One frame a code node put on an output port."""

    node: str
    port: str
    stream_id: str
    image: np.ndarray
    time_stamp: tuple[int, int]
    rects: list[tuple[float, float, float, float]]
    labels: list[tuple[str, float, float]]


@dataclass
class NodeStats:
    """What the node did, for health and run-panorama's timing table."""

    gets: int = 0
    puts: int = 0
    calls: int = 0
    get_wait_ms: float = 0.0  # total time get() waited for frames
    call_ms: float = 0.0  # total model time (runtime side)
    frame_copy_ms: float = 0.0  # total time copying frames into shared memory
    put_times: collections.deque = field(default_factory=lambda: collections.deque(maxlen=64))

    def results_per_s(self) -> float:
        times = list(self.put_times)
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)


class CodeNodeHost:
    """Runs and supervises one code node process."""

    def __init__(
        self,
        app_id: str,
        node: CodeNode,
        *,
        groups: dict[str, FeedGroup],
        models: dict[str, Any],
        params: Callable[[], dict[str, Any]],
        on_output: Callable[[OutputMedia], None],
        data_dir: Path,
        limits: NodeLimits = DEFAULT_LIMITS,
        python: str = sys.executable,
        environment: dict[str, str] | None = None,
    ):
        self.app_id = app_id
        self.node = node
        self._groups = groups
        self._models = models
        self._params = params
        self._on_output = on_output
        self.data_dir = Path(data_dir).resolve()
        self.limits = limits
        self._python = python
        self._environment = dict(environment or {})
        self.stats = NodeStats()
        self.crashes = 0
        self.last_traceback = ""
        self.state = "stopped"  # starting | running | backoff | stopped
        # Under "device_runtime" so the device log stream (WatchLogs) carries what the app prints.
        self._log = logging.getLogger(f"device_runtime.code_app.{app_id}.{node.name}")
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix=f"node-{app_id}-{node.name}")
        self._blocks: dict[str, shared_memory.SharedMemory] = {}
        self._blocks_lock = threading.Lock()
        self._crash_report = ""
        self._readers: list[threading.Thread] = []
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._monitor: threading.Thread | None = None
        self._started = threading.Event()
        self.used_sdk = threading.Event()  # the app made its first SDK request: its code is running

    # ------------------------------------------------------------------ lifecycle

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs" / self.node.name

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "storage"

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the process (and its supervision); raises if it cannot even be spawned."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._spawn()
        self._monitor = threading.Thread(target=self._supervise, name=f"node-{self.app_id}-{self.node.name}", daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after a grace period) and free its shared memory."""
        self._stopping.set()
        for group in self._groups.values():
            group.wake()
        self._terminate()
        if self._monitor is not None and self._monitor is not threading.current_thread():
            self._monitor.join(STOP_GRACE_S + 3.0)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._blocks_lock:
            blocks, self._blocks = list(self._blocks.values()), {}
        for block in blocks:
            _free(block)
        self.state = "stopped"

    def set_params(self, values: dict[str, Any]) -> None:
        """Send new parameter values; the node's next ``get()`` on those ports returns them."""
        self._send(("params", dict(values)))

    def wait_started(self, timeout: float) -> bool:
        return self._started.wait(timeout)

    def _spawn(self) -> None:
        parent, child = socket.socketpair()
        config = {
            "fd": child.fileno(),
            "sdk_dir": str(SDK_DIR),
            "script": str(self.node.script_path()),
            "entry_name": self.node.entry.name,
            "src_dir": str(self.node.src_dir),
            "arguments": list(self.node.entry.arguments),
            "inputs": {name: b.type for name, b in self.node.inputs.items()},
            "outputs": {p.name: p.type for p in self.node.interface.outputs},
            "models": list(self._models),
            "params": self._params(),
            "paths": {
                "/opt/aws/panorama/logs": str(self.logs_dir),
                "/opt/aws/panorama/storage": str(self.storage_dir),
                "/panorama": str(self.node.src_dir),
            },
            "limits": {
                "memory_mb": self.limits.memory_mb,
                "cpu_cores": self.limits.cpu_cores,
                "nice": self.limits.nice,
            },
        }
        env = {
            key: value
            for key, value in os.environ.items()
            if key in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "PYTHONPATH")
        }
        env.update({e.name: e.value for e in self.node.entry.environment})
        env.update(self._environment)
        env.update(
            {
                "SIGHTLINE_NODE": json.dumps(config),
                "SIGHTLINE_APP_ID": self.app_id,
                "SIGHTLINE_NODE_NAME": self.node.name,
                "SIGHTLINE_LOGS_DIR": str(self.logs_dir),
                "SIGHTLINE_STORAGE_DIR": str(self.storage_dir),
                "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
                "PYTHONUNBUFFERED": "1",
                "OPENBLAS_NUM_THREADS": env.get("OPENBLAS_NUM_THREADS", "1"),
                "MALLOC_ARENA_MAX": "2",
            }
        )
        self._crash_report = ""
        self._stderr_tail.clear()
        self.state = "starting"
        with self._blocks_lock:  # model-input blocks of a previous process: nobody maps them now
            old_blocks, self._blocks = list(self._blocks.values()), {}
        for block in old_blocks:
            _free(block)
        try:
            process = subprocess.Popen(
                [self._python, str(BOOT_SCRIPT)],
                pass_fds=(child.fileno(),),
                env=env,
                cwd=str(self.node.src_dir),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        finally:
            child.close()
        self._process = process
        self._conn = Connection(parent.detach())
        self._spawned_at = time.monotonic()
        self._readers = [
            threading.Thread(target=self._pump, args=(stream, level), daemon=True)
            for stream, level in ((process.stdout, logging.INFO), (process.stderr, logging.WARNING))
        ]
        self._readers.append(threading.Thread(target=self._serve, args=(self._conn,), daemon=True))
        for reader in self._readers:
            reader.start()
        self.state = "running"
        self._started.set()

    def _supervise(self) -> None:
        failures = 0
        while True:
            process = self._process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            # The exit can be seen before the readers have taken the last of its stderr and its
            # crash report: let them finish (they end at end of file) so the reason is whole.
            for reader in self._readers:
                reader.join(READERS_DRAIN_S)
            ran = time.monotonic() - self._spawned_at
            self.crashes += 1
            failures = 1 if ran >= STABLE_AFTER_S else failures + 1
            reason = self._crash_report or "\n".join(self._stderr_tail) or f"exit status {code}"
            if code < 0:
                reason = f"killed by signal {-code}" + (f"\n{reason}" if reason else "")
            self.last_traceback = reason
            delay = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (failures - 1))
            self._log.error(
                "[%s/%s] code node stopped (exit %s, crash %d); restarting in %.0f s\n%s",
                self.app_id, self.node.name, code, self.crashes, delay, reason,
            )
            self.state = "backoff"
            if self._stopping.wait(delay):
                return
            try:
                self._spawn()
            except OSError as exc:
                self.last_traceback = f"cannot start the code node: {exc}"
                self._log.error("[%s/%s] %s", self.app_id, self.node.name, self.last_traceback)

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        self._send(("stop",))
        try:
            process.wait(STOP_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            pass
        process.terminate()
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5.0)

    # ------------------------------------------------------------------ output and logs

    def _pump(self, stream: Any, level: int) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if level >= logging.WARNING:
                self._stderr_tail.append(line)
            self._log.log(level, "[%s/%s] %s", self.app_id, self.node.name, line)
        stream.close()

    # ------------------------------------------------------------------ requests

    def _send(self, message: tuple) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            with self._send_lock:
                conn.send(message)
        except (OSError, ValueError):
            pass  # the process is gone; supervision restarts it

    def _serve(self, conn: Connection) -> None:
        try:
            while True:
                message = conn.recv()
                if message[0] == "crash":
                    self._crash_report = message[2]
                    continue
                self.used_sdk.set()
                if message[0] == "put":  # one-way: nothing waits for it, and it keeps frame order
                    self._put_quietly(*message[2:])
                    continue
                self._pool.submit(self._handle, conn, message)
        except (EOFError, OSError, RuntimeError):
            pass
        finally:
            conn.close()

    def _handle(self, conn: Connection, message: tuple) -> None:
        op, request_id, *args = message
        try:
            handler = getattr(self, f"_op_{op}")
            reply: tuple = ("reply", request_id, True, handler(*args))
        except BaseException as exc:  # every failure goes back to the app as an exception
            reply = ("reply", request_id, False, (type(exc).__name__, str(exc)))
        try:
            with self._send_lock:
                conn.send(reply)
        except (OSError, ValueError):
            pass

    def _put_quietly(self, port: str, items: list[dict[str, Any]]) -> None:
        try:
            self._op_put(port, items)
        except Exception:  # a consumer's bug must not cut the channel
            self._log.exception("[%s/%s] output of port %s failed", self.app_id, self.node.name, port)

    def _op_get(self, port: str, timeout: float | None) -> list[dict[str, Any]]:
        group = self._groups.get(port)
        if group is None:
            raise KeyError(f"input port {port!r} of node {self.node.name!r} is not connected to a camera")
        started = time.perf_counter()
        frames = group.get(timeout, self._stopping)
        self.stats.gets += 1
        self.stats.get_wait_ms += (time.perf_counter() - started) * 1000.0
        return frames

    def _op_put(self, port: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            image = item.get("image")
            if image is None:
                slot = item["slot"]
                for group in self._groups.values():
                    image = group.read_slot(slot)
                    if image is not None:
                        break
            if image is None:
                continue
            self._on_output(
                OutputMedia(
                    node=self.node.name,
                    port=port,
                    stream_id=item["stream_id"],
                    image=image,
                    time_stamp=tuple(item["time_stamp"]),
                    rects=list(item["rects"]),
                    labels=list(item["labels"]),
                )
            )
        self.stats.puts += 1
        self.stats.put_times.append(time.monotonic())

    def _op_call(self, name: str, packed: dict[str, tuple]) -> tuple[list[np.ndarray], float]:
        session = self._models.get(name)
        if session is None:
            raise KeyError(f"no model node {name!r} in this app (models: {', '.join(self._models) or 'none'})")
        feeds = {key: self._unpack(value) for key, value in packed.items()}
        started = time.perf_counter()
        outputs = session.run_raw(feeds)
        model_ms = (time.perf_counter() - started) * 1000.0
        self.stats.calls += 1
        self.stats.call_ms += model_ms
        # The model's own time goes back too, so the app side can tell run time from round trip.
        return [np.ascontiguousarray(out) for out in outputs], model_ms

    def _op_alloc(self, nbytes: int) -> tuple[str, int]:
        size = max(_MIN_BLOCK, 1 << max(0, int(nbytes) - 1).bit_length())
        block = shared_memory.SharedMemory(create=True, size=size)
        with self._blocks_lock:
            self._blocks[block.name] = block
        return block.name, block.size

    def _unpack(self, value: tuple) -> np.ndarray:
        if value[0] == "inline":
            return value[1]
        _, name, _size, shape, dtype = value
        with self._blocks_lock:
            block = self._blocks.get(name)
        if block is None:
            raise ValueError(f"unknown shared-memory block {name!r}")
        return np.ndarray(tuple(shape), np.dtype(dtype), buffer=block.buf)


def _free(block: shared_memory.SharedMemory) -> None:
    try:
        block.close()
    except BufferError:
        pass  # an array still views it; the mapping goes with the process
    try:
        block.unlink()
    except FileNotFoundError:
        pass

"""``panoramasdk``: the AWS Panorama Application SDK (1.2) API, served by Sightline.

Panorama apps import this module unchanged. Sightline starts each code node
in its own process with this package on ``sys.path`` and a connection to
the runtime; the runtime delivers camera frames through shared memory and
runs the app's models on the device's shared sessions.

- :class:`node`: subclass it (ports are attached in ``__new__``, so an
  ``__init__`` that never calls ``super().__init__()`` still has
  ``self.inputs`` and ``self.outputs``), or build ``panoramasdk.node()`` and
  pass it around.
- ``node.inputs.<port>.get(timeout=None)``: a parameter's value, or for a
  media port a list of :class:`media`, one per bound camera (``TimeoutError``
  when ``timeout`` seconds pass without a new frame).
- ``node.outputs.<port>.put(list_of_media)``: ``ValueError`` on an empty list.
- ``node.call(inputs, model_name, time_out=None)``: also ``call(model_name,
  inputs)``; returns a tuple of numpy arrays; ``KeyError`` for an unknown
  model. Calls from several threads run concurrently.
- :class:`media`: ``image`` (writable H×W×3 uint8 BGR), ``add_rect``,
  ``add_label`` (coordinates in [0, 1), kept as overlay metadata),
  ``stream_id``, ``stream_uri``, ``time_stamp`` ``(sec, usec)``, ``is_cached``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from panoramasdk._channel import Channel

__version__ = "1.2"
__all__ = ["media", "node", "port"]

_runtime: _Runtime | None = None
# Per thread: how long the runtime spent in the model during this thread's last call() (for timing tools).
_call_stats = threading.local()


class _Runtime:
    """What the Sightline boot script sets up before the app's code runs."""

    def __init__(self, channel: Channel, inputs: Mapping[str, str], outputs: Mapping[str, str], models: list[str]):
        self.channel = channel
        self.inputs = dict(inputs)  # port → type
        self.outputs = dict(outputs)
        self.models = list(models)


def _start(channel: Channel, inputs: Mapping[str, str], outputs: Mapping[str, str], models: list[str]) -> None:
    """Called once by Sightline's boot script."""
    global _runtime
    _runtime = _Runtime(channel, inputs, outputs, models)


def _require_runtime() -> _Runtime:
    if _runtime is None:
        raise RuntimeError(
            "panoramasdk is not connected to a Sightline runtime: run the app with "
            "'sightline-device run-panorama PROJECT_DIR' or deploy it to a device"
        )
    return _runtime


class media:  # noqa: N801 - the SDK's name
    """One camera frame: pixels the app may draw on, plus overlay metadata."""

    def __init__(
        self,
        image: np.ndarray,
        stream_id: str = "",
        stream_uri: str = "",
        time_stamp: tuple[int, int] = (0, 0),
        is_cached: bool = False,
        _slot: tuple | None = None,
    ):
        self.image = image
        self.stream_id = stream_id
        self.stream_uri = stream_uri
        self.time_stamp = time_stamp
        self.is_cached = is_cached
        self._slot = _slot
        self._slot_image = image if _slot is not None else None
        self._rects: list[tuple[float, float, float, float]] = []
        self._labels: list[tuple[str, float, float]] = []

    def add_rect(self, left: float, top: float, right: float, bottom: float) -> None:
        """Draw a box on the output (coordinates are fractions of the width and height, in [0, 1))."""
        values = [float(v) for v in (left, top, right, bottom)]
        if any(not 0.0 <= v <= 1.0 for v in values):
            raise ValueError(f"add_rect: coordinates must be in [0, 1), got {values}")
        self._rects.append((values[0], values[1], values[2], values[3]))

    def add_label(self, text: str, x: float, y: float) -> None:
        """Write ``text`` on the output at (x, y), fractions of the width and height."""
        if not (0.0 <= float(x) <= 1.0 and 0.0 <= float(y) <= 1.0):
            raise ValueError(f"add_label: coordinates must be in [0, 1), got ({x}, {y})")
        self._labels.append((str(text), float(x), float(y)))

    def _describe(self) -> dict[str, Any]:
        image = self.image
        entry: dict[str, Any] = {
            "stream_id": self.stream_id,
            "time_stamp": tuple(self.time_stamp),
            "rects": list(self._rects),
            "labels": list(self._labels),
        }
        slot = self._slot
        if slot is not None and image is self._slot_image:
            entry["slot"] = slot  # pixels are where the runtime put them; the app drew in place
        else:
            entry["image"] = np.ascontiguousarray(image, dtype=np.uint8)
        return entry

    def __repr__(self) -> str:
        shape = getattr(self.image, "shape", None)
        return f"media(stream_id={self.stream_id!r}, image={shape}, is_cached={self.is_cached})"


class port:  # noqa: N801 - the SDK's name
    """One input or output port of the node."""

    def __init__(self, name: str, kind: str, direction: str):
        self.name = name
        self.type = kind
        self._direction = direction

    def get(self, timeout: float | None = None) -> Any:
        """A parameter's value, or the newest frames of a media input (one ``media`` per camera)."""
        if self._direction != "input":
            raise TypeError(f"port '{self.name}' is an output; use put()")
        runtime = _require_runtime()
        if self.type != "media":
            return runtime.channel.param(self.name)
        frames = runtime.channel.request("get", self.name, timeout)
        result = []
        for item in frames:
            slot = item["slot"]
            name, size, index, shape, dtype = slot
            offset = index * int(np.prod(shape)) * np.dtype(dtype).itemsize
            array = runtime.channel.view(name, size, tuple(shape), dtype, offset)
            result.append(
                media(
                    array,
                    stream_id=item["stream_id"],
                    stream_uri=item["stream_uri"],
                    time_stamp=tuple(item["time_stamp"]),
                    is_cached=item["is_cached"],
                    _slot=slot,
                )
            )
        return result

    def put(self, items: Iterable[media]) -> None:
        """Send frames to this output (the app's preview stream when it feeds a display)."""
        if self._direction != "output":
            raise TypeError(f"port '{self.name}' is an input; use get()")
        items = list(items) if items is not None else []
        if not items:
            raise ValueError(f"put() on port '{self.name}' needs a non-empty list of media")
        for item in items:
            if not isinstance(item, media):
                raise TypeError(f"put() on port '{self.name}' takes media objects, got {type(item).__name__}")
        runtime = _require_runtime()
        # No reply to wait for: put() returns as soon as the runtime has the message.
        runtime.channel.send(("put", 0, self.name, [item._describe() for item in items]))

    def __repr__(self) -> str:
        return f"port({self.name!r}, {self.type})"


class _Ports:
    """``node.inputs`` / ``node.outputs``: one attribute per port."""

    def __init__(self, ports: Mapping[str, str], direction: str):
        for name, kind in ports.items():
            setattr(self, name, port(name, kind, direction))

    def __getattr__(self, name: str) -> Any:
        known = ", ".join(k for k in vars(self)) or "none"
        raise AttributeError(f"this node has no port '{name}' (ports: {known})")


class node:  # noqa: N801 - the SDK's name
    """A code node. Subclass it, or build one with ``panoramasdk.node()``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> node:
        instance = super().__new__(cls)
        runtime = _require_runtime()
        # Apps use self.inputs in __init__ without calling super().__init__(): attach ports here.
        instance.inputs = _Ports(runtime.inputs, "input")
        instance.outputs = _Ports(runtime.outputs, "output")
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def call(self, first: Any, second: Any, time_out: float | None = None) -> tuple[np.ndarray, ...]:
        """Run a model node: ``call(inputs, "model_node")`` or ``call("model_node", inputs)``."""
        if isinstance(first, str):
            name, inputs = first, second
        elif isinstance(second, str):
            inputs, name = first, second
        else:
            raise TypeError("call() needs the model node's name (a string) and a dict of input arrays")
        if not isinstance(inputs, Mapping):
            raise TypeError(f"call(): the inputs must be a dict of name → array, got {type(inputs).__name__}")
        runtime = _require_runtime()
        if name not in runtime.models:
            raise KeyError(f"no model node {name!r} in this app (models: {', '.join(runtime.models) or 'none'})")
        held: list[tuple[str, int]] = []
        try:
            packed = {key: runtime.channel.pack(np.asarray(value), held) for key, value in inputs.items()}
            outputs, model_ms = runtime.channel.request("call", name, packed, timeout=time_out)
            _call_stats.model_ms = model_ms
        except TimeoutError:
            held = []  # the runtime may still be reading those blocks: never reuse them
            raise
        finally:
            runtime.channel.give_back(held)
        return tuple(outputs)


"""``sightline-device run-panorama``: run a Panorama project on this machine, no device needed.

The successor of AWS's Panorama test utility::

    sightline-device run-panorama PROJECT_DIR \\
        --camera camera_node=rtsp://user:pw@10.0.0.5/stream1 [--camera camera_node=sim://line ...] \\
        [--override graphs/app/override.json] [--param threshold=0.7] \\
        [--model model_node=detector.onnx] [--output out/] [--video] [--window] \\
        [--seconds 30 | --frames 100]

``--camera NAME=URL`` binds a camera (RTSP, a video file, ``sim://``,
``test://``) to a camera node of the graph, or to a concrete camera an
override bound; repeat it for several cameras. Without ``--model`` a model
node uses the one ``.onnx`` file in its package folder. What the app puts on
its display output is written to ``--output`` as annotated JPEG frames (or
one MP4 per camera with ``--video``) with the app's boxes and labels drawn,
and shown in a window with ``--window`` when a display exists. Per-node
timing is printed every few seconds and at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from device_runtime.errors import InvalidArgument, SightlineError
from device_runtime.inference.registry import ModelRegistry
from device_runtime.media.redact import redact_url
from device_runtime.panorama.app_host import PanoramaAppHost, StreamBinding, validate_params
from device_runtime.panorama.models import acquire_model, check_model_file
from device_runtime.panorama.node_process import NodeLimits, OutputMedia
from device_runtime.protocol.panorama.dockerfile import read_dockerfile
from device_runtime.protocol.panorama.project import PanoramaProject, load_project
from device_runtime.sources.factory import open_source
from device_runtime.sources_pool import SourcePool

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``run-panorama`` sub-command's options."""
    parser.add_argument("project", type=Path, help="the Panorama project folder (graphs/, packages/, assets/)")
    parser.add_argument("--graph", type=Path, help="graph.json to run (default: the first under graphs/)")
    parser.add_argument("--camera", action="append", default=[], metavar="NODE=URL",
                        help="bind a camera (rtsp://, a file, sim://, test://) to a camera node; repeatable")
    parser.add_argument("--override", action="append", default=[], type=Path, metavar="FILE",
                        help="an override file to apply; repeatable")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="set a parameter node's value; repeatable")
    parser.add_argument("--model", action="append", default=[], metavar="NODE=FILE.onnx",
                        help="the ONNX export serving a model node; repeatable")
    parser.add_argument("--output", type=Path, help="folder for the annotated output (frames or videos)")
    parser.add_argument("--video", action="store_true", help="write one MP4 per camera instead of JPEG frames")
    parser.add_argument("--window", action="store_true", help="also show the output in a window (needs a display)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this many seconds (default: Ctrl-C)")
    parser.add_argument("--frames", type=int, default=0, help="stop after the app put this many outputs")
    parser.add_argument("--data-dir", type=Path, help="where /opt/aws/panorama/{logs,storage} go (default: OUTPUT/app-data)")
    parser.add_argument("--memory-mb", type=int, default=NodeLimits().memory_mb, help="memory limit per code node")
    parser.add_argument("--providers", help="execution providers, e.g. cpu or tensorrt,cuda,cpu")
    parser.add_argument("--stats-every", type=float, default=5.0, help="seconds between timing tables (0: only at the end)")


def _pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise InvalidArgument(f"--{what} {value!r}: expected NAME=VALUE")
        pairs.append((name.strip(), rest.strip()))
    return pairs


def bind_cameras(project: PanoramaProject, cameras: list[tuple[str, str]]) -> list[StreamBinding]:
    """``--camera`` pairs → stream bindings; every camera node must get at least one camera."""
    concrete = {s.name: (node.name, s.launch) for node in project.cameras.values() for s in node.streams}
    bindings: list[StreamBinding] = []
    used: dict[str, int] = defaultdict(int)
    for name, url in cameras:
        if name in project.cameras:
            node = name
        elif name in concrete:
            node = concrete[name][0]
        else:
            known = ", ".join(sorted(set(project.cameras) | set(concrete))) or "none"
            raise InvalidArgument(f"--camera {name}=...: the graph has no camera node {name!r} (camera nodes: {known})")
        used[name] += 1
        stream_id = name if used[name] == 1 else f"{name}-{used[name]}"
        # onSignal cameras start paused on a device until the console resumes them; here nothing
        # could resume them, so every camera runs.
        bindings.append(StreamBinding(node, stream_id, url))
    missing = [n for n in project.cameras if not any(b.camera_node == n for b in bindings)]
    if missing:
        raise InvalidArgument(
            "camera node(s) without a camera: " + ", ".join(missing) + " (give --camera NODE=URL, e.g. "
            f"--camera {missing[0]}=rtsp://camera/stream or --camera {missing[0]}=sim://line)"
        )
    return bindings


def model_files(project: PanoramaProject, given: list[tuple[str, str]]) -> dict[str, Path]:
    """Each model node's ONNX file: ``--model`` or the one ``.onnx`` in its package folder."""
    files = {}
    explicit = dict(given)
    for name in explicit:
        if name not in project.model_nodes:
            known = ", ".join(project.model_nodes) or "none"
            raise InvalidArgument(f"--model {name}=...: the graph has no model node {name!r} (model nodes: {known})")
    for name, node in project.model_nodes.items():
        if name in explicit:
            path = Path(explicit[name])
        else:
            found = sorted(node.folder.glob("*.onnx"))
            if len(found) != 1:
                raise InvalidArgument(
                    f"model node {name!r}: give its ONNX export with --model {name}=FILE.onnx (Panorama "
                    f"compiled {node.descriptor.framework} models with SageMaker Neo; Sightline runs ONNX)"
                )
            path = found[0]
        if not path.is_file():
            raise InvalidArgument(f"--model {name}={path}: no such file")
        check_model_file(node, path, source=path.name)
        files[name] = path
    return files


def draw_overlays(image: np.ndarray, rects: list[Any], labels: list[Any]) -> np.ndarray:
    """A copy of ``image`` with the app's boxes and labels drawn (coordinates in [0, 1))."""
    out = image.copy()
    height, width = out.shape[:2]
    for left, top, right, bottom in rects:
        cv2.rectangle(out, (int(left * width), int(top * height)), (int(right * width), int(bottom * height)), (0, 200, 255), 2)
    for text, x, y in labels:
        origin = (int(x * width), max(12, int(y * height)))
        cv2.putText(out, str(text), origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, str(text), origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


class OutputWriter:
    """Writes (and optionally shows) what the app puts on its display outputs."""

    def __init__(self, folder: Path | None, video: bool, window: bool, displays: set[tuple[str, str]]):
        self.folder = folder
        self.video = video
        self.window = window and _display_available()
        self.displays = displays
        self.count = 0
        self._writers: dict[str, Any] = {}
        self._frames: dict[str, int] = defaultdict(int)
        self._to_show: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.changed = threading.Event()

    def __call__(self, item: OutputMedia) -> None:
        if self.displays and (item.node, item.port) not in self.displays:
            return
        image = draw_overlays(item.image, item.rects, item.labels)
        with self._lock:
            self.count += 1
            self._frames[item.stream_id] += 1
            number = self._frames[item.stream_id]
            if self.folder is not None:
                safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.stream_id)
                if self.video:
                    writer = self._writers.get(safe)
                    if writer is None:
                        self.folder.mkdir(parents=True, exist_ok=True)
                        path = self.folder / f"{safe}.mp4"
                        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (image.shape[1], image.shape[0]))
                        self._writers[safe] = writer
                    writer.write(image)
                else:
                    folder = self.folder / safe
                    folder.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(folder / f"{number:06d}.jpg"), image)
            if self.window:
                self._to_show[item.stream_id] = image  # shown by show() on the main thread (HighGUI wants it)
        self.changed.set()

    def show(self) -> None:
        """Show the newest output of each camera in its window (call from the main thread)."""
        if not self.window:
            return
        with self._lock:
            images, self._to_show = self._to_show, {}
        for stream_id, image in images.items():
            cv2.imshow(f"run-panorama: {stream_id}", image)
        cv2.waitKey(1)

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.release()
            self._writers.clear()
        if self.window:
            cv2.destroyAllWindows()


def _display_available() -> bool:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")):
        print("run-panorama: no display; --window ignored (the output is still written)", file=sys.stderr)
        return False
    try:
        cv2.namedWindow("run-panorama")
        cv2.destroyWindow("run-panorama")
    except cv2.error:
        print("run-panorama: this OpenCV has no GUI support; --window ignored", file=sys.stderr)
        return False
    return True


def timing_table(host: PanoramaAppHost, elapsed: float) -> str:
    """Per code node: frames, results, results/s, model and wait times, crashes."""
    rows = [f"{'node':<20} {'frames':>7} {'results':>8} {'results/s':>9} {'calls':>6} {'model ms':>9} {'wait ms':>8} {'crashes':>7}"]
    for node in host.nodes:
        s = node.stats
        rows.append(
            f"{node.node.name:<20} {s.gets:>7} {s.puts:>8} {s.puts / max(elapsed, 1e-6):>9.1f} {s.calls:>6} "
            f"{s.call_ms / max(s.calls, 1):>9.2f} {s.get_wait_ms / max(s.gets, 1):>8.2f} {node.crashes:>7}"
        )
        if node.last_traceback:
            rows.append(f"  last crash: {node.last_traceback.strip().splitlines()[-1]}")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    """Run the project until ``--seconds``/``--frames`` or Ctrl-C; 0 on a clean stop."""
    project = load_project(args.project, [p if p.is_absolute() else Path.cwd() / p for p in args.override], graph=args.graph)
    for warning in project.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for node in project.code_nodes:
        info = read_dockerfile(node.folder / "Dockerfile", node.folder, source=f"packages/{node.folder.name}/Dockerfile")
        for warning in info.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if info.requirements:
            print(f"note: {node.name} asks pip for {', '.join(info.requirements)}: they must be importable by this Python", file=sys.stderr)
    try:
        params = validate_params(project, dict(_pairs(args.param, "param")), "--param")
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    streams = bind_cameras(project, _pairs(args.camera, "camera"))
    files = model_files(project, _pairs(args.model, "model"))
    registry = ModelRegistry(providers=args.providers.split(",") if args.providers else None)
    sessions = {}
    try:
        for name, path in files.items():
            sessions[name] = acquire_model(registry, name, path)
        displays = {(node.name, port) for node in project.code_nodes for port in node.display_outputs}
        writer = OutputWriter(args.output, args.video, args.window, displays)
        data_dir = args.data_dir or ((args.output or Path.cwd() / "run-panorama") / "app-data")
        pool = SourcePool(open_source)
        host = PanoramaAppHost(
            project.name,
            project,
            streams=streams,
            sources=pool,
            models=sessions,
            params={**project.parameter_values(), **params},
            data_dir=data_dir,
            on_output=writer,
            limits=NodeLimits(memory_mb=args.memory_mb),
        )
        for binding in streams:
            print(f"camera {binding.stream_id} → {binding.camera_node}: {redact_url(binding.url)}")
        print(f"running {project.name}: {len(project.code_nodes)} code node(s), models {', '.join(files) or 'none'}; "
              f"app data in {data_dir}")
        started = time.monotonic()
        host.start()
        try:
            next_table = started + args.stats_every if args.stats_every > 0 else float("inf")
            while True:
                now = time.monotonic()
                if args.seconds and now - started >= args.seconds:
                    break
                if args.frames and writer.count >= args.frames:
                    break
                if now >= next_table:
                    print(timing_table(host, now - started), flush=True)
                    next_table = now + args.stats_every
                writer.changed.wait(0.2)
                writer.changed.clear()
                writer.show()
        except KeyboardInterrupt:
            pass
        finally:
            elapsed = time.monotonic() - started
            print(timing_table(host, elapsed), flush=True)
            host.stop()
            pool.close()
            writer.close()
        if args.output is not None:
            print(f"{writer.count} output frame(s) written to {args.output}")
    finally:
        for session in sessions.values():
            registry.release(session)
        registry.close()
    return 0


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return run(args)
    except SightlineError as exc:
        print(f"sightline-device run-panorama: {exc}", file=sys.stderr)
        return 2

"""Panorama-style project folders for tests, written from the format facts (docs: PANORAMA-APPS.md).

:func:`write_project` lays out ``graphs/<app>/graph.json``, the code
package (``package.json``, ``descriptor.json``, ``Dockerfile``,
``src/app.py``), a model package whose descriptor declares ``images``
[1, 3, 64, 64] with its ONNX export beside it (``model.onnx``, a
channel-mean "classifier": scores are the picture's mean B, G, R after the
app's conversion) and, optionally, override files. The app sources below
are the behaviours the issue lists; each writes what it saw to
``/opt/aws/panorama/storage`` so tests read results from the app's own
storage folder.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from tests.peers.onnx_models import make_channel_mean_classifier

ACCOUNT = "123456789012"
CODE_PKG = "counter_code"
MODEL_PKG = "mean_model"

# The counting app of PANORAMA-APPS.md's worked example, in the subclass style.
# It reports through its storage folder: frames seen, parameters, model results.
SUBCLASS_APP = '''
import json, os, time
import cv2
import numpy as np
import panoramasdk

class Application(panoramasdk.node):
    def __init__(self):
        # No super().__init__(): the SDK attaches the ports before __init__ runs.
        self.min_score = self.inputs.min_score.get()
        self.zone_name = self.inputs.zone_name.get()
        self.frames = 0

    def infer(self, image):
        small = cv2.resize(image, ({SIZE}, {SIZE})).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        return {CALL}

    def run(self):
        while True:
            streams = self.inputs.video_in.get()
            seen = []
            for stream in streams:
                (scores,) = self.infer(stream.image)
                stream.add_rect(0.1, 0.2, 0.5, 0.6)
                stream.add_label("%s %d" % (self.inputs.zone_name.get(), int(scores.argmax())), 0.1, 0.1)
                cv2.rectangle(stream.image, (0, 0), (15, 15), (0, 255, 0), -1)
                seen.append({"stream_id": stream.stream_id, "cached": stream.is_cached,
                             "time_stamp": list(stream.time_stamp), "scores": scores.tolist(),
                             "shape": list(stream.image.shape)})
            self.outputs.video_out.put(streams)
            self.frames += 1
            report = {"frames": self.frames, "min_score": self.inputs.min_score.get(),
                      "zone_name": self.inputs.zone_name.get(), "streams": seen,
                      "cwd": os.getcwd(), "region": os.environ.get("AWS_REGION")}
            with open("/opt/aws/panorama/storage/report.json.tmp", "w") as f:
                json.dump(report, f)
            os.replace("/opt/aws/panorama/storage/report.json.tmp", "/opt/aws/panorama/storage/report.json")
            print("frame", self.frames, flush=True)

Application().run()
'''

# The composition style: panoramasdk.node() passed to an app object; call(name, inputs) order;
# a worker thread does the model calls while the main thread keeps reading frames.
COMPOSITION_THREAD_APP = '''
import json, os, queue, threading
import cv2
import numpy as np
import panoramasdk

class Counter:
    def __init__(self, node):
        self.node = node
        self.jobs = queue.Queue(maxsize=2)
        self.done = 0
        self.worker = threading.Thread(target=self.work, daemon=True)
        self.worker.start()

    def work(self):
        while True:
            image = self.jobs.get()
            small = cv2.resize(image, (64, 64)).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
            (scores,) = self.node.call("model_node", {"images": small})
            self.done += 1
            with open("/opt/aws/panorama/storage/thread.json", "w") as f:
                json.dump({"calls": self.done, "scores": scores.tolist(),
                           "thread": threading.current_thread().name}, f)

    def run(self):
        while True:
            for stream in self.node.inputs.video_in.get():
                try:
                    self.jobs.put_nowait(stream.image.copy())
                except queue.Full:
                    pass
            self.node.outputs.video_out.put(self.node.inputs.video_in.get())

Counter(panoramasdk.node()).run()
'''

CRASH_APP = '''
import panoramasdk

class App(panoramasdk.node):
    def run(self):
        n = 0
        while True:
            self.inputs.video_in.get()
            n += 1
            if n == {N}:
                raise RuntimeError("boom after %d frames" % n)

App().run()
'''

LEAK_APP = '''
import panoramasdk

class App(panoramasdk.node):
    def run(self):
        hoard = []
        while True:
            self.inputs.video_in.get()
            hoard.append(bytearray(32 * 1024 * 1024))  # never freed
            print("holding", len(hoard) * 32, "MiB", flush=True)

App().run()
'''

HTTP_APP = '''
import http.server, json, threading
import panoramasdk

node = panoramasdk.node()

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"zone": node.inputs.zone_name.get()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", {PORT}), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("serving on", {PORT}, flush=True)
while True:
    node.outputs.video_out.put(node.inputs.video_in.get())
'''

# Waits on a camera that never sends a frame: get() never returns.
STUCK_APP = '''
import panoramasdk

class App(panoramasdk.node):
    def run(self):
        print("waiting for a frame", flush=True)
        self.inputs.video_in.get()
        print("never printed", flush=True)

App().run()
'''

# Panorama's absolute paths, used the ways apps use them.
PATHS_APP = '''
import logging, os, pathlib, shutil
import boto3  # AWS's base image had it; so does the device  # noqa: F401
import panoramasdk

logging.basicConfig(filename="/opt/aws/panorama/logs/app.log", level=logging.INFO)
logging.info("started")
labels = open("/panorama/labels.txt").read().split()
os.makedirs("/opt/aws/panorama/storage/runs", exist_ok=True)
pathlib.Path("/opt/aws/panorama/storage/runs/labels.txt").write_text(",".join(labels))
shutil.copy("/panorama/labels.txt", "/opt/aws/panorama/storage/copied.txt")
assert os.path.exists("/opt/aws/panorama/storage/copied.txt")
count_file = pathlib.Path("/opt/aws/panorama/storage/starts.txt")
starts = int(count_file.read_text()) + 1 if count_file.exists() else 1
count_file.write_text(str(starts))
node = panoramasdk.node()
while True:
    node.outputs.video_out.put(node.inputs.video_in.get())
'''

IMPORT_ERROR_APP = '''
import panoramasdk
import module_that_does_not_exist  # noqa: F401
'''


def app_source(
    kind: str = "subclass", *, call_order: str = "inputs_first", n: int = 3, port: int = 8080, size: int = 64
) -> str:
    """The source of one fixture app."""
    if kind == "subclass":
        call = (
            'self.call({"images": small}, "model_node")'
            if call_order == "inputs_first"
            else 'self.call("model_node", {"images": small})'
        )
        return SUBCLASS_APP.replace("{CALL}", call).replace("{SIZE}", str(size))
    return {
        "composition_thread": COMPOSITION_THREAD_APP,
        "crash": CRASH_APP.replace("{N}", str(n)),
        "leak": LEAK_APP,
        "http": HTTP_APP.replace("{PORT}", str(port)),
        "stuck": STUCK_APP,
        "import_error": IMPORT_ERROR_APP,
        "paths": PATHS_APP,
    }[kind]


def _dump(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def write_project(
    root: Path,
    app: str | None = None,
    *,
    app_name: str = "counter_app",
    min_score: float = 0.5,
    zone_name: str = "dock-1",
    model_shape: list[int] | None = None,
    route_port: int | None = None,
    container_port: int | None = None,
    dockerfile: str = "FROM public.ecr.aws/panorama/panorama-application\nCOPY src /panorama\nRUN pip3 install requests\n",
    edges_extra: list[dict[str, str]] | None = None,
    with_model_package: bool = True,
) -> Path:
    """Write a Panorama project under ``root`` and return ``root``; ``app`` is ``src/app.py``'s text."""
    root.mkdir(parents=True, exist_ok=True)
    code_dir = root / "packages" / f"{ACCOUNT}-{CODE_PKG}-1.0"
    model_dir = root / "packages" / f"{ACCOUNT}-{MODEL_PKG}-1.0"
    (root / "assets").mkdir(exist_ok=True)
    packages = [
        {"name": f"{ACCOUNT}::{CODE_PKG}", "version": "1.0"},
        {"name": f"{ACCOUNT}::{MODEL_PKG}", "version": "1.0"},
        {"name": "panorama::abstract_rtsp_media_source", "version": "1.0"},
        {"name": "panorama::hdmi_data_sink", "version": "1.0"},
    ]
    graph: dict[str, Any] = {
        "nodeGraph": {
            "envelopeVersion": "2021-01-01",
            "packages": packages,
            "nodes": [
                {
                    "name": "camera_node",
                    "interface": "panorama::abstract_rtsp_media_source.rtsp_v1_interface",
                    "overridable": True,
                    "launch": "onAppStart",
                    "decorator": {"title": "Camera", "description": "The camera to watch"},
                },
                {"name": "counter_code", "interface": f"{ACCOUNT}::{CODE_PKG}.interface", "overridable": False, "launch": "onAppStart"},
                {"name": "model_node", "interface": f"{ACCOUNT}::{MODEL_PKG}.interface", "overridable": False, "launch": "onAppStart"},
                {"name": "output_node", "interface": "panorama::hdmi_data_sink.hdmi0", "overridable": True, "launch": "onAppStart"},
                {
                    "name": "min_score",
                    "interface": "float32",
                    "value": min_score,
                    "overridable": True,
                    "decorator": {"title": "Minimum score", "description": "Detections below are ignored"},
                },
                {
                    "name": "zone_name",
                    "interface": "string",
                    "value": zone_name,
                    "overridable": True,
                    "decorator": {"title": "Zone", "constraintText": "dock-N", "constraintRegex": "dock-[0-9]+"},
                },
            ],
            "edges": [
                {"producer": "camera_node.video_out", "consumer": "counter_code.video_in"},
                {"producer": "counter_code.video_out", "consumer": "output_node.video_in"},
                {"producer": "min_score", "consumer": "counter_code.min_score"},
                {"producer": "zone_name", "consumer": "counter_code.zone_name"},
            ]
            + list(edges_extra or []),
        }
    }
    if route_port is not None:
        graph["nodeGraph"]["networkRoutingRules"] = [
            {"node": "counter_code", "containerPort": container_port or route_port, "hostPort": route_port, "decorator": {"title": "API"}}
        ]
    _dump(root / "graphs" / app_name / "graph.json", graph)
    interface: dict[str, Any] = {
        "name": "interface",
        "category": "business_logic",
        "asset": "code_asset",
        "inputs": [
            {"name": "video_in", "type": "media"},
            {"name": "min_score", "type": "float32"},
            {"name": "zone_name", "type": "string"},
        ],
        "outputs": [{"name": "video_out", "type": "media", "description": "annotated video"}],
    }
    if route_port is not None:
        interface["network"] = {"inboundPorts": [{"port": container_port or route_port, "description": "status API"}]}
    _dump(
        code_dir / "package.json",
        {
            "nodePackage": {
                "envelopeVersion": "2021-01-01",
                "name": CODE_PKG,
                "version": "1.0",
                "description": "Counts parts",
                "assets": [
                    {
                        "name": "code_asset",
                        "implementations": [
                            {"type": "container", "assetUri": "abc.tar.gz", "descriptorUri": "def.json",
                             "requirements": [{"type": "hardware_access", "inferenceAccelerators": [
                                 {"deviceType": "nvhost_gpu", "sharedResourcePolicy": {"policy": "allow_all"}}]}]}
                        ],
                    }
                ],
                "interfaces": [interface],
            }
        },
    )
    _dump(
        code_dir / "descriptor.json",
        {"runtimeDescriptor": {"envelopeVersion": "2021-01-01", "entry": {"path": "python3", "name": "/panorama/app.py"}}},
    )
    (code_dir / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    (code_dir / "src").mkdir(exist_ok=True)
    (code_dir / "src" / "app.py").write_text(textwrap.dedent(app or app_source()), encoding="utf-8")
    (code_dir / "src" / "labels.txt").write_text("part\nperson\n", encoding="utf-8")
    if with_model_package:
        _dump(
            model_dir / "package.json",
            {
                "nodePackage": {
                    "envelopeVersion": "2021-01-01",
                    "name": MODEL_PKG,
                    "version": "1.0",
                    "assets": [{"name": "model_asset", "implementations": [{"type": "model", "assetUri": "m.tar.gz", "descriptorUri": "d.json"}]}],
                    "interfaces": [{"name": "interface", "category": "ml_model", "asset": "model_asset",
                                    "inputs": [{"name": "video_in", "type": "media"}],
                                    "outputs": [{"name": "video_out", "type": "media"}]}],
                }
            },
        )
        _dump(
            model_dir / "descriptor.json",
            {"mlModelDescriptor": {"envelopeVersion": "2021-01-01", "framework": "PYTORCH",
                                   "inputs": [{"name": "images", "shape": model_shape or [1, 3, 64, 64]}]}},
        )
        make_channel_mean_classifier(model_dir / "model.onnx", input_size=(64, 64))
    return root


def write_override(root: Path, cameras: list[str], *, params: dict[str, Any] | None = None, name: str = "override.json", on_signal: tuple[str, ...] = ()) -> Path:
    """An override binding ``camera_node`` to ``cameras`` (concrete camera nodes) and replacing parameters."""
    packages = [{"name": f"{ACCOUNT}::{camera}", "version": "1.0"} for camera in cameras]
    nodes: list[dict[str, Any]] = [
        {"name": camera, "interface": f"{ACCOUNT}::{camera}.{camera}", "overridable": True,
         "launch": "onSignal" if camera in on_signal else "onAppStart"}
        for camera in cameras
    ]
    overrides: list[dict[str, Any]] = [{"replace": "camera_node", "with": [{"name": c} for c in cameras]}]
    for key, value in (params or {}).items():
        kind = "float32" if isinstance(value, float) else "int32" if isinstance(value, int) else "string"
        nodes.append({"name": f"{key}_override", "interface": kind, "value": value})
        overrides.append({"replace": key, "with": [{"name": f"{key}_override"}]})
    return _dump(
        root / "graphs" / "counter_app" / name,
        {"nodeGraphOverrides": {"envelopeVersion": "2021-01-01", "packages": packages, "nodes": nodes, "nodeOverrides": overrides}},
    )


def write_wheel(
    folder: Path, name: str = "tinylib", version: str = "1.0", source: str = "VALUE = 42\n", tag: str = "py3-none-any",
) -> Path:
    """A pure-Python wheel written by hand (no build tools, no network): module ``name``."""
    import base64
    import hashlib
    import zipfile

    files = {
        f"{name}/__init__.py": source.encode(),
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: sightline-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def pip_wheel(folder: Path, work: Path, name: str = "tinylib", version: str = "1.0") -> Path:
    """A wheelhouse made the way a site makes one: ``pip wheel`` of a small local pure-Python project."""
    import subprocess
    import sys

    project = work / f"{name}-src"
    (project / name).mkdir(parents=True, exist_ok=True)
    (project / name / "__init__.py").write_text("VALUE = 42\n")
    (project / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n\n[tool.setuptools]\npackages = ["{name}"]\n'
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "--wheel-dir", str(folder), str(project)],
        check=True, capture_output=True, cwd=work,
    )
    [wheel] = folder.glob(f"{name}-{version}-*.whl")
    return wheel


WHEEL_APP = '''
import json
import panoramasdk
import tinylib  # installed from the package's bundled wheel

node = panoramasdk.node()
with open("/opt/aws/panorama/storage/wheel.json", "w") as f:
    json.dump({"value": tinylib.VALUE, "file": tinylib.__file__}, f)
while True:
    node.outputs.video_out.put(node.inputs.video_in.get())
'''

"""``make demo``: a simulated site on 127.0.0.1, end to end, with no hardware.

Starts a device runtime (TLS API on 127.0.0.1, advertised over mDNS on
loopback only), pairs with it the way a console would, uploads the demo
detector from resources/models/, deploys the sample app from
resources/apps/line-safety (a synthetic production-line camera with a
safety zone and a counting line), then prints live counts, health and
events until interrupted (or for ``--duration`` seconds).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from console_app.core.gateways.device_client import DeviceCallError, DeviceClient, pair
from console_app.core.packaging import build_package
from device_runtime.config import load_config
from device_runtime.runtime import DeviceRuntime

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "resources"
MODEL = RESOURCES / "models" / "sightline-demo.onnx"
LABELS = RESOURCES / "models" / "sightline-demo.labels"
APP = RESOURCES / "apps" / "line-safety"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m console_app.demo", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--data-dir", type=Path, help="keep the device's data here (default: a temporary folder)")
    return p


def _print_events(client: DeviceClient, stop: threading.Event) -> None:
    with client.events(replay=0) as stream:
        for event in stream:
            if stop.is_set():
                return
            stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
            print(f"  {stamp}  EVENT  {event.detail or event.type}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.WARNING)  # the device's INFO goes to its log stream only
    for needed in (MODEL, LABELS, APP / "app.json"):
        if not needed.exists():
            print(f"demo: missing {needed.relative_to(REPO)}", file=sys.stderr)
            return 2
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="sightline-demo-"))
    config = load_config(
        None, name="demo-line3", data_dir=data_dir, listen="127.0.0.1:0", interfaces=["127.0.0.1"]
    )
    runtime = DeviceRuntime(config).start()
    stop = threading.Event()
    try:
        print(f"Device runtime 'demo-line3' listening on {runtime.address} (TLS), advertised on 127.0.0.1")
        host, port = "127.0.0.1", runtime.port
        creds = pair(host, port, runtime.pairing.current_code(), "make-demo")
        print(f"Paired; device certificate {creds.fingerprint[:16]}…")
        client = DeviceClient(host, port, creds)
        info = client.info()
        print(f"Inference on {info.active_provider}")
        labels = [x for x in LABELS.read_text().splitlines() if x.strip()]
        client.upload_model(MODEL, "sightline-demo", labels)
        app = client.deploy(build_package(APP))
        print(f"Deployed {app.app_id} {app.version}: {app.state}. Live results (Ctrl-C to stop):\n")
        threading.Thread(target=_print_events, args=(client, stop), daemon=True).start()
        deadline = time.monotonic() + args.duration if args.duration else None
        with client.health(interval_s=2.0) as health:
            for sample in health:
                for s in sample.streams:
                    try:
                        frame = client.snapshot(s.camera_id, max_width=64)
                    except DeviceCallError:
                        print(f"{s.camera_id}: {s.state}, waiting for the first processed frame", flush=True)
                        continue
                    counts = ", ".join(f"{k}={v}" for k, v in sorted(frame.counts.items())) or "-"
                    seen = {}
                    for d in frame.detections:
                        seen[d.label] = seen.get(d.label, 0) + 1
                    print(
                        f"{s.camera_id}: {s.state}, camera {s.camera_fps:.1f} fps, inferred {s.inferred_fps:.1f} fps, "
                        f"inference {s.inference_ms:.1f} ms | in view: {json.dumps(seen)} | counts: {counts}",
                        flush=True,
                    )
                if deadline is not None and time.monotonic() >= deadline:
                    break
        client.close()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        runtime.stop()
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

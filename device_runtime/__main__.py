"""``sightline-device``: run the device runtime.

    sightline-device serve --data-dir DIR --listen HOST:PORT [--name NAME]
                           [--interfaces 10.0.0.5,...] [--config FILE] [--no-advertise]
                           [--metrics-listen 127.0.0.1:9464]
    sightline-device config-schema      # every setting, with its description
    sightline-device --version
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from device_runtime import __version__
from device_runtime.config import DeviceConfig, load_config
from device_runtime.errors import SightlineError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sightline-device", description="Sightline device runtime")
    parser.add_argument("--version", action="version", version=f"sightline-device {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the runtime and its TLS API until stopped")
    serve.add_argument("--config", type=Path, help="JSON configuration file (see config-schema)")
    serve.add_argument("--data-dir", type=Path, help="data folder (default /var/lib/sightline)")
    serve.add_argument("--listen", help="HOST:PORT for the API (default 0.0.0.0:7443)")
    serve.add_argument("--name", help="device name shown in consoles (default: host name)")
    serve.add_argument("--interfaces", help="comma-separated IPv4 addresses to advertise on (default: all)")
    serve.add_argument("--no-advertise", action="store_true", help="do not announce the device over mDNS")
    serve.add_argument("--providers", help="comma-separated execution providers, e.g. cpu or tensorrt,cuda,cpu")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    serve.add_argument("--metrics-listen", help="HOST:PORT to serve Prometheus /metrics on (default: off)")
    sub.add_parser("config-schema", help="print the configuration's JSON Schema")
    return parser


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def serve(args: argparse.Namespace) -> int:
    from device_runtime.runtime import DeviceRuntime

    config = load_config(
        args.config,
        data_dir=args.data_dir,
        listen=args.listen,
        name=args.name,
        interfaces=_split(args.interfaces),
        advertise=False if args.no_advertise else None,
        providers=_split(args.providers),
        log_level=args.log_level,
        metrics_listen=args.metrics_listen,
    )
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    runtime = DeviceRuntime(config).start()
    print(runtime.banner(), flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    logging.getLogger(__name__).info("stopping")
    runtime.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "config-schema":
            print(json.dumps(DeviceConfig.model_json_schema(), indent=2))
            return 0
        return serve(args)
    except SightlineError as exc:
        print(f"sightline-device: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sightline-device: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""``sightline-device``: run the device runtime.

    sightline-device serve --data-dir DIR --listen HOST:PORT [--name NAME]
                           [--interfaces 10.0.0.5,...] [--config FILE] [--no-advertise]
    sightline-device provision PATH [--dry-run] [--passphrase-file F] [--confirm-network-change]
                               [--config FILE] [--data-dir DIR]
    sightline-device provision-scan FOLDER   # every bundle on a mounted stick (the udev unit runs this)
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
    sub.add_parser("config-schema", help="print the configuration's JSON Schema")
    for command, helptext in (("provision", "apply a provisioning bundle made by the console"),
                              ("provision-scan", "apply every bundle found in a folder (a mounted stick)")):
        p = sub.add_parser(command, help=helptext)
        p.add_argument("path", type=Path, help="the bundle (*.sightline-provision.zip)" if command == "provision"
                       else "folder to search (not recursive)")
        p.add_argument("--dry-run", action="store_true", help="verify and print every change; change nothing")
        p.add_argument("--passphrase-file", type=Path, help="file whose first line is the bundle's passphrase")
        p.add_argument("--confirm-network-change", action="store_true",
                       help="allow a network change that drops an address the device is reachable at now")
        p.add_argument("--config", type=Path, help="the device's JSON configuration (its name is saved there)")
        p.add_argument("--data-dir", type=Path, help="data folder (default /var/lib/sightline)")
        p.add_argument("--network-tool", choices=["nmcli", "networkd"], help="skip detection")
        p.add_argument("--root", type=Path, default=Path("/"),
                       help="prefix for the system files written (an image being prepared; tests)")
        p.add_argument("--report-dir", type=Path, help="where the report goes (default: next to the bundle)")
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


def provision(args: argparse.Namespace) -> int:
    from device_runtime.protocol.provisioning.manifest import BUNDLE_SUFFIX
    from device_runtime.provisioning.apply import Provisioner, ProvisionOptions

    config = load_config(args.config if args.config and args.config.exists() else None, data_dir=args.data_dir)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        stream=sys.stderr)
    passphrase = None
    if args.passphrase_file is not None:
        passphrase = args.passphrase_file.read_text(encoding="utf-8").splitlines()[0] if \
            args.passphrase_file.stat().st_size else ""
    options = ProvisionOptions(
        dry_run=args.dry_run, passphrase=passphrase, confirm_network_change=args.confirm_network_change,
        root=args.root, network_tool=args.network_tool or "", config_path=args.config, report_dir=args.report_dir,
    )
    if args.command == "provision-scan":
        bundles = sorted(p for p in args.path.iterdir() if p.name.endswith(BUNDLE_SUFFIX) and p.is_file())
        if not bundles:
            print(f"sightline-device: no *{BUNDLE_SUFFIX} in {args.path}", file=sys.stderr)
            return 2
    else:
        bundles = [args.path]
    provisioner = Provisioner(config, options)
    failed = 0
    for bundle in bundles:
        report = provisioner.provision(bundle)
        title = "would apply" if report.dry_run else "applied"
        print(f"{bundle.name}: {'OK' if report.ok else 'REFUSED'} (device {report.device_id}, "
              f"certificate {report.cert_fingerprint})")
        for line in report.applied:
            print(f"  {title}: {line}")
        for line in report.unchanged:
            print(f"  already so: {line}")
        for line in report.warnings:
            print(f"  warning: {line}")
        for line in report.errors:
            print(f"  error: {line}")
        failed += not report.ok
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "config-schema":
            print(json.dumps(DeviceConfig.model_json_schema(), indent=2))
            return 0
        if args.command in ("provision", "provision-scan"):
            return provision(args)
        return serve(args)
    except SightlineError as exc:
        print(f"sightline-device: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sightline-device: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

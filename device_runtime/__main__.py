"""``sightline-device``: run the device runtime.

    sightline-device serve --data-dir DIR --listen HOST:PORT [--name NAME]
                           [--interfaces 10.0.0.5,...] [--config FILE] [--no-advertise]
                           [--metrics-listen 127.0.0.1:9464]
    sightline-device provision PATH [--dry-run] [--passphrase-file F] [--confirm-network-change]
                               [--config FILE] [--data-dir DIR]
    sightline-device provision-scan FOLDER   # every bundle in a folder (a mounted stick)
    sightline-device provision-stick /dev/sdX1 # mount, stop the service, apply, restart (udev runs this)
    sightline-device apply-update [--config FILE]  # install the staged update (root; sightline-update.service)
    sightline-device config-schema      # every setting, with its description
    sightline-device run-panorama PROJECT_DIR --camera NODE=URL [...]   # run a Panorama app here
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
    for command, helptext, what in (
            ("provision", "apply a provisioning bundle made by the console", "the bundle (*.sightline-provision.zip)"),
            ("provision-scan", "apply every bundle found in a folder (a mounted stick)", "folder (not recursive)"),
            ("provision-stick", "mount a USB stick, apply its bundles, write the reports back (run by udev)",
             "block device, e.g. /dev/sda1")):
        p = sub.add_parser(command, help=helptext)
        p.add_argument("path", type=Path, help=what)
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
    p = sub.add_parser("apply-update", help="install the staged software update, roll back unless healthy (root)")
    p.add_argument("--config", type=Path, help="the device's JSON configuration")
    p.add_argument("--data-dir", type=Path, help="data folder (default /var/lib/sightline)")
    p.add_argument("--health-timeout", type=float, default=120.0, help="seconds the new version has (default 120)")
    p.add_argument("--dpkg-root", type=Path, help="install into this scratch root instead of / (images, tests)")
    from device_runtime.panorama.run_local import add_arguments

    panorama = sub.add_parser(
        "run-panorama",
        help="run an AWS Panorama project folder on this machine",
        description="Run an AWS Panorama application folder unchanged on this machine: real RTSP, files, "
        "sim:// and test:// cameras, overrides, parameters, annotated output and per-node timing.",
    )
    add_arguments(panorama)
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


def _print_report(bundle: Path, report) -> None:
    title = "would apply" if report.dry_run else "applied"
    print(f"{bundle.name}: {'OK' if report.ok else 'REFUSED'} (device {report.device_id}, "
          f"certificate {report.cert_fingerprint})")
    for prefix, lines in ((title, report.applied), ("already so", report.unchanged),
                          ("warning", report.warnings), ("error", report.errors)):
        for line in lines:
            print(f"  {prefix}: {line}")


def provision(args: argparse.Namespace) -> int:
    from device_runtime.provisioning.apply import Provisioner, ProvisionOptions
    from device_runtime.provisioning.stick import find_bundles, match_owner, provision_stick

    config = load_config(args.config if args.config and args.config.exists() else None, data_dir=args.data_dir)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        stream=sys.stderr)
    passphrase = None
    if args.passphrase_file is not None and (args.command != "provision-stick" or args.passphrase_file.exists()):
        lines = args.passphrase_file.read_text(encoding="utf-8").splitlines()
        passphrase = lines[0] if lines else ""
    options = ProvisionOptions(
        dry_run=args.dry_run, passphrase=passphrase, confirm_network_change=args.confirm_network_change,
        root=args.root, network_tool=args.network_tool or "", config_path=args.config, report_dir=args.report_dir,
    )

    def apply(bundles: list[Path]) -> int:
        provisioner = Provisioner(config, options)
        failed = 0
        for bundle in bundles:
            report = provisioner.provision(bundle)
            _print_report(bundle, report)
            failed += not report.ok
        if not args.dry_run:
            match_owner(config.data_dir)  # run as root; the service's user must still read everything
        return 1 if failed else 0

    if args.command == "provision-stick":
        return provision_stick(args.path, lambda folder: apply(find_bundles(folder)), config.data_dir)
    if args.command == "provision-scan":
        bundles = find_bundles(args.path)
        if not bundles:
            print(f"sightline-device: no provisioning bundle in {args.path}", file=sys.stderr)
            return 2
        return apply(bundles)
    return apply([args.path])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run-panorama":
            from device_runtime.panorama.run_local import main as run_panorama

            return run_panorama(args)
        if args.command == "config-schema":
            print(json.dumps(DeviceConfig.model_json_schema(), indent=2))
            return 0
        if args.command == "apply-update":
            from device_runtime.update.apply import Updater, UpdaterOptions

            config = load_config(args.config if args.config and args.config.exists() else None,
                                 data_dir=args.data_dir)
            logging.basicConfig(level=config.log_level, stream=sys.stderr,
                                format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
            from device_runtime.provisioning.stick import match_owner

            state = Updater(config.data_dir, UpdaterOptions(dpkg_root=args.dpkg_root,
                                                            health_timeout_s=args.health_timeout)).apply()
            match_owner(config.data_dir)  # the audit entry and state were written as root
            print(f"update {state.version or '-'}: {state.state}" + (f" ({state.detail})" if state.detail else ""))
            return 0 if state.state in ("installed", "none") else 1
        if args.command in ("provision", "provision-scan", "provision-stick"):
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

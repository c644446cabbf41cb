"""``sightline-ctl``: the scriptable face of the console core (no Qt).

    sightline-ctl --target HOST:PORT pair CODE
    sightline-ctl --target HOST:PORT info | health | apps | models | outputs
    sightline-ctl --target HOST:PORT deploy PACKAGE.tar.gz|FOLDER
    sightline-ctl --target HOST:PORT start|stop|remove APP
    sightline-ctl --target HOST:PORT rollback APP [--version V]
    sightline-ctl --target HOST:PORT params APP ['{"confidence": 0.6}']
    sightline-ctl --target HOST:PORT pause-camera|resume-camera APP CAMERA   # code apps
    sightline-ctl --target HOST:PORT model-upload FILE.onnx --name NAME [--labels FILE]
    sightline-ctl --target HOST:PORT model-remove NAME
    sightline-ctl --target HOST:PORT events [--app APP] [--count N]
    sightline-ctl --target HOST:PORT logs [--level INFO] [--count N]
    sightline-ctl --target HOST:PORT snapshot CAMERA --out FILE.jpg
    sightline-ctl --target HOST:PORT preview [--camera C] --frames N --out DIR
    sightline-ctl --target HOST:PORT probe URL
    sightline-ctl --target HOST:PORT audit [--action deploy] [--count N] [--csv FILE|-] [--follow]
    sightline-ctl --target HOST:PORT unpair [--fingerprint CLIENT_CERT_SHA256]
    sightline-ctl --target HOST:PORT update sightline-device_VERSION_ARCH.deb [--wait S]
    sightline-ctl --target HOST:PORT update-status

Pairing sends the public half of this client's package signing key (kept in
the state folder, 0600); ``deploy`` signs every package with it.

Exit status: 0 success, 1 the device refused or failed the call (the
message says why), 2 bad usage or local problem.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import sys
from pathlib import Path

from google.protobuf.json_format import MessageToDict

from console_app.core.device_credentials import CredentialStore
from console_app.core.gateways.device_client import (
    DeviceCallError,
    DeviceClient,
    pair,
    parse_target,
)
from console_app.core.gateways.device_tls import DeviceTlsError
from console_app.core.packaging import PackageBuildError, build_package_without_passwords
from console_app.core.services.audit_trail import AuditExportError, write_audit_csv
from console_app.core.services.event_log import local_iso_time
from console_app.core.signing import SigningKeyError


def _print(message) -> None:
    print(json.dumps(MessageToDict(message, preserving_proto_field_name=True), indent=2), flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sightline-ctl", description="Control a Sightline device from a script.")
    p.add_argument("--target", required=True, help="device address HOST:PORT")
    p.add_argument("--state-dir", type=Path, help="where pairing credentials are kept (default: user config dir)")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds per call (default 15)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("pair", help="pair with the code the device printed")
    s.add_argument("code")
    s.add_argument("--name", default=f"sightline-ctl@{socket.gethostname()}", help="how the device lists this client")
    s.add_argument("--fingerprint", help="expected device certificate fingerprint (from the advert)")
    sub.add_parser("info", help="device identity, versions, execution providers (works unpaired)")
    s = sub.add_parser("health", help="device and stream health")
    s.add_argument("--count", type=int, default=1, help="samples to print (default 1)")
    s.add_argument("--interval", type=float, default=1.0)
    sub.add_parser("apps", help="installed apps, versions and states")
    sub.add_parser("outputs", help="each app output's delivery state: delivered, queued, failed, dropped, last error")
    s = sub.add_parser("deploy", help="upload, install and start an app package or folder")
    s.add_argument("package", type=Path)
    for name in ("start", "stop", "remove"):
        sub.add_parser(name, help=f"{name} an app").add_argument("app")
    s = sub.add_parser("rollback", help="switch an app back to its previous (or a named) version")
    s.add_argument("app")
    s.add_argument("--version", default="")
    s = sub.add_parser("params", help="show an app's live parameters, or change them")
    s.add_argument("app")
    s.add_argument("json", nargs="?", help="a partial parameter object, merged into the current one")
    for name, verb in (("pause-camera", "pause"), ("resume-camera", "resume")):
        s = sub.add_parser(name, help=f"{verb} one camera of a running code (Panorama) app")
        s.add_argument("app")
        s.add_argument("camera")
    sub.add_parser("models", help="models stored on the device")
    s = sub.add_parser("model-upload", help="store an ONNX model on the device")
    s.add_argument("file", type=Path)
    s.add_argument("--name", required=True)
    s.add_argument("--labels", type=Path, help="text file, one class name per line")
    s.add_argument("--decoder", default="", help="override the output family (yolov5, yolov8, end2end, ssd, classification)")
    sub.add_parser("model-remove", help="delete a stored model").add_argument("name")
    s = sub.add_parser("events", help="print app events as they happen")
    s.add_argument("--app", default="")
    s.add_argument("--count", type=int, default=0, help="stop after N events (default: run until interrupted)")
    s.add_argument("--replay", type=int, default=0, help="first print up to N recent events")
    s = sub.add_parser("logs", help="print the device log")
    s.add_argument("--level", default="INFO")
    s.add_argument("--contains", default="")
    s.add_argument("--count", type=int, default=0)
    s.add_argument("--replay", type=int, default=100)
    s = sub.add_parser("snapshot", help="save the newest frame of a camera (or an event's snapshot)")
    s.add_argument("camera", nargs="?", default="")
    s.add_argument("--event-snapshot", default="", help="a snapshot id from an event")
    s.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("preview", help="save annotated preview frames and their detections")
    s.add_argument("--camera", default="")
    s.add_argument("--frames", type=int, default=10)
    s.add_argument("--fps", type=float, default=5.0)
    s.add_argument("--width", type=int, default=640)
    s.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("probe", help="ask the device to open a camera URL")
    s.add_argument("url")
    s.add_argument("--timeout-ms", type=int, default=5000)
    s = sub.add_parser("audit", help="who did what on the device, and how it ended")
    s.add_argument("--action", default="", help="only this action (pair, deploy, rollback, params, ...)")
    s.add_argument("--count", type=int, default=0, help="only the newest N entries (default: all kept)")
    s.add_argument("--csv", help="write CSV to this file ('-' for standard output)")
    s.add_argument("--follow", action="store_true", help="keep printing entries as they are recorded")
    s = sub.add_parser("update", help="push a device software update (.deb from make package), signed")
    s.add_argument("deb", type=Path)
    s.add_argument("--wait", type=float, default=0.0, help="then follow it up to S seconds until it ended")
    sub.add_parser("update-status", help="where the device's last software update is")
    s = sub.add_parser("unpair", help="unpair this client (or another, by certificate fingerprint)")
    s.add_argument("--fingerprint", default="", help="the client certificate's SHA-256 (default: this client)")
    return p


def _audit_line(e) -> str:
    who = f"{e.actor} [{e.actor_fingerprint[:12]}]" if e.actor_fingerprint else e.actor
    tail = f"\t{e.detail}" if e.detail else ""
    return f"{local_iso_time(e.time)}\t{e.action}\t{who}\t{e.target}\t{e.outcome}{tail}"


def _audit(args: argparse.Namespace, client: DeviceClient) -> None:
    entries = client.audit(limit=args.count, action=args.action)
    if args.csv == "-":
        write_audit_csv(sys.stdout, entries)
    elif args.csv:
        n = write_audit_csv(Path(args.csv), entries)
        print(f"wrote {n} audit entries to {args.csv}")
    else:
        for e in entries:
            print(_audit_line(e), flush=True)
    if args.follow:
        with client.watch_audit() as stream:
            for e in stream:
                if not args.action or e.action == args.action:
                    print(_audit_line(e), flush=True)


def _follow_update(args: argparse.Namespace, status):
    """Poll until the update ended; the device restarts meanwhile, so each poll reconnects."""
    import time

    store = CredentialStore(args.state_dir)
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline and status.state not in ("installed", "rolled-back", "failed"):
        time.sleep(2.0)
        try:
            with _connect(args, store) as again:
                status = again.update_status()
        except (DeviceCallError, DeviceTlsError):
            continue  # restarting
        print(f"update {status.version}: {status.state}" + (f": {status.detail}" if status.detail else ""),
              flush=True)
    return status


def _connect(args: argparse.Namespace, store: CredentialStore) -> DeviceClient:
    host, port = parse_target(args.target)
    creds = store.load(args.target)
    if creds is None and args.command != "info":
        raise SystemExit(
            f"sightline-ctl: not paired with {args.target}; run: sightline-ctl --target {args.target} pair CODE"
        )
    signer = store.signer() if args.command in ("deploy", "update") else None
    return DeviceClient(host, port, creds, timeout=args.timeout, signer=signer)


def run(args: argparse.Namespace) -> int:
    store = CredentialStore(args.state_dir)
    if args.command == "pair":
        host, port = parse_target(args.target)
        signer = store.signer()
        creds = pair(host, port, args.code, args.name, args.fingerprint, timeout=args.timeout, signer=signer)
        path = store.save(args.target, creds)
        print(f"paired with device {creds.device_id} at {args.target}; certificate {creds.fingerprint}")
        print(f"credentials saved in {path}")
        print(f"packages deployed from here are signed with key {signer.fingerprint()}")
        return 0
    with _connect(args, store) as client:
        return _dispatch(args, client)


def _dispatch(args: argparse.Namespace, client: DeviceClient) -> int:
    cmd = args.command
    if cmd == "info":
        _print(client.info())
    elif cmd == "health":
        with client.health(args.interval) as stream:
            for sample in itertools.islice(stream, args.count):
                _print(sample)
    elif cmd == "outputs":
        with client.health(1.0) as stream:
            sample = next(iter(stream))
        print("\t".join(("app/output", "kind", "state", "delivered", "queued", "failed", "dropped", "suppressed",
                         "latency p50/p99 ms", "last error")))
        for o in sample.outputs:
            latency = f"{o.latency_p50_ms:.0f}/{o.latency_p99_ms:.0f}" if o.delivered else "-"
            print("\t".join(str(v) for v in (f"{o.app_id}/{o.name}", o.kind, o.state, o.delivered, o.queued,
                                               o.failed, o.dropped, o.suppressed, latency, o.last_error or "-")))
    elif cmd == "apps":
        for app in client.list_apps():
            print(f"{app.app_id}\t{app.version}\t{app.state}\t{app.name}\t(versions: {', '.join(app.versions)})"
                  + (f"\terror: {app.error}" if app.error else ""))
    elif cmd == "deploy":
        secrets: dict[str, str] = {}
        if args.package.is_dir():  # camera passwords go beside the package, never in it
            package, secrets = build_package_without_passwords(args.package)
        else:
            package = args.package
        app = client.deploy(package, secrets=secrets)
        print(f"deployed {app.app_id} version {app.version}: {app.state}")
    elif cmd in ("start", "stop"):
        app = client.start_app(args.app) if cmd == "start" else client.stop_app(args.app)
        print(f"{app.app_id}: {app.state}")
    elif cmd == "remove":
        client.remove_app(args.app)
        print(f"removed {args.app}")
    elif cmd == "rollback":
        app = client.rollback_app(args.app, args.version)
        print(f"{app.app_id} now at version {app.version}: {app.state}")
    elif cmd == "params":
        if args.json:
            app = client.set_params(args.app, args.json)
        else:
            app = next((a for a in client.list_apps() if a.app_id == args.app), None)
            if app is None:
                raise DeviceCallError("ListApps", "NOT_FOUND", f"no app {args.app!r} on this device")
        print(json.dumps(json.loads(app.params_json), indent=2))
    elif cmd in ("pause-camera", "resume-camera"):
        app = client.set_camera_paused(args.app, args.camera, cmd == "pause-camera")
        print(f"{app.app_id}: camera {args.camera} {'paused' if cmd == 'pause-camera' else 'resumed'}")
    elif cmd == "models":
        for m in client.list_models():
            used = f"\tused by {', '.join(m.used_by)}" if m.used_by else ""
            print(f"{m.name}\t{m.decoder}\t{m.sha256[:12]}\t{m.size} bytes\t{len(m.labels)} labels{used}")
    elif cmd == "model-upload":
        labels = args.labels.read_text(encoding="utf-8").splitlines() if args.labels else []
        m = client.upload_model(args.file, args.name, [x for x in labels if x.strip()], args.decoder)
        print(f"stored model {m.name} ({m.decoder}, sha256 {m.sha256[:12]})")
    elif cmd == "model-remove":
        client.remove_model(args.name)
        print(f"removed model {args.name}")
    elif cmd == "events":
        with client.events(args.app, args.replay) as stream:
            for event in itertools.islice(stream, args.count or None):
                _print(event)
    elif cmd == "logs":
        with client.logs(args.level, args.replay, args.contains) as stream:
            for rec in itertools.islice(stream, args.count or None):
                print(f"{rec.time:.3f} {rec.level:<7} {rec.logger}: {rec.message}", flush=True)
    elif cmd == "snapshot":
        frame = client.snapshot(args.camera, args.event_snapshot)
        args.out.write_bytes(frame.jpeg)
        print(f"saved {args.out} ({len(frame.jpeg)} bytes)")
    elif cmd == "preview":
        args.out.mkdir(parents=True, exist_ok=True)
        saved = 0
        with client.preview(args.camera, args.fps, args.width) as stream:
            for frame in itertools.islice(stream, args.frames):
                stem = args.out / f"{frame.camera_id}-{frame.seq:08d}"
                stem.with_suffix(".jpg").write_bytes(frame.jpeg)
                meta = MessageToDict(frame, preserving_proto_field_name=True)
                meta.pop("jpeg", None)
                stem.with_suffix(".json").write_text(json.dumps(meta, indent=2))
                saved += 1
        print(f"saved {saved} frames to {args.out}")
    elif cmd == "audit":
        _audit(args, client)
    elif cmd in ("update", "update-status"):
        status = client.update_software(args.deb) if cmd == "update" else client.update_status()
        print(f"update {status.version or '-'}: {status.state} (running {status.running_version})"
              + (f": {status.detail}" if status.detail else ""), flush=True)
        if cmd == "update" and args.wait > 0:
            status = _follow_update(args, status)
        return 0 if status.state in ("staged", "installing", "installed", "none") else 1
    elif cmd == "unpair":
        gone = client.unpair(args.fingerprint)
        print(f"unpaired {gone.name} (certificate {gone.fingerprint})")
    elif cmd == "probe":
        result = client.probe_camera(args.url, args.timeout_ms)
        if not result.ok:
            print(f"camera could not be opened: {result.error}", file=sys.stderr)
            return 1
        print(f"ok: {result.width}x{result.height} {result.codec} {result.fps:.1f} fps (opened in {result.open_ms:.0f} ms)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except DeviceCallError as exc:
        print(f"sightline-ctl: the device refused {exc.method}: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (DeviceTlsError, PackageBuildError, SigningKeyError, AuditExportError, ValueError, OSError) as exc:
        print(f"sightline-ctl: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""A real RTSP camera for tests: GStreamer's RTSP server in a child process.

GStreamer's Python bindings exist only for the system interpreter, so this
file plays two roles. Imported (from the project's virtualenv) it provides
:class:`RtspServer`, which starts, kills and restarts the child. Run as a
script by ``/usr/bin/python3`` it *is* the child: it serves a live encoded
test pattern on 127.0.0.1 and prints ``READY <port>`` once it accepts
connections. Top-level imports are stdlib only so both roles can load it.

Usage::

    with RtspServer() as cam:                 # free port, H.264, no auth
        cap = cv2.VideoCapture(cam.url, cv2.CAP_FFMPEG)
    cam = RtspServer(user="admin", password="s3cret", codec="h265")
    cam.start(); cam.stop(); cam.start()       # same port again
    cam.restart()                              # kill + start on the same port

The child exits on its own when the parent goes away (it watches its stdin
pipe), so a crashed test run leaves no server behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

SYSTEM_PYTHON = "/usr/bin/python3"
_PASSWORD_ENV = "SIGHTLINE_TEST_RTSP_PASSWORD"
_READY = "READY"


class RtspServerError(RuntimeError):
    """The test RTSP server could not be started (the message has its stderr)."""


class RtspServer:
    """Controls one GStreamer RTSP server child process bound to 127.0.0.1.

    ``port=None`` lets the child bind a free port itself (no race with other
    tests); after the first :meth:`start` the port is fixed, so :meth:`stop`
    then :meth:`start` (or :meth:`restart`) brings the camera back at the same
    URL, which is what a rebooting camera looks like to a client.

    ``auth`` picks how credentials are checked: "basic" or "digest" (as
    most real cameras do), or "query": the camera wants ``?user=<user>&pwd=<password>``
    in the URL of its DESCRIBE (as some cameras' firmware does), and lets that
    connection's later requests through.

    ``shared=True`` feeds every client from one encoder (cheaper with many
    clients), but GStreamer then answers 503 for a while after a client
    drops during setup, which makes quick reconnects flaky; the default gives
    each client its own pipeline.

    ``transports`` limits the lower transports the server accepts ("tcp",
    "udp"); a UDP-only server answers a TCP setup with 461, which is how the
    TCP-to-UDP fallback of a client is tested.
    """

    def __init__(
        self,
        port: int | None = None,
        path: str = "/cam",
        user: str | None = None,
        password: str | None = None,
        *,
        codec: str = "h264",
        width: int = 320,
        height: int = 240,
        fps: int = 15,
        transports: tuple[str, ...] = ("tcp", "udp"),
        pattern: str = "smpte",
        auth: str = "basic",
        shared: bool = False,
        media_file: str | None = None,
    ) -> None:
        if codec not in ("h264", "h265"):
            raise ValueError(f"codec must be 'h264' or 'h265', got {codec!r}")
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        if auth not in ("basic", "digest", "query"):
            raise ValueError(f"auth must be 'basic', 'digest' or 'query', got {auth!r}")
        bad = set(transports) - {"tcp", "udp"}
        if bad or not transports:
            raise ValueError(f"transports must be a non-empty subset of tcp/udp, got {transports!r}")
        self.host = "127.0.0.1"
        self.port = port
        self.path = path if path.startswith("/") else "/" + path
        self.user = user
        self.password = password
        self.codec = codec
        self.width = width
        self.height = height
        self.fps = fps
        self.transports = tuple(transports)
        self.pattern = pattern
        self.auth = auth
        self.shared = shared
        # An H.264 MP4 served as it is (no encoding in the server; each client plays it
        # from the start, in real time): for benchmarks that must not share the CPU with x264.
        self.media_file = media_file
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_path: str | None = None

    # ------------------------------------------------------------------ urls

    @property
    def url(self) -> str:
        """The camera URL, with the server's credentials when it has some."""
        return self.url_for(self.user, self.password)

    def url_for(self, user: str | None = None, password: str | None = None) -> str:
        """The camera URL with the given credentials (for wrong-password tests)."""
        if self.port is None:
            raise RtspServerError("the server has no port yet: call start() first")
        if self.auth == "query":
            query = "" if user is None else f"?user={quote(user, safe='')}"
            if password is not None:
                query += ("&" if query else "?") + f"pwd={quote(password, safe='')}"
            return f"rtsp://{self.host}:{self.port}{self.path}{query}"
        auth = ""
        if user is not None:
            auth = quote(user, safe="")
            if password is not None:
                auth += ":" + quote(password, safe="")
            auth += "@"
        return f"rtsp://{auth}{self.host}:{self.port}{self.path}"

    # ------------------------------------------------------------- lifecycle

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> RtspServer:
        """Start the child and return once it accepts RTSP connections."""
        if self.running:
            raise RtspServerError(f"RTSP server already running (pid {self.pid})")
        cmd = [
            SYSTEM_PYTHON, os.path.abspath(__file__),
            "--host", self.host,
            "--port", str(self.port or 0),
            "--path", self.path,
            "--codec", self.codec,
            "--width", str(self.width),
            "--height", str(self.height),
            "--fps", str(self.fps),
            "--transports", ",".join(self.transports),
            "--pattern", self.pattern,
            "--shared", str(int(self.shared)),
        ]
        if self.media_file:
            cmd += ["--media-file", os.path.abspath(self.media_file)]
        env = dict(os.environ)
        # The system interpreter must not pick up the virtualenv's packages.
        for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(var, None)
        env.setdefault("GST_DEBUG", "0")
        if self.user is not None:
            cmd += ["--user", self.user, "--auth", self.auth]
            env[_PASSWORD_ENV] = self.password or ""

        fd, self._stderr_path = tempfile.mkstemp(prefix="rtsp-server-", suffix=".log")
        with os.fdopen(fd, "wb") as stderr_file:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr_file, env=env
            )
        try:
            self.port = self._wait_ready(timeout)
            self._wait_accepting(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill the child (SIGKILL: the camera vanishes, as a power cut would)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._stderr_path:
            with contextlib.suppress(OSError):
                os.unlink(self._stderr_path)
            self._stderr_path = None

    def restart(self, timeout: float = 15.0) -> RtspServer:
        """Kill the server and start it again on the same port."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort; tests call stop() themselves
        with contextlib.suppress(Exception):
            self.stop()

    # --------------------------------------------------------------- helpers

    def _stderr_tail(self) -> str:
        if not self._stderr_path:
            return ""
        try:
            with open(self._stderr_path, "rb") as fh:
                return fh.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_ready(self, timeout: float) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RtspServerError(
                        f"RTSP server did not report ready within {timeout:.0f} s; stderr:\n"
                        + self._stderr_tail()
                    )
                if not sel.select(left):
                    continue
                chunk = os.read(self._proc.stdout.fileno(), 256)
                if not chunk:
                    self._proc.wait(timeout=5)
                    raise RtspServerError(
                        f"RTSP server exited with code {self._proc.returncode} before it was "
                        f"ready (port {self.port or 'auto'}); stderr:\n" + self._stderr_tail()
                    )
                buf += chunk
        word, _, port = buf.split(b"\n", 1)[0].decode().partition(" ")
        if word != _READY:
            raise RtspServerError(f"unexpected output from RTSP server: {buf!r}")
        return int(port)

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0):
                    return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise RtspServerError(
                        f"RTSP server on port {self.port} does not accept connections: {exc}"
                    ) from exc
                time.sleep(0.02)  # the listener is normally up before READY; rare path


# ---------------------------------------------------------------- the child


def _pipeline(args: argparse.Namespace) -> str:
    if args.media_file:
        return (
            f'( filesrc location="{args.media_file}" ! qtdemux ! h264parse'
            " ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
    caps = f"video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1"
    gop = max(1, args.fps)  # a key frame every second: a late joiner waits at most 1 s
    if args.codec == "h265":
        enc = f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop}"
        pay = "rtph265pay name=pay0 pt=96 config-interval=-1"
    else:
        enc = f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop}"
        pay = "rtph264pay name=pay0 pt=96 config-interval=-1"
    return f"( videotestsrc is-live=true pattern={args.pattern} ! {caps} ! {enc} ! {pay} )"


def _query_auth(GstRtspServer, user: str, password: str, token):  # noqa: N803 (a module, passed in)
    """An RTSPAuth that takes ``?user=&pwd=`` from a DESCRIBE's URL and trusts that connection after."""
    from urllib.parse import parse_qs

    trusted: set[int] = set()

    class QueryAuth(GstRtspServer.RTSPAuth):
        def do_authenticate(self, ctx) -> bool:
            client = hash(ctx.client)
            query = parse_qs(ctx.uri.query or "")
            if query.get("user") == [user] and query.get("pwd") == [password]:
                trusted.add(client)
            if client not in trusted:
                return False
            return GstRtspServer.RTSPAuth.do_authenticate(self, ctx)  # gives the default token

    auth = QueryAuth()
    auth.set_default_token(token)
    return auth


def _serve(args: argparse.Namespace) -> None:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    loop = GLib.MainLoop()

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(_pipeline(args))
    factory.set_shared(args.shared)
    protocols = GstRtsp.RTSPLowerTrans(0)
    if "tcp" in args.transports:
        protocols |= GstRtsp.RTSPLowerTrans.TCP
    if "udp" in args.transports:
        protocols |= GstRtsp.RTSPLowerTrans.UDP
    factory.set_protocols(protocols)

    if args.user is not None:
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        password = os.environ.get(_PASSWORD_ENV, "")
        if args.auth == "query":
            auth = _query_auth(GstRtspServer, args.user, password, token)
        else:
            auth = GstRtspServer.RTSPAuth()
            if args.auth == "digest":
                auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
                auth.add_digest(args.user, password, token)
            else:
                auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(permissions)

    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.stderr.write(f"cannot bind {args.host}:{args.port}\n")
        sys.exit(3)

    def on_parent_gone(*_: object) -> bool:
        loop.quit()
        return False

    # The parent keeps our stdin open; EOF means it is gone (even if killed).
    GLib.io_add_watch(
        sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR,
        on_parent_gone,
    )
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, on_parent_gone)

    sys.stdout.write(f"{_READY} {server.get_bound_port()}\n")
    sys.stdout.flush()
    loop.run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="GStreamer RTSP test camera")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--codec", choices=("h264", "h265"), default="h264")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--transports", default="tcp,udp")
    parser.add_argument("--pattern", default="smpte")
    parser.add_argument("--user")
    parser.add_argument("--shared", type=int, default=0)
    parser.add_argument("--auth", choices=("basic", "digest", "query"), default="basic")
    parser.add_argument("--media-file")
    args = parser.parse_args(argv)
    args.transports = args.transports.split(",")
    _serve(args)


if __name__ == "__main__":
    main()

"""A small TCP relay: a routed host port forwarded to the port a code node listens on.

On Panorama each code node ran in a container, and a graph's
``networkRoutingRules`` mapped a ``hostPort`` (8000-9000) on the appliance to
the ``containerPort`` the app listens on. Sightline runs code nodes on the
device's own network, so an app listening on its container port is reachable
there already; when the rule names a different host port, a :class:`TcpRelay`
listens on the host port and copies bytes both ways to
``127.0.0.1:<containerPort>``, so clients use the address Panorama gave them.
"""

from __future__ import annotations

import logging
import selectors
import socket
import socketserver
import threading

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
POLL_S = 0.25  # how soon a connection notices the relay stopped
CHUNK = 65536


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], name: str):
        self.target = target
        self.name = name
        self.closing = threading.Event()
        super().__init__(listen, _Handler)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            upstream = socket.create_connection(self.server.target, timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            log.warning("%s: nothing answers on %s:%d (%s)", self.server.name, *self.server.target, exc)
            return
        with upstream, selectors.DefaultSelector() as selector:
            client: socket.socket = self.request
            upstream.settimeout(None)
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            open_directions = 2
            try:
                while open_directions and not self.server.closing.is_set():
                    for key, _ in selector.select(POLL_S):
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(CHUNK)
                        if data:
                            key.data.sendall(data)
                            continue
                        selector.unregister(source)  # that side finished sending: pass the end on
                        open_directions -= 1
                        try:
                            key.data.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
            except OSError:  # a reset on either side ends the connection
                pass


class TcpRelay:
    """Listens on ``host:port`` and forwards each connection to ``127.0.0.1:target_port``."""

    def __init__(self, host: str, port: int, target_port: int, name: str = "relay"):
        self.host, self.port, self.target_port, self.name = host, port, target_port, name
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind the host port; raises :class:`OSError` (e.g. the port is in use) when it cannot."""
        server = _Server((self.host, self.port), ("127.0.0.1", self.target_port), self.name)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), name=self.name, daemon=True)
        self._thread.start()
        log.info("%s: host port %d relays to container port %d", self.name, self.port, self.target_port)

    def stop(self) -> None:
        """Stop listening and end open connections (within :data:`POLL_S`)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.closing.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)

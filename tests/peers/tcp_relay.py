"""A TCP relay on 127.0.0.1 that can cut the network silently, like a pulled cable.

    relay = TcpRelay("127.0.0.1", device.port).start()
    client = DeviceClient("127.0.0.1", relay.port, credentials)   # through the relay
    relay.cut()       # bytes stop flowing both ways; no FIN, no RST: the peers just hear nothing
    relay.restore()   # the cut connections are closed; new ones are relayed again
    relay.stop()

A real socket path for what unit tests cannot otherwise cause: a connection
that stays open but carries nothing (a switch reboot, a Wi-Fi drop, a
firewall that starts dropping packets).
"""

from __future__ import annotations

import socket
import threading


class TcpRelay:
    """Accepts on ``127.0.0.1:port`` and forwards every connection to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._connected = threading.Event()
        self._connected.set()
        self._stopped = threading.Event()
        self.connections = 0

    def start(self) -> TcpRelay:
        self._spawn(self._accept)
        return self

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="tcp-relay")
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(downstream)
            if not self._connected.is_set():
                continue  # held open and never answered, like a host behind a dead link
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                downstream.close()
                continue
            with self._lock:
                self._sockets.append(upstream)
                self.connections += 1
            self._spawn(self._pump, downstream, upstream)
            self._spawn(self._pump, upstream, downstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if self._connected.is_set():
                    sink.sendall(data)
                # while cut, bytes are read and dropped: nothing reaches the other side
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Stop carrying bytes on every connection, old and new, without closing any."""
        self._connected.clear()

    def restore(self) -> None:
        """Close the connections the cut left hanging; relay new ones again."""
        with self._lock:
            hanging, self._sockets = self._sockets, []
        for s in hanging:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._connected.set()

    def stop(self) -> None:
        """Close the listener and every connection; wait for the relay's threads."""
        self._stopped.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self._listener.close()
        self.restore()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)

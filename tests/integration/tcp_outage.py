"""A TCP relay on loopback that can be taken down and brought back on the same port: a service outage.

Used where restarting the service itself would test the wrong thing: moto_server keeps its queues in memory,
so a restarted moto has lost every message, which Amazon SQS never does. What a worker meets when SQS goes
away is its connections reset and new ones refused, then the same queues again; this relay produces that.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time


class OutageRelay:
    """Relays 127.0.0.1:port to an upstream; `outage(seconds)` resets every connection and refuses new ones."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self.connections_accepted = 0  # so a test can tell its client really went through the relay
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Listen again on the same port."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Stop listening and reset every open connection (RST, as a dying server's kernel sends)."""
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()

    def outage(self, seconds: float) -> float:
        """Down for `seconds`, then up; returns the moment it answers again."""
        self.down()
        time.sleep(seconds)
        self.up()
        return time.monotonic()

    def close(self) -> None:
        self._stopped.set()
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: an outage began
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # the outage began while connecting
                    client.close()
                    server.close()
                    return
                self._sockets |= {client, server}
                self.connections_accepted += 1
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select(timeout=1.0):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            with self._lock:
                self._sockets -= {a, b}
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

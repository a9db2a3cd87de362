"""A network link between two sites that can be cut, restored and watched: a TCP relay on 127.0.0.1.

Why not network namespaces: `ip netns` + veth needs root and leaves state behind when a test dies, and
`tc netem` is missing here. The relay gives what the tests need of a partition: while cut, every open
connection is reset and new ones are refused at once (as a peer behind a down link would, minus the
timeout), and every byte that crosses is counted (and with `record=True` kept), so a test can say what
went over the link: how much, and that no row of a site's table was in it.

    with CuttableLink(("127.0.0.1", 9000)) as link:   # clients use link.port instead of 9000
        link.cut(); ...; link.restore()
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self

__all__ = ["CuttableLink"]


class CuttableLink:
    def __init__(self, target: tuple[str, int], *, record: bool = False) -> None:
        self.target = target
        self.record = record
        self._recorded = bytearray()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._up = True
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self.bytes_up = 0  # client -> target
        self.bytes_down = 0  # target -> client
        self.cuts = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="link-accept", daemon=True)
        self._thread.start()

    @property
    def bytes_total(self) -> int:
        return self.bytes_up + self.bytes_down

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self._up:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for src, dst, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, up), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or not self._up:
                    break
                dst.sendall(data)
                with self._lock:
                    if self.record:
                        self._recorded += data
                    if up:
                        self.bytes_up += len(data)
                    else:
                        self.bytes_down += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            self._conns.discard(s)
        _reset(s)

    def recorded(self) -> bytes:
        """Every byte that crossed, both directions interleaved (empty unless `record=True`)."""
        with self._lock:
            return bytes(self._recorded)

    def cut(self) -> None:
        """Partition: reset every open connection and refuse new ones until `restore`."""
        self._up = False
        self.cuts += 1
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            self._drop(s)

    def restore(self) -> None:
        self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self._server.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reset(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        s.close()

"""A TCP proxy in front of a real redis-server that breaks its first connection after a
given number of reply bytes: a connection that fails in the middle of a pipeline's
replies, after Redis ran the commands, as a network fault does."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class CuttingProxy:
    """Forwards loopback connections to ``upstream``; the first is cut once ``cut_after``
    bytes of replies went back through it. Later connections are left whole.

    ``replied`` counts the first connection's reply bytes so far, so a test can move
    ``cut_after`` past the connection's handshake (whose length depends on the server).
    """

    def __init__(self, upstream: tuple[str, int], cut_after: int) -> None:
        self.upstream = upstream
        self.cut_after = cut_after
        self.cuts = 0
        self.replied = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._accepted = 0
        self._threads: list[threading.Thread] = []

    def serve(self) -> None:
        """Accept connections until the listener is closed."""
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            self._accepted += 1
            first = self._accepted == 1
            upstream = socket.create_connection(self.upstream)
            for source, sink, cut in ((downstream, upstream, False), (upstream, downstream, first)):
                pump = threading.Thread(target=self._pump, args=(source, sink, cut), daemon=True)
                pump.start()
                self._threads.append(pump)

    def _pump(self, source: socket.socket, sink: socket.socket, cut: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if cut and self.replied + len(chunk) >= self.cut_after:
                    sink.sendall(chunk[: self.cut_after - self.replied])
                    self.cuts += 1
                    break
                if cut:  # counted before it is sent, so a reader never sees an old count
                    self.replied += len(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self._listener.close()


@contextmanager
def cutting_proxy(host: str, port: int, cut_after: int) -> Iterator[CuttingProxy]:
    """A CuttingProxy serving in a thread for the duration of the block."""
    proxy = CuttingProxy((host, port), cut_after)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.close()

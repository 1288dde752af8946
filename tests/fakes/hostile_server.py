"""A local HTTP server that misbehaves the ways a hostile or broken server does, on 127.0.0.1.

Modes: "trickle" answers 200 and then sends its body one byte every `interval_s`, forever
(each read gets data long before any per-read timeout, so only a total deadline ends it);
"endless" answers 200 and sends a body that never ends, as fast as the client reads it.
It records the Host header of each request; `close()` ends every connection.
"""

from __future__ import annotations

import socket
import threading


class HostileServer:
    def __init__(self, mode: str, interval_s: float = 0.05):
        assert mode in ("trickle", "endless")
        self.mode, self.interval_s = mode, interval_s
        self.hosts: list[str] = []
        self.bytes_sent = 0
        self._closed = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"host:"):
                    self.hosts.append(line[5:].strip().decode())
            try:
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                block = b"x" * (1 if self.mode == "trickle" else 65536)
                frame = f"{len(block):x}\r\n".encode() + block + b"\r\n"
                while not self._closed.is_set():
                    conn.sendall(frame)
                    self.bytes_sent += len(block)
                    if self.mode == "trickle":
                        self._closed.wait(self.interval_s)
            except OSError:  # the client hung up: what a bounded client does
                return

"""A fault-injecting HTTP/1.1 proxy on loopback, in process (threads), between counters and a hub.

Per request it draws from a seeded random schedule one of: pass, delay, drop the request (never
reaches the hub), drop the answer after the hub committed, reset the connection (RST) before or
after the hub saw it, answer 500 itself, cut the answer's body in half, send the request to the
hub twice (a duplicate batch), or first replay a request seen earlier (a stale batch arriving
after newer ones; its nonce makes it a replay the hub must refuse without harm). It keeps a log of
what it did so a failing seed can be read back."""
from __future__ import annotations

import random
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Callable

FAULTS = ("pass", "delay", "drop-request", "drop-answer", "reset-before", "reset-after", "500", "truncate",
          "duplicate", "replay-old")


@dataclass
class Schedule:
    """Fault weights (pass dominates so that pushes progress); `seed` makes a run repeatable."""

    seed: int
    weights: dict[str, float] = field(default_factory=lambda: {
        "pass": 10, "delay": 2, "drop-request": 1, "drop-answer": 1.5, "reset-before": 1, "reset-after": 1,
        "500": 1, "truncate": 1, "duplicate": 1, "replay-old": 1})
    max_delay: float = 0.05

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()

    def draw(self) -> tuple[str, float]:
        with self.lock:
            names = list(self.weights)
            fault = self.rng.choices(names, weights=[self.weights[n] for n in names])[0]
            return fault, self.rng.uniform(0, self.max_delay)


def _read_message(sock: socket.socket, buf: bytearray) -> bytes | None:
    """One HTTP/1.1 message (head + Content-Length body) from sock; None at EOF."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head_end = buf.index(b"\r\n\r\n") + 4
    length = 0
    for line in bytes(buf[:head_end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(buf) < head_end + length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    message = bytes(buf[:head_end + length])
    del buf[:head_end + length]
    return message


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    def __init__(self, upstream_port: int, schedule: Schedule | None = None) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.schedule = schedule
        self.log: list[tuple[str, str]] = []          # (fault, request line)
        self.seen: list[bytes] = []                   # push requests forwarded, for replay-old
        self.requests = 0
        # hooks for the kill -9 tests: called with the request's number (1, 2 ...) and its line,
        # right after the request went to the hub / right after the hub's answer came back
        self.on_forwarded: Callable[[int, str], None] | None = None
        self.on_answered: Callable[[int, str], None] | None = None
        self._count_lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for fault, _ in self.log:
            out[fault] = out.get(fault, 0) + 1
        return out

    # -- one client connection ----------------------------------------------------------------------
    def _serve(self, client: socket.socket) -> None:
        buf = bytearray()
        try:
            while True:
                request = _read_message(client, buf)
                if request is None:
                    return
                if not self._one(client, request):
                    return
        except OSError:
            return
        finally:
            try:
                client.close()
            except OSError:
                pass

    def _forward(self, request: bytes, number: int = 0, line: str = "") -> bytes | None:
        with socket.create_connection(self.upstream, timeout=60) as up:
            up.sendall(request)
            if number and self.on_forwarded is not None:
                self.on_forwarded(number, line)
            answer = _read_message(up, bytearray())
        if number and answer is not None and self.on_answered is not None:
            self.on_answered(number, line)
        return answer

    def _one(self, client: socket.socket, request: bytes) -> bool:
        """Handle one request; False when the client connection is gone."""
        with self._count_lock:
            self.requests += 1
            number = self.requests
        line = request.split(b"\r\n", 1)[0].decode("latin-1")
        is_push = "_push" in line
        fault, delay = self.schedule.draw() if self.schedule is not None else ("pass", 0.0)
        if fault in ("duplicate", "replay-old") and not is_push:
            fault = "pass"
        self.log.append((fault, line))
        if fault == "delay":
            time.sleep(delay)
        if fault == "drop-request":
            client.close()
            return False
        if fault == "reset-before":
            _reset(client)
            return False
        if fault == "500":
            body = b'{"Errors":[{"code":"PROXY_500","message":"injected","description":null,"params":[]}]}'
            client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            return True
        if fault == "replay-old" and self.seen:
            pick = self.schedule.rng.choice(self.seen) if self.schedule is not None else self.seen[0]
            self._swallow(pick)
        try:
            answer = self._forward(request, number, line)
        except OSError:                      # the hub is down or died mid-request
            answer = None
        if is_push:
            self.seen.append(request)
        if fault == "duplicate":
            # the network delivers the request twice: the hub must refuse the copy (its nonce was
            # seen) without harm; the client gets the first answer
            self._swallow(request)
        if answer is None:
            client.close()
            return False
        if fault == "drop-answer":
            client.close()
            return False
        if fault == "reset-after":
            _reset(client)
            return False
        if fault == "truncate":
            client.sendall(answer[: max(1, len(answer) - 20)])
            client.close()
            return False
        client.sendall(answer)
        return True

    def _swallow(self, request: bytes) -> None:
        try:
            self._forward(request)
        except OSError:
            pass

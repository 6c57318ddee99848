"""Loopback fakes of the notification providers: an HTTP SMS gateway that honours the
Idempotency-Key header (a repeated key is acknowledged with the first message id and not
delivered again), can fail its first N requests with HTTP 500, and can hold a request open
(to kill a notifier mid-send); and an aiosmtpd SMTP server that keeps what it receives."""
from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeGateway:
    fail_first: int = 0
    hold: threading.Event | None = None        # when set, a request waits for it before answering
    hold_match: str = ""                       # ... only a request whose parameters contain this text
    held: threading.Event = field(default_factory=threading.Event)   # set once a request is waiting
    requests: list[dict[str, Any]] = field(default_factory=list)
    delivered: dict[str, dict[str, str]] = field(default_factory=dict)    # idempotency key -> params
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, key: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append({"key": key, **params})
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500, {"error": "gateway down"}
            fresh = key not in self.delivered
            if fresh:
                self.delivered[key] = params      # delivered before the answer: a kill now loses only the reply
        if fresh and self.hold is not None and not self.hold.is_set() and \
                any(self.hold_match in str(v) for v in params.values()):
            self.held.set()
            self.hold.wait(30)
        return 200, {"messageId": f"gw-{key[:8]}", "duplicate": not fresh}

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.delivered.values())


def _handler(gw: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(raw)
            else:
                params = dict(urllib.parse.parse_qsl(raw))
            status, body = gw.handle(self.headers.get("Idempotency-Key") or "", params)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            status, body = gw.handle(self.headers.get("Idempotency-Key") or "", params)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def fake_gateway(**kw: Any) -> Iterator[FakeGateway]:
    gw = FakeGateway(**kw)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gw))
    server.daemon_threads = True
    gw.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        if gw.hold is not None:
            gw.hold.set()
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    url: str = ""
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.url = f"smtp://127.0.0.1:{port}"
    try:
        yield box
    finally:
        controller.stop()

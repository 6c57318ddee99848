"""The status line's hub: not registered, up (its /health answers UP), offline."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.tui.helpers import settle, text_of
from tui.hub import reachable
from tui.widgets import status_text

pytestmark = pytest.mark.anyio


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = json.dumps({"status": "UP", "store": "ok"}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_reachable_asks_health(hub_url: str) -> None:
    assert reachable(hub_url)
    assert not reachable(hub_url + "/nothing-here")                 # 404: not a hub
    closed = HTTPServer(("127.0.0.1", 0), Health)
    port = closed.server_address[1]
    closed.server_close()
    assert not reachable(f"http://127.0.0.1:{port}", timeout=0.5)    # nobody listening


def test_status_text_names_the_hub_state() -> None:
    base = {"userName": "clerk.amritsar", "tenantId": "pb.amritsar", "counterCode": "C01", "shift": None,
            "unsynced": 3}
    assert "hub: not registered" in status_text({**base, "hub": None})
    assert "hub: up" in status_text({**base, "hub": "http://h", "hubReachable": True})
    assert "hub: offline" in status_text({**base, "hub": "http://h", "hubReachable": False})


async def test_the_status_line_shows_a_registered_hub_up(desk_app, core, hub_url: str):
    with core.uow(core.base_context()) as uow:
        uow.set_meta("sync_hub_url", hub_url)
        uow.commit()
    app = desk_app("clerk.amritsar")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "hub: up" in text_of(app, "#status")

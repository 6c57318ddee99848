"""The hub over HTTP: FastAPI's TestClient on the app factory, and one real `digitctl hub serve`
on a loopback port answering /health."""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from digitctl.bootstrap import App
from tests.hub.fake_counter import PUSH, REGISTER, FakeCounter

NOW = dt.datetime(2026, 11, 25, 5, 30, tzinfo=dt.timezone.utc)
fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402


@pytest.fixture
def client(hub: App, monkeypatch: pytest.MonkeyPatch) -> Any:
    from sync.hub_app import create_app

    monkeypatch.setenv("DIGITCTL_NOW", hub.clock.now().isoformat())
    with TestClient(create_app(hub.store_url)) as c:
        yield c


def _post(client: Any, counter: FakeCounter, hub: App, doc: dict[str, Any], **kw: Any) -> Any:
    req = counter.signed(PUSH, doc, hub.clock.now(), **kw)
    return client.post(PUSH, content=req.body, headers=dict(req.headers))


def _envelope(res: Any) -> tuple[str, list[str]]:
    doc = res.json()
    assert set(doc) == {"ResponseInfo", "Errors"} and doc["ResponseInfo"]["status"] == "FAILED", doc
    return doc["Errors"][0]["code"], doc["Errors"][0]["params"]


def _register(client: Any, hub: App) -> FakeCounter:
    from digitctl.services import hub_counters

    code = hub_counters.enrol(hub, hub.context(), "pb.amritsar", "A2")["enrolmentCode"]
    counter = FakeCounter()
    res = client.post(REGISTER, json=counter.register_body(code))
    assert res.status_code == 200, res.text
    counter.code = res.json()["counterCode"]
    return counter


def test_health_and_metrics(client: Any, hub: App) -> None:
    assert client.get("/health").json() == {"status": "UP", "store": "ok"}
    counter = _register(client, hub)
    assert _post(client, counter, hub, counter.batch([counter.event(), counter.event()], 3, head_seq=5)) \
        .status_code == 200
    text = client.get("/metrics").text
    assert f'digit_hub_events_received_total{{counter="{counter.code}"}} 2' in text
    assert f'digit_hub_counter_lag{{counter="{counter.code}"}} 3' in text


def test_register_push_status_over_http(client: Any, hub: App) -> None:
    counter = _register(client, hub)
    events = [counter.event() for _ in range(3)]
    doc = counter.batch(events, 3)
    res = _post(client, counter, hub, doc)
    assert res.status_code == 200 and res.json()["accepted"] == 3 and res.json()["nextSeq"] == 4
    again = _post(client, counter, hub, doc)              # a retry: the stored response, replayed
    assert again.status_code == 200 and again.json() == res.json()
    path = f"/sync/v1/counters/{counter.code}/_status"
    req = counter.signed(path, None, hub.clock.now(), method="GET")
    status = client.get(path, headers=dict(req.headers))
    assert status.status_code == 200 and status.json()["lastSequence"] == 3


@pytest.mark.parametrize("case, status, code", [
    ("unsigned", 401, "SYNC_UNAUTHENTICATED"),
    ("forged", 401, "SYNC_UNAUTHENTICATED"),
    ("gap", 409, "SYNC_SEQUENCE_GAP"),
    ("not json", 400, "SYNC_INVALID_REQUEST"),
])
def test_refusals_carry_digits_envelope_and_status(client: Any, hub: App, case: str, status: int, code: str) -> None:
    counter = _register(client, hub)
    events = [counter.event() for _ in range(3)]
    if case == "unsigned":
        res = client.post(PUSH, json=counter.batch(events, 3))
    elif case == "forged":
        res = _post(client, counter, hub, counter.batch(events, 3), key=FakeCounter().request_key)
    elif case == "gap":
        res = _post(client, counter, hub, counter.batch(events[1:], events[0]["audit"]["seq"]))
    else:
        req = counter.signed(PUSH, None, hub.clock.now())
        res = client.post(PUSH, content=b"{not json", headers={**req.headers, **_resign(counter, hub, b"{not json")})
    assert res.status_code == status, res.text
    got, params = _envelope(res)
    assert got == code
    if case == "gap":
        assert params == ["expected: 1"]


def _resign(counter: FakeCounter, hub: App, body: bytes) -> dict[str, str]:
    from digitctl.domain import sync_protocol as sp

    stamp = int(hub.clock.now().timestamp() * 1000)
    nonce = os.urandom(16).hex()
    return {sp.H_TIMESTAMP: str(stamp), sp.H_NONCE: nonce,
            sp.H_SIGNATURE: sp.sign(counter.request_key, "POST", PUSH, stamp, nonce, body)}


def test_register_refusal_is_enveloped(client: Any) -> None:
    res = client.post(REGISTER, json=FakeCounter().register_body("NOPE-NOPE-NOPE"))
    assert res.status_code == 401 and _envelope(res)[0] == "SYNC_ENROLMENT_CODE_INVALID"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_and_get_health(hub: App, extra: list[str], scheme: str = "http", context: Any = None) -> None:
    root = Path(__file__).resolve().parents[2]
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(root), "DIGITCTL_NOW": hub.clock.now().isoformat()}
    proc = subprocess.Popen([sys.executable, str(root / "tests" / "clockhook.py"), "--store", hub.store_url,
                             "hub", "serve", "--port", str(port), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/health", timeout=2, context=context) as res:
                    assert json.loads(res.read()) == {"status": "UP", "store": "ok"}
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    pytest.fail(f"hub serve did not answer: {proc.communicate()[0].decode()[-2000:]}")
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def sqlite_hub(sqlite_url: str, frozen_clock: Any, store_templates: Any) -> Any:
    """A hub store on SQLite only: the subprocess tests test `hub serve`, not the backends."""
    from tests.conftest import _build_state, _templated_app

    yield from _templated_app(store_templates, "state", _build_state, sqlite_url, frozen_clock)


def test_hub_serve_answers_health_on_loopback(sqlite_hub: App) -> None:
    _serve_and_get_health(sqlite_hub, [])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False).sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "hub.crt", folder / "hub.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_hub_serve_over_tls_with_two_workers(sqlite_hub: App, tmp_path: Path) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(cafile=str(cert))
    _serve_and_get_health(sqlite_hub, ["--workers", "2", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
                          "https", context)


def test_an_unknown_path_or_method_is_enveloped(client: Any) -> None:
    res = client.get("/sync/v1/nothing")
    assert res.status_code == 404 and _envelope(res)[0] == "NOT_FOUND"
    res = client.get(PUSH)
    assert res.status_code == 405 and _envelope(res)[0] == "INVALID_REQUEST"


def test_a_push_applies_what_it_stored(client: Any, hub: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from digitctl.domain.sync_events import Parked

    fake = types.ModuleType("digitctl.services.hub_apply")

    def apply_event(app: App, ev: Any) -> None:
        if ev.payload.get("park"):
            raise Parked("BILL_NOT_FOUND", "no such bill at the hub")

    fake.apply_event = apply_event  # type: ignore[attr-defined]
    fake.entity_keys = lambda ev: [ev.entity_id]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "digitctl.services.hub_apply", fake)
    counter = _register(client, hub)
    events = [counter.event(payload={"park": True}), counter.event()]
    res = _post(client, counter, hub, counter.batch(events, 3))
    assert res.status_code == 200 and [p["code"] for p in res.json()["parked"]] == ["BILL_NOT_FOUND"]
    path = f"/sync/v1/counters/{counter.code}/_status"
    req = counter.signed(path, None, hub.clock.now(), method="GET")
    parked = client.get(path, headers=dict(req.headers)).json()["parked"]
    assert [(p["seq"], p["code"], p["message"]) for p in parked] == [(1, "BILL_NOT_FOUND", "no such bill at the hub")]
    text = client.get("/metrics").text
    assert f'digit_hub_events_applied_total{{counter="{counter.code}"}} 1' in text
    assert f'digit_hub_events_parked_total{{counter="{counter.code}"}} 1' in text


def test_an_unreachable_store_is_503_so_counters_retry() -> None:
    from sync.hub_app import create_app

    with TestClient(create_app("postgresql+psycopg://postgres@127.0.0.1:5432/digitctl_no_such_db"),
                    raise_server_exceptions=False) as c:
        res = c.get("/health")
        assert res.status_code == 503 and res.json() == {"status": "DOWN", "store": "unreachable"}
        counter = FakeCounter()
        counter.code = "C02"
        req = counter.signed(PUSH, counter.batch([counter.event()], 3), NOW)
        res = c.post(PUSH, content=req.body, headers=dict(req.headers))
        assert res.status_code == 503 and _envelope(res)[0] == "STORE_UNAVAILABLE"

"""What the sync tests share: registering a store with a (fake or real) hub through the counter's
own code path, giving a copied template store an identity of its own, and taking payments."""
from __future__ import annotations

import os
import shutil
import signal
import ssl
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from decimal import Decimal
from typing import Any

import json

import httpx
from typer.testing import CliRunner
from sqlalchemy import func, select, update

from digitctl.bootstrap import App, build
from digitctl.cli.main import app as cli
from digitctl.clock import FixedClock
from digitctl.services.quickstart import DEMO_PASSWORD
from digitctl.services import billing, collection, masterkey, sync_outbox
from local_store.models import OutboxEvent, Payment, StoreMeta
from sync.client import HubClient
from tests.conftest import _build_quickstart
from tests.helpers import AMRITSAR, ctx_as, demand


def register(app: App, hub_url: str, enrolment: str, **client_kw: Any) -> dict[str, Any]:
    """`sync register` as the CLI does it, as the store's administrator (SYSTEM on a test store)."""
    ctx = app.base_context()
    request = sync_outbox.prepare_registration(app, ctx, enrolment)
    with HubClient(hub_url, now_ms=lambda: sync_outbox.now_ms(app), **client_kw) as client:
        answer = client.register(request)
    return sync_outbox.complete_registration(app, ctx, hub_url, request, answer)


def own_identity(app: App) -> str:
    """A copied template store shares its store id (and so its key files) with every other copy:
    give it its own, carrying the master key file along."""
    old = app.store_meta("store_id")
    assert old is not None
    new = str(uuid.uuid4())
    shutil.copy2(masterkey.key_file_for(old), masterkey.key_file_for(new))
    with app.store.engine.begin() as conn:
        conn.execute(update(StoreMeta).where(StoreMeta.key == "store_id").values(value=new))
    app.__dict__.pop("master_key", None)
    return new


def pay(app: App, consumer: str, rupees: str = "1250") -> dict[str, Any]:
    """A demand for `consumer`, its bill fetched and paid in cash by the demo clerk."""
    clerk = ctx_as(app, "clerk.amritsar")
    billing.create_demands(app, clerk, [demand(consumer, lines=(("TL_TAX", rupees, "0"),))])
    bill = billing.fetch_bill(app, clerk, AMRITSAR, consumer_code=consumer, business_service="TL")[0]
    return collection.pay(app, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH",
                          amount=Decimal(rupees))


def counter_seqs(app: App) -> list[int]:
    with app.store.engine.connect() as conn:
        return [int(s or 0) for (s,) in conn.execute(select(OutboxEvent.counter_seq).where(OutboxEvent.counter_seq.is_not(None))
                                           .order_by(OutboxEvent.counter_seq))]


def paid_paise(app: App) -> dict[str, int]:
    """Money the store took itself, per tenant: payments pulled from the hub (taken elsewhere,
    `origin` set) are another store's."""
    with app.store.engine.connect() as conn:
        rows = conn.execute(select(Payment.tenant_id, func.sum(Payment.amount_paid_paise))
                            .where(Payment.origin.is_(None)).group_by(Payment.tenant_id))
        return {t: int(v) for t, v in rows}


# -- a hub in a subprocess (`digitctl hub serve`), on the tests' frozen clock -------------------------
NOW = "2026-11-25T11:00:00+05:30"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HubProcess:
    """`digitctl hub serve --store URL` through tests/clockhook.py (DIGITCTL_NOW = NOW), on a free
    loopback port; `kill()` is kill -9, `start()` brings it back on the same port."""

    def __init__(self, store_url: str, log_dir: Path, port: int | None = None,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.store_url = store_url
        self.tls = tls                     # (certificate, key): serve HTTPS
        self.port = port or free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "HubProcess":
        self.starts += 1
        env = {**os.environ, "DIGITCTL_NOW": NOW, "PYTHONPATH": str(REPO)}
        log = open(self.log_dir / f"hub-{self.port}-{self.starts}.log", "wb")
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "clockhook.py"), "--store", self.store_url,
                                      "hub", "serve", "--port", str(self.port), *self._tls_args()], env=env, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited {self.proc.returncode}: {self.log_tail()}")
            try:
                verify: Any = ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else True
                if httpx.get(self.url + "/health", timeout=1.0, verify=verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the hub did not come up: {self.log_tail()}")

    def _tls_args(self) -> list[str]:
        return ["--ssl-certfile", str(self.tls[0]), "--ssl-keyfile", str(self.tls[1])] if self.tls else []

    def log_tail(self) -> str:
        logs = sorted(self.log_dir.glob(f"hub-{self.port}-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def receipts(app: App) -> dict[str, int]:
    """receipt number -> paise, of this store's payments."""
    with app.store.engine.connect() as conn:
        return {r: int(p) for r, p in conn.execute(select(Payment.receipt_number, Payment.amount_paid_paise))}


def collected(app: App, consumer_codes: list[str]) -> dict[str, int]:
    """consumer code -> paise collected on its demands (what the state's demands show)."""
    from local_store.models import Demand, DemandDetail

    with app.store.engine.connect() as conn:
        rows = conn.execute(select(Demand.consumer_code, func.sum(DemandDetail.collection_amount_paise))
                            .join(DemandDetail, DemandDetail.demand_id == Demand.id)
                            .where(Demand.consumer_code.in_(consumer_codes)).group_by(Demand.consumer_code))
        return {c: int(v) for c, v in rows}


def stored_left(hub_app: App) -> int:
    from local_store.models import HubEvent

    with hub_app.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(HubEvent).where(HubEvent.status == "stored"))
                   .scalar_one())


def wait_applied(hub_app: App, timeout: float = 5.0, operator_apply: Any = None) -> int:
    """The hub applies a batch after answering it (a background task): wait until nothing it
    stored is left unapplied. If some is still left at the deadline, `operator_apply()` (the
    operator's `digitctl hub apply`) finishes it; returns how many that was (0: the hub did it all)."""
    deadline = time.monotonic() + timeout
    while True:
        left = stored_left(hub_app)
        if not left:
            return 0
        if time.monotonic() > deadline:
            assert operator_apply is not None, f"{left} events still not applied at the hub"
            operator_apply()
            assert stored_left(hub_app) == 0
            return left
        time.sleep(0.1)


# -- the commands, as an operator types them ----------------------------------------------------------
runner = CliRunner()


def cli_ok(store: str, *args: str, stdin: str | None = None, code: int = 0) -> Any:
    res = runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})
    assert res.exit_code == code, f"digitctl {' '.join(args)} → {res.exit_code}\n{res.output}"
    return json.loads(res.stdout) if "-o" in args and res.stdout.strip() else res


def login_admin(store: str) -> None:
    runner.invoke(cli, ["--store", store, "logout"], env={"DIGITCTL_NOW": NOW})
    cli_ok(store, "login", "--username", "admin", "--password-stdin", stdin=DEMO_PASSWORD + "\n")


def quickstart_copy(store_templates: Any, url: str, clock: FixedClock) -> App:
    """A copy of quickstart's demo store (same state, same users) with an identity of its own."""
    store_templates.materialize("quickstart", _build_quickstart, url)
    app = build(url, clock)
    own_identity(app)
    return app


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (PEM files: certificate, key)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "digitctl test hub")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "hub.pem", folder / "hub.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file

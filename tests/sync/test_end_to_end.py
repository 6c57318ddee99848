"""Done-when of issue 11, from the commands: a hub (`digitctl hub serve`, a subprocess) on
PostgreSQL and on SQLite; two counter stores enrolled (`hub enrol`) and registered (`sync
register`); payments taken on both while the hub is down (`sync push` exit 1, nothing lost); the
hub back, `sync push` on both: every payment once at the hub, the state's demands show them,
`hub counters` shows both at lag 0."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digitctl.bootstrap import App
from digitctl.clock import FixedClock
from digitctl.services import shifts
from local_store.models import HubEvent
from tests.helpers import ctx_as
from tests.sync.support import (HubProcess, cli_ok, collected, login_admin, pay, quickstart_copy, receipts,
                                self_signed, wait_applied)

@pytest.fixture(params=["postgres", "sqlite"])
def hub_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'hub.db'}"


@pytest.fixture
def world(hub_url: str, tmp_path: Path, store_templates: Any, frozen_clock: FixedClock) -> Iterator[dict[str, Any]]:
    """The hub store and two counters, all copies of quickstart's state; the hub's operator logged in."""
    hub_app = quickstart_copy(store_templates, hub_url, frozen_clock)
    counters = [quickstart_copy(store_templates, f"sqlite:///{tmp_path / f'counter{i}.db'}", frozen_clock)
                for i in (1, 2)]
    hub = HubProcess(hub_url, tmp_path)
    login_admin(hub_url)
    world: dict[str, Any] = {"hub_app": hub_app, "counters": counters, "hub": hub}
    try:
        yield world
    finally:
        hub.stop()
        world["hub"].stop()             # a test that serves its own hub (TLS) puts it there: stop it too
        for app in [hub_app, *counters]:
            app.close()


def enrol_and_register(world: dict[str, Any], hub_url: str) -> list[str]:
    """`hub enrol` per counter, then `sync register` on each as its administrator. C01 is the hub
    store's own code (it was a demo counter), so the counters get the codes after it."""
    hub: HubProcess = world["hub"]
    codes = []
    for i, counter in enumerate(world["counters"], start=1):
        enrolled = cli_ok(hub_url, "-o", "json", "hub", "enrol", "--tenant", "pb.amritsar", "--name", f"Counter {i}")
        login_admin(counter.store_url)
        done = cli_ok(counter.store_url, "-o", "json", "sync", "register", "--hub", hub.url, "--code",
                      enrolled["enrolmentCode"])
        assert done["Counter"]["counterCode"] == enrolled["counterCode"]
        codes.append(enrolled["counterCode"])
    return codes


@pytest.mark.postgres
def test_two_counters_pay_offline_then_push_everything_once(world: dict[str, Any], hub_url: str) -> None:
    hub: HubProcess = world["hub"]
    counters: list[App] = world["counters"]
    hub.start()
    codes = enrol_and_register(world, hub_url)
    assert codes == ["C02", "C03"]
    hub.stop()                                             # the network goes

    consumers: list[str] = []
    for n, counter in enumerate(counters, start=1):
        clerk = ctx_as(counter, "clerk.amritsar")
        shifts.open_shift(counter, clerk, "2000")           # a shift under the counter's new code
        for k in range(3):
            consumer = f"E2E-{n}-{k}"
            pay(counter, consumer, rupees=str(500 + 100 * k + n))
            consumers.append(consumer)
        refused = cli_ok(counter.store_url, "-o", "json", "sync", "push", code=1)
        assert refused["Errors"][0]["code"] == "SYNC_HUB_UNREACHABLE"
        offline = cli_ok(counter.store_url, "-o", "json", "sync", "status")
        assert offline["unsynced"] > 3 and offline["hubReachable"] is False and offline["counterCode"] == codes[n - 1]

    hub.start()                                            # back
    for counter in counters:
        pushed = cli_ok(counter.store_url, "-o", "json", "sync", "push", "--batch", "4")
        assert pushed["unsynced"] == 0 and pushed["sent"] == pushed["accepted"] > 0
        status = cli_ok(counter.store_url, "-o", "json", "sync", "status")
        assert status["unsynced"] == 0 and status["hubReachable"] is True and status["parked"] == []

    hub_app: App = world["hub_app"]
    assert wait_applied(hub_app) == 0                     # the hub applied every batch by itself
    at_counters = {**receipts(counters[0]), **receipts(counters[1])}
    at_hub = receipts(hub_app)
    assert len(at_counters) == 6 and {r: at_hub.get(r) for r in at_counters} == at_counters
    assert collected(hub_app, consumers) == collected(counters[0], consumers) | collected(counters[1], consumers)
    with hub_app.store.engine.connect() as conn:
        held = conn.execute(select(HubEvent.counter_code, HubEvent.seq, HubEvent.status, HubEvent.reason)).all()
    for code in codes:
        seqs = sorted(s for c, s, _st, _r in held if c == code)
        assert seqs == list(range(1, len(seqs) + 1))
    assert {st for _c, _s, st, _r in held} <= {"applied", "recorded"}, [h for h in held if h[2] not in
                                                                        ("applied", "recorded")]
    listed = {c["counterCode"]: c for c in cli_ok(hub_url, "-o", "json", "hub", "counters")["Counters"]}
    for code in codes:
        assert listed[code]["lag"] == 0 and listed[code]["parked"] == 0 and listed[code]["lastSequence"] > 0


@pytest.mark.postgres
@pytest.mark.parametrize("hub_url", ["postgres"], indirect=True)
def test_the_hub_applies_every_batch_by_itself(world: dict[str, Any], hub_url: str) -> None:
    hub: HubProcess = world["hub"]
    counter: App = world["counters"][0]
    hub.start()
    enrol_and_register(world, hub_url)
    shifts.open_shift(counter, ctx_as(counter, "clerk.amritsar"), "2000")
    for k in range(4):
        pay(counter, f"SELF-{k}")
    cli_ok(counter.store_url, "-o", "json", "sync", "push", "--batch", "2")   # batches land while others apply
    assert wait_applied(world["hub_app"]) == 0


def resign_from(app: App, first_seq: int, edit: Any) -> None:
    """What someone with the store file and its master key can do: edit one audit record, then
    recompute and re-sign the chain from it and the signed head (`audit verify` locally: intact)."""
    from sqlalchemy import update

    from digitctl.domain.canonical import canonical_json, sha256_hex
    from local_store.models import AuditRecord, StoreMeta
    from local_store.uow import AUDIT_HEAD, AUDIT_HEAD_SIGNED, audit_body

    signer = app.audit_signer
    with app.store.engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(select(AuditRecord.__table__).where(AuditRecord.seq >= first_seq)
                                              .order_by(AuditRecord.seq)).mappings()]
        prev = rows[0]["prev_hash"]
        edit(rows[0])
        for rec in rows:
            rec["prev_hash"] = prev
            rec["hash"] = sha256_hex(prev + audit_body(rec))
            rec["key_id"], rec["signature"] = signer(rec["hash"])
            conn.execute(update(AuditRecord).where(AuditRecord.seq == rec["seq"]).values(
                after=rec["after"], prev_hash=rec["prev_hash"], hash=rec["hash"], key_id=rec["key_id"],
                signature=rec["signature"]))
            prev = rec["hash"]
        key_id, signature = signer.sign_head(int(rows[-1]["seq"]), prev)
        conn.execute(update(StoreMeta).where(StoreMeta.key == AUDIT_HEAD).values(value=prev))
        conn.execute(update(StoreMeta).where(StoreMeta.key == AUDIT_HEAD_SIGNED).values(value=canonical_json(
            {"seq": int(rows[-1]["seq"]), "hash": prev, "keyId": key_id, "signature": signature})))


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)
def test_a_chain_rewritten_after_the_hub_saw_it_is_refused_at_the_next_push(world: dict[str, Any],
                                                                            hub_url: str) -> None:
    """Issue 16 (4), the hub's half: a payment's audit record edited and the chain re-signed with the
    store's own key passes `audit verify` locally, but the hub holds the chain's head: the next
    push is refused SYNC_AUDIT_CHAIN_BROKEN (nothing marked sent) and the counter is flagged."""
    from digitctl.services import audit
    from local_store.models import AuditRecord

    hub: HubProcess = world["hub"]
    counter: App = world["counters"][0]
    hub.start()
    enrol_and_register(world, hub_url)
    shifts.open_shift(counter, ctx_as(counter, "clerk.amritsar"), "2000")
    paid = pay(counter, "TAMPER-1", rupees="1250")
    cli_ok(counter.store_url, "-o", "json", "sync", "push")
    with counter.store.engine.connect() as conn:
        seq = conn.execute(select(AuditRecord.seq).where(AuditRecord.entity_id == paid["id"],
                                                         AuditRecord.operation.like("%payments/_create"))).scalar_one()

    def cheaper(rec: dict[str, Any]) -> None:
        rec["after"] = {**(rec["after"] or {}), "amountPaid": "250.00"}

    resign_from(counter, seq, cheaper)
    assert audit.verify(counter, counter.base_context()).problem is None      # locally: "intact"
    pay(counter, "TAMPER-2")
    refused = cli_ok(counter.store_url, "-o", "json", "sync", "push", code=2)
    assert refused["Errors"][0]["code"] == "SYNC_AUDIT_CHAIN_BROKEN"
    assert cli_ok(counter.store_url, "-o", "json", "sync", "status")["unsynced"] > 0
    again = cli_ok(counter.store_url, "-o", "json", "sync", "push", code=3)    # flagged from now on
    assert again["Errors"][0]["code"] == "SYNC_COUNTER_FLAGGED"


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)
def test_a_chain_cut_back_after_the_hub_saw_it_is_refused_at_the_next_push(world: dict[str, Any],
                                                                          hub_url: str) -> None:
    """The tail the hub holds cut off (records deleted, the head moved back and re-signed): the next
    push is refused SYNC_AUDIT_CHAIN_BROKEN."""
    from sqlalchemy import delete, update

    from digitctl.domain.canonical import canonical_json
    from local_store.models import AuditRecord, StoreMeta
    from local_store.uow import AUDIT_HEAD, AUDIT_HEAD_SIGNED

    hub: HubProcess = world["hub"]
    counter: App = world["counters"][0]
    hub.start()
    enrol_and_register(world, hub_url)
    shifts.open_shift(counter, ctx_as(counter, "clerk.amritsar"), "2000")
    paid = pay(counter, "CUT-1", rupees="1250")
    cli_ok(counter.store_url, "-o", "json", "sync", "push")
    with counter.store.engine.begin() as conn:
        cut = conn.execute(select(AuditRecord.seq).where(AuditRecord.entity_id == paid["id"])
                           .order_by(AuditRecord.seq)).scalars().first()
        conn.execute(delete(AuditRecord).where(AuditRecord.seq >= cut))
        last = conn.execute(select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)).one()
        key_id, signature = counter.audit_signer.sign_head(int(last.seq), last.hash)
        conn.execute(update(StoreMeta).where(StoreMeta.key == AUDIT_HEAD).values(value=last.hash))
        conn.execute(update(StoreMeta).where(StoreMeta.key == AUDIT_HEAD_SIGNED).values(value=canonical_json(
            {"seq": int(last.seq), "hash": last.hash, "keyId": key_id, "signature": signature})))
    pay(counter, "CUT-2")
    refused = cli_ok(counter.store_url, "-o", "json", "sync", "push", code=2)
    assert refused["Errors"][0]["code"] == "SYNC_AUDIT_CHAIN_BROKEN"


@pytest.mark.parametrize("hub_url", ["sqlite"], indirect=True)
def test_over_tls_with_the_hubs_own_certificate(world: dict[str, Any], hub_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`hub serve --ssl-certfile/--ssl-keyfile`: a counter that does not trust the certificate is
    told so (SYNC_HUB_TLS_UNTRUSTED, not retried as a network error); with SSL_CERT_FILE pointing
    at it, register and push work over HTTPS."""
    tls = self_signed(tmp_path)
    hub = HubProcess(hub_url, tmp_path, tls=tls).start()
    world["hub"] = hub
    counter: App = world["counters"][0]
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    enrolled = cli_ok(hub_url, "-o", "json", "hub", "enrol", "--tenant", "pb.amritsar", "--name", "TLS counter")
    login_admin(counter.store_url)
    register = ["-o", "json", "sync", "register", "--hub", hub.url, "--code", enrolled["enrolmentCode"]]
    untrusted = cli_ok(counter.store_url, *register, code=1)
    assert untrusted["Errors"][0]["code"] == "SYNC_HUB_TLS_UNTRUSTED"
    monkeypatch.setenv("SSL_CERT_FILE", str(tls[0]))
    assert cli_ok(counter.store_url, *register)["Counter"]["counterCode"] == "C02"
    shifts.open_shift(counter, ctx_as(counter, "clerk.amritsar"), "2000")
    pay(counter, "TLS-1")
    assert cli_ok(counter.store_url, "-o", "json", "sync", "push")["unsynced"] == 0

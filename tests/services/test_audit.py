"""Signed audit (digitctl.services.audit) on SQLite and PostgreSQL: the signing key, `log`, and
`verify` naming the first record that was edited, deleted, inserted, reordered or badly signed.

Every tampering test first proves the untouched chain verifies, then changes the tables directly
(SQL on a connection, bypassing the unit of work) as someone with the database file would."""
from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, select, update

from digitctl.bootstrap import App
from digitctl.context import Actor, Role
from digitctl.domain.canonical import sha256_hex
from digitctl.domain.events import Event
from digitctl.errors import Forbidden
from digitctl.services import audit
from digitctl.services.audit import (AuditChainBroken, AuditKeyMissing, Kind, KeySigner, VerifyReport,
                                     ensure_signing_key, rotate_signing_key, signer_for)
from local_store.models import AuditRecord, StoreMeta
from local_store.uow import AUDIT_HEAD, GENESIS, UnitOfWork, audit_body

A = AuditRecord.__table__
META = StoreMeta.__table__
TENANT = "pb.amritsar"
CHANGES = 20


def thing_event(n: int, value: str | None = None) -> Event:
    entity = f"thing-{n % 7}"            # some entities change more than once
    new = value or f"ਨਾਮ {n}"
    return Event("test.thing.changed", TENANT, "Thing", entity, "/test/thing/_update",
                 {"thing": {"id": entity, "name": new}}, before={"name": f"old {n}"}, after={"name": new})


def write_changes(app: App, count: int, signer: Callable[[str], tuple[str, str]] | None, start: int = 0) -> None:
    """`count` audited changes, one or two events per transaction."""
    n = start
    while n < start + count:
        with UnitOfWork(app.store, app.context(TENANT), signer=signer) as uow:
            uow.record(thing_event(n))
            if n % 3 == 0 and n + 1 < start + count:
                n += 1
                uow.record(thing_event(n))
            uow.commit()
        n += 1


def make_key(app: App) -> str:
    with app.uow(app.context()) as uow:
        key_id = ensure_signing_key(uow, app.master_key)
        uow.commit()
    return key_id


def rows(app: App) -> list[dict[str, Any]]:
    with app.store.readonly_engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(A).order_by(A.c.seq)).mappings()]


def head(app: App) -> str | None:
    with app.store.readonly_engine.connect() as conn:
        return conn.execute(select(META.c.value).where(META.c.key == AUDIT_HEAD)).scalar()


def check(app: App) -> VerifyReport:
    return audit.verify(app, app.context())


def assert_intact(app: App) -> VerifyReport:
    report = check(app)
    assert report.ok, report.summary()
    assert report.records == len(rows(app))
    return report


def assert_broken(app: App, kind: str, seq: int | None, record_id: str | None = None) -> VerifyReport:
    report = check(app)
    assert not report.ok, "tampering went unnoticed"
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == (kind, seq), report.summary()
    if record_id is not None:
        assert report.problem.record_id == record_id
    with pytest.raises(AuditChainBroken) as caught:
        report.raise_if_broken()
    assert caught.value.code == "AUDIT_CHAIN_BROKEN" and caught.value.exit_code == 2
    assert caught.value.params["kind"] == kind and caught.value.params["seq"] == seq
    return report


@pytest.fixture
def chain(app: App) -> list[dict[str, Any]]:
    """~20 signed changes after init; returns the stored chain (and proves it verifies)."""
    make_key(app)
    write_changes(app, CHANGES, signer_for(app))
    assert_intact(app)
    return rows(app)


def signed_rows(chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in chain if r["signature"] is not None]


def tamper(app: App, *statements: Any) -> None:
    with app.store.engine.begin() as conn:
        for stmt in statements:
            conn.execute(stmt)


def make_room(conn: Connection, at_seq: int) -> None:
    """Renumber seq >= at_seq one up (in two steps: the primary key is checked row by row)."""
    conn.execute(update(A).where(A.c.seq >= at_seq).values(seq=A.c.seq + 1_000_000))
    conn.execute(update(A).where(A.c.seq >= 1_000_000).values(seq=A.c.seq - 1_000_000 + 1))


def forged_record(after: dict[str, Any], signer: Callable[[str], tuple[str, str]] | None) -> dict[str, Any]:
    """A record that links correctly to `after`, with a correct hash; signed by `signer` if given."""
    rec: dict[str, Any] = dict(record_id=str(uuid.uuid4()), event_id=None, occurred_at=after["occurred_at"],
                               actor_uuid=after["actor_uuid"], actor_name="mallory", tenant_id=TENANT,
                               operation="/collection-services/payments/_cancel", entity_type="Payment",
                               entity_id="PB-RCPT-0001", before={"status": "NEW"},
                               after={"status": "CANCELLED"}, prev_hash=after["hash"])
    rec["hash"] = sha256_hex(rec["prev_hash"] + audit_body(rec))
    rec["key_id"], rec["signature"] = signer(rec["hash"]) if signer else (None, None)
    return rec


def rechain(conn: Connection, from_seq: int, prev_hash: str) -> None:
    """What a tamperer without the signing key can still do: relink and rehash every record from
    `from_seq` on and move the head, so that the hash chain alone looks perfect."""
    later = [dict(r) for r in conn.execute(select(A).where(A.c.seq >= from_seq).order_by(A.c.seq)).mappings()]
    for r in later:
        r["prev_hash"] = prev_hash
        r["hash"] = prev_hash = sha256_hex(prev_hash + audit_body(r))
        conn.execute(update(A).where(A.c.seq == r["seq"]).values(prev_hash=r["prev_hash"], hash=r["hash"]))
    conn.execute(update(META).where(META.c.key == AUDIT_HEAD).values(value=prev_hash))


def foreign_signer(key_id: str) -> KeySigner:
    """Signs in the store key's name with a key the store never had."""
    return KeySigner(key_id, Ed25519PrivateKey.generate())


# -- the key ---------------------------------------------------------------------------------
def test_the_signing_key_is_made_once_and_its_private_half_is_wrapped(app: App) -> None:
    key_id = make_key(app)
    assert make_key(app) == key_id
    with app.store.readonly_engine.connect() as conn:
        meta = dict(conn.execute(select(META.c.key, META.c.value)
                                 .where(META.c.key.like("audit_signing_%"))).all())
    assert meta[audit.CURRENT_KEY] == key_id
    public = base64.b64decode(meta[audit.PUBLIC_PREFIX + key_id])
    assert len(public) == 32 and audit.key_id_for(public) == key_id
    wrapped = meta[audit.PRIVATE_PREFIX + key_id]
    raw = app.master_key.unwrap(wrapped, "audit-signing:" + key_id)
    assert Ed25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw() == public
    assert raw not in base64.b64decode(wrapped)                   # not stored in the clear
    with pytest.raises(Exception):
        app.master_key.unwrap(wrapped, "audit-signing:ed25519:someotherkey")   # bound to its id


def test_every_record_after_the_key_is_signed_by_it(app: App, chain: list[dict[str, Any]]) -> None:
    key_id = make_key(app)
    signed = signed_rows(chain)
    assert len(signed) >= CHANGES
    assert {r["key_id"] for r in signed} == {key_id}
    unsigned = [r for r in chain if r["signature"] is None]
    # Only records from before the key existed (an older init) may be unsigned, and verify says so.
    assert all(r["seq"] < signed[0]["seq"] for r in unsigned)
    assert check(app).unsigned_adopted == len(unsigned)


def test_the_store_signer_needs_a_key(app: App) -> None:
    tamper(app, delete(META).where(META.c.key.like("audit_signing_%")))
    with pytest.raises(AuditKeyMissing) as caught:
        signer_for(app)("0" * 64)
    assert caught.value.code == "AUDIT_SIGNING_KEY_MISSING"


def test_old_signatures_verify_after_a_rotation(app: App, chain: list[dict[str, Any]]) -> None:
    old = make_key(app)
    with app.uow(app.context()) as uow:
        new = rotate_signing_key(uow, app.master_key)
        uow.commit()
    assert new != old
    write_changes(app, 3, signer_for(app), start=100)
    report = assert_intact(app)
    assert report.keys == sorted([old, new])
    assert [r["key_id"] for r in rows(app)[-3:]] == [new] * 3


# -- verify: an intact chain ------------------------------------------------------------------
def test_an_intact_chain_verifies(app: App, chain: list[dict[str, Any]]) -> None:
    report = assert_intact(app)
    assert report.records == len(chain) >= CHANGES
    assert report.head == chain[-1]["hash"] == head(app)
    assert report.summary() == f"{len(chain)} records verified, chain intact"
    doc = report.as_json()
    assert doc["ok"] is True and doc["firstBad"] is None and doc["records"] == len(chain)
    assert report.rate > 0


def test_verify_streams_in_batches(app: App, chain: list[dict[str, Any]],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "BATCH", 3)          # batch edges fall inside the chain
    assert_intact(app)
    victim = signed_rows(chain)[10]
    tamper(app, update(A).where(A.c.seq == victim["seq"]).values(actor_name="mallory"))
    assert_broken(app, Kind.EDITED, victim["seq"])


def test_verify_is_authorized(app: App, chain: list[dict[str, Any]]) -> None:
    clerk = Actor(uuid=str(uuid.uuid4()), user_name="clerk", type="EMPLOYEE", roles=(Role("CASHIER", TENANT),))
    ctx = app.context(TENANT)
    with pytest.raises(Forbidden):
        audit.verify(app, replace(ctx, actor=clerk))
    with pytest.raises(Forbidden):
        audit.log(app, replace(ctx, actor=clerk))


# -- verify: tampering ------------------------------------------------------------------------
def test_an_edited_after_value_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    victim = signed_rows(chain)[7]
    tamper(app, update(A).where(A.c.seq == victim["seq"]).values(after={"name": "₹1 only"}))
    report = assert_broken(app, Kind.EDITED, victim["seq"], victim["record_id"])
    assert report.problem is not None and report.problem.entity_id == victim["entity_id"]
    assert report.records == [r["seq"] for r in chain].index(victim["seq"]) + 1   # stopped there


def test_an_edited_actor_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    victim = signed_rows(chain)[3]
    tamper(app, update(A).where(A.c.seq == victim["seq"]).values(actor_name="someone-else",
                                                                    actor_uuid=str(uuid.uuid4())))
    assert_broken(app, Kind.EDITED, victim["seq"], victim["record_id"])


def test_an_edited_prev_hash_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    victim = signed_rows(chain)[5]
    tamper(app, update(A).where(A.c.seq == victim["seq"]).values(prev_hash="f" * 64))
    assert_broken(app, Kind.EDITED, victim["seq"])


def test_a_deleted_middle_row_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    signed = signed_rows(chain)
    gone, after = signed[9], signed[10]
    tamper(app, delete(A).where(A.c.seq == gone["seq"]))
    report = assert_broken(app, Kind.DELETED, after["seq"], after["record_id"])
    assert report.problem is not None and f"seq {gone['seq']} was deleted" in report.problem.message


def test_deleted_and_renumbered_rows_are_still_found(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    signed = signed_rows(chain)
    gone, after = signed[4], signed[5]
    with app.store.engine.begin() as conn:
        conn.execute(delete(A).where(A.c.seq == gone["seq"]))
        conn.execute(update(A).where(A.c.seq > gone["seq"]).values(seq=A.c.seq - 1 + 1_000_000))
        conn.execute(update(A).where(A.c.seq >= 1_000_000).values(seq=A.c.seq - 1_000_000))
    assert_broken(app, Kind.DELETED, gone["seq"], after["record_id"])   # `after` now holds gone's seq


def test_a_deleted_first_row_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    tamper(app, delete(A).where(A.c.seq == chain[0]["seq"]))
    assert_broken(app, Kind.DELETED, chain[1]["seq"], chain[1]["record_id"])


def test_deleted_last_rows_are_a_truncation(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    tamper(app, delete(A).where(A.c.seq == chain[-1]["seq"]))
    report = assert_broken(app, Kind.TRUNCATED, chain[-2]["seq"] + 1)
    assert report.problem is not None and f"ends at seq {chain[-2]['seq']}" in report.problem.message
    assert report.records == len(chain) - 1


def test_a_truncation_that_moves_the_head_back_is_a_bad_head_or_caught(app: App,
                                                                      chain: list[dict[str, Any]]) -> None:
    """Deleting the last rows and setting the head to the new last hash leaves a chain that is
    intact in itself: what is gone can only be told by what else the store has (outbox, hub).
    Moving only the head back, though, is caught."""
    assert_intact(app)
    tamper(app, update(META).where(META.c.key == AUDIT_HEAD).values(value=chain[-4]["hash"]))
    assert_broken(app, Kind.HEAD_MISMATCH, chain[-3]["seq"], chain[-3]["record_id"])


def test_a_deleted_head_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    tamper(app, delete(META).where(META.c.key == AUDIT_HEAD))
    assert_broken(app, Kind.HEAD_MISMATCH, None)


@pytest.mark.parametrize("distance", [1, 6])
def test_two_swapped_rows_are_a_reordering(app: App, chain: list[dict[str, Any]], distance: int) -> None:
    assert_intact(app)
    signed = signed_rows(chain)
    first, second = signed[5], signed[5 + distance]
    columns = [c.name for c in A.columns if c.name != "seq"]
    with app.store.engine.begin() as conn:       # record_id is unique: park one on the way
        conn.execute(update(A).where(A.c.seq == first["seq"]).values(record_id=str(uuid.uuid4())))
        conn.execute(update(A).where(A.c.seq == second["seq"]).values({c: first[c] for c in columns}))
        conn.execute(update(A).where(A.c.seq == first["seq"]).values({c: second[c] for c in columns}))
    report = assert_broken(app, Kind.REORDERED, first["seq"], second["record_id"])
    assert report.problem is not None and "reordered" in report.problem.message


@pytest.mark.parametrize("signature", ["absent", "foreign key"])
def test_an_inserted_forged_row_is_named(app: App, chain: list[dict[str, Any]], signature: str) -> None:
    assert_intact(app)
    signed = signed_rows(chain)
    before = signed[11]
    signer = foreign_signer(before["key_id"]) if signature == "foreign key" else None
    forged = forged_record(before, signer)
    with app.store.engine.begin() as conn:
        make_room(conn, before["seq"] + 1)
        conn.execute(A.insert().values(seq=before["seq"] + 1, **forged))
    assert_broken(app, Kind.INSERTED, before["seq"] + 1, forged["record_id"])


def test_an_inserted_row_with_the_chain_relinked_fails_its_signature(app: App,
                                                                   chain: list[dict[str, Any]]) -> None:
    """The strongest tamperer without the key: insert, relink and rehash everything after, move the
    head. The hash chain is perfect; only the signatures tell."""
    assert_intact(app)
    before = signed_rows(chain)[11]
    forged = forged_record(before, foreign_signer(before["key_id"]))
    with app.store.engine.begin() as conn:
        make_room(conn, before["seq"] + 1)
        conn.execute(A.insert().values(seq=before["seq"] + 1, **forged))
        rechain(conn, before["seq"] + 2, forged["hash"])
    report = assert_broken(app, Kind.BAD_SIGNATURE, before["seq"] + 1, forged["record_id"])
    assert report.problem is not None and "hash chain alone looks intact" in report.problem.message


def test_a_replayed_copy_of_a_row_is_an_insertion(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    original = signed_rows(chain)[6]
    copy = {k: v for k, v in original.items() if k != "seq"} | {"record_id": str(uuid.uuid4())}
    with app.store.engine.begin() as conn:
        make_room(conn, original["seq"] + 1)
        conn.execute(A.insert().values(seq=original["seq"] + 1, **copy))
    assert_broken(app, Kind.INSERTED, original["seq"] + 1, copy["record_id"])


@pytest.mark.parametrize("move_head", [False, True])
def test_an_appended_forged_row_is_named(app: App, chain: list[dict[str, Any]], move_head: bool) -> None:
    assert_intact(app)
    last = chain[-1]
    forged = forged_record(last, None)
    statements: list[Any] = [A.insert().values(seq=last["seq"] + 1, **forged)]
    if move_head:
        statements.append(update(META).where(META.c.key == AUDIT_HEAD).values(value=forged["hash"]))
    tamper(app, *statements)
    assert_broken(app, Kind.UNSIGNED if move_head else Kind.INSERTED, last["seq"] + 1, forged["record_id"])


def test_a_signature_by_another_key_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    victim = signed_rows(chain)[8]
    _, signature = foreign_signer(victim["key_id"])(victim["hash"])
    tamper(app, update(A).where(A.c.seq == victim["seq"]).values(signature=signature))
    report = assert_broken(app, Kind.BAD_SIGNATURE, victim["seq"], victim["record_id"])
    assert report.problem is not None and victim["key_id"] in report.problem.message


def test_a_signature_under_an_unknown_key_id_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    victim = signed_rows(chain)[8]
    key_id, signature = foreign_signer("ed25519:0123456789abcdef")(victim["hash"])
    tamper(app, update(A).where(A.c.seq == victim["seq"]).values(signature=signature, key_id=key_id))
    report = assert_broken(app, Kind.BAD_SIGNATURE, victim["seq"])
    assert report.problem is not None and "not one of this store's keys" in report.problem.message


def test_a_stripped_signature_is_named(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    victim = signed_rows(chain)[2]
    tamper(app, update(A).where(A.c.seq == victim["seq"]).values(signature=None, key_id=None))
    assert_broken(app, Kind.UNSIGNED, victim["seq"], victim["record_id"])


def test_an_edit_with_rehashed_chain_fails_its_signature(app: App, chain: list[dict[str, Any]]) -> None:
    assert_intact(app)
    victim = signed_rows(chain)[12]
    with app.store.engine.begin() as conn:
        conn.execute(update(A).where(A.c.seq == victim["seq"]).values(after={"name": "rewritten"}))
        prev = conn.execute(select(A.c.hash).where(A.c.seq < victim["seq"]).order_by(A.c.seq.desc())
                            .limit(1)).scalar_one()
        rechain(conn, victim["seq"], prev)
    assert_broken(app, Kind.BAD_SIGNATURE, victim["seq"], victim["record_id"])


def test_a_substituted_signing_key_is_not_trusted(app: App, chain: list[dict[str, Any]]) -> None:
    """Someone replaces the public key with their own and re-signs every record: the public key no
    longer matches the private key the master key wraps."""
    assert_intact(app)
    key_id = make_key(app)
    mine = Ed25519PrivateKey.generate()
    resign = KeySigner(key_id, mine)
    with app.store.engine.begin() as conn:
        conn.execute(update(META).where(META.c.key == audit.PUBLIC_PREFIX + key_id).values(
            value=base64.b64encode(mine.public_key().public_bytes_raw()).decode()))
        for r in signed_rows(chain):
            conn.execute(update(A).where(A.c.seq == r["seq"]).values(signature=resign(r["hash"])[1]))
    report = assert_broken(app, Kind.UNTRUSTED_KEY, None)
    assert report.problem is not None and key_id in report.problem.message


# -- stores whose first records predate the key ---------------------------------------------------
@pytest.fixture
def legacy(app: App) -> list[dict[str, Any]]:
    """A store as an older init left it: unsigned records, then the key, then signed records."""
    tamper(app, delete(A), delete(META).where(META.c.key.like("audit_%")))
    write_changes(app, 4, None)
    make_key(app)
    write_changes(app, 4, signer_for(app), start=10)
    everything = rows(app)
    assert [r["signature"] is None for r in everything] == [True] * 4 + [False] * 4
    return everything


def test_unsigned_history_adopted_by_the_key_verifies(app: App, legacy: list[dict[str, Any]]) -> None:
    report = assert_intact(app)
    assert report.unsigned_adopted == 4
    with app.store.readonly_engine.connect() as conn:
        adoption = json.loads(conn.execute(select(META.c.value).where(META.c.key == audit.ADOPTED)).scalar_one())
    assert adoption["head"] == legacy[3]["hash"]


def test_unsigned_records_after_the_adopted_head_are_refused(app: App, legacy: list[dict[str, Any]]) -> None:
    assert_intact(app)
    write_changes(app, 1, None, start=50)          # an unsigned writer after the key exists
    last = rows(app)[-1]
    assert_broken(app, Kind.UNSIGNED, last["seq"], last["record_id"])


def test_rewritten_unsigned_history_is_caught(app: App, legacy: list[dict[str, Any]]) -> None:
    assert_intact(app)
    with app.store.engine.begin() as conn:
        conn.execute(update(A).where(A.c.seq == legacy[1]["seq"]).values(actor_name="mallory"))
        rechain(conn, legacy[1]["seq"], legacy[0]["hash"])
        # put the head back where it was: only the unsigned part is rewritten, signed rows untouched
        for r in legacy[4:]:
            conn.execute(update(A).where(A.c.seq == r["seq"]).values(prev_hash=r["prev_hash"], hash=r["hash"]))
        conn.execute(update(META).where(META.c.key == AUDIT_HEAD).values(value=legacy[-1]["hash"]))
    assert_broken(app, Kind.EDITED, legacy[4]["seq"], legacy[4]["record_id"])


def test_a_forged_adoption_covers_nothing(app: App, legacy: list[dict[str, Any]]) -> None:
    assert_intact(app)
    tamper(app, update(META).where(META.c.key == audit.ADOPTED).values(value=json.dumps(
        {"keyId": legacy[-1]["key_id"], "head": legacy[3]["hash"], "signature": "AAAA"})))
    assert_broken(app, Kind.UNSIGNED, legacy[0]["seq"], legacy[0]["record_id"])


def test_an_empty_store_verifies(app: App) -> None:
    tamper(app, delete(A), delete(META).where(META.c.key == AUDIT_HEAD))
    report = assert_intact(app)
    assert report.records == 0 and report.head is None


# -- log -------------------------------------------------------------------------------------
def test_log_lists_newest_first_in_camel_case(app: App, chain: list[dict[str, Any]]) -> None:
    entries = audit.log(app, app.context(), limit=5)
    assert [e["seq"] for e in entries] == [r["seq"] for r in reversed(chain[-5:])]
    first = entries[0]
    assert set(first) == {"seq", "recordId", "occurredAt", "actor", "tenantId", "operation", "entityType",
                          "entityId", "before", "after", "hash", "keyId", "signed"}
    last = chain[-1]
    assert first["recordId"] == last["record_id"] and first["hash"] == last["hash"]
    assert first["actor"] == {"uuid": last["actor_uuid"], "userName": last["actor_name"]}
    assert first["after"] == last["after"] and first["signed"] is True
    assert first["occurredAt"] == last["occurred_at"].isoformat()
    json.dumps(entries)                             # JSON-ready as it stands


def test_log_filters_by_entity_and_tenant(app: App, chain: list[dict[str, Any]]) -> None:
    expected = [r["seq"] for r in reversed(chain) if r["entity_id"] == "thing-3"]
    assert len(expected) >= 2
    assert [e["seq"] for e in audit.log(app, app.context(), entity="thing-3")] == expected
    assert [e["seq"] for e in audit.log(app, app.context(), entity="thing-3", limit=1)] == expected[:1]
    assert audit.log(app, app.context(), entity="nothing-like-it") == []
    in_tenant = audit.log(app, app.context(), tenant=TENANT, limit=1000)
    assert {e["tenantId"] for e in in_tenant} == {TENANT}
    assert len(in_tenant) == sum(1 for r in chain if r["tenant_id"] == TENANT)


def test_log_refuses_a_bad_limit(app: App) -> None:
    from digitctl.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        audit.log(app, app.context(), limit=0)
    assert caught.value.code == "INVALID_LIMIT"


def test_genesis_is_the_first_link(app: App, chain: list[dict[str, Any]]) -> None:
    assert chain[0]["prev_hash"] == GENESIS

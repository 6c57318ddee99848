"""The hub's ingest through its services: enrolment codes, registration, push (duplicates,
conflicts, gaps, replayed batches, signatures, nonces, revoked counters, the audit chain)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from digitctl.bootstrap import App
from digitctl.errors import DigitError
from digitctl.services import hub_counters, hub_ingest
from local_store.models import AuditRecord, HubCounter, HubEvent
from tests.hub.conftest import enrol_and_register
from tests.hub.fake_counter import PUSH, FakeCounter


def _refused(fn: Any, *args: Any) -> DigitError:
    with pytest.raises(DigitError) as info:
        fn(*args)
    return info.value


def _counter_row(hub: App, code: str) -> Any:
    with hub.store.readonly_engine.connect() as conn:
        return conn.execute(select(HubCounter).where(HubCounter.code == code)).first()


def _events(hub: App, code: str) -> list[Any]:
    with hub.store.readonly_engine.connect() as conn:
        return list(conn.execute(select(HubEvent).where(HubEvent.counter_code == code).order_by(HubEvent.seq)).all())


# -- enrol ---------------------------------------------------------------------------------------
def test_enrol_hands_out_the_next_free_code_never_the_hubs_own(hub: App) -> None:
    first = hub_counters.enrol(hub, hub.context(), "pb.amritsar", "Amritsar counter 2")
    second = hub_counters.enrol(hub, hub.context(), "pb.jalandhar", "Jalandhar 1")
    # the hub store itself was initialised as counter C01: that code is never handed out
    assert (first["counterCode"], second["counterCode"]) == ("C02", "C03")
    assert first["enrolmentCode"] != second["enrolmentCode"]
    assert dt.datetime.fromisoformat(first["expiresAt"]) == hub.clock.now() + dt.timedelta(hours=24)
    row = _counter_row(hub, "C02")
    assert row.enrolment_hash == hub_counters.enrolment_hash(first["enrolmentCode"])
    assert first["enrolmentCode"] not in str(tuple(row))       # kept only as its hash
    with hub.store.readonly_engine.connect() as conn:
        ops = conn.execute(select(AuditRecord.operation).where(AuditRecord.entity_type == "HubCounter")).scalars().all()
    assert ops == [hub_counters.ENROL_ACTION] * 2


def test_enrol_refuses_an_unknown_tenant_and_writes_nothing(hub: App) -> None:
    err = _refused(hub_counters.enrol, hub, hub.context(), "pb.nowhere", "X")
    assert err.code == "INVALID_TENANTID"
    assert hub_counters.counters(hub, hub.context()) == []


# -- register ------------------------------------------------------------------------------------
def test_register_consumes_the_code_once(hub: App) -> None:
    code = hub_counters.enrol(hub, hub.context(), "pb.amritsar", "A2")["enrolmentCode"]
    counter = FakeCounter()
    answer = hub_ingest.register(hub, counter.register_body(code))
    assert answer["counterCode"] == "C02" and answer["tenantId"] == "pb.amritsar" and answer["nextSeq"] == 1
    assert answer["hubId"] == hub.store_meta("store_id")
    # a retry by the same store (its first answer lost) gets the same answer
    assert hub_ingest.register(hub, counter.register_body(code)) == answer
    # another store with the same code is refused
    assert _refused(hub_ingest.register, hub, FakeCounter().register_body(code)).code == "SYNC_ENROLMENT_CODE_USED"
    assert _refused(hub_ingest.register, hub, FakeCounter().register_body("NOPE-NOPE")).code \
        == "SYNC_ENROLMENT_CODE_INVALID"


def test_register_refuses_an_expired_code(hub: App) -> None:
    code = hub_counters.enrol(hub, hub.context(), "pb.amritsar", "A2")["enrolmentCode"]
    hub.clock.advance(hours=24, seconds=1)  # type: ignore[attr-defined]
    err = _refused(hub_ingest.register, hub, FakeCounter().register_body(code))
    assert (err.code, err.http_status) == ("SYNC_ENROLMENT_CODE_EXPIRED", 401)
    assert _counter_row(hub, "C02").registered_at is None


def test_register_refuses_a_store_that_issued_receipts_under_another_code(hub: App) -> None:
    code = hub_counters.enrol(hub, hub.context(), "pb.amritsar", "A2")["enrolmentCode"]
    err = _refused(hub_ingest.register, hub, FakeCounter().register_body(code, ["C02", "C07"]))
    assert (err.code, err.params["receiptCodes"]) == ("SYNC_COUNTER_CODE_CONFLICT", ["C07"])
    # its own code is fine
    assert hub_ingest.register(hub, FakeCounter().register_body(code, ["C02"]))["counterCode"] == "C02"


def test_register_refuses_a_head_not_signed_by_the_audit_keys(hub: App) -> None:
    code = hub_counters.enrol(hub, hub.context(), "pb.amritsar", "A2")["enrolmentCode"]
    body = FakeCounter().register_body(code)
    body["auditHead"]["hash"] = "f" * 64
    assert _refused(hub_ingest.register, hub, body).code == "SYNC_AUDIT_HEAD_INVALID"


def test_register_refuses_a_revoked_counter(hub: App) -> None:
    code = hub_counters.enrol(hub, hub.context(), "pb.amritsar", "A2")["enrolmentCode"]
    hub_counters.revoke(hub, hub.context(), "C02")
    err = _refused(hub_ingest.register, hub, FakeCounter().register_body(code))
    assert (err.code, err.http_status) == ("SYNC_COUNTER_REVOKED", 403)


# -- push ----------------------------------------------------------------------------------------
def test_push_stores_events_and_moves_the_counter(hub: App, counter: FakeCounter, push: Any) -> None:
    events = [counter.event() for _ in range(3)]
    counter.event()                      # written, not pushed yet: lag 1
    status, answer = push(counter, events, head_seq=4)
    assert status == 200
    assert answer["accepted"] == 3 and answer["duplicates"] == 0 and answer["nextSeq"] == 4
    rows = _events(hub, counter.code)
    assert [(r.seq, r.status) for r in rows] == [(1, "stored"), (2, "stored"), (3, "stored")]
    listed = hub_counters.counters(hub, hub.context())
    assert listed[0]["lastSequence"] == 3 and listed[0]["lag"] == 1 and listed[0]["clockSkewMs"] == 0
    assert _counter_row(hub, counter.code).audit_head["seq"] == events[-1]["audit"]["seq"]


def test_duplicates_are_acknowledged_not_stored_twice(hub: App, counter: FakeCounter, push: Any) -> None:
    events = [counter.event() for _ in range(3)]
    push(counter, events[:2])
    status, answer = push(counter, events)             # a new batch overlapping the first
    assert status == 200 and (answer["accepted"], answer["duplicates"], answer["nextSeq"]) == (1, 2, 4)
    assert len(_events(hub, counter.code)) == 3


def test_a_retried_batch_gets_its_first_response_replayed(hub: App, counter: FakeCounter, push: Any) -> None:
    events = [counter.event() for _ in range(2)]
    doc = counter.batch(events, counter.setup_records)
    first = hub_ingest.push(hub, counter.signed(PUSH, doc, hub.clock.now()))
    again = hub_ingest.push(hub, counter.signed(PUSH, doc, hub.clock.now()))
    assert again == first and first[1]["accepted"] == 2
    doc["events"] = doc["events"][:1]
    err = _refused(hub_ingest.push, hub, counter.signed(PUSH, doc, hub.clock.now()))
    assert (err.code, err.http_status) == ("SYNC_BATCH_ID_REUSED", 409)


def test_a_gap_is_refused_with_the_expected_sequence(hub: App, counter: FakeCounter, push: Any) -> None:
    events = [counter.event() for _ in range(4)]
    push(counter, events[:1])
    err = _refused(push, counter, events[2:], events[1]["audit"]["seq"])
    assert (err.code, err.http_status, err.params) == ("SYNC_SEQUENCE_GAP", 409, {"expected": 2})
    assert len(_events(hub, counter.code)) == 1


def test_a_conflicting_duplicate_refuses_the_batch_and_flags_the_counter(hub: App, counter: FakeCounter,
                                                                         push: Any) -> None:
    events = [counter.event() for _ in range(2)]
    push(counter, events)
    clone = dict(events[1], payload={"id": "x", "totalAmountPaid": "999.00"})
    err = _refused(push, counter, [clone])
    assert (err.code, err.http_status) == ("SYNC_CONFLICTING_DUPLICATE", 409)
    assert "SYNC_CONFLICTING_DUPLICATE" in _counter_row(hub, counter.code).flagged
    later = counter.event()
    err = _refused(push, counter, [later], events[1]["audit"]["seq"])
    assert (err.code, err.http_status) == ("SYNC_COUNTER_FLAGGED", 403)
    assert len(_events(hub, counter.code)) == 2


def test_a_revoked_counter_is_refused(hub: App, counter: FakeCounter, push: Any) -> None:
    hub_counters.revoke(hub, hub.context(), counter.code)
    err = _refused(push, counter, [counter.event()])
    assert (err.code, err.http_status) == ("SYNC_COUNTER_REVOKED", 403)
    assert _events(hub, counter.code) == []


def test_a_bad_signature_or_unknown_counter_is_unauthenticated(hub: App, counter: FakeCounter) -> None:
    doc = counter.batch([counter.event()], counter.setup_records)
    forged = counter.signed(PUSH, doc, hub.clock.now(), key=FakeCounter().request_key)
    err = _refused(hub_ingest.push, hub, forged)
    assert (err.code, err.http_status) == ("SYNC_UNAUTHENTICATED", 401)
    good = counter.signed(PUSH, doc, hub.clock.now())
    tampered = type(good)(good.method, good.path, good.headers, good.body.replace(b'"100.00"', b'"900.00"'))
    assert _refused(hub_ingest.push, hub, tampered).code == "SYNC_UNAUTHENTICATED"
    stranger = FakeCounter()
    stranger.code = "C99"
    assert _refused(hub_ingest.push, hub, stranger.signed(PUSH, doc, hub.clock.now())).code == "SYNC_UNAUTHENTICATED"
    assert _events(hub, counter.code) == []


def test_a_replayed_nonce_or_stale_timestamp_is_refused(hub: App, counter: FakeCounter) -> None:
    doc = counter.batch([counter.event()], counter.setup_records)
    req = counter.signed(PUSH, doc, hub.clock.now(), nonce="ab" * 16)
    assert hub_ingest.push(hub, req)[0] == 200
    err = _refused(hub_ingest.push, hub, req)
    assert (err.code, err.http_status) == ("SYNC_REPLAYED", 401)
    old = counter.signed(PUSH, doc, hub.clock.now() - dt.timedelta(minutes=6))
    assert _refused(hub_ingest.push, hub, old).code == "SYNC_REPLAYED"


def test_a_rewritten_audit_chain_is_refused_and_flagged(hub: App, counter: FakeCounter, push: Any) -> None:
    events = [counter.event() for _ in range(2)]
    push(counter, events[:1])
    # the counter's chain is rewritten under the hub: the next record does not follow the head
    doc = counter.batch(events[1:], events[0]["audit"]["seq"])
    doc["audit"][0]["prevHash"] = "0" * 64
    err = _refused(hub_ingest.push, hub, counter.signed(PUSH, doc, hub.clock.now()))
    assert (err.code, err.http_status) == ("SYNC_AUDIT_CHAIN_BROKEN", 409)
    assert "SYNC_AUDIT_CHAIN_BROKEN" in _counter_row(hub, counter.code).flagged
    assert len(_events(hub, counter.code)) == 1


def test_a_missing_audit_record_breaks_the_chain(hub: App, counter: FakeCounter, push: Any) -> None:
    events = [counter.event() for _ in range(2)]
    err = _refused(push, counter, events[1:2] and events, events[0]["audit"]["seq"])
    assert err.code == "SYNC_AUDIT_CHAIN_BROKEN"


def test_status_tells_the_counter_where_it_stands(hub: App, counter: FakeCounter, push: Any) -> None:
    push(counter, [counter.event()])
    answer = hub_ingest.status(hub, counter.signed(f"/sync/v1/counters/{counter.code}/_status", None,
                                                   hub.clock.now(), method="GET"))
    assert answer == {"counterCode": counter.code, "lastSequence": 1, "nextSeq": 2, "parked": [], "flagged": None}


def test_an_edited_record_breaks_the_chain(hub: App, counter: FakeCounter) -> None:
    events = [counter.event() for _ in range(3)]
    edited = counter.batch(events, counter.setup_records)
    edited["audit"][1]["after"] = {"totalAmountPaid": "1.00"}        # content changed, hash kept
    err = _refused(hub_ingest.push, hub, counter.signed(PUSH, edited, hub.clock.now()))
    assert err.code == "SYNC_AUDIT_CHAIN_BROKEN" and err.params == {"seq": events[1]["audit"]["seq"]}


def test_the_last_record_must_be_signed_by_the_counters_key(hub: App, counter: FakeCounter) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from digitctl.domain.audit_rules import RECORD_CONTEXT

    events = [counter.event() for _ in range(2)]
    doc = counter.batch(events, counter.setup_records)
    last = doc["audit"][-1]
    last["signature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(
        RECORD_CONTEXT + last["hash"].encode("ascii"))).decode()
    doc["events"][-1]["audit"] = last
    err = _refused(hub_ingest.push, hub, counter.signed(PUSH, doc, hub.clock.now()))
    assert err.code == "SYNC_AUDIT_CHAIN_BROKEN" and "signature" in err.message


def test_enrol_refuses_a_name_that_is_not_one(hub: App) -> None:
    assert _refused(hub_counters.enrol, hub, hub.context(), "pb.amritsar", "  ").code == "INVALID_COUNTER_NAME"


def test_register_refuses_a_body_without_a_usable_key(hub: App) -> None:
    code = hub_counters.enrol(hub, hub.context(), "pb.amritsar", "A2")["enrolmentCode"]
    body = FakeCounter().register_body(code)
    body["publicKey"] = "not a key"
    err = _refused(hub_ingest.register, hub, body)
    assert (err.code, err.http_status) == ("SYNC_INVALID_REQUEST", 400)
    assert _refused(hub_ingest.register, hub, b"[1, 2]").code == "SYNC_INVALID_REQUEST"
    assert _counter_row(hub, "C02").registered_at is None


def test_the_counters_clock_skew_is_kept(hub: App, counter: FakeCounter) -> None:
    doc = counter.batch([counter.event()], counter.setup_records)
    ahead = hub.clock.now() + dt.timedelta(minutes=2)         # the counter PC's clock runs 2 min fast
    assert hub_ingest.push(hub, counter.signed(PUSH, doc, ahead))[0] == 200
    assert hub_counters.counters(hub, hub.context())[0]["clockSkewMs"] == 120_000


def test_revoking_twice_keeps_the_first_time(hub: App, counter: FakeCounter) -> None:
    first = hub_counters.revoke(hub, hub.context(), counter.code)
    hub.clock.advance(hours=1)  # type: ignore[attr-defined]
    assert hub_counters.revoke(hub, hub.context(), counter.code) == first


def test_the_payload_is_not_kept_in_plain(hub: App, counter: FakeCounter, push: Any) -> None:
    from digitctl.services.hub_events import received_event

    ev = counter.event(payload={"id": "P9", "payerName": "Simran Kaur", "mobileNumber": "9876543210"})
    push(counter, [ev])
    row = _events(hub, counter.code)[0]
    # (the audit record travels as the counter keeps it: its values are the counter's business)
    stored = str({k: v for k, v in row.body.items() if k != "audit"})
    assert "Simran" not in stored and "9876543210" not in stored and "payload" not in row.body
    from sqlalchemy.orm import Session

    with hub.store.engine.connect() as conn, Session(bind=conn) as session:
        back = received_event(hub, session, row.body)
    assert back.payload == ev["payload"] and back.content_hash() == row.content_hash

"""The notifier on a real store: which events tell whom what, in which language; the texts and
addresses kept only as ciphertext; an interrupted SMTP send parked rather than repeated; the
file sink; events the hub applied for a counter not told twice; OTPs past an opt-out."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from digitctl.domain import notify_rules as rules
from digitctl.domain.events import Event
from digitctl.services import notify, notify_send, otp
from digitctl.services.notify_senders import FileSink, Outgoing, SendFailed, from_settings
from local_store.models import HubEvent, OutboxEvent
from local_store.models_notify import Notification, NotificationOptOut
from tests.helpers import act, new_tl, walk_to_pending_payment

pytest.importorskip("stamina", reason="stamina is not installed (the notifier's retries)")
POLICY = notify_send.Policy(retry_wait=0, backoff_seconds=0)


class Recorder:
    """A sender that keeps what it was given (idempotent by key, as a good gateway is)."""

    def __init__(self, name: str = "fake", idempotent: bool = True, fail: int = 0) -> None:
        self.name, self.idempotent, self.fail = name, idempotent, fail
        self.sent: dict[str, Outgoing] = {}
        self.calls = 0

    def send(self, msg: Outgoing) -> str:
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise SendFailed("down")
        self.sent.setdefault(msg.key, msg)
        return "id-" + msg.key[:6]


def rows(app) -> list[Any]:
    with app.uow(app.base_context(), readonly=True) as uow:
        n = Notification.__table__
        return list(uow.session.connection().execute(select(n).order_by(n.c.id)).all())


def texts(app, sender: Recorder, mobile: str) -> list[str]:
    return [m.body for m in sender.sent.values() if m.address == mobile]


def test_an_application_moving_tells_the_applicant_each_step(world_app):
    no = walk_to_pending_payment(world_app, mobile="9812300001")
    ctx = world_app.context()
    notify.plan(world_app, ctx)
    sms = Recorder()
    notify_send.send_due(world_app, ctx, {"sms": sms}, POLICY)
    got = texts(world_app, sms, "9812300001")
    assert [t.split(",")[0] for t in got] == ["Dear Simran Kaur"] * 2
    assert f"Trade License application {no} has been submitted" in got[0]
    assert f"application {no} is ready for payment" in got[1]
    # a rejected one: the comment travels in the text
    other = new_tl(world_app, mobile="9812300002")
    act(world_app, "clerk.amritsar", other, "APPLY")
    act(world_app, "verifier.amritsar", other, "REJECT", comment="licence documents missing")
    notify.plan(world_app, ctx)
    notify_send.send_due(world_app, ctx, {"sms": sms}, POLICY)
    assert texts(world_app, sms, "9812300002")[-1].startswith(
        f"Dear Simran Kaur, your Trade License application {other} has been rejected: licence documents missing")


def test_texts_and_addresses_are_ciphertext_and_each_event_is_composed_once(world_app, tmp_path):
    walk_to_pending_payment(world_app, mobile="9812300003")
    ctx = world_app.context()
    first = notify.plan(world_app, ctx)
    assert first >= 2 and notify.plan(world_app, ctx) == 0        # the cursor moved past them
    with world_app.uow(ctx) as uow:                                 # a cursor reset composes nothing twice
        uow.set_meta(notify.CURSOR, "0")
        uow.commit()
    assert notify.plan(world_app, ctx) == 0
    for r in rows(world_app):
        assert "|" in r.address_enc and "9812300003" not in r.address_enc and "Simran" not in r.body_enc
        assert "ready for payment" not in r.body_enc and "submitted" not in r.body_enc


def test_the_recipients_locale_and_an_otp_past_an_opt_out(world_app):
    ctx = world_app.context()
    no = new_tl(world_app, mobile="9812300004")
    with world_app.uow(ctx) as uow:                  # the applicant is a citizen who reads Punjabi
        from local_store.models import Application, UserAccount

        appl = uow.session.get(Application, no)
        assert appl is not None
        citizen = uow.session.execute(select(UserAccount).where(UserAccount.type == "CITIZEN")).scalars().first()
        assert citizen is not None
        appl.applicant_uuid = citizen.uuid
        citizen.locale = "pa_IN"
        uow.session.add(NotificationOptOut(user_uuid=citizen.uuid, channel="sms", created_at=ctx.now()))
        uow.commit()
    act(world_app, "clerk.amritsar", no, "APPLY")
    notify.plan(world_app, ctx)
    assert [r for r in rows(world_app) if r.event_type == "workflow.transitioned"] == []   # opted out of SMS
    mobile = "9876543210"
    otp.send(world_app, ctx, mobile, "pb", "login", locale="hi_IN")
    notify.plan(world_app, ctx)
    [row] = [r for r in rows(world_app) if r.event_type == "notification.sms"]
    assert row.locale == "hi_IN" and row.recipient == "mobile"
    sms = Recorder()
    notify_send.send_due(world_app, ctx, {"sms": sms}, POLICY)
    [text] = texts(world_app, sms, mobile)
    assert text.startswith("प्रिय नागरिक, आपका लॉगिन ओटीपी ") and "%s" not in text


def test_sla_breach_reaches_the_assignee_in_their_language(world_app):
    pi: dict[str, Any] = {"businessId": "PB-TL-X", "businessService": "NewTL", "tenantId": "pb.amritsar", "action": "ESCALATE",
          "state": {"state": "FIELDINSPECTION"}, "comment": "auto-escalated: 2.5 days past the state SLA"}
    ctx = world_app.context()
    with world_app.uow(ctx) as uow:
        from local_store.models import UserAccount

        emp = uow.session.execute(select(UserAccount).where(UserAccount.type == "EMPLOYEE",
                                                            UserAccount.mobile_enc.is_not(None))).scalars().first()
        assert emp is not None
        emp.locale = "hi_IN"
        pi["assignes"] = [{"uuid": emp.uuid}]
        uow.record(Event("workflow.transitioned", "pb.amritsar", "ProcessInstance", "PB-TL-X",
                         "/egov-workflow-v2/egov-wf/process/_transition", {"ProcessInstances": [pi]}))
        uow.commit()
        who = emp.uuid
    notify.plan(world_app, ctx)
    [row] = [r for r in rows(world_app) if r.recipient == f"assignee:{who}"]
    assert row.template_code == "DIGITCTL_NOTIF_SLA_BREACHED" and row.locale == "hi_IN"


def test_payment_intents_name_payer_and_owner_and_reversals():
    doc = {"tenantId": "pb.amritsar", "totalAmountPaid": "1350", "paymentMode": "CHEQUE", "instrumentNumber": "123456",
           "payerName": "k|p", "mobileNumber": "k|m", "paymentDetails": [{"receiptNumber": "R/1", "businessService": "TL",
                                                                        "bill": {"consumerCode": "TL-1", "payerName": "k|o",
                                                                                 "mobileNumber": "k|om"}}]}
    paid = rules.intents("collection.payment.created", {"Payments": [doc]})
    assert [(i.recipient, i.template) for i in paid] == [("payer", "DIGITCTL_NOTIF_PAYMENT_RECEIVED"),
                                                        ("owner", "DIGITCTL_NOTIF_PAYMENT_RECEIVED_OWNER")]
    assert paid[0].params["amount"] == "1,350.00" and paid[0].params["receiptNumber"] == "R/1"
    bounced = rules.intents("collection.payment.dishonoured", {"Payments": [doc]})
    assert {i.template for i in bounced} == {"DIGITCTL_NOTIF_CHEQUE_DISHONOURED"}
    cancelled = rules.intents("collection.payment.cancelled", {"Payments": [doc]})
    assert {i.template for i in cancelled} == {"DIGITCTL_NOTIF_RECEIPT_CANCELLED"}
    assert rules.intents("collection.receipt.printed", {"receiptNumber": "R/1"}) == []


def test_an_smtp_send_cut_off_is_parked_not_repeated_and_retry_sends_it(world_app):
    walk_to_pending_payment(world_app, mobile="9812300005")
    ctx = world_app.context()
    notify.plan(world_app, ctx)
    first = rows(world_app)[0]
    with world_app.uow(ctx) as uow:        # as a notifier killed between its intent and the answer leaves it
        uow.session.execute(update(Notification).where(Notification.id == first.id).values(status="sending"))
        uow.session.execute(update(Notification).where(Notification.id != first.id).values(status="sent"))
        uow.commit()
    smtp_like = Recorder("smtp", idempotent=False)
    assert notify_send.recover(world_app, ctx, {"sms": smtp_like}) == {"resent": 0, "parked": 1}
    assert notify_send.send_due(world_app, ctx, {"sms": smtp_like}, POLICY) == {}
    [row] = [r for r in rows(world_app) if r.id == first.id]
    assert row.status == "dead" and row.last_error is not None and row.last_error.startswith("NOTIFY_INTERRUPTED")
    assert notify_send.retry(world_app, ctx, first.id, {"sms": smtp_like}, POLICY)["status"] == "sent"
    assert smtp_like.calls == 1


def test_retries_back_off_then_die(world_app):
    walk_to_pending_payment(world_app, mobile="9812300006")
    ctx = world_app.context()
    notify.plan(world_app, ctx)
    down = Recorder(fail=100)
    slow = notify_send.Policy(retry_wait=0, backoff_seconds=600, tries_per_pass=2, max_attempts=3)
    notify_send.send_due(world_app, ctx, {"sms": down}, slow)
    after = rows(world_app)
    assert {r.status for r in after} == {"failed"} and {r.attempts for r in after} == {2}
    assert all(r.next_attempt_at is not None and r.next_attempt_at > ctx.now() for r in after)
    calls = down.calls
    notify_send.send_due(world_app, ctx, {"sms": down}, slow)       # the clock has not moved: not due
    assert down.calls == calls
    with world_app.uow(ctx) as uow:
        uow.session.execute(update(Notification).values(next_attempt_at=ctx.now()))
        uow.commit()
    notify_send.send_due(world_app, ctx, {"sms": down}, slow)
    assert {r.status for r in rows(world_app)} == {"dead"} and {r.attempts for r in rows(world_app)} == {3}


def test_file_sink_writes_each_message_once(tmp_path, world_app):
    senders = from_settings({"DIGIT_NOTIFY_FILE_DIR": str(tmp_path / "out")})
    assert isinstance(senders["sms"], FileSink) and senders["email"] is senders["sms"]
    walk_to_pending_payment(world_app, mobile="9812300007")
    ctx = world_app.context()
    notify.plan(world_app, ctx)
    notify_send.send_due(world_app, ctx, senders, POLICY)
    files = sorted((tmp_path / "out").glob("*.json"))
    assert len(files) == len(rows(world_app)) >= 2
    doc: dict[str, Any] = json.loads(files[0].read_text(encoding="utf-8"))
    assert doc["to"] == "9812300007" and doc["channel"] == "sms"
    assert (files[0].stat().st_mode & 0o777) == 0o600
    senders["sms"].send(Outgoing("sms", "9812300007", "", "again", doc["idempotencyKey"]))
    assert json.loads(files[0].read_text(encoding="utf-8"))["message"] == doc["message"]     # not rewritten


def test_an_event_the_hub_applied_for_a_counter_is_not_told_again(world_app):
    ctx = world_app.context()
    no = new_tl(world_app, mobile="9812300008")
    act(world_app, "clerk.amritsar", no, "APPLY")
    with world_app.uow(ctx) as uow:
        ev = uow.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "workflow.transitioned")
                                 .order_by(OutboxEvent.seq.desc())).scalars().first()
        assert ev is not None
        uow.session.add(HubEvent(counter_code="C07", seq=1, event_id="00000000-0000-0000-0000-000000000001",
                                 event_type=ev.event_type, tenant_id=ev.tenant_id, entity_type=ev.entity_type,
                                 entity_id=ev.entity_id, occurred_at=ev.occurred_at, received_at=ctx.now(),
                                 content_hash="0" * 64, body={}, status="applied"))
        uow.commit()
    notify.plan(world_app, ctx)
    assert [r for r in rows(world_app) if r.event_type == "workflow.transitioned"] == []


def test_bad_provider_settings_are_refused():
    from digitctl.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        from_settings({"DIGIT_SMS_GATEWAY_URL": "http://127.0.0.1:1/x", "DIGIT_SMS_RATE": "fast"})
    assert err.value.code == "INVALID_NOTIFY_CONFIG"


def test_an_otp_text_upserted_for_the_state_is_the_one_sent(world_app, tmp_path):
    from digitctl.services import localization_messages

    f = tmp_path / "otp.json"
    f.write_text(json.dumps({"tenantId": "pb", "messages": [{"code": "sms.login.otp.msg", "module": "egov-user",
                                                             "locale": "hi_IN", "message": "पंजाब: ओटीपी %s"}]},
                            ensure_ascii=False), encoding="utf-8")
    ctx = world_app.context()
    localization_messages.upsert(world_app, ctx, [f])
    otp.send(world_app, ctx, "9876543210", "pb", "login", locale="hi_IN")
    notify.plan(world_app, ctx)
    sms = Recorder()
    notify_send.send_due(world_app, ctx, {"sms": sms}, POLICY)
    [text] = texts(world_app, sms, "9876543210")
    assert text.startswith("पंजाब: ओटीपी ") and text[-6:].isdigit()


def test_sent_back_and_approved_once_paid(world_app):
    from digitctl.services import billing, collection, shifts
    from tests.helpers import AMRITSAR, ctx_as

    back = new_tl(world_app, mobile="9812300009")
    act(world_app, "clerk.amritsar", back, "APPLY")
    act(world_app, "verifier.amritsar", back, "FORWARD")
    act(world_app, "inspector.amritsar", back, "SENDBACK", comment="the shop's photo is unclear")
    paid = walk_to_pending_payment(world_app, mobile="9812300010")
    clerk = ctx_as(world_app, "clerk.amritsar")
    shifts.open_shift(world_app, clerk, "1000")
    [bill] = billing.fetch_bill(world_app, clerk, AMRITSAR, application_no=paid)
    doc = collection.pay(world_app, clerk, tenant_id=AMRITSAR, bill_id=bill["id"], mode="CASH",
                         amount=str(bill["totalAmount"]))
    receipt = doc["paymentDetails"][0]["receiptNumber"]
    ctx = world_app.context()
    notify.plan(world_app, ctx)
    sms = Recorder()
    notify_send.send_due(world_app, ctx, {"sms": sms}, POLICY)
    assert texts(world_app, sms, "9812300009")[-1] == (
        f"Dear Simran Kaur, your Trade License application {back} has been sent back for correction: "
        "the shop's photo is unclear - Amritsar")
    to_applicant = texts(world_app, sms, "9812300010")
    assert [t for t in to_applicant if receipt in t] == [    # one payment SMS: the payer is the owner
        f"Dear Simran Kaur, we have received Rs. {Decimal(str(doc['totalAmountPaid'])):,.2f} for Trade License "
        f"{bill['consumerCode']} by Cash. Receipt number: {receipt}. - Amritsar"]
    assert to_applicant[-1] == f"Dear Simran Kaur, your Trade License application {paid} has been approved. - Amritsar"


def test_an_event_that_cannot_be_composed_is_listed_dead_and_the_rest_go_on(world_app):
    ctx = world_app.context()
    with world_app.uow(ctx) as uow:
        good = world_app.keyring.encrypt(uow, "pb.amritsar", "9812300011")
        head, _, body = good.partition("|")
        broken = head + "|" + ("A" if body[0] != "A" else "B") + body[1:]      # tampered: does not decrypt
        doc = {"tenantId": "pb.amritsar", "totalAmountPaid": "10", "paymentMode": "CASH", "mobileNumber": broken,
               "paymentDetails": [{"receiptNumber": "R/BAD", "businessService": "TL", "bill": {}}]}
        uow.record(Event("collection.payment.created", "pb.amritsar", "Payment", "p-bad",
                         "/collection-services/payments/_create", {"Payments": [doc]}))
        uow.commit()
    act(world_app, "clerk.amritsar", new_tl(world_app, mobile="9812300012"), "APPLY")
    notify.plan(world_app, ctx)
    [dead] = [r for r in rows(world_app) if r.channel == notify.UNRESOLVED]
    assert dead.status == "dead" and dead.last_error.startswith("DECRYPTION_FAILED")
    assert any(r.status == "queued" and r.event_type == "workflow.transitioned" for r in rows(world_app))
    assert notify.plan(world_app, ctx) == 0                          # the cursor moved past it
    listed = notify_send.status(world_app, ctx)["Notifications"]
    assert [n["to"] for n in listed if n["id"] == dead.id] == [None]
    from digitctl.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        notify_send.retry(world_app, ctx, dead.id, {"sms": Recorder()}, POLICY)
    assert err.value.code == "NOTIFICATION_NOT_RETRYABLE"

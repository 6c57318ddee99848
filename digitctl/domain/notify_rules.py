"""Which outbox events become which messages, and the retry arithmetic (no store, no network).

An event is read into `Intent`s: a recipient role (payer, owner, applicant, assignee:<uuid>, mobile)
whose contact details are still references (ciphertext, a user uuid, an application number), a
template code of digitctl-notifications (DIGIT's style: `<1>` the name, `{receiptNumber}` ...)
and the template's parameters. The notify service resolves the references, picks the locale and
the channels, and composes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SMS, EMAIL = "sms", "email"
CHANNELS = (SMS, EMAIL)
STATUSES = ("queued", "sending", "sent", "failed", "dead")
SUBJECT_PAYMENT = "DIGITCTL_NOTIF_SUBJECT_PAYMENT"
SUBJECT_APPLICATION = "DIGITCTL_NOTIF_SUBJECT_APPLICATION"
SUBJECT_OTP = "DIGITCTL_NOTIF_SUBJECT_OTP"
ESCALATION_COMMENT = "auto-escalated:"        # workflow_escalation's comment on the transitions it makes


@dataclass(frozen=True)
class Contact:
    """Where a recipient's details are: ciphertext name / mobile / email, or a user uuid to read
    them (and the user's locale and opt-outs) from, or an application's applicant."""

    name_enc: str | None = None
    mobile_enc: str | None = None
    email_enc: str | None = None
    user_uuid: str | None = None
    application_no: str | None = None


@dataclass(frozen=True)
class Intent:
    recipient: str
    contact: Contact
    template: str
    subject: str
    params: dict[str, Any] = field(default_factory=dict)
    text_enc: str | None = None       # already composed (OTP: egov-user's text in the payload)
    locale: str | None = None         # given by the event (OTP), else the recipient's
    channels: tuple[str, ...] = CHANNELS
    transactional: bool = False       # an OTP ignores opt-outs: the citizen asked for it


def _amount(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def _payment_intents(payload: dict[str, Any], template: str) -> list[Intent]:
    payments = payload.get("Payments") or []
    if not payments or not isinstance(payments[0], dict):
        return []
    doc = payments[0]
    detail = (doc.get("paymentDetails") or [{}])[0]
    bill = detail.get("bill") or {}
    params = {"receiptNumber": detail.get("receiptNumber"), "amount": _amount(doc.get("totalAmountPaid")),
              "consumerCode": bill.get("consumerCode"), "businessService": detail.get("businessService"),
              "paymentMode": doc.get("paymentMode"), "instrumentNumber": doc.get("instrumentNumber") or "",
              "tenantId": doc.get("tenantId")}
    payer = Contact(name_enc=doc.get("payerName"), mobile_enc=doc.get("mobileNumber"), email_enc=doc.get("payerEmail"),
                    user_uuid=doc.get("payerId") if isinstance(doc.get("payerId"), str) else None)
    out = [Intent("payer", payer, template, SUBJECT_PAYMENT, params)]
    owner = Contact(name_enc=bill.get("payerName"), mobile_enc=bill.get("mobileNumber"),
                    email_enc=bill.get("payerEmail"))
    if template == "DIGITCTL_NOTIF_PAYMENT_RECEIVED":
        out.append(Intent("owner", owner, "DIGITCTL_NOTIF_PAYMENT_RECEIVED_OWNER", SUBJECT_PAYMENT, params))
    else:
        out.append(Intent("owner", owner, template, SUBJECT_PAYMENT, params))
    return out


def application_template(pi: dict[str, Any]) -> str | None:
    """The applicant's message for a workflow move, or None when the move says nothing to them."""
    action = str(pi.get("action") or "").upper()
    state = str((pi.get("state") or {}).get("state") or "").upper()
    if action.startswith("SENDBACK") or action in ("SENDBACKTOCITIZEN", "SEND_BACK"):
        return "DIGITCTL_NOTIF_APPLICATION_SENT_BACK"
    if action == "REJECT" or state == "REJECTED":
        return "DIGITCTL_NOTIF_APPLICATION_REJECTED"
    if state in ("PENDINGPAYMENT", "PENDING_PAYMENT"):
        return "DIGITCTL_NOTIF_APPLICATION_PAYMENT_PENDING"
    if action == "APPROVE" or state == "APPROVED":
        return "DIGITCTL_NOTIF_APPLICATION_APPROVED"
    if action in ("APPLY", "SUBMIT", "CREATE"):
        return "DIGITCTL_NOTIF_APPLICATION_SUBMITTED"
    return None


def _workflow_intents(payload: dict[str, Any]) -> list[Intent]:
    pis = payload.get("ProcessInstances") or []
    if not pis or not isinstance(pis[0], dict):
        return []
    pi = pis[0]
    params = {"applicationNumber": pi.get("businessId"), "businessService": pi.get("businessService"),
              "state": (pi.get("state") or {}).get("state"), "comment": pi.get("comment") or "",
              "tenantId": pi.get("tenantId")}
    if str(pi.get("comment") or "").startswith(ESCALATION_COMMENT):
        return [Intent(f"assignee:{a['uuid']}", Contact(user_uuid=a["uuid"]), "DIGITCTL_NOTIF_SLA_BREACHED",
                       SUBJECT_APPLICATION, params)
                for a in pi.get("assignes") or [] if isinstance(a, dict) and isinstance(a.get("uuid"), str)]
    template = application_template(pi)
    if template is None:
        return []
    return [Intent("applicant", Contact(application_no=str(pi.get("businessId"))), template, SUBJECT_APPLICATION,
                   params)]


def _otp_intents(payload: dict[str, Any]) -> list[Intent]:
    if not payload.get("mobileNumber") or not payload.get("message"):
        return []
    return [Intent("mobile", Contact(mobile_enc=payload["mobileNumber"]), str(payload.get("templateCode") or ""),
                   SUBJECT_OTP, {}, text_enc=payload["message"], locale=payload.get("locale"), channels=(SMS,),
                   transactional=True)]


def intents(event_type: str, payload: dict[str, Any]) -> list[Intent]:
    """What an outbox event asks to be told, to whom; [] for events no one is told about."""
    if event_type == "collection.payment.created":
        return _payment_intents(payload, "DIGITCTL_NOTIF_PAYMENT_RECEIVED")
    if event_type == "collection.payment.cancelled":
        return _payment_intents(payload, "DIGITCTL_NOTIF_RECEIPT_CANCELLED")
    if event_type == "collection.payment.dishonoured":
        return _payment_intents(payload, "DIGITCTL_NOTIF_CHEQUE_DISHONOURED")
    if event_type == "workflow.transitioned":
        return _workflow_intents(payload)
    if event_type == "notification.sms":
        return _otp_intents(payload)
    return []


def next_attempt(now: dt.datetime, attempts: int, base_seconds: float, cap_seconds: float = 3600.0) -> dt.datetime:
    """Exponential backoff between passes: base, 2x, 4x ... capped."""
    delay = min(cap_seconds, base_seconds * (2 ** max(0, attempts - 1)))
    return now + dt.timedelta(seconds=delay)


def masked_address(channel: str, address: str) -> str:
    """What status and preview show of an address: the last 4 digits, or the e-mail's domain."""
    if channel == EMAIL and "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return "*" * max(0, len(address) - 4) + address[-4:]

"""Counter slips as rows of text: the shift slip (open / status / close) and the bank deposit slip.

The shift slip is `services.shifts`' Shift document (the `Shift` of `-o json`): `shift_rows` gives
its label / value lines, `drawer_count_rows` the counted notes of a close (denomination, count,
amount; the total last). The deposit slip is `services.collection.remit`'s Remittance:
`deposit_rows` gives one line per instrument, the cash and the total, under `DEPOSIT_COLUMNS`.
Amounts print as Indian rupees (₹1,23,456.00), times in Indian Standard Time as on the receipts.
Every front door (CLI, TUI, hub) draws these rows; nothing here draws.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from digitctl.clock import IST
from digitctl.domain.money import format_inr

DEPOSIT_COLUMNS = ["receipt", "mode", "instrument", "bank", "amount"]


def _inr(value: Decimal | str | None) -> str:
    return "" if value in (None, "") else format_inr(value if isinstance(value, Decimal) else str(value))


def _when(instant: Any) -> str:
    """Counter time: Indian Standard Time, as on the receipts."""
    from digitctl.clock import people_time

    return people_time(instant)


# -- the shift slip ------------------------------------------------------------------------------

def shift_rows(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines of a shift: float, takings by mode, receipts, expected cash, and on a
    closed shift the counted cash and the variance."""
    rows = [("shift", doc["id"]), ("counter", doc["counterCode"]), ("tenant", doc["tenantId"]),
            ("status", doc["status"]), ("opened at", _when(doc["openedAt"])),
            ("float", _inr(doc["float"]))]
    if "cashCollected" in doc:
        rows.append(("cash collected", _inr(doc["cashCollected"])))
        rows += [(f"{m['paymentMode'].lower()} collected", _inr(m["amount"])) for m in doc["otherModes"]]
        apart = [f"{n} {what}" for n, what in ((doc["cancelledCount"], "cancelled"),
                                                (doc.get("dishonouredCount", 0), "dishonoured")) if n]
        rows.append(("receipts", str(doc["receiptCount"]) + (f" ({', '.join(apart)})" if apart else "")))
        rows.append(("expected cash", _inr(doc["expectedCash"])))
    if doc["status"] == "CLOSED" or doc.get("preview"):       # a close, or its preview (not closed yet)
        if doc.get("closedAt"):
            rows.append(("closed at", _when(doc["closedAt"])))
        rows += [("counted cash", _inr(doc["countedCash"])), ("variance", doc["varianceText"])]
    if doc.get("reopenedBy"):
        rows.append(("reopened by", f"{doc['reopenedBy']}: {doc.get('reopenReason') or ''}".strip()))
    if doc.get("note"):
        rows.append(("note", doc["note"]))
    if doc.get("auditHead"):
        rows.append(("audit head", doc["auditHead"]["short"]))
    return rows


DRAWER_COUNT_COLUMNS = ["denomination", "count", "amount"]


def drawer_count_rows(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The drawer as counted at the close (₹500 x 3 = ₹1,500.00 ...), the total last; [] before a close."""
    if not doc.get("denominations"):
        return []
    rows = [(f"₹{d['denomination']}", str(d["count"]), _inr(d["amount"])) for d in doc["denominations"]]
    rows.append(("total", "", _inr(doc["countedCash"])))
    return rows


# -- the deposit slip ----------------------------------------------------------------------------

def deposit_title(slip: dict[str, Any]) -> str:
    return f"Deposit slip {slip['slipNumber']}"


def deposit_rows(slip: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """One line per cheque / DD / other instrument, then the cash (how many receipts) and the total."""
    rows = [(i["receiptNumber"], i["paymentMode"], i["instrumentNumber"] or "", i["bankName"] or "", _inr(i["amount"]))
            for i in slip["instruments"]]
    rows.append(("cash", "CASH", f"{len(slip['cash']['receipts'])} receipts", "", _inr(slip["cashTotal"])))
    rows.append(("total", "", "", "", _inr(slip["total"])))
    return rows

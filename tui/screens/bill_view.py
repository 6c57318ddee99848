"""A bill as the counter shows it: who pays, for what, each tax head, period, due and expiry."""
from __future__ import annotations

import datetime as dt
from typing import Any

from digitctl.clock import IST
from tui.labels import inr, label


def day(ms: Any) -> str:
    if not isinstance(ms, (int, float)) or isinstance(ms, bool):
        return "-"
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=IST).strftime("%d/%m/%Y")


def bill_text(bill: dict[str, Any]) -> str:
    """Lines for a bill (markup escaped by the caller's Static: plain text)."""
    details = bill.get("billDetails") or []
    lines = [f"{label('TUI_CONSUMER_CODE', 'Consumer code')}: {bill.get('consumerCode')}   "
             f"{label('TUI_SERVICE', 'Service')}: {bill.get('businessService')}",
             f"{label('TUI_BILL_NO', 'Bill')}: {bill.get('billNumber')}   "
             f"{label('TUI_PAYER', 'Payer')}: {bill.get('payerName') or '-'}  {bill.get('mobileNumber') or ''}"]
    for d in details:
        lines.append(f"{label('TUI_PERIOD', 'Period')}: {day(d.get('fromPeriod'))} – {day(d.get('toPeriod'))}   "
                     f"{label('TUI_EXPIRY', 'Expires')}: {day(d.get('expiryDate'))}")
        heads = sorted(d.get("billAccountDetails") or [], key=lambda a: -int(a.get("order") or 0))
        for a in heads:
            code = str(a.get("taxHeadCode"))
            lines.append(f"  {label(code, code):<40} {inr(a.get('amount')):>16}")
    lines.append(f"  {label('TUI_TOTAL_DUE', 'Total due'):<40} {inr(bill.get('totalAmount')):>16}")
    return "\n".join(lines)

"""Is the store file sound? SQLite's own integrity check, money that must add up, and the
words every front door uses for a damaged file (STORE_DAMAGED, with how to restore)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from digitctl.errors import InvalidInput

if TYPE_CHECKING:
    from digitctl.ports import App

# what SQLite says when the file's pages are not a database any more (SQLITE_CORRUPT, SQLITE_NOTADB)
DAMAGE_MARKERS = ("database disk image is malformed", "file is not a database", "malformed database schema",
                  "database corruption", "disk i/o error")
RESTORE_HINT = ("restore the last backup: digitctl store restore FILE (take `digitctl store backup` of it daily); "
                "`digitctl store check` names what is wrong")


def damage_reason(err: BaseException) -> str | None:
    """The driver's words when `err` says the store file is damaged, else None."""
    for candidate in (getattr(err, "orig", None), err):
        if candidate is None:
            continue
        first = (str(candidate).strip().splitlines() or [""])[0]
        if any(marker in first.lower() for marker in DAMAGE_MARKERS):
            return first
    return None


def damaged(store_url: str, reason: str, problems: list[str] | None = None) -> InvalidInput:
    """STORE_DAMAGED (exit 2) naming the store and what is wrong, never a statement."""
    params: dict[str, Any] = {"store": store_url, "reason": reason}
    if problems:
        params["problems"] = problems[:5]
    return InvalidInput("STORE_DAMAGED", f"the store is damaged ({reason}); {RESTORE_HINT}", params)


def integrity_problems(app: "App", *, quick: bool = False) -> list[str]:
    """SQLite's PRAGMA integrity_check (or quick_check) as a list of problems (empty: sound).
    PostgreSQL keeps its own pages checksummed: nothing to ask here."""
    file = app.store.sqlite_file()
    if app.store.dialect != "sqlite" or (file is not None and not file.exists()):
        return []
    pragma = "quick_check" if quick else "integrity_check"
    try:
        raw = app.store.engine.raw_connection()
        try:
            rows = [str(r[0]) for r in raw.cursor().execute(f"PRAGMA {pragma}(20)").fetchall()]
        finally:
            raw.close()
    except Exception as err:             # the check itself cannot read the file
        reason = damage_reason(err)
        if reason is None:
            raise
        return [reason]
    return [] if rows == ["ok"] else rows


def require_sound(app: "App", *, quick: bool = True) -> None:
    """Refuse with STORE_DAMAGED when SQLite finds the file damaged."""
    problems = integrity_problems(app, quick=quick)
    if problems:
        raise damaged(app.store.display_url(), problems[0], problems)


@dataclass
class MoneyReport:
    """Money that must add up within the store: each payment's row and its DIGIT document, each
    closed shift's variance against its count."""

    payments: int = 0
    shifts: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"paymentsChecked": self.payments, "shiftsChecked": self.shifts, "problems": self.problems}


def _paise(value: Any) -> int | None:
    try:
        return int((Decimal(str(value)) * 100).to_integral_value())
    except (ArithmeticError, ValueError, TypeError):
        return None


def money(app: "App") -> MoneyReport:
    """Payments whose row amount is not their document's totalAmountPaid; closed shifts whose
    variance is not counted minus expected cash."""
    from sqlalchemy import select

    from local_store.models import Payment, Shift

    report = MoneyReport()
    with app.uow(app.base_context(), readonly=True) as uow:
        for p in uow.session.execute(select(Payment.receipt_number, Payment.amount_paid_paise, Payment.payment)):
            report.payments += 1
            doc = p.payment if isinstance(p.payment, dict) else {}
            if _paise(doc.get("totalAmountPaid")) != p.amount_paid_paise:
                report.problems.append({"code": "PAYMENT_AMOUNT_MISMATCH", "receiptNumber": p.receipt_number,
                                        "row": f"{Decimal(p.amount_paid_paise) / 100:.2f}",
                                        "document": str(doc.get("totalAmountPaid"))})
        for s in uow.session.execute(select(Shift.id, Shift.counted_cash_paise, Shift.expected_cash_paise,
                                            Shift.variance_paise).where(Shift.status == "CLOSED")):
            report.shifts += 1
            if None in (s.counted_cash_paise, s.expected_cash_paise, s.variance_paise) or \
                    s.counted_cash_paise - s.expected_cash_paise != s.variance_paise:
                report.problems.append({"code": "SHIFT_VARIANCE_MISMATCH", "shift": s.id,
                                        "variance": str(s.variance_paise), "counted": str(s.counted_cash_paise),
                                        "expected": str(s.expected_cash_paise)})
    return report

"""Collection's payment rules as plain Python: modes, instruments and typed amounts.

What each rule follows: collection-services `PaymentValidator` (the mode against the service's
`collectionModesNotAllowed`; `validateInstrument`: cheque / DD number and date, not in the future
and at most 90 days old, counted in IST; bank, branch and an IFSC of the form
^[A-Z]{4}0[A-Z0-9]{6}$), and the amount rules of `digitctl.domain.billing`. The refusal codes of
the payment services (taking a payment and its lifecycle) are here too: DIGIT's where it has one,
else ours.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from digitctl.domain import billing as bl
from digitctl.domain.money import format_inr, number
from digitctl.errors import InvalidInput

MODES = ("CASH", "CHEQUE", "DD", "OFFLINE_NEFT", "OFFLINE_RTGS", "POSTAL_ORDER", "CARD")
INSTRUMENT_MODES = ("CHEQUE", "DD")
DEPOSITED_MODES = ("CASH", "CHEQUE", "DD", "POSTAL_ORDER")     # what a deposit slip carries to the bank
REFERENCE_MODES = ("OFFLINE_NEFT", "OFFLINE_RTGS", "POSTAL_ORDER")   # carry a transaction / order number and date
# PaymentEnricher: these start DEPOSITED / REMITTED (the money reaches the bank by itself), so they
# are never on a deposit slip and cannot be cancelled (DIGIT cancels APPROVED payments only)
REMITTED_MODES = ("CARD",)
LIVE_INSTRUMENT_STATUSES = ("APPROVED", "APPROVAL_PENDING", "REMITTED")   # PaymentValidator: the bill is paid
MAX_INSTRUMENT_AGE_DAYS = 90
IFSC = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")

# refusal codes (DIGIT's where it has one, else ours)
E_BILL_NOT_FOUND = "BILL_NOT_FOUND"
E_BILL_EXPIRED = "BILL_EXPIRED"
E_BILL_PAID = "BILL_ALREADY_PAID"
E_BILL_CANCELLED = "BILL_CANCELLED"
E_MODE = "INVALID_PAYMENT_MODE"
E_MODE_NOT_ALLOWED = "PAYMENT_MODE_NOT_ALLOWED"
E_INSTRUMENT_NUMBER = "INVALID_INSTRUMENT_NUMBER"
E_INSTRUMENT_DATE = "INVALID_INSTRUMENT_DATE"
E_TXN_NUMBER = "INVALID_TXN_NUMBER"
E_BANK = "INVALID_BANK_DETAILS"
E_IFSC = "INVALID_IFSC"
E_MOBILE = "INVALID_MOBILE_NUMBER"
E_AMOUNT = "INVALID_AMOUNT"
E_PAYMENT_NOT_FOUND = "PAYMENT_NOT_FOUND"
E_NOT_LATEST = "PAYMENT_NOT_LATEST"
E_ALREADY_CANCELLED = "PAYMENT_ALREADY_CANCELLED"
E_ALREADY_DISHONOURED = "PAYMENT_ALREADY_DISHONOURED"
E_REMITTED = "PAYMENT_ALREADY_REMITTED"
E_REASON = "INVALID_CANCEL_REASON"
E_REMIT_MODE = "REMIT_MODE_NOT_ALLOWED"
E_REMIT_SHIFT_OPEN = "SHIFT_STILL_OPEN"
E_CANCEL_FORBIDDEN = "RECEIPT_CANCEL_NOT_AUTHORIZED"
E_DISHONOUR_FORBIDDEN = "RECEIPT_DISHONOUR_NOT_AUTHORIZED"
E_DISHONOUR_REASON = "INVALID_DISHONOUR_REASON"
E_DISHONOUR_MODE = "DISHONOUR_NOT_ALLOWED"
E_NOTHING_TO_REMIT = "NOTHING_TO_REMIT"


def check_mode(mode: str, not_allowed: tuple[str, ...] | list[str], service: str) -> str:
    m = (mode or "").strip().upper()
    if m not in MODES:
        raise InvalidInput(E_MODE, f"{mode!r} is not a payment mode taken at the counter: one of "
                           f"{', '.join(MODES)}", {"paymentMode": mode})
    if m in not_allowed:
        raise InvalidInput(E_MODE_NOT_ALLOWED, f"{service} bills cannot be paid by {m}: this service does not "
                           f"accept {', '.join(not_allowed)}", {"paymentMode": m, "businessService": service,
                                                              "collectionModesNotAllowed": list(not_allowed)})
    return m


def check_instrument(mode: str, today: dt.date, *, number_: str | None, date_: dt.date | None,
                     bank: str | None, branch: str | None, ifsc: str | None,
                     txn: str | None = None) -> str | None:
    """PaymentValidator.validateInstrument. Cheque / DD: number, date (not after today, at most 90
    days before, IST), bank, branch and IFSC. NEFT / RTGS / postal order: a reference number and
    a date not after today. Card: the transaction number and the card's instrument number. Cash:
    no transaction number (DIGIT numbers it). IFSC checked when given. Returns the normalised IFSC."""
    code = (ifsc or "").strip().upper() or None
    if mode == "CASH" and (txn or "").strip():
        raise InvalidInput(E_TXN_NUMBER, "a cash payment takes no --transaction-number: its transaction is "
                           "numbered by the counter", {"paymentMode": mode, "transactionNumber": txn})
    if mode == "CARD":
        if not (txn or "").strip():
            raise InvalidInput(E_TXN_NUMBER, "a card payment needs the card machine's transaction number "
                               "(--transaction-number)", {"paymentMode": mode})
        if not (number_ or "").strip():
            raise InvalidInput(E_INSTRUMENT_NUMBER, "a card payment needs the card's instrument number, e.g. its "
                               "last four digits (--instrument-number)", {"paymentMode": mode})
    if mode in INSTRUMENT_MODES:
        if not (number_ or "").strip():
            raise InvalidInput(E_INSTRUMENT_NUMBER, f"a {mode.lower()} payment needs the {mode.lower()} number "
                               "(--instrument-number)", {"paymentMode": mode})
        if not re.fullmatch(r"[0-9A-Za-z]{6,20}", number_.strip()):   # type: ignore[union-attr]
            raise InvalidInput(E_INSTRUMENT_NUMBER, f"{number_!r} is not a {mode.lower()} number (6 to 20 letters "
                               "or digits)", {"instrumentNumber": number_})
        if date_ is None:
            raise InvalidInput(E_INSTRUMENT_DATE, f"a {mode.lower()} payment needs the date written on it "
                               "(--instrument-date YYYY-MM-DD)", {"paymentMode": mode})
        if date_ > today:
            raise InvalidInput(E_INSTRUMENT_DATE, f"the {mode.lower()} is dated {date_.isoformat()}, after today "
                               f"({today.isoformat()}): a post-dated {mode.lower()} cannot be accepted",
                               {"instrumentDate": date_.isoformat(), "today": today.isoformat()})
        if (today - date_).days > MAX_INSTRUMENT_AGE_DAYS:
            raise InvalidInput(E_INSTRUMENT_DATE, f"the {mode.lower()} is dated {date_.isoformat()}, more than "
                               f"{MAX_INSTRUMENT_AGE_DAYS} days ago: it is stale and cannot be accepted",
                               {"instrumentDate": date_.isoformat(), "today": today.isoformat()})
        if not (bank or "").strip() or not (branch or "").strip():
            raise InvalidInput(E_BANK, f"a {mode.lower()} payment needs the bank name and branch (--bank, --branch)",
                               {"paymentMode": mode})
        if code is None:
            raise InvalidInput(E_IFSC, f"a {mode.lower()} payment needs the bank branch's IFSC (--ifsc)",
                               {"paymentMode": mode})
    elif mode in REFERENCE_MODES:
        if not (number_ or "").strip():
            raise InvalidInput(E_INSTRUMENT_NUMBER, f"a {mode} payment needs its transaction / order number "
                               "(--instrument-number)", {"paymentMode": mode})
        if date_ is None:
            raise InvalidInput(E_INSTRUMENT_DATE, f"a {mode} payment needs the date of the transfer / order "
                               "(--instrument-date YYYY-MM-DD)", {"paymentMode": mode})
        if date_ > today:
            raise InvalidInput(E_INSTRUMENT_DATE, f"the {mode} is dated {date_.isoformat()}, after today "
                               f"({today.isoformat()})", {"instrumentDate": date_.isoformat(),
                                                           "today": today.isoformat()})
    if code is not None and not IFSC.match(code):
        raise InvalidInput(E_IFSC, f"{ifsc!r} is not an IFSC: 4 letters, a zero, then 6 letters or digits "
                           "(e.g. PUNB0012300)", {"ifsc": ifsc})
    return code


# ASCII digits, either ungrouped or in Indian grouping (1,000 / 1,00,000 / 10,00,000.00: the last
# three digits, then twos), an optional fraction
_TYPED_AMOUNT = re.compile(r"-?(?:[0-9]+|[0-9]{1,2}(?:,[0-9]{2})*,[0-9]{3})(?:\.[0-9]+)?", re.ASCII)


def parse_amount(amount: str | Decimal | int) -> Decimal:
    """An amount as a clerk types it: ASCII digits, ungrouped or with commas in Indian grouping
    ("1,250", "1,25,000"), a decimal point. A comma anywhere else ("5,00", "1,0,0", "1,00,00")
    is a typo and refused, never read as ₹500 or ₹100; so are 1e3, 1_000 and other scripts'
    digits, which Decimal() would take. A fraction is judged on what was typed, before anything
    rounds it (500.001 is refused, not taken as 500)."""
    if isinstance(amount, str):
        text = amount.strip()
        if not _TYPED_AMOUNT.fullmatch(text):
            raise InvalidInput(E_AMOUNT, f"{amount!r} is not an amount of rupees: digits, grouped the Indian way "
                               "if at all (1250, 1,250, 1,25,000)", {"amount": amount})
        amount = Decimal(text.replace(",", ""))     # exact: the fraction check below sees what was typed
    try:
        value = number(amount)
    except (TypeError, ValueError):
        raise InvalidInput(E_AMOUNT, f"{amount!r} is not an amount of rupees", {"amount": str(amount)}) from None
    if value >= 0 and value != value.to_integral_value():
        raise InvalidInput(bl.E_AMT_FRACTION, f"{value} has paise: payments are in whole rupees",
                           {"amount": str(value)})
    return bl.validate_payment_amount(value)


def bill_fully_paid(bill: bl.Bill, advance_head: str | None) -> bool:
    """Every due line of the bill (the advance head aside) paid: the bill is PAID, else PARTIALLY_PAID."""
    return all(a.due <= 0 for d in bill.bill_details for a in d.account_details
               if not (a.purpose == bl.ADVANCE_PURPOSE or (advance_head and a.tax_head_code == advance_head)))


E_TENDERED = "INVALID_TENDERED_AMOUNT"


def change_due(tendered: str | Decimal | int | None, amount: str | Decimal | int, mode: str = "CASH") -> Decimal:
    """The change a cash payer gets back: what they handed over (`tendered`, typed as an amount
    is) less what they pay. Nothing typed is no change; a mode other than CASH has none to give,
    and notes that do not cover the amount are refused (the clerk must not take a short payment as
    paid): INVALID_TENDERED_AMOUNT, before anything is written. One rule for the CLI's
    `pay --tendered` and the TUI's "cash handed over"."""
    paid = parse_amount(amount)
    text = tendered.strip() if isinstance(tendered, str) else tendered
    if text in ("", None):
        return Decimal("0.00")
    if mode.strip().upper() != "CASH":
        raise InvalidInput(E_TENDERED, f"cash handed over is for cash: a {mode} payment has no change",
                           {"paymentMode": mode})
    try:
        given = parse_amount(text)
    except InvalidInput as err:
        raise InvalidInput(E_TENDERED, f"cash handed over: {err.message}", {"tendered": str(tendered)}) from None
    if given < paid:
        raise InvalidInput(E_TENDERED, f"cash handed over ({format_inr(given)}) is less than the amount paid "
                           f"({format_inr(paid)})",
                           {"tendered": str(given), "amount": str(paid)})
    return (given - paid).quantize(Decimal("0.01"))

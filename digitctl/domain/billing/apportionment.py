"""Payments against a bill: egov-apportion-service `OrderByPriority` (ApportionServiceV2's default)
with the amount checks of collection-services `ReceiptEnricher.validateTaxAndPayment` /
`ReceiptValidator`; see `apportion` for where it departs and why.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import NamedTuple

from digitctl.domain.billing.bill import Bill, BillAccountDetail, BillDetail
from digitctl.domain.billing.codes import (ADVANCE_PURPOSE, E_ADVANCE, E_AMT_FRACTION, E_AMT_NEGATIVE, E_AMT_ZERO,
                                           E_BILL_AMOUNT, E_NO_ADVANCE_HEAD, E_NO_DEMANDS, E_PART_PAYMENT)
from digitctl.domain.money import ZERO, MoneyLike, is_whole_rupees, money
from digitctl.errors import InvalidInput


# --- payments and apportionment --------------------------------------------------------------------

def validate_payment_amount(amount: MoneyLike, *, total_due: MoneyLike | None = None) -> Decimal:
    """Collection's amount rules: not negative, whole rupees (no fractional amounts), and zero only
    when the bill is zero. A bill total with paise is refused as DIGIT does (INVALID_BILL_AMOUNT):
    round-off lines exist so that bills are whole."""
    value = money(amount)
    if value < 0:
        raise InvalidInput(E_AMT_NEGATIVE, "Amount paid cannot be less than zero", {"amount": value})
    if not is_whole_rupees(value):
        raise InvalidInput(E_AMT_FRACTION, "Invalid amount entered in amountPaid field. Amount should be "
                           "greater than 0 and without fractions", {"amount": value})
    if total_due is not None:
        due = money(total_due)
        if not is_whole_rupees(due) or due < 0:
            raise InvalidInput(E_BILL_AMOUNT, "Invalid bill amount! Amount should be greater than or equal "
                               "to 0 and without fractions", {"totalDue": due})
        if value == 0 and due != 0:
            raise InvalidInput(E_AMT_ZERO, "Invalid amount paid, amount paid can only be 0 if bill amount "
                               "is also 0", {"amount": value, "totalDue": due})
    return value


class Allocation(NamedTuple):
    """One line of an apportionment: what part of the payment went to which account detail.
    Negative for rebates and advance credits used (they add to what can be paid), positive for
    dues paid and for the excess put on the advance head."""

    bill_detail: BillDetail
    account_detail: BillAccountDetail
    amount: Decimal


def _is_advance(account: BillAccountDetail, advance_tax_head: str | None) -> bool:
    return account.purpose == ADVANCE_PURPOSE or (advance_tax_head is not None
                                                  and account.tax_head_code == advance_tax_head)


def apportion(bill: Bill, amount: MoneyLike, *, advance_allowed: bool, advance_tax_head: str | None,
              part_payment_allowed: bool) -> list[Allocation]:
    """Share `amount` over the bill's account details.

    Follows egov-apportion-service OrderByPriority:
    1. bill details oldest period first (fromPeriod);
    2. with advance allowed, credits already on the advance head are used first, up to the dues;
    3. within a period the lines go by their amount, smallest first, and the tax head `order` only
       breaks ties (`egov.apportion.default.value.order=true`, DIGIT's shipped setting: "by value
       and order"; bill order after that): so negative lines (rebates, a negative round-off) are
       taken in full first, then the smallest dues; a positive line gets min(remaining, its due);
       a period is skipped when nothing is left to pay with;
    4. what remains goes to the advance head (`<SVC>_ADVANCE_CARRYFORWARD`) on the latest period.
    One departure, because DIGIT's loses money: periods whose own lines net to ≤ 0 are settled
    before the others (they need no cash), so a later period's rebate is never left behind while
    its surplus is needed (DIGIT skips such a period once the cash is spent, and a bill paid in
    full leaves an older period short).
    Refusals (collection-services codes): negative amount, zero amount on a non-zero bill, less
    than the total when part payment is not allowed, more than the total when advance is not
    allowed. No minimum: the BusinessService master's `minAmountPayable` reaches no v2 bill
    (BillServicev2 never sets one, PaymentEnricher copies only the part-payment, advance and
    collection-mode flags), so PaymentValidator's minimum check never fires in DIGIT."""
    value = money(amount)
    due = _payable(bill, advance_allowed=advance_allowed, advance_tax_head=advance_tax_head)
    _check_amount(bill, value, due.payable, advance_allowed=advance_allowed, advance_tax_head=advance_tax_head,
                  part_payment_allowed=part_payment_allowed)
    out = _use_credits(due.credits, due.credit_used)                  # 2.
    remaining = value + due.credit_used
    remaining = _settle_periods(due.details, remaining, advance_tax_head, out)   # 3.
    if remaining > 0:                                                 # 4.
        out.append(_excess_on_advance(due.details[-1], remaining, advance_tax_head))
    return out


class _Payable(NamedTuple):
    details: list[BillDetail]                              # oldest period first
    credits: list[tuple[BillDetail, BillAccountDetail]]    # advance credits usable (advance allowed)
    credit_used: Decimal                                   # the part of them the dues take
    payable: Decimal                                       # what is left for the payment to cover


def _payable(bill: Bill, *, advance_allowed: bool, advance_tax_head: str | None) -> _Payable:
    """Step 1 and the sums of step 2: the periods in order, the dues (every line but the advance
    head), the advance credits that go against them, and what the payment must cover."""
    details = sorted(bill.bill_details, key=lambda d: d.from_period)
    if not details:
        raise InvalidInput(E_NO_DEMANDS, f"bill {bill.id or bill.consumer_code} has no bill details")
    dues = sum((a.due for d in details for a in d.account_details
                if not _is_advance(a, advance_tax_head)), ZERO)
    if dues < 0:
        raise InvalidInput(E_BILL_AMOUNT, f"the bill's dues add up to {dues}: nothing can be apportioned",
                           {"totalAmount": dues})
    credits = [(d, a) for d in details for a in d.account_details
               if _is_advance(a, advance_tax_head) and a.due < 0] if advance_allowed else []
    credit_available = -sum((a.due for _, a in credits), ZERO)
    credit_used = min(credit_available, dues)
    return _Payable(details, credits, credit_used, dues - credit_used)


def _check_amount(bill: Bill, value: Decimal, payable: Decimal, *, advance_allowed: bool,
                  advance_tax_head: str | None, part_payment_allowed: bool) -> None:
    """collection-services' refusals of the amount against what the bill needs."""
    if value < 0:
        raise InvalidInput(E_AMT_NEGATIVE, "Amount paid cannot be less than zero", {"amount": value})
    if value == 0 and payable != 0:
        raise InvalidInput(E_AMT_ZERO, "Invalid amount paid, amount paid can only be 0 if bill amount is "
                           "also 0", {"amount": value, "totalAmount": payable})
    if value < payable:
        if not part_payment_allowed:
            raise InvalidInput(E_PART_PAYMENT, f"part payment is not allowed for {bill.business_service}: "
                               f"the amount paid must equal the bill amount {payable}",
                               {"amount": value, "totalAmount": payable})
    excess = value - payable if value > payable else ZERO
    if excess and not advance_allowed:
        raise InvalidInput(E_ADVANCE, f"advance payment is not allowed for {bill.business_service}: "
                           f"the amount paid {value} is more than the bill amount {payable}",
                           {"amount": value, "totalAmount": payable})
    if excess and not advance_tax_head:
        raise InvalidInput(E_NO_ADVANCE_HEAD, f"no ADVANCE_COLLECTION tax head for {bill.business_service}"
                           " to carry the excess", {"businessService": bill.business_service})


def _use_credits(credits: list[tuple[BillDetail, BillAccountDetail]], credit_used: Decimal) -> list[Allocation]:
    """Step 2: the advance credits, oldest first, as far as the dues need them (negative shares)."""
    out: list[Allocation] = []
    need = credit_used
    for detail, account in credits:
        use = min(-account.due, need)
        need -= use
        out.append(Allocation(detail, account, -use))
    return out


def _period_lines(detail: BillDetail, advance_tax_head: str | None) -> list[BillAccountDetail]:
    """A period's lines but the advance head, as OrderByPriority takes them: by value, then order."""
    lines = [a for a in detail.account_details if not _is_advance(a, advance_tax_head)]
    return sorted(lines, key=lambda a: (a.amount, a.order))


def _settle(detail: BillDetail, remaining: Decimal, advance_tax_head: str | None,
            out: list[Allocation]) -> Decimal:
    """One period: a negative line taken in full, a positive one min(remaining, its due); returns
    what remains."""
    for account in _period_lines(detail, advance_tax_head):
        due = account.due
        share = due if due < 0 else min(remaining, due)
        remaining -= share
        out.append(Allocation(detail, account, share))
    return remaining


def _settle_periods(details: list[BillDetail], remaining: Decimal, advance_tax_head: str | None,
                    out: list[Allocation]) -> Decimal:
    """Step 3: the self-settling periods (lines net to ≤ 0) first, then the others oldest first; a
    period is skipped (zero shares) once nothing is left to pay with. Returns what remains."""
    def net(detail: BillDetail) -> Decimal:
        return sum((a.due for a in _period_lines(detail, advance_tax_head)), ZERO)

    for detail in details:
        if net(detail) <= 0:
            remaining = _settle(detail, remaining, advance_tax_head, out)
    for detail in details:
        if net(detail) > 0:
            if remaining == 0:
                out.extend(Allocation(detail, a, ZERO) for a in _period_lines(detail, advance_tax_head))
            else:
                remaining = _settle(detail, remaining, advance_tax_head, out)
    return remaining


def _excess_on_advance(latest: BillDetail, remaining: Decimal, advance_tax_head: str | None) -> Allocation:
    """Step 4: the excess on the advance head of the latest period (its line, or a new one)."""
    existing = next((a for a in latest.account_details if _is_advance(a, advance_tax_head)), None)
    account = existing or BillAccountDetail(tax_head_code=advance_tax_head or "", amount=-remaining,
                                            is_actual_demand=False, purpose=ADVANCE_PURPOSE)
    return Allocation(latest, account, remaining)


def apply_apportionment(bill: Bill, allocations: Sequence[Allocation]) -> Bill:
    """The bill as collection-services stores it in the payment: adjustedAmount filled in, each
    detail's amountPaid, and the excess as advance credit on the latest detail (a new line with
    amount −excess, or more credit on the advance line already there, as OrderByPriority does)."""
    adjusted: dict[int, Decimal] = {}
    more_credit: dict[int, Decimal] = {}
    paid: dict[int, Decimal] = {}
    appended: dict[int, list[BillAccountDetail]] = {}
    for alloc in allocations:
        detail, account = alloc.bill_detail, alloc.account_detail
        paid[id(detail)] = paid.get(id(detail), ZERO) + alloc.amount
        member = any(a is account for a in detail.account_details)
        # only the excess is a positive share on a line that owes nothing (see apportion, step 4)
        if alloc.amount > 0 and (not member or account.due <= 0):
            if member:
                more_credit[id(account)] = more_credit.get(id(account), ZERO) + alloc.amount
            else:
                appended.setdefault(id(detail), []).append(account)
            continue
        adjusted[id(account)] = adjusted.get(id(account), ZERO) + alloc.amount

    details = []
    for detail in bill.bill_details:
        accounts = [replace(a, amount=a.amount - more_credit.get(id(a), ZERO),
                            adjusted_amount=a.adjusted_amount + adjusted.get(id(a), ZERO))
                    for a in detail.account_details]
        accounts.extend(appended.get(id(detail), ()))
        details.append(replace(detail, account_details=tuple(accounts),
                               amount_paid=(detail.amount_paid or ZERO) + paid.get(id(detail), ZERO)))
    return replace(bill, bill_details=tuple(details))


def payment_share(bill: Bill, allocations: Sequence[Allocation]) -> Bill:
    """The bill as one payment's receipt shows it: each line's adjustedAmount is what THIS payment
    put on it (a rebate negative, the excess on the advance line positive: money received), each
    detail's amountPaid this payment's part; the lines' amounts as apply_apportionment leaves them.
    A bill paid in parts keeps its running totals in the bill itself (apply_apportionment); a
    receipt must not show them, or its lines would not add up to what it was issued for."""
    after = apply_apportionment(bill, allocations)
    share: dict[int, Decimal] = {}
    for alloc in allocations:
        share[id(alloc.account_detail)] = share.get(id(alloc.account_detail), ZERO) + alloc.amount
    details = []
    for before, detail in zip(bill.bill_details, after.bill_details):
        n = len(before.account_details)
        accounts = [replace(a, adjusted_amount=share.get(id(before.account_details[i] if i < n else a), ZERO))
                    for i, a in enumerate(detail.account_details)]
        details.append(replace(detail, account_details=tuple(accounts),
                               amount_paid=sum((a.adjusted_amount for a in accounts), ZERO)))
    return replace(after, bill_details=tuple(details))


def bill_status_after(bill: Bill, paid: MoneyLike) -> str:
    """PAID when the payments cover the bill (a zero bill included), PARTIALLY_PAID when some but
    not all is paid, ACTIVE when nothing is."""
    value = money(paid)
    if value >= bill.total_amount:
        return "PAID"
    if value > 0:
        return "PARTIALLY_PAID"
    return "ACTIVE"

"""Bills: billing-service `BillServicev2.prepareBill` / `getBillDetailForDemand` /
`getExpiryDateForDemand`.

One bill per consumer code, one detail per demand, one account detail per tax head (amount =
tax − collected); a detail expires at 23:59:59 IST of the demand's `fixedBillExpiryDate` (when in
the future), else of now + the demand's `billExpiryTime` (when > 0), else of today. The business
service's `demandUpdateTime` plays no part (BillServicev2 never reads it).
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from digitctl.clock import IST
from digitctl.domain.billing.codes import (ADVANCE_PURPOSE, E_BILL_AMOUNT, E_MIXED_CONSUMERS, E_NO_DEMANDS,
                                           E_TAXHEADS_NOTFOUND)
from digitctl.domain.billing.demand import Demand
from digitctl.domain.billing.masters import BillingMasters, BusinessServiceConfig, TaxHead
from digitctl.domain.money import ZERO, money
from digitctl.errors import InvalidInput


# --- bills ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BillAccountDetail:
    tax_head_code: str
    amount: Decimal
    adjusted_amount: Decimal = ZERO
    order: int = 0
    is_actual_demand: bool = True
    purpose: str | None = None          # "ADVANCE" on the advance head
    demand_detail_id: str | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", money(self.amount))
        object.__setattr__(self, "adjusted_amount", money(self.adjusted_amount))

    @property
    def due(self) -> Decimal:
        return self.amount - self.adjusted_amount

    def to_digit(self, bill_detail_id: str | None = None, tenant_id: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "tenantId": tenant_id, "billDetailId": bill_detail_id,
                "demandDetailId": self.demand_detail_id, "order": self.order,
                "amount": self.amount, "adjustedAmount": self.adjusted_amount,
                "isActualDemand": self.is_actual_demand, "taxHeadCode": self.tax_head_code,
                "purpose": self.purpose}


@dataclass(frozen=True)
class BillDetail:
    from_period: int
    to_period: int
    expiry_date: int
    account_details: Sequence[BillAccountDetail]   # stored as a tuple
    demand_id: str | None = None
    id: str | None = None
    amount_paid: Decimal | None = None
    additional_details: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "account_details", tuple(self.account_details))

    @property
    def amount(self) -> Decimal:
        return sum((a.amount for a in self.account_details), ZERO)

    def to_digit(self, bill_id: str | None = None, tenant_id: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "tenantId": tenant_id, "billId": bill_id, "demandId": self.demand_id,
                "fromPeriod": self.from_period, "toPeriod": self.to_period,
                "expiryDate": self.expiry_date, "amount": self.amount, "amountPaid": self.amount_paid,
                "additionalDetails": self.additional_details,
                "billAccountDetails": [a.to_digit(self.id, tenant_id) for a in self.account_details]}


@dataclass(frozen=True)
class Bill:
    consumer_code: str
    business_service: str
    bill_details: Sequence[BillDetail]             # stored as a tuple
    bill_date: int
    id: str | None = None
    tenant_id: str | None = None
    bill_number: str | None = None
    status: str = "ACTIVE"
    payer_name: str | None = None
    mobile_number: str | None = None
    payer_address: str | None = None
    payer_email: str | None = None
    payer_id: str | None = None
    part_payment_allowed: bool = False
    is_advance_allowed: bool = False
    minimum_amount_to_be_paid: Decimal = ZERO
    collection_modes_not_allowed: tuple[str, ...] = ()
    additional_details: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bill_details", tuple(self.bill_details))

    @property
    def total_amount(self) -> Decimal:
        return sum((d.amount for d in self.bill_details), ZERO)

    @property
    def expiry_date(self) -> int:
        return min(d.expiry_date for d in self.bill_details)

    def is_expired(self, now: dt.datetime) -> bool:
        """collection-services refuses a bill once now ≥ expiryDate (BILL_EXPIRED)."""
        return _epoch_ms(now) >= self.expiry_date

    def to_digit(self) -> dict[str, Any]:
        return {"id": self.id, "tenantId": self.tenant_id, "billNumber": self.bill_number,
                "billDate": self.bill_date, "consumerCode": self.consumer_code,
                "businessService": self.business_service, "status": self.status,
                "totalAmount": self.total_amount, "payerName": self.payer_name,
                "mobileNumber": self.mobile_number, "payerAddress": self.payer_address,
                "payerEmail": self.payer_email, "payerId": self.payer_id,
                "partPaymentAllowed": self.part_payment_allowed,
                "isAdvanceAllowed": self.is_advance_allowed,
                "minimumAmountToBePaid": self.minimum_amount_to_be_paid,
                "collectionModesNotAllowed": list(self.collection_modes_not_allowed),
                "additionalDetails": self.additional_details,
                "billDetails": [d.to_digit(self.id, self.tenant_id) for d in self.bill_details]}


def _epoch_ms(value: dt.datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("an aware datetime is needed (the context's clock gives one)")
    return int(value.timestamp() * 1000)


def expiry_date(now: dt.datetime, period_ms: int | None, fixed_ms: int | None = None) -> int:
    """BillServicev2.getExpiryDateForDemand: a fixed expiry date still in the future wins; else
    now + period (when > 0); then 23:59:59 of that day, in IST (DIGIT's JVMs run in Asia/Kolkata).
    Java's Calendar.set keeps the current milliseconds; here they are 0, so the result does not
    depend on when within the second the bill was made."""
    now_ms = _epoch_ms(now)
    if fixed_ms is not None and fixed_ms > now_ms:
        moment = dt.datetime.fromtimestamp(fixed_ms / 1000, IST)
    elif period_ms is not None and period_ms > 0:
        moment = now.astimezone(IST) + dt.timedelta(milliseconds=period_ms)
    else:
        moment = now.astimezone(IST)
    end_of_day = moment.replace(hour=23, minute=59, second=59, microsecond=0)
    return _epoch_ms(end_of_day)


def _new_id() -> str:
    return str(uuid.uuid4())


def make_bill(demands: Iterable[Demand], tax_heads: Mapping[str, TaxHead], now: dt.datetime, *,
              service: BusinessServiceConfig | None = None,
              bill_number: str | None = None, new_id: Callable[[], str] = _new_id) -> Bill:
    """The bill of one consumer code: one BillDetail per ACTIVE, unsettled demand (oldest period
    first), one BillAccountDetail per tax head (repeated heads merged; amount = tax − collected),
    status ACTIVE. Each detail expires as its demand says (billExpiryTime / fixedBillExpiryDate),
    else at 23:59:59 IST today: BillServicev2.getExpiryDateForDemand."""
    billable = [d for d in demands if d.status == "ACTIVE" and not d.is_settled]
    if not billable:
        raise InvalidInput(E_NO_DEMANDS, "No Demands Found for the given bill generate criteria")
    codes = {(d.consumer_code, d.business_service) for d in billable}
    if len(codes) > 1:
        raise InvalidInput(E_MIXED_CONSUMERS, "one bill is made per consumer code and business service;"
                           f" got {sorted(codes)} (use make_bills)", {"consumerCodes": sorted(codes)})
    billable.sort(key=lambda d: (d.tax_period_from, d.tax_period_to))

    missing = sorted({x.tax_head_code for d in billable for x in d.details} - set(tax_heads))
    if missing:
        raise InvalidInput(E_TAXHEADS_NOTFOUND, f"No TaxHead masters found for give codes {missing}",
                           {"taxHeadMasterCodes": missing})

    details = []
    for demand in billable:
        merged: dict[str, BillAccountDetail] = {}
        for line in demand.details:
            head = tax_heads[line.tax_head_code]
            if head.code in merged:
                prior = merged[head.code]
                merged[head.code] = replace(prior, amount=prior.amount + line.balance)
            else:
                merged[head.code] = BillAccountDetail(
                    tax_head_code=head.code, amount=line.balance, order=head.order,
                    is_actual_demand=head.is_actual_demand,
                    purpose=ADVANCE_PURPOSE if head.is_advance else None,
                    demand_detail_id=line.id, id=new_id())
        accounts = sorted(merged.values(), key=lambda a: a.order)   # stable: first appearance breaks ties
        details.append(BillDetail(from_period=demand.tax_period_from, to_period=demand.tax_period_to,
                                  expiry_date=expiry_date(now, demand.bill_expiry_time,
                                                          demand.fixed_bill_expiry_date),
                                  account_details=tuple(accounts), demand_id=demand.id, id=new_id(),
                                  additional_details=demand.additional_details))

    first = billable[0]
    payer = first.payer or {}
    bill = Bill(consumer_code=first.consumer_code, business_service=first.business_service,
                bill_details=tuple(details), bill_date=_epoch_ms(now), id=new_id(),
                tenant_id=first.tenant_id, bill_number=bill_number, status="ACTIVE",
                payer_name=payer.get("name"), mobile_number=payer.get("mobileNumber"),
                payer_address=payer.get("permanentAddress"), payer_email=payer.get("emailId"),
                payer_id=payer.get("uuid"),
                part_payment_allowed=service.part_payment_allowed if service else False,
                is_advance_allowed=service.is_advance_allowed if service else False,
                minimum_amount_to_be_paid=sum((d.minimum_amount_payable for d in billable), ZERO),
                collection_modes_not_allowed=service.collection_modes_not_allowed if service else ())
    if bill.total_amount < 0:
        # BillServicev2 silently makes no bill when the amount is negative; say so instead.
        raise InvalidInput(E_BILL_AMOUNT, f"nothing is due on {first.consumer_code}: it holds ₹{-bill.total_amount} "
                           "in advance, which the next demand will use (a bill cannot be negative)",
                           {"totalAmount": bill.total_amount, "advance": -bill.total_amount})
    return bill


def make_bills(demands: Iterable[Demand], masters: BillingMasters, now: dt.datetime, *,
               new_id: Callable[[], str] = _new_id) -> list[Bill]:
    """One bill per (consumer code, business service), as BillServicev2 groups them, each with its
    service's part-payment / advance flags."""
    groups: dict[tuple[str, str], list[Demand]] = {}
    for d in demands:
        if d.status == "ACTIVE" and not d.is_settled:
            groups.setdefault((d.consumer_code, d.business_service), []).append(d)
    if not groups:
        raise InvalidInput(E_NO_DEMANDS, "No Demands Found for the given bill generate criteria")
    bills = []
    for (_, code), group in groups.items():
        config = masters.business_services.get(code)
        bills.append(make_bill(group, masters.tax_heads, now, service=config, new_id=new_id))
    return bills

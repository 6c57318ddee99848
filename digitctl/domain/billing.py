"""DIGIT billing as plain Python: masters, demands, bills, round-off, apportionment.

What each rule follows (egovernments/DIGIT-OSS, read for this module):

- Masters are `BillingService.TaxHeadMaster`, `TaxPeriod` and `BusinessService` from MDMS, parsed
  as the real data has them: `order` as "2" or 2, booleans as true or "true".
- `validate_demand` is billing-service `DemandValidatorV1.validatedemandForCreate` with the codes of
  billing-service `util/Constants.java` (misspellings included: they are what clients match on).
- `round_off` is tl-calculator `DemandService.addRoundOffTaxHead`: fraction > .5 adds 1 − f,
  < .5 adds −f, exactly .5 adds nothing; an earlier round-off line is netted out.
- `make_bill` is billing-service `BillServicev2.prepareBill` / `getBillDetailForDemand` /
  `getExpiryDateForDemand`: one bill per consumer code, one detail per demand, one account detail
  per tax head (amount = tax − collected); a detail expires at 23:59:59 IST of the demand's
  `fixedBillExpiryDate` (when in the future), else of now + the demand's `billExpiryTime` (when
  > 0), else of today. The business service's `demandUpdateTime` plays no part (BillServicev2
  never reads it).
- `apportion` is egov-apportion-service `OrderByPriority` (ApportionServiceV2's default) with the
  amount checks of collection-services `ReceiptEnricher.validateTaxAndPayment` /
  `ReceiptValidator`; see `apportion` for where it departs and why.

Amounts are `Decimal` via `digitctl.domain.money`; times are DIGIT's epoch milliseconds.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple

from digitctl.clock import IST
from digitctl.domain.money import ZERO, MoneyLike, is_whole_rupees, money
from digitctl.errors import InvalidInput

DEMAND_STATUSES = ("ACTIVE", "CANCELLED", "ADJUSTED")
ADVANCE_CATEGORY = "ADVANCE_COLLECTION"
ADVANCE_PURPOSE = "ADVANCE"

# billing-service util/Constants.java (spelling as DIGIT has it)
E_BUSINESSSERVICE_NOTFOUND = "EG_BS_BUSINESSSERVICE_NOTFOUND"
E_TAXHEADS_NOTFOUND = "EG_BS_TAXHEADS_NOTFOUND"
E_NO_TAXPERIODS = "EG_BS_TAXPERIODS_BUINESSSERVICE"
E_TAXPERIOD = "EG_BS_TAXPERIODS_DEMAND"
E_DEMAND_DETAIL = "EG_DEMAND_DEATIL_INVALID"
E_DUPLICATE = "EG_BS_DUPLICATE_CONSUMERCODE"
E_NO_DEMANDS = "EG_BS_BILL_NO_DEMANDS_FOUND"
# collection-services ReceiptEnricher / ReceiptValidator / PaymentValidator
E_AMT_NEGATIVE = "INVALID_AMT_PAID_NEG_CODE"
E_AMT_ZERO = "INVALID_AMOUNT"
E_PART_PAYMENT = "INVALID_AMT_PAID_CODE"
E_ADVANCE = "INVALID_AMT_PAID_ADV"
E_BILL_AMOUNT = "INVALID_BILL_AMOUNT"
# ours: DIGIT has no code for these (it uses egcl_0022, shared with a cheque-date error, for fractions)
E_AMT_FRACTION = "INVALID_AMT_PAID_FRACTION"
E_DEMAND_STATUS = "EG_BS_DEMAND_STATUS_INVALID"
E_NO_ADVANCE_HEAD = "EG_BS_ADVANCE_TAXHEAD_NOTFOUND"
E_MIXED_CONSUMERS = "EG_BS_BILL_CONSUMERCODES_MIXED"


# --- parsing DIGIT's loosely typed master values -------------------------------------------

def parse_bool(value: Any, default: bool = False) -> bool:
    """true / "true" / "TRUE" → True; missing → default. Anything else is a data error."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"not a boolean: {value!r}")


def parse_int(value: Any, default: int | None = None) -> int | None:
    """2 / "2" → 2 (DIGIT's TaxHeadMaster stores `order` as a string); missing → default."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(f"not an integer: {value!r}")


# --- masters ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaxHead:
    code: str
    service: str
    category: str
    name: str | None = None
    is_debit: bool = False
    is_actual_demand: bool = True
    order: int = 0
    is_required: bool = False

    @property
    def is_advance(self) -> bool:
        return self.category == ADVANCE_CATEGORY

    @classmethod
    def from_master(cls, row: Mapping[str, Any]) -> TaxHead:
        return cls(code=row["code"], service=row["service"], category=row.get("category") or "TAX",
                   name=row.get("name"), is_debit=parse_bool(row.get("isDebit")),
                   is_actual_demand=parse_bool(row.get("isActualDemand"), True),
                   order=parse_int(row.get("order"), 0) or 0,
                   is_required=parse_bool(row.get("isRequired")))


@dataclass(frozen=True)
class TaxPeriod:
    service: str
    code: str
    from_date: int
    to_date: int
    period_cycle: str | None = None
    financial_year: str | None = None

    def contains(self, from_ms: int, to_ms: int) -> bool:
        """DIGIT's test: the demand's [from, to] lies inside [fromDate, toDate]."""
        return from_ms >= self.from_date and to_ms <= self.to_date

    @classmethod
    def from_master(cls, row: Mapping[str, Any]) -> TaxPeriod:
        return cls(service=row["service"], code=row["code"], from_date=int(row["fromDate"]),
                   to_date=int(row["toDate"]), period_cycle=row.get("periodCycle"),
                   financial_year=row.get("financialYear"))


@dataclass(frozen=True)
class BusinessServiceConfig:
    """A `BillingService.BusinessService` master: what a bill of this service allows."""

    code: str
    business_service: str | None = None
    collection_modes_not_allowed: tuple[str, ...] = ()
    part_payment_allowed: bool = False
    is_advance_allowed: bool = False
    min_amount_payable: Decimal | None = None
    demand_update_time: int | None = None        # ms; kept as read: no bill expiry depends on it
    is_voucher_creation_enabled: bool = False
    is_bill_amendment_enabled: bool = False
    is_active: bool = True
    type: str | None = None

    @classmethod
    def from_master(cls, row: Mapping[str, Any]) -> BusinessServiceConfig:
        minimum = row.get("minAmountPayable")
        return cls(code=row["code"], business_service=row.get("businessService"),
                   collection_modes_not_allowed=tuple(row.get("collectionModesNotAllowed") or ()),
                   part_payment_allowed=parse_bool(row.get("partPaymentAllowed")),
                   is_advance_allowed=parse_bool(row.get("isAdvanceAllowed")),
                   min_amount_payable=None if minimum is None else money(str(minimum)),
                   demand_update_time=parse_int(row.get("demandUpdateTime")),
                   is_voucher_creation_enabled=parse_bool(row.get("isVoucherCreationEnabled")),
                   is_bill_amendment_enabled=parse_bool(row.get("isBillAmendmentEnabled")),
                   is_active=parse_bool(row.get("isActive"), True), type=row.get("type"))


@dataclass(frozen=True)
class BillingMasters:
    """The three BillingService masters of one tenant, indexed."""

    tax_heads: Mapping[str, TaxHead]
    tax_periods: tuple[TaxPeriod, ...]
    business_services: Mapping[str, BusinessServiceConfig]

    @classmethod
    def from_mdms(cls, tax_head_master: Iterable[Mapping[str, Any]],
                  tax_period: Iterable[Mapping[str, Any]],
                  business_service: Iterable[Mapping[str, Any]]) -> BillingMasters:
        heads: dict[str, TaxHead] = {}
        for row in tax_head_master:
            heads.setdefault(row["code"], TaxHead.from_master(row))   # first wins, as MDMS does
        services: dict[str, BusinessServiceConfig] = {}
        for row in business_service:
            services.setdefault(row["code"], BusinessServiceConfig.from_master(row))
        return cls(heads, tuple(TaxPeriod.from_master(r) for r in tax_period), services)

    def heads_of(self, service: str) -> dict[str, TaxHead]:
        return {c: h for c, h in self.tax_heads.items() if h.service == service}

    def periods_of(self, service: str) -> list[TaxPeriod]:
        return [p for p in self.tax_periods if p.service == service]

    def advance_tax_head(self, service: str) -> str | None:
        """The service's ADVANCE_COLLECTION head (PT_ADVANCE_CARRYFORWARD, WS_ADVANCE_CARRYFORWARD …),
        found as billing-service's ADVANCE_TAXHEAD_JSONPATH_CODE finds it."""
        for head in self.tax_heads.values():
            if head.service == service and head.is_advance:
                return head.code
        return None


# --- demands -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemandDetail:
    tax_head_code: str
    tax_amount: Decimal
    collection_amount: Decimal = ZERO
    id: str | None = None
    additional_details: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tax_amount", money(self.tax_amount))
        object.__setattr__(self, "collection_amount", money(self.collection_amount))

    @property
    def balance(self) -> Decimal:
        return self.tax_amount - self.collection_amount

    @classmethod
    def from_digit(cls, row: Mapping[str, Any]) -> DemandDetail:
        return cls(tax_head_code=row["taxHeadMasterCode"], tax_amount=_amount(row["taxAmount"]),
                   collection_amount=_amount(row.get("collectionAmount", 0)), id=row.get("id"),
                   additional_details=row.get("additionalDetails"))

    def to_digit(self, demand_id: str | None = None, tenant_id: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"taxHeadMasterCode": self.tax_head_code, "taxAmount": self.tax_amount,
                               "collectionAmount": self.collection_amount}
        if self.id:
            out["id"] = self.id
        if demand_id:
            out["demandId"] = demand_id       # DIGIT's DemandDetail names its demand and tenant
        if tenant_id:
            out["tenantId"] = tenant_id
        if self.additional_details is not None:
            out["additionalDetails"] = self.additional_details
        return out


@dataclass(frozen=True)
class Demand:
    consumer_code: str
    business_service: str
    tax_period_from: int
    tax_period_to: int
    details: Sequence[DemandDetail]           # stored as a tuple
    tenant_id: str | None = None
    minimum_amount_payable: Decimal = ZERO
    status: str = "ACTIVE"
    consumer_type: str | None = None
    payer: Mapping[str, Any] | None = None       # DIGIT's User: uuid, name, mobileNumber …
    id: str | None = None
    bill_expiry_time: int | None = None           # ms added to "now" when a bill is made
    fixed_bill_expiry_date: int | None = None     # epoch ms, wins when in the future
    additional_details: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", tuple(self.details))
        object.__setattr__(self, "minimum_amount_payable", money(self.minimum_amount_payable))
        if self.status not in DEMAND_STATUSES:
            raise InvalidInput(E_DEMAND_STATUS, f"demand status must be one of {', '.join(DEMAND_STATUSES)},"
                               f" not {self.status!r}", {"status": self.status})

    @property
    def total_tax(self) -> Decimal:
        return sum((d.tax_amount for d in self.details), ZERO)

    @property
    def total_collected(self) -> Decimal:
        return sum((d.collection_amount for d in self.details), ZERO)

    @property
    def balance(self) -> Decimal:
        return self.total_tax - self.total_collected

    @property
    def is_settled(self) -> bool:
        """Every line collected in full: DIGIT's isPaymentCompleted."""
        return all(d.balance == 0 for d in self.details)

    @classmethod
    def from_digit(cls, row: Mapping[str, Any]) -> Demand:
        return cls(consumer_code=row["consumerCode"], business_service=row["businessService"],
                   tax_period_from=int(row["taxPeriodFrom"]), tax_period_to=int(row["taxPeriodTo"]),
                   details=tuple(DemandDetail.from_digit(d) for d in row.get("demandDetails") or ()),
                   tenant_id=row.get("tenantId"),
                   minimum_amount_payable=_amount(row.get("minimumAmountPayable") or 0),
                   status=row.get("status") or "ACTIVE", consumer_type=row.get("consumerType"),
                   payer=row.get("payer"), id=row.get("id"),
                   bill_expiry_time=parse_int(row.get("billExpiryTime")),
                   fixed_bill_expiry_date=parse_int(row.get("fixedBillExpiryDate")),
                   additional_details=row.get("additionalDetails"))

    def to_digit(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tenantId": self.tenant_id, "consumerCode": self.consumer_code,
            "consumerType": self.consumer_type, "businessService": self.business_service,
            "payer": dict(self.payer) if self.payer is not None else None,
            "taxPeriodFrom": self.tax_period_from, "taxPeriodTo": self.tax_period_to,
            "demandDetails": [d.to_digit(self.id, self.tenant_id) for d in self.details],
            "minimumAmountPayable": self.minimum_amount_payable, "status": self.status,
            "billExpiryTime": self.bill_expiry_time, "additionalDetails": self.additional_details}
        if self.fixed_bill_expiry_date is not None:
            out["fixedBillExpiryDate"] = self.fixed_bill_expiry_date
        if self.id:
            out["id"] = self.id
        return out


def _amount(value: Any) -> Decimal:
    """A JSON amount: exact when parsed with parse_float=Decimal; a float from plain json.loads is
    accepted only through its shortest repr (str), which is what the sender wrote."""
    if isinstance(value, float):
        value = repr(value)
    return money(value)


# --- round-off -----------------------------------------------------------------------------------

HALF = Decimal("0.5")


def round_off_code(service: str) -> str:
    return f"{service}_ROUNDOFF"


def round_off(details: Iterable[DemandDetail], service: str, *, code: str | None = None) -> DemandDetail | None:
    """The `<SVC>_ROUNDOFF` line that makes the demand's total a whole number of rupees, or None.

    tl-calculator DemandService.addRoundOffTaxHead: f = total.remainder(1) over every line except
    the round-off head; f > .5 → +(1 − f); f < .5 → −f; f == .5 → nothing (x.50 stays x.50).
    Java's remainder keeps the sign, so −12.36 gets +0.36. Earlier round-off lines are subtracted
    so the net round-off is right after an update (DIGIT subtracts only the last one; all are
    subtracted here, which is the same when there is one)."""
    code = code or round_off_code(service)
    details = list(details)
    total = sum((d.tax_amount for d in details if d.tax_head_code.upper() != code.upper()), ZERO)
    previous = sum((d.tax_amount for d in details if d.tax_head_code.upper() == code.upper()), ZERO)
    fraction = total % 1          # Decimal % truncates like Java's BigDecimal.remainder
    adjustment = ZERO
    if fraction > HALF:
        adjustment = 1 - fraction
    elif fraction < HALF:
        adjustment = -fraction
    adjustment = money(adjustment - previous)
    if adjustment == 0:
        return None
    return DemandDetail(tax_head_code=code, tax_amount=adjustment, collection_amount=ZERO)


# --- demand validation -------------------------------------------------------------------------------

def validate_demand(demand: Demand, masters: BillingMasters, existing: Iterable[Demand] = ()) -> None:
    """Refuse a new demand as billing-service DemandValidatorV1 does, with its codes.

    Order of the checks: business service, tax heads, tax period, demand lines (a positive line's
    collection within [0, tax]; a negative line's collection 0 or the whole tax), duplicates (same
    consumer code, service and period among the ACTIVE demands). The payer is checked by the
    service (it needs the users): `EG_BS_USER_UUID_NOTFOUND`, `EG_BS_EMPLOYEE_UUID_NOTALLOWED`."""
    service = demand.business_service
    if service not in masters.business_services:
        raise InvalidInput(E_BUSINESSSERVICE_NOTFOUND,
                           f"No Business Service masters found for give codes [{service}]",
                           {"businessService": service})

    heads = masters.heads_of(service)
    unknown = sorted({d.tax_head_code for d in demand.details if d.tax_head_code not in heads})
    if unknown:
        foreign = {c: masters.tax_heads[c].service for c in unknown if c in masters.tax_heads}
        message = f"No TaxHead masters found for give codes {unknown}"
        if foreign:
            message += " of business service " + service + " (" + ", ".join(
                f"{c} belongs to {s}" for c, s in sorted(foreign.items())) + ")"
        raise InvalidInput(E_TAXHEADS_NOTFOUND, message, {"taxHeadMasterCodes": unknown,
                                                          "businessService": service})

    periods = masters.periods_of(service)
    if not periods:
        raise InvalidInput(E_NO_TAXPERIODS,
                           f"No Tax Periods Found for the given BusinessServices value of [{service}]",
                           {"businessService": service})
    if demand.tax_period_from > demand.tax_period_to or not any(
            p.contains(demand.tax_period_from, demand.tax_period_to) for p in periods):
        raise InvalidInput(E_TAXPERIOD,
                           f"No Tax Periods Found for the given demand with fromDate : "
                           f"{demand.tax_period_from} and toDate : {demand.tax_period_to}",
                           {"taxPeriodFrom": demand.tax_period_from, "taxPeriodTo": demand.tax_period_to})

    bad, lines = [], []
    for d in demand.details:
        tax, collected = d.tax_amount, d.collection_amount
        if tax >= 0 and (collected > tax or collected < 0):
            bad.append(d)
            lines.append(f"collection amount : {collected}, cannot not be greater than taxAmount or "
                         f"Negative in case of positive tax : {tax}")
        elif tax < 0 and collected != tax and collected != 0:
            # a negative line (rebate, advance credit) is either untouched or used in full
            bad.append(d)
            lines.append(f"collection amount : {collected}, should be equal to 'ZERO' or tax amount : {tax} "
                         "in case of negative Tax")
    if bad:
        raise InvalidInput(E_DEMAND_DETAIL, f"Invalid demand details found with following Values : {lines}",
                           {"taxHeadMasterCodes": [d.tax_head_code for d in bad]})

    for other in existing:
        if other is demand or (demand.id is not None and other.id == demand.id):
            continue
        if other.status != "ACTIVE":         # DemandQueryBuilder: only ACTIVE demands are duplicates
            continue
        if (other.consumer_code, other.business_service, other.tax_period_from, other.tax_period_to) == \
                (demand.consumer_code, service, demand.tax_period_from, demand.tax_period_to):
            raise InvalidInput(E_DUPLICATE,
                               "Demand already exists in the same period with the same businessService for"
                               f" the given consumercodes : [{demand.consumer_code}]",
                               {"consumerCode": demand.consumer_code, "businessService": service,
                                "existingDemandId": other.id})


def _is_advance_line(line: DemandDetail, masters: BillingMasters) -> bool:
    head = masters.tax_heads.get(line.tax_head_code)
    return head is not None and head.is_advance


def carry_advance(new: Demand, existing: Iterable[Demand], masters: BillingMasters) -> tuple[Demand, list[Demand]]:
    """The new demand with any advance the consumer code holds carried into it, and the earlier
    demands that gave it (changed); `(new, [])` when there is nothing to carry.

    billing-service DemandService.apportionAdvanceIfExist, for a service whose BusinessService
    master allows advance: the demands of the consumer code with an advance line not used up
    (tax ≠ collected) and the new one are apportioned as egov-apportion-service apportionDemands /
    OrderByPriority do with nothing paid: oldest period first; the advance credits are used up to
    the demands' positive totals (gross tax, as DIGIT counts it); that credit then pays the
    lines (negative lines taken in full, the rest by amount then tax head order, a demand skipped
    once nothing is left); what is left stays credit, as a new advance line on the latest demand.
    Departures, both where DIGIT loses credit: (1) DIGIT settles every line when the demands'
    *gross* taxes add up to 0 (₹500 paid + ₹800 credit + a new ₹300 demand: ₹500 of credit
    vanishes); here that shortcut is taken only when what is still owed (tax − collected) nets to
    0. (2) Where the latest demand already has an advance line DIGIT adds the leftover to that
    bucket's amount and then drops it (it copies back only collection amounts); here it is added
    to that line's tax. Refuses EG_BS_ADVANCE_TAXHEAD_NOTFOUND where
    the service allows advance, the consumer code has earlier demands and no ADVANCE_COLLECTION
    head exists (DIGIT: "NO TAXHEAD FOUND")."""
    service = new.business_service
    config = masters.business_services.get(service)
    earlier = [d for d in existing if d is not new and d.business_service == service
               and d.consumer_code == new.consumer_code]
    if config is None or not config.is_advance_allowed or not earlier:
        return new, []
    if masters.advance_tax_head(service) is None:
        raise InvalidInput(E_NO_ADVANCE_HEAD, f"No Advance taxHead found for businessService: {service}",
                           {"businessService": service})
    holders = [d for d in earlier if any(_is_advance_line(x, masters) and x.tax_amount != x.collection_amount
                                         for x in d.details)]
    if not holders:
        return new, []

    demands = sorted([*holders, new], key=lambda d: d.tax_period_from)       # stable, as Java's sort
    original = list(demands)
    new_at = next(i for i, d in enumerate(demands) if d is new)
    collected = [[x.collection_amount for x in d.details] for d in demands]
    taxes = [[x.tax_amount for x in d.details] for d in demands]
    gross = [sum(t, ZERO) for t in taxes]

    owed = sum((t - c for d_t, d_c in zip(taxes, collected) for t, c in zip(d_t, d_c)), ZERO)
    if owed == 0:                                  # the credits cover the dues exactly: all settled
        collected = [list(t) for t in taxes]
    else:
        total_positive = sum((g for g in gross if g > 0), ZERO)
        advance = ZERO                             # negative: the credit taken so far
        if total_positive > 0:
            for i, d in enumerate(demands):
                for j, line in enumerate(d.details):
                    if not _is_advance_line(line, masters):
                        continue
                    net = taxes[i][j] - collected[i][j]
                    if abs(advance + net) > total_positive:
                        diff = total_positive - abs(advance)
                        collected[i][j] -= diff
                        advance = -total_positive
                        break
                    advance += net
                    collected[i][j] = taxes[i][j]
        remaining = -advance
        for i, d in enumerate(demands):
            if remaining == 0:
                continue
            orders = [h.order if (h := masters.tax_heads.get(x.tax_head_code)) else 0 for x in d.details]
            keys = [(taxes[i][j], orders[j], j) for j in range(len(d.details))]
            for _, _, j in sorted(keys):                    # by value, then order (then as given)
                net = taxes[i][j] - collected[i][j]
                if net >= 0:
                    share = min(remaining, net)
                    collected[i][j] += share
                    remaining -= share
                elif not _is_advance_line(d.details[j], masters):
                    collected[i][j] += net
                    remaining -= net
        if remaining > 0:
            last = len(demands) - 1
            at = next((j for j, x in enumerate(demands[last].details) if _is_advance_line(x, masters)), None)
            if at is None:
                demands[last] = replace(demands[last], details=(*demands[last].details, DemandDetail(
                    masters.advance_tax_head(service) or "", -remaining, ZERO)))
                taxes[last].append(-remaining)
                collected[last].append(ZERO)
            else:
                taxes[last][at] -= remaining

    out = [replace(d, details=tuple(replace(x, tax_amount=taxes[i][j], collection_amount=collected[i][j])
                                    for j, x in enumerate(d.details)))
           for i, d in enumerate(demands)]
    carried = out[new_at]
    changed = [d for i, d in enumerate(out) if i != new_at and d.details != original[i].details]
    return carried, changed


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
    payable = dues - credit_used

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

    out: list[Allocation] = []
    remaining = value

    # 2. advance credits, oldest first, as far as the dues need them
    need = credit_used
    for detail, account in credits:
        use = min(-account.due, need)
        need -= use
        remaining += use
        out.append(Allocation(detail, account, -use))

    def period_lines(detail: BillDetail) -> list[BillAccountDetail]:
        lines = [a for a in detail.account_details if not _is_advance(a, advance_tax_head)]
        return sorted(lines, key=lambda a: (a.amount, a.order))     # OrderByPriority: value, then order

    def settle(detail: BillDetail) -> None:
        nonlocal remaining
        for account in period_lines(detail):
            due = account.due
            if due < 0:
                share = due
            else:
                share = min(remaining, due)
            remaining -= share
            out.append(Allocation(detail, account, share))

    def period_net(detail: BillDetail) -> Decimal:
        return sum((a.due for a in period_lines(detail)), ZERO)

    # 3. self-settling periods, then the others oldest first
    for detail in details:
        if period_net(detail) <= 0:
            settle(detail)
    for detail in details:
        if period_net(detail) > 0:
            if remaining == 0:
                out.extend(Allocation(detail, a, ZERO) for a in period_lines(detail))
            else:
                settle(detail)

    # 4. the excess on the advance head of the latest period
    if remaining > 0:
        latest = details[-1]
        existing = next((a for a in latest.account_details if _is_advance(a, advance_tax_head)), None)
        account = existing or BillAccountDetail(tax_head_code=advance_tax_head or "", amount=-remaining,
                                                is_actual_demand=False, purpose=ADVANCE_PURPOSE)
        out.append(Allocation(latest, account, remaining))
        remaining = ZERO
    return out


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

"""Demands: the Demand / DemandDetail of billing-service, round-off, validation and the advance carry.

- `validate_demand` is billing-service `DemandValidatorV1.validatedemandForCreate` with the codes of
  billing-service `util/Constants.java` (misspellings included: they are what clients match on).
- `round_off` is tl-calculator `DemandService.addRoundOffTaxHead`: fraction > .5 adds 1 − f,
  < .5 adds −f, exactly .5 adds nothing; an earlier round-off line is netted out.
- `carry_advance` is billing-service `DemandService.apportionAdvanceIfExist`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from digitctl.domain.billing.codes import (
    DEMAND_STATUSES, E_BUSINESSSERVICE_NOTFOUND, E_DEMAND_DETAIL, E_DEMAND_STATUS, E_DUPLICATE,
    E_NO_ADVANCE_HEAD, E_NO_TAXPERIODS, E_TAXHEADS_NOTFOUND, E_TAXPERIOD)
from digitctl.domain.billing.masters import BillingMasters, parse_int
from digitctl.domain.money import ZERO, money
from digitctl.errors import InvalidInput


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

    owed = sum((t - c for d_t, d_c in zip(taxes, collected) for t, c in zip(d_t, d_c)), ZERO)
    if owed == 0:                                  # the credits cover the dues exactly: all settled
        collected = [list(t) for t in taxes]
    else:
        credit = _take_credits(demands, taxes, collected, masters)
        remaining = _pay_with_credit(demands, taxes, collected, credit, masters)
        if remaining > 0:
            _leave_credit(demands, taxes, collected, remaining, masters.advance_tax_head(service) or "", masters)

    out = [replace(d, details=tuple(replace(x, tax_amount=taxes[i][j], collection_amount=collected[i][j])
                                    for j, x in enumerate(d.details)))
           for i, d in enumerate(demands)]
    carried = out[new_at]
    changed = [d for i, d in enumerate(out) if i != new_at and d.details != original[i].details]
    return carried, changed


def _take_credits(demands: list[Demand], taxes: list[list[Decimal]], collected: list[list[Decimal]],
                  masters: BillingMasters) -> Decimal:
    """The advance lines' credit, oldest first, up to the demands' positive gross totals (as DIGIT
    counts them); each advance line taken is marked collected (in `collected`). Returns the credit
    taken (positive)."""
    total_positive = sum((g for g in (sum(t, ZERO) for t in taxes) if g > 0), ZERO)
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
    return -advance


def _pay_with_credit(demands: list[Demand], taxes: list[list[Decimal]], collected: list[list[Decimal]],
                     remaining: Decimal, masters: BillingMasters) -> Decimal:
    """The credit pays the lines, oldest demand first: negative lines (not the advance head) in
    full, the rest by amount then tax head order; a demand is skipped once nothing is left.
    Returns the credit left over."""
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
    return remaining


def _leave_credit(demands: list[Demand], taxes: list[list[Decimal]], collected: list[list[Decimal]],
                  remaining: Decimal, advance_head: str, masters: BillingMasters) -> None:
    """What is left stays credit on the latest demand: more on its advance line, or a new one."""
    last = len(demands) - 1
    at = next((j for j, x in enumerate(demands[last].details) if _is_advance_line(x, masters)), None)
    if at is None:
        demands[last] = replace(demands[last], details=(*demands[last].details, DemandDetail(
            advance_head, -remaining, ZERO)))
        taxes[last].append(-remaining)
        collected[last].append(ZERO)
    else:
        taxes[last][at] -= remaining

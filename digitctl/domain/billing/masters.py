"""BillingService masters as DIGIT's MDMS has them: `TaxHeadMaster`, `TaxPeriod` and `BusinessService`,
parsed as the real data has them (`order` as "2" or 2, booleans as true or "true")."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from digitctl.domain.billing.codes import ADVANCE_CATEGORY
from digitctl.domain.money import money


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

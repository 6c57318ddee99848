"""The trade-licence fee calculator (DIGIT's tl-calculator): raises the NewTL licence fee demand.

`raise_tl_demand` runs when NewTL enters PENDINGPAYMENT: the licence fee from the
`TradeLicense.FeeRates` master (a digitctl master in DIGIT's MDMS layout: the real TradeType
records carry no fees), TL_TAX = rate × units plus TL_ROUNDOFF (tl-calculator
`DemandService.addRoundOffTaxHead`), stored through `services.billing` as a demand of the
application. `register()` hooks it with `workflow.on_enter`; `digitctl.bootstrap.register_modules`
calls it when an App is built, so every App has it (importing this module registers nothing).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import billing as bl
from digitctl.domain.money import money, number
from digitctl.errors import InvalidInput
from digitctl.services import billing, workflow
from local_store.models import Application
from local_store.models import Demand as DemandRow

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

TL_CALCULATE = "/tl-calculator/v1/_calculate"
FEE_MODULE, FEE_MASTER = "TradeLicense", "FeeRates"
TL_SERVICE, TL_TAX = "TL", "TL_TAX"


def with_round_off(demand: bl.Demand) -> bl.Demand:
    """The demand with its <SVC>_ROUNDOFF line (a calculator adds it; DemandService does not)."""
    line = bl.round_off(demand.details, demand.business_service)
    return demand if line is None else replace(demand, details=(*demand.details, line))


def _rate_for(records: list[dict[str, Any]], trade_type: str | None) -> tuple[dict[str, Any], str] | None:
    """The FeeRates record for a trade type: exact, then the longest dotted prefix
    (GOODS.RETAIL for GOODS.RETAIL.TST-4), then "*"."""
    by_type = {str(r.get("tradeType")): r for r in records if isinstance(r, dict) and r.get("tradeType")}
    if trade_type:
        parts = trade_type.split(".")
        for n in range(len(parts), 0, -1):
            hit = by_type.get(".".join(parts[:n]))
            if hit is not None:
                return hit, ".".join(parts[:n])
    if "*" in by_type:
        return by_type["*"], "*"
    return None


def period_for(periods: list[bl.TaxPeriod], now_ms: int) -> tuple[bl.TaxPeriod, bool]:
    """The period containing now, else the latest one; (period, contains_now)."""
    containing = [p for p in periods if p.from_date <= now_ms <= p.to_date]
    if containing:
        return containing[0], True
    return max(periods, key=lambda p: (p.to_date, p.from_date)), False


def raise_tl_demand(uow: "UnitOfWork", app: "App", ctx: "RequestContext", pi: dict[str, Any]) -> None:
    """On NewTL entering PENDINGPAYMENT: a TL demand (TL_TAX = rate × units, plus TL_ROUNDOFF) for
    the application, consumer code = application number, payer = the applicant.

    Does nothing when the tenant has no TradeLicense.FeeRates master at all (a store without the
    calculator's master); refuses the transition (TL_FEE_RATE_NOT_FOUND) when the master is there
    but has no rate for the trade type and no "*" record. Idempotent: an ACTIVE TL demand of the
    application already there is left alone."""
    s = uow.session
    appl = s.get(Application, pi.get("businessId"))
    if appl is None:
        return
    tenant = appl.tenant_id
    conn = s.connection()
    found_at, records = app.mdms.resolve(tenant, FEE_MODULE, FEE_MASTER, conn)
    if not records:
        return
    existing = s.execute(select(DemandRow.id).where(
        DemandRow.tenant_id == tenant, DemandRow.consumer_code == appl.application_no,
        DemandRow.business_service == TL_SERVICE, DemandRow.status == "ACTIVE")).first()
    if existing is not None:
        return
    details = appl.details or {}
    trade_type = details.get("tradeType")
    hit = _rate_for(records, trade_type)
    if hit is None:
        raise InvalidInput("TL_FEE_RATE_NOT_FOUND", f"no fee rate for trade type {trade_type!r} in "
                           f"{FEE_MODULE}.{FEE_MASTER} at {found_at} (and no \"*\" record)",
                           {"tradeType": trade_type, "tenantId": tenant})
    record, matched = hit
    try:
        rate = number(repr(record["rate"]) if isinstance(record.get("rate"), float) else record["rate"])
        units_raw = details.get("units", 1)
        units = number(repr(units_raw) if isinstance(units_raw, float) else units_raw)
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidInput("TL_FEE_RATE_INVALID", f"fee rate or units not a number: {err}",
                           {"tradeType": trade_type}) from None
    if units <= 0:
        raise InvalidInput("TL_FEE_RATE_INVALID", f"units must be positive, not {units}", {"units": str(units)})
    masters = billing.billing_masters(app, tenant, conn)
    periods = masters.periods_of(TL_SERVICE)
    if not periods:
        raise InvalidInput(bl.E_NO_TAXPERIODS, "No Tax Periods Found for the given BusinessServices value of [TL]",
                           {"businessService": TL_SERVICE})
    now = ctx.now()
    period, contains_now = period_for(periods, int(now.timestamp() * 1000))
    note = None if contains_now else (f"no TL tax period contains {now.date().isoformat()}: the latest, "
                                      f"{period.code} ({period.financial_year}), was used")
    demand = bl.Demand(
        consumer_code=appl.application_no, business_service=TL_SERVICE, tax_period_from=period.from_date,
        tax_period_to=period.to_date, tenant_id=tenant, consumer_type="TRADELICENSE",
        details=(bl.DemandDetail(tax_head_code=TL_TAX, tax_amount=money(rate * units)),),
        additional_details={"calculation": {"tradeType": trade_type, "rateFor": matched, "rate": str(rate),
                                            "units": str(units), "rateTenant": found_at},
                            "taxPeriod": {"code": period.code, "financialYear": period.financial_year,
                                          "containsNow": contains_now, **({"note": note} if note else {})}})
    demand = with_round_off(demand)
    bl.validate_demand(demand, masters, billing.existing_demands(s, tenant, demand.consumer_code, TL_SERVICE))
    payer = billing.StoredPayer(appl.applicant_uuid, appl.applicant_name_enc, appl.applicant_mobile_enc,
                        appl.applicant_mobile_bidx)
    billing.store_demand_in(uow, app, ctx, demand, payer, operation=TL_CALCULATE)


def register() -> None:
    """Hook the calculator on NewTL entering PENDINGPAYMENT (once, even on reload)."""
    if raise_tl_demand not in workflow._HOOKS.get(("NewTL", "PENDINGPAYMENT"), []):
        workflow.on_enter("NewTL", "PENDINGPAYMENT", raise_tl_demand)

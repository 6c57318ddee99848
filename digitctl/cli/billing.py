"""`digitctl demand create|list` and `digitctl bill fetch` (DIGIT billing-service v2)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from digitctl.cli.common import require_tenant

demand_app = typer.Typer(help="Demands: what a consumer owes a service for a tax period.", no_args_is_help=True)
bill_app = typer.Typer(help="Bills made from demands, as the counter fetches them.", no_args_is_help=True)

DEMAND_COLUMNS = ["id", "consumerCode", "service", "period", "taxHeads", "total", "collected", "status"]


def _date(ms: int | None) -> str:
    import datetime as dt

    from digitctl.clock import IST

    return dt.datetime.fromtimestamp(ms / 1000, IST).strftime("%Y-%m-%d") if ms else ""


def _when(ms: int | None) -> str:
    from digitctl.clock import people_time

    return people_time(int(ms), seconds=True, zone=False) if ms else ""


def _inr(value: Any) -> str:
    from digitctl.domain.money import format_inr, json_number

    return format_inr(json_number(value))


def _demand_rows(docs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    from decimal import Decimal

    from digitctl.domain.money import json_number

    rows = []
    for d in docs:
        lines = d.get("demandDetails") or []
        tax = sum((json_number(x["taxAmount"]) for x in lines), Decimal("0"))
        got = sum((json_number(x.get("collectionAmount") or 0) for x in lines), Decimal("0"))
        heads = ", ".join(f"{x['taxHeadMasterCode']} {_inr(x['taxAmount'])}" for x in lines)
        rows.append((d.get("id"), d["consumerCode"], d["businessService"],
                     f"{_date(d['taxPeriodFrom'])}..{_date(d['taxPeriodTo'])}", heads, _inr(tax), _inr(got),
                     d.get("status")))
    return rows


def _read_demands(path: Path) -> list[dict[str, Any]]:
    """{"Demands": [...]} (a whole request with RequestInfo too), or a bare list; amounts exact."""
    import sys

    from digitctl.domain.money import json_loads
    from digitctl.errors import InvalidInput

    if str(path) == "-":
        text = sys.stdin.read()
    else:
        if not path.is_file():
            raise InvalidInput("EG_BS_DEMAND_FILE", f"no such file {path}", {"file": str(path)})
        text = path.read_text(encoding="utf-8-sig")
    try:
        doc = json_loads(text)          # 1250.40 stays 1250.40: no float reaches money
    except ValueError as err:
        raise InvalidInput("EG_BS_DEMAND_FILE", f"{path}: not valid JSON: {err}", {"file": str(path)}) from None
    items = doc.get("Demands") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InvalidInput("EG_BS_DEMAND_FILE", f"{path}: expected {{\"Demands\": [...]}}", {"file": str(path)})
    return items


@demand_app.command("create")
def create(file: Path = typer.Option(..., "--file", "-f", help="{\"Demands\": [...]} as DIGIT's _create takes it ('-' = stdin).")) -> None:
    """Create demands (all or none) as DIGIT's demand/_create does; -o json prints {"Demands": [...]}.

    The lines are kept as given: no <SVC>_ROUNDOFF line is added (calculators add their own; a bill
    with paise cannot be paid). A payer given by uuid must be a user and not an employee; an
    advance the consumer code holds (services that allow advance) is carried into the new demand.
    """
    from digitctl.cli.output import emit, state
    from digitctl.services import billing
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    items = _read_demands(file)
    tenant = next((i.get("tenantId") for i in items if isinstance(i, dict) and i.get("tenantId")), None)
    docs = billing.create_demands(st.app, st.app.context(tenant), items)
    emit({"Demands": docs}, rows=_demand_rows(docs), columns=DEMAND_COLUMNS)


@demand_app.command("update")
def update(file: Path = typer.Option(..., "--file", "-f", help="{\"Demands\": [...]} as DIGIT's _update takes it ('-' = stdin).")) -> None:
    """Update demands (all or none) as DIGIT's demand/_update does: change a tax head's amount
    (a line named by its id), add a line (no id), or cancel a demand ("status": "CANCELLED", only
    with nothing collected). Consumer code, service and period stay; collections change only by
    payments. The consumer code's bill is expired; -o json prints {"Demands": [...]}."""
    from digitctl.cli.output import emit, state
    from digitctl.services import demand_update
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    items = _read_demands(file)
    tenant = next((i.get("tenantId") for i in items if isinstance(i, dict) and i.get("tenantId")), None)
    docs = demand_update.update_demands(st.app, st.app.context(tenant), items)
    emit({"Demands": docs}, rows=_demand_rows(docs), columns=DEMAND_COLUMNS)


@demand_app.command("list")
def list_cmd(tenant: str = typer.Option(None, "--tenant"),
             consumer_code: str = typer.Option(None, "--consumer-code"),
             service: str = typer.Option(None, "--service", help="Business service code, e.g. TL, PT.")) -> None:
    """Demands at a tenant, newest first (payer as your roles may see it)."""
    from digitctl.cli.output import emit, state
    from digitctl.services import billing
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = require_tenant(tenant)
    docs = billing.list_demands(st.app, st.app.context(t), t, consumer_code=consumer_code, business_service=service)
    emit({"Demands": docs}, rows=_demand_rows(docs), columns=DEMAND_COLUMNS)


BILL_COLUMNS = ["billNumber", "consumerCode", "service", "payer", "dues", "total", "expires"]


def _bill_rows(bills: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    from decimal import Decimal

    from digitctl.domain.money import json_number

    rows = []
    for b in bills:
        dues: dict[str, Decimal] = {}
        for d in b.get("billDetails") or []:
            for a in d.get("billAccountDetails") or []:
                dues[a["taxHeadCode"]] = dues.get(a["taxHeadCode"], Decimal("0")) + json_number(a["amount"])
        rows.append((b.get("billNumber"), b["consumerCode"], b["businessService"],
                     " ".join(x for x in (b.get("payerName"), b.get("mobileNumber")) if x),
                     ", ".join(f"{k} {_inr(v)}" for k, v in dues.items()), _inr(b["totalAmount"]),
                     _when(min((d["expiryDate"] for d in b.get("billDetails") or []), default=None))))
    return rows


@bill_app.command("fetch")
def fetch(tenant: str = typer.Option(None, "--tenant"),
          consumer_code: str = typer.Option(None, "--consumer-code"),
          service: str = typer.Option(None, "--service", help="Business service (with --consumer-code)."),
          mobile: str = typer.Option(None, "--mobile", help="Payer's mobile (blind index, no decryption)."),
          application: str = typer.Option(None, "--application", help="Application number (its consumer code).")) -> None:
    """The bill of a consumer code (made or reused as DIGIT's _fetchbill does); -o json prints {"Bill": [...]}."""
    from digitctl.cli.output import emit, state
    from digitctl.errors import InvalidInput
    from digitctl.services import billing
    from digitctl.services.store import require_initialized

    given = [x for x in (consumer_code, mobile, application) if x]
    if len(given) != 1:
        raise InvalidInput("EG_BS_FETCHBILL_CRITERIA",
                           "give one of --consumer-code X --service S, --mobile M, --application ID")
    if consumer_code and not service:
        raise InvalidInput("EG_BS_FETCHBILL_CRITERIA", "--consumer-code needs --service (TL, PT ...)")
    st = state()
    require_initialized(st.app)
    t = require_tenant(tenant)
    bills = billing.fetch_bill(st.app, st.app.context(t), t, consumer_code=consumer_code, business_service=service,
                               mobile=mobile, application_no=application)
    emit({"Bill": bills}, rows=_bill_rows(bills), columns=BILL_COLUMNS)

"""MDMS: search master data as DIGIT's `/egov-mdms-service/v1/_search` does (tenant fallback per
master, JSONPath filters) and show the master-config in force. Applying master data (idempotent,
reporting every defect) is `mdms_apply` / `mdms_write`; `apply`, `ApplyReport` and `TOTALS` are
re-exported here."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any


from digitctl.domain.tenancy import state_of
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from digitctl.services.mdms_apply import TOTALS, ApplyReport, MasterSummary, apply  # noqa: F401  (re-exported)
from digitctl.services.mdms_reader import MASTER_CONFIG_SOURCE
from digitctl.services.mdms_write import APPLY_ACTION  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

SEARCH_ACTION = "/egov-mdms-service/v1/_search"


# -- search -----------------------------------------------------------------------------------
def _filter(records: list[Any], expression: str) -> list[Any]:
    import jsonpath

    expr = expression.strip()
    if expr.startswith("["):
        expr = "$" + expr
    elif expr.startswith("."):
        expr = "$" + expr
    elif not expr.startswith("$"):
        expr = "$." + expr
    try:
        return list(jsonpath.findall(expr, records))
    except Exception as err:
        raise InvalidInput("MDMS_INVALID_FILTER", f"filter {expression!r} is not a JSONPath DIGIT accepts: {err}",
                           {"filter": expression}) from None


INVALID_TENANT = "Invalid_tenantId.MdmsCriteria.tenantId"


def search(app: "App", ctx: "RequestContext", tenant_id: str, module: str,
           masters: list[str] | None = None, filter_expr: str | None = None) -> dict[str, Any]:
    """DIGIT's MdmsRes: {"MdmsRes": {module: {master: [records]}}}, answered by DIGIT's rule
    (MDMSService.searchMaster): a state-level master from the state's records, any other from the
    tenant's own; a master nobody gives is left out, and so is a module neither the tenant nor its
    state has. A tenant no applied file names is Invalid_tenantId, as in DIGIT."""
    authorize(app, ctx, SEARCH_ACTION, tenant_id)
    if not tenant_id:
        raise InvalidInput("INVALID_TENANTID", "a tenant is needed (--tenant pb.amritsar)")
    known = app.mdms.known_tenants()
    if tenant_id not in known or state_of(tenant_id) not in known:
        raise InvalidInput(INVALID_TENANT, "Invalid Tenant Id",
                           {"tenantId": tenant_id, "hint": "no applied MDMS file names this tenant"})
    if not app.mdms.has_module(tenant_id, module):
        return {"MdmsRes": {}}
    if not masters:
        masters = app.mdms.modules_at(tenant_id, module)
    result: dict[str, list[Any]] = {}
    for master in masters:
        served_at, records = app.mdms.resolve(tenant_id, module, master)
        if served_at is None:
            continue
        if filter_expr:
            records = _filter(records, filter_expr)
        result[master] = records
    return {"MdmsRes": {module: result}}


def master_config(app: "App", ctx: "RequestContext") -> dict[str, Any]:
    """`mdms config`: the master-config in force and where it came from."""
    authorize(app, ctx, SEARCH_ACTION, app.state_tenant)
    return {"source": app.store_meta(MASTER_CONFIG_SOURCE) or "bundled (configs/mdms/master-config.json)",
            "masterConfig": app.mdms.config().doc}

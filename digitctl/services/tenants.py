"""Tenants (state and cities) from the `tenant.tenants` master, boundaries from
`egov-location.TenantBoundary` (REVENUE / ADMIN hierarchies: City -> Zone -> Block -> Locality)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain.tenancy import state_of
from digitctl.errors import NotFound
from digitctl.services.access import authorize
from local_store.models import MdmsRecord

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext

TENANT_SEARCH = "/egov-mdms-service/v1/_search"
BOUNDARY_SEARCH = "/egov-location/location/v11/boundarys/_search"


def list_tenants(app: "App", ctx: "RequestContext") -> list[dict[str, Any]]:
    """Every tenant the loaded `tenant.tenants` masters declare (state first, then cities)."""
    authorize(app, ctx, TENANT_SEARCH, ctx.tenant_id)
    with app.store.readonly_engine.connect() as conn:
        rows = conn.execute(select(MdmsRecord.data).where(
            MdmsRecord.module == "tenant", MdmsRecord.master == "tenants", MdmsRecord.is_active.is_(True))
            .order_by(MdmsRecord.tenant_id, MdmsRecord.position)).scalars().all()
    seen: dict[str, dict[str, Any]] = {}
    for rec in rows:
        if isinstance(rec, dict) and isinstance(rec.get("code"), str):
            seen.setdefault(rec["code"], rec)
    return sorted(seen.values(), key=lambda t: (t["code"].count("."), t["code"]))


def get_tenant(app: "App", ctx: "RequestContext", code: str) -> dict[str, Any]:
    authorize(app, ctx, TENANT_SEARCH, code)
    for rec in app.mdms.master(state_of(code), "tenant", "tenants"):
        if isinstance(rec, dict) and rec.get("code") == code:
            return rec
    raise NotFound("INVALID_TENANTID", f"tenant {code!r} is not in the tenant.tenants master; "
                   "apply the state's MDMS first (digitctl mdms apply)", {"tenantId": code})


def tenant_details(app: "App", ctx: "RequestContext", code: str) -> dict[str, Any]:
    """The tenant record plus its tenantInfo and which hierarchies have boundaries."""
    tenant = get_tenant(app, ctx, code)
    info = [r for r in app.mdms.at_state(code, "tenant", "tenantInfo")
            if isinstance(r, dict) and r.get("code") == code]
    hierarchies = [b.get("hierarchyType", {}).get("code")
                   for b in app.mdms.master(code, "egov-location", "TenantBoundary") if isinstance(b, dict)]
    return {"tenant": tenant, "tenantInfo": info[0] if info else None, "boundaryHierarchies": hierarchies}


def boundaries(app: "App", ctx: "RequestContext", tenant_id: str,
               hierarchy: str | None = None) -> list[dict[str, Any]]:
    """DIGIT's TenantBoundary list for a city, optionally one hierarchy type."""
    authorize(app, ctx, BOUNDARY_SEARCH, tenant_id)
    get_tenant(app, ctx, tenant_id)
    found_at, records = app.mdms.resolve(tenant_id, "egov-location", "TenantBoundary")
    if found_at != tenant_id:
        records = []   # boundaries are a city's own; the state's would describe another place
    out = [r for r in records if isinstance(r, dict)
           and (hierarchy is None or str(r.get("hierarchyType", {}).get("code", "")).upper() == hierarchy.upper())]
    if not out:
        known = sorted({str(r.get("hierarchyType", {}).get("code")) for r in records if isinstance(r, dict)})
        raise NotFound("BOUNDARY_NOT_FOUND",
                       f"no {hierarchy or ''} boundary hierarchy for {tenant_id}"
                       + (f"; it has {', '.join(known)}" if known else ""),
                       {"tenantId": tenant_id, "hierarchyType": hierarchy, "available": known})
    return out


def flatten(node: dict[str, Any], path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every boundary under `node` with its label and ancestry (for locality lookups)."""
    here = path + (str(node.get("code")),)
    rows = [{"code": node.get("code"), "name": node.get("name"), "label": node.get("label"),
             "path": list(here)}]
    for child in node.get("children") or []:
        if isinstance(child, dict):
            rows += flatten(child, here)
    return rows

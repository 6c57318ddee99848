"""`digitctl tenant list|show` and `digitctl boundary show`."""
from __future__ import annotations

from typing import Any

import typer

from digitctl.cli.output import emit, state

tenant_app = typer.Typer(help="Tenants (state and cities) from the tenant.tenants master.", no_args_is_help=True)
boundary_app = typer.Typer(help="Boundary hierarchies from egov-location.TenantBoundary.", no_args_is_help=True)


@tenant_app.command("list")
def tenant_list() -> None:
    """List the state and its cities."""
    from digitctl.services import tenants
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    items = tenants.list_tenants(st.app, st.app.context(st.tenant))
    rows = [(t["code"], t.get("name"), (t.get("city") or {}).get("code"),
             (t.get("city") or {}).get("districtName") or (t.get("city") or {}).get("name"), t.get("type"))
            for t in items]
    emit({"tenants": items}, rows=rows, columns=["code", "name", "cityCode", "district/city", "type"])


@tenant_app.command("show")
def tenant_show(code: str = typer.Argument(..., help="Tenant code, e.g. pb.amritsar.")) -> None:
    """Show one tenant: its record, tenantInfo and boundary hierarchies."""
    from digitctl.services import tenants
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    d = tenants.tenant_details(st.app, st.app.context(code), code)

    def human(con: Any) -> None:
        t = d["tenant"]
        city = t.get("city") or {}
        con.print(f"[bold]{t.get('code')}[/]  {t.get('name')}")
        for label, value in (("city code", city.get("code")), ("district", city.get("districtName")),
                             ("ULB grade", city.get("ulbGrade")), ("address", t.get("address")),
                             ("contact", t.get("contactNumber")), ("email", t.get("emailId")),
                             ("boundaries", ", ".join(h for h in d["boundaryHierarchies"] if h) or "-")):
            if value:
                con.print(f"  {label:<11} {value}")

    emit(d, human=human)


@boundary_app.command("show")
def boundary_show(
    tenant: str = typer.Option(None, "--tenant", help="City tenant, e.g. pb.amritsar."),
    hierarchy: str = typer.Option(None, "--hierarchy", help="REVENUE or ADMIN (default: all)."),
) -> None:
    """Print a city's boundary tree (City -> Zone -> Block -> Locality)."""
    from digitctl.cli.common import require_tenant
    from digitctl.services import tenants
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant, what="a city tenant")
    found = tenants.boundaries(st.app, st.app.context(tenant_id), tenant_id, hierarchy)
    rows = [(tb.get("hierarchyType", {}).get("code"), r["label"], r["code"], r["name"], " > ".join(r["path"]))
            for tb in found for r in tenants.flatten(tb.get("boundary") or {})]

    def human(con: Any) -> None:
        from rich.tree import Tree

        for tb in found:
            root = tb.get("boundary") or {}
            tree = Tree(f"[bold]{tb.get('hierarchyType', {}).get('code')}[/] hierarchy of {tenant_id}")
            _grow(tree, root)
            con.print(tree)

    emit({"TenantBoundary": found}, rows=rows, columns=["hierarchy", "label", "code", "name", "path"], human=human)


def _grow(tree: Any, node: dict[str, Any]) -> None:
    branch = tree.add(f"{node.get('label', '?')}: {node.get('name')} [dim]({node.get('code')})[/]")
    for child in node.get("children") or []:
        if isinstance(child, dict):
            _grow(branch, child)

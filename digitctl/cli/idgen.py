"""`digitctl id generate`."""
from __future__ import annotations

import typer

app = typer.Typer(help="DIGIT ID generation (common-masters.IdFormat).", no_args_is_help=True)


@app.command("generate")
def generate(
    id_name: str = typer.Argument(..., help="IdFormat idname, e.g. receipt.id or pt.receipt.id."),
    tenant: str = typer.Option(None, "--tenant", help="Tenant to number for, e.g. pb.amritsar."),
    count: int = typer.Option(1, "--count", "-n", help="How many ids (1..10000)."),
    fmt: str = typer.Option(None, "--format", "-f",
                            help="Format to use when the MDMS has none for ID_NAME (the MDMS one wins); it may use only "
                                 "sequences that exist (egov-idgen creates none for an unconfigured name)."),
) -> None:
    """Generate ids as DIGIT's /egov-idgen/id/_generate does; -o json prints its response."""
    from digitctl.cli.common import require_tenant
    from digitctl.cli.output import emit, state
    from digitctl.services import idgen
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant)
    ctx = st.app.context(tenant_id)
    ids = idgen.generate(st.app, ctx, id_name, tenant_id, count=count, fmt=fmt)
    emit(idgen.response(ctx, ids), rows=[[i] for i in ids], columns=["id"])

"""`digitctl tenant list|show` and `digitctl boundary show` (filled by the tenants service)."""
from __future__ import annotations

import typer

tenant_app = typer.Typer(help="Tenants (state and cities) from the tenant.tenants master.", no_args_is_help=True)
boundary_app = typer.Typer(help="Boundary hierarchies from egov-location.TenantBoundary.", no_args_is_help=True)

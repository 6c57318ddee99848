"""`digitctl otp send|verify`: for counters that register citizens."""
from __future__ import annotations

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Citizen OTPs (sent through the notification outbox).", no_args_is_help=True)


@app.command("send")
def send(mobile: str = typer.Option(..., "--mobile"), tenant: str = typer.Option(None, "--tenant"),
         purpose: str = typer.Option("login", "--purpose", help="login | register | passwordreset"),
         locale: str = typer.Option("en_IN", "--locale")) -> None:
    """Send a 6-digit OTP (valid 15 minutes) to a citizen's mobile."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import otp
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant) or st.app.state_tenant or ""
    doc = otp.send(st.app, st.app.context(tenant_id), mobile, tenant_id, purpose, locale)
    emit(doc, human=lambda con: con.print(f"OTP sent for {purpose}; valid until {doc['expiresAt']}."))


@app.command("verify")
def verify(mobile: str = typer.Option(..., "--mobile"), code: str = typer.Option(..., "--otp"),
           tenant: str = typer.Option(None, "--tenant"), purpose: str = typer.Option("login", "--purpose")) -> None:
    """Check an OTP the citizen read out; exit 2 when wrong, expired or used up."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import otp
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = tenant_option_value(tenant) or st.app.state_tenant or ""
    doc = otp.verify(st.app, st.app.context(tenant_id), mobile, code, tenant_id, purpose)
    emit(doc, human=lambda con: con.print("OTP verified."))

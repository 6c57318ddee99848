"""`digitctl keys`: the PII data keys of a state (egov-enc-service's key management)."""
from __future__ import annotations

import typer

from digitctl.cli.common import require_tenant

app = typer.Typer(help="PII data keys: rotate, re-encrypt, list (never key material).", no_args_is_help=True)

TENANT_HELP = "Tenant whose state's keys to use, e.g. pb (pb.amritsar means pb)."


@app.command("rotate")
def rotate(tenant: str = typer.Option(None, "--tenant", help=TENANT_HELP)) -> None:
    """Make a new active data key; old keys stay so old ciphertext still decrypts."""
    from digitctl.cli.output import emit, state
    from digitctl.services import crypto
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant, "pb")
    result = crypto.rotate_key(st.app, st.app.context(tenant_id), tenant_id)
    emit(result.as_json(), columns=["tenantId", "keyId", "keys"],
         rows=[[result.tenant_id, result.key_id, result.keys]],
         human=lambda con: con.print(f"new active key {result.key_id} for {result.tenant_id} "
                                     f"({result.keys} key{'s' if result.keys != 1 else ''} in all); "
                                     f"run `digitctl keys reencrypt --tenant {result.tenant_id}` "
                                     "to move old ciphertext onto it"))


@app.command("reencrypt")
def reencrypt(tenant: str = typer.Option(None, "--tenant", help=TENANT_HELP)) -> None:
    """Re-encrypt users' PII made under older keys with the active key."""
    from digitctl.cli.output import emit, state
    from digitctl.domain.tenancy import state_of
    from digitctl.services import crypto
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant, "pb")
    from digitctl.cli.output import progress_bar

    with progress_bar("re-encrypting users") as progress:
        count = crypto.reencrypt_users(st.app, st.app.context(tenant_id), tenant_id, progress=progress)
    doc = {"tenantId": state_of(tenant_id), "reencrypted": count}
    emit(doc, columns=["tenantId", "reencrypted"], rows=[[doc["tenantId"], count]],
         human=lambda con: con.print(f"re-encrypted {count} user{'s' if count != 1 else ''} "
                                     f"of {doc['tenantId']} with the active key"))


@app.command("list")
def list_(tenant: str = typer.Option(None, "--tenant", help=TENANT_HELP)) -> None:
    """The state's data keys: id, created, active."""
    from digitctl.cli.output import emit, state
    from digitctl.domain.tenancy import state_of
    from digitctl.services import crypto
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    tenant_id = require_tenant(tenant, "pb")
    keys = crypto.list_keys(st.app, st.app.context(tenant_id), tenant_id)
    from digitctl.clock import people_time

    rows = [[k.key_id, k.tenant_id, people_time(k.created_at), "yes" if k.active else ""] for k in keys]
    if not keys and st.output == "table":
        emit({}, human=lambda con: con.print(f"no data keys for {state_of(tenant_id)} yet "
                                             "(the first is made when PII is first encrypted)"))
        return
    emit({"keys": [k.as_json() for k in keys]}, columns=["keyId", "tenantId", "createdAt", "active"],
         rows=rows, title=f"data keys of {state_of(tenant_id)}")

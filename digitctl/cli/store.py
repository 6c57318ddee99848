"""`digitctl init` and `digitctl quickstart`."""
from __future__ import annotations

import typer

from digitctl.cli.output import emit, state


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    state_tenant: str = typer.Option(None, "--state", help="State tenant code, e.g. pb."),
    counter: str = typer.Option(None, "--counter", help="This counter's code (e.g. C01), used in receipt series."),
) -> None:
    """Create a store, or upgrade an existing one to the current schema."""
    from digitctl.services.store import init_store

    st = state()
    info = init_store(st.app, st.app.context(), state_tenant, counter)

    def human(con):  # type: ignore[no-untyped-def]
        verb = "Created" if info.created else ("Upgraded" if info.revision_before != info.revision else "Checked")
        con.print(f"{verb} store [bold]{info.url}[/] (schema {info.revision}, {info.dialect})")
        con.print(f"  store id {info.store_id}; state {info.state_tenant or '-'}; counter {info.counter_code or '-'}")

    emit(info.as_json(), human=human)

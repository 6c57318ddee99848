"""`digitctl init` and `digitctl quickstart`."""
from __future__ import annotations

import typer

from digitctl.cli.output import emit, state


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("quickstart")(quickstart)


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


def quickstart(
    counter: str = typer.Option("C01", "--counter", help="Counter code of the demo counter."),
) -> None:
    """Build a demo store from the bundled state (two cities, real DIGIT masters)."""
    from digitctl.services.quickstart import quickstart as run_quickstart

    st = state()
    result = run_quickstart(st.app, st.app.context(), counter)

    def human(con):  # type: ignore[no-untyped-def]
        r, s = result.mdms, result.store
        con.print(f"[bold green]Demo store ready[/]: {s.url}")
        con.print(f"  state {s.state_tenant}, counter {s.counter_code}; master data: "
                  f"{r.total('added')} records added, {r.total('changed')} changed, "
                  f"{r.total('unchanged')} unchanged across {len(r.masters)} masters"
                  + (f"; {len(r.warnings)} warning(s)" if r.warnings else ""))
        con.print("\nTry next (with the same --store or DIGIT_STORE):")
        for cmd in ("digitctl tenant list",
                    "digitctl boundary show --tenant pb.amritsar --hierarchy REVENUE",
                    "digitctl mdms search --tenant pb.amritsar --module BillingService --master TaxHeadMaster "
                    "--filter \"[?(@.service=='TL')]\"",
                    "digitctl id generate counter.receipt.id --tenant pb.amritsar --count 3",
                    "digitctl mdms apply ../shared/digit-reference/mdms/data/pb --dry-run"):
            con.print(f"  {cmd}", markup=False)

    emit(result.as_json(), human=human)

"""`digitctl init`, `digitctl quickstart` and `digitctl store check|backup|restore`."""
from __future__ import annotations

from pathlib import Path

import typer

from digitctl.cli.output import emit, state


store_app = typer.Typer(help="The store itself: check it (file, audit chain, money), back it up, restore it.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("quickstart")(quickstart)
    app.add_typer(store_app, name="store")


@store_app.command("check")
def check() -> None:
    """Check the store: SQLite's integrity check of the file (STORE_DAMAGED), the schema, the
    audit chain (hashes, links, signatures, the signed head), the live payments, demands, bills,
    users and roles against their last audited state, the receipt series for gaps, every payment
    for its outbox event (AUDIT_CHAIN_BROKEN, AUDIT_LIVE_ROW_MISMATCH, AUDIT_RECEIPT_GAP,
    AUDIT_EVENT_MISSING), and money that must add up (MONEY_MISMATCH: a payment's amount against
    its receipt document, a closed shift's variance against its count). Exit 2 naming the first
    thing wrong.

    It cannot tell a change made by someone holding the master key file who re-signed the chain:
    compare the audit head with the one printed on the last shift slip or day book."""
    from digitctl.services import audit, store_health
    from digitctl.services.store import require_initialized

    st = state()
    store_health.require_sound(st.app, quick=False)
    require_initialized(st.app)
    report = audit.verify(st.app, st.app.context())
    report.raise_if_broken()
    money = store_health.money(st.app)
    if money.problems:
        from digitctl.errors import InvalidInput

        first = money.problems[0]
        raise InvalidInput("MONEY_MISMATCH", f"money does not add up: {first['code']} "
                           f"({len(money.problems)} problem(s))", {**first, "problems": len(money.problems)})
    rev = st.app.store.current_revision()
    emit({"ok": True, "schemaRevision": rev, "integrity": "ok", "audit": report.as_json(), "money": money.as_json()},
         human=lambda con: con.print(f"store OK (schema {rev}): file sound; {report.summary()}; "
                                     f"money adds up ({money.payments} payments, {money.shifts} closed shifts); "
                                     f"audit head #{report.head_seq or 0} {(report.head or '')[:12]}",
                                     markup=False))


@store_app.command("backup")
def backup(
    file: Path = typer.Argument(..., help="The backup file to write (SQLite: a store file; PostgreSQL: pg_dump's "
                                "custom format)."),
    force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
) -> None:
    """A consistent copy of the store while the counter keeps taking payments (SQLite's online
    backup API; pg_dump for PostgreSQL). The copy is checked before it is kept."""
    from digitctl.services import store_backup

    st = state()
    info = store_backup.backup(st.app, file, force=force)
    emit(info, human=lambda con: con.print(f"backed up {info['store']} to {info['file']} "
                                           f"({info['bytes']:,} bytes, schema {info['schemaRevision']})",
                                           markup=False))


@store_app.command("restore")
def restore(
    file: Path = typer.Argument(..., help="A file `digitctl store backup` wrote."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing the store."),
) -> None:
    """Replace the store with a backup. Stop every other digitctl using the store first. The file
    replaced is kept beside it as STORE.before-restore-TIMESTAMP (SQLite)."""
    from digitctl.services import store_backup

    st = state()
    store_backup.check_backup_file(st.app, file)
    if not yes and not typer.confirm(f"Replace the store {st.app.store.display_url()} with {file}?"):
        raise typer.Exit(1)
    info = store_backup.restore(st.app, file)
    emit(info, human=lambda con: con.print(f"restored {info['store']} from {info['file']} (schema "
                                           f"{info['schemaRevision']})"
                                           + (f"; the replaced file is {info['keptAs']}" if info.get("keptAs") else ""),
                                           markup=False))


def init(
    state_tenant: str = typer.Option(None, "--state", help="State tenant code, e.g. pb."),
    counter: str = typer.Option(None, "--counter", help="This counter's code (e.g. C01), used in receipt series."),
    admin_username: str = typer.Option(None, "--admin-username", help="Create the first superuser."),
    admin_password_stdin: bool = typer.Option(False, "--admin-password-stdin",
                                              help="Read the superuser's password from standard input."),
    receipt_numbers_by_service: bool = typer.Option(
        None, "--receipt-numbers-by-service/--receipt-numbers-state-level",
        help="Number receipts per service (<svc>.receipt.id) instead of one receipt.id series "
             "(DIGIT's receiptnumber.servicebased, default false); fixed once set."),
) -> None:
    """Create a store, or upgrade an existing one to the current schema."""
    from digitctl.services.store import init_store

    st = state()
    password = None
    if admin_username:
        from digitctl.cli.common import read_password_stdin

        password = read_password_stdin() if admin_password_stdin else typer.prompt(
            f"Password for {admin_username}", hide_input=True, confirmation_prompt=True)
    info = init_store(st.app, st.app.base_context(), state_tenant, counter,
                      admin_username=admin_username, admin_password=password,
                      receipt_numbers_by_service=receipt_numbers_by_service)

    def human(con):  # type: ignore[no-untyped-def]
        verb = "Created" if info.created else ("Upgraded" if info.revision_before != info.revision else "Checked")
        con.print(f"{verb} store [bold]{info.url}[/] (schema {info.revision}, {info.dialect})")
        con.print(f"  store id {info.store_id}; state {info.state_tenant or '-'}; counter {info.counter_code or '-'}")
        if info.admin:
            con.print(f"  superuser {info.admin} created: digitctl login --username {info.admin}")

    emit(info.as_json(), human=human)


def quickstart(
    counter: str = typer.Option("C01", "--counter", help="Counter code of the demo counter."),
) -> None:
    """Build a demo store from the bundled state (two cities, real DIGIT masters)."""
    from digitctl.services.quickstart import quickstart as run_quickstart

    st = state()
    # a demo store is built by the local system; quickstart refuses any store with real data
    result = run_quickstart(st.app, st.app.base_context(), counter)

    def human(con):  # type: ignore[no-untyped-def]
        r, s = result.mdms, result.store
        con.print(f"[bold green]Demo store ready[/]: {s.url}")
        con.print(f"  state {s.state_tenant}, counter {s.counter_code}; master data: "
                  f"{r.total('added')} records added, {r.total('changed')} changed, "
                  f"{r.total('unchanged')} unchanged across {len(r.masters)} masters"
                  + (f"; {len(r.warnings)} warning(s)" if r.warnings else ""))
        from rich.table import Table

        table = Table(title=f"Demo users (password {result.as_json()['demoPassword']})")
        for c in ("user name", "tenant", "roles", "what for"):
            table.add_column(c)
        for u in result.users:
            table.add_row(u["userName"], u["tenantId"], u["roles"], u["does"])
        con.print(table)
        if result.applications:
            con.print("Demo applications: " + ", ".join(f"{a['applicationNo']} ({a['businessService']} "
                                                        f"{a['status']})" for a in result.applications))
            for a in result.applications:
                if a.get("billId"):
                    from digitctl.domain.money import format_inr

                    con.print(f"Ready to pay at the counter (clerk.amritsar's shift is open, float ₹2,000.00): "
                              f"bill {a['billId']} for {a['applicationNo']}, {format_inr(a['amountDue'])}\n"
                              f"  digitctl pay --bill {a['billId']} --tenant pb.amritsar --mode CASH "
                              f"--amount {a['amountDue'].split('.')[0]}", markup=False)
        con.print("\nTry next (with the same --store or DIGIT_STORE):")
        for cmd in ("digitctl login --username admin",
                    "digitctl whoami",
                    "digitctl inbox                      (as verifier.amritsar, approver.amritsar ...)",
                    "digitctl workflow show NewTL --format mermaid",
                    "digitctl tenant list",
                    "digitctl boundary show --tenant pb.amritsar --hierarchy REVENUE",
                    "digitctl mdms search --tenant pb.amritsar --module BillingService --master TaxHeadMaster "
                    "--filter \"[?(@.service=='TL')]\"",
                    "digitctl id generate pgr.servicerequestid --tenant pb.amritsar --count 3",
                    "digitctl access check --action /collection-services/payments/_create --tenant pb.amritsar "
                    "--user clerk.amritsar",
                    "digitctl mdms apply ../shared/digit-reference/mdms/data/pb --dry-run"):
            con.print(f"  {cmd}", markup=False)

    emit(result.as_json(), human=human)

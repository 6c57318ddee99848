"""`digitctl hub serve | enrol | counters | daybook | revoke | reconcile | apply`: run the state's hub and
look after the counters that push to it. The operator commands run against the hub's store
(`--store`) as a logged-in user whose role has the hub's actions (SUPERUSER at the state)."""
from __future__ import annotations

from typing import Any

import typer

from digitctl.cli.common import people_iso

app = typer.Typer(help="The central hub: serve it, enrol and revoke counters, see who is behind, reconcile.",
                  no_args_is_help=True)


def _app_ctx(tenant: str | None = None) -> Any:
    from digitctl.cli.output import state
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    return st.app, st.app.context(tenant or st.tenant)


@app.command("enrol")
def enrol(
    tenant: str = typer.Option(..., "--tenant", help="The city the counter works at, e.g. pb.amritsar."),
    name: str = typer.Option(..., "--name", help='What people call it, e.g. "Amritsar counter 2".'),
) -> None:
    """Enrol a counter: the state's next free code and a one-time enrolment code (24 h).

    On the counter PC: `digitctl sync register --hub URL --code ENROLMENT_CODE`."""
    from digitctl.cli.output import emit
    from digitctl.services import hub_counters

    application, ctx = _app_ctx(tenant)
    doc = hub_counters.enrol(application, ctx, tenant, name)
    emit(doc, columns=["counterCode", "enrolmentCode", "expiresAt"],
         rows=[[doc["counterCode"], doc["enrolmentCode"], people_iso(doc["expiresAt"])]],
         human=lambda con: con.print(f"counter {doc['counterCode']} enrolled at {tenant}; on the counter PC run\n"
                                     f"  digitctl sync register --hub URL --code {doc['enrolmentCode']}\n"
                                     f"(the code works once, until {people_iso(doc['expiresAt'])})", markup=False))


@app.command("counters")
def counters(tenant: str = typer.Option(None, "--tenant", help="Only counters of this tenant.")) -> None:
    """Every counter: tenant, name, last seen, last sequence received, lag, parked events, clock skew."""
    from digitctl.cli.output import emit
    from digitctl.services import hub_counters

    application, ctx = _app_ctx(tenant)
    rows = hub_counters.counters(application, ctx, tenant)
    keys = ["counterCode", "tenantId", "name", "lastSeen", "lastSequence", "lag", "parked", "clockSkewMs"]
    emit({"Counters": [{k: r[k] for k in keys} for r in rows]}, columns=[*keys, "status"],
         rows=[[people_iso(r[k]) if k == "lastSeen" else r[k] for k in keys] + [r["status"] + (" (clock off > 5 min)" if r["clockSkewFlagged"] else "")]
               for r in rows])


@app.command("daybook")
def daybook(
    tenant: str = typer.Option(..., "--tenant", help="The city, e.g. pb.amritsar."),
    date: str = typer.Option(None, "--date", help="YYYY-MM-DD (IST); default today."),
) -> None:
    """The consolidated collection register across counters, each counter's total and day end
    (complete / waiting for N events / shift open); exit 1 unless every counter's day end is complete."""
    from digitctl.cli.output import emit
    from digitctl.services import hub_daybook

    application, ctx = _app_ctx(tenant)
    doc = hub_daybook.daybook(application, ctx, tenant, date)
    book = doc["DayBook"]
    rows = [[c["counterCode"], c["grandTotal"], c["issued"], c["dayEnd"]["message"]] for c in doc["Counters"]]
    rows.append(["ALL", book["grandTotal"]["amount"], book["receiptRange"]["issued"],
                 "adds up" if doc["addsUp"] else f"MISMATCH: counters sum to {doc['sumOfCounters']}"])
    emit(doc, columns=["counter", "total", "receipts", "day end"], rows=rows)
    if not doc["complete"] or not doc["addsUp"]:
        raise typer.Exit(1)


@app.command("revoke")
def revoke(code: str = typer.Argument(..., help="The counter code, e.g. C02.")) -> None:
    """Refuse every push of this counter from now on (a stolen or retired PC)."""
    from digitctl.cli.output import emit
    from digitctl.services import hub_counters

    application, ctx = _app_ctx()
    doc = hub_counters.revoke(application, ctx, code)
    emit(doc, columns=["counterCode", "tenantId", "revokedAt"], rows=[[doc["counterCode"], doc["tenantId"],
                                                                        doc["revokedAt"]]])


@app.command("reconcile")
def reconcile(tenant: str = typer.Option(None, "--tenant", help="Only this tenant.")) -> None:
    """What needs a person: excess collections, parked events, silent counters.

    Parked lists parked and waiting events with their reason; SilentCounters those not seen for a
    day. Exit 0 only when every list is empty, 1 otherwise (like diff), so a script can alert."""
    from digitctl.cli.output import emit
    from digitctl.services import hub_reconcile

    application, ctx = _app_ctx(tenant)
    doc = hub_reconcile.reconcile(application, ctx, tenant)
    rows = [[section, len(items)] for section, items in doc.items()]
    rows += [["Parked", f"{p['counterCode']} #{p['seq']} {p['eventType']}: {p['status']} {p['code']} {p['message']}"]
             for p in doc["Parked"]]
    emit(doc, columns=["section", "items"], rows=rows)
    if any(doc.values()):
        raise typer.Exit(1)


@app.command("apply")
def apply(
    counter: str = typer.Option(None, "--counter", help="Only this counter's events."),
    limit: int = typer.Option(1000, "--limit", help="At most this many events per counter."),
) -> None:
    """Apply pushed events still waiting to be applied (a push does this itself).

    Run it after the hub stopped mid-apply, or from a scheduler."""
    from digitctl.cli.output import emit
    from digitctl.services import hub_applyloop

    application, ctx = _app_ctx()
    counts = hub_applyloop.run(application, ctx, counter, limit)
    emit(counts, columns=list(counts), rows=[list(counts.values())])


@app.command("release")
def release(
    code: str = typer.Argument(..., help="The counter code, e.g. C02."),
    seq: int = typer.Option(None, "--seq", help="Only this parked event (default: every parked one)."),
) -> None:
    """Try a counter's parked events again, with the events waiting behind them.

    Run it once the cause is fixed at the hub (see `hub reconcile`); what still cannot be applied
    is parked again with its reason."""
    from digitctl.cli.output import emit
    from digitctl.services import hub_applyloop

    application, ctx = _app_ctx()
    doc = hub_applyloop.release(application, ctx, code, seq)
    emit(doc, columns=list(doc), rows=[list(doc.values())])


@app.command("resolve-excess")
def resolve_excess(
    receipt: str = typer.Argument(..., help="The receipt number `hub reconcile` lists under ExcessCollections."),
    decision: str = typer.Option(..., "--decision", help="REFUNDED, ADJUSTED or KEPT_AS_ADVANCE."),
    note: str = typer.Option(None, "--note", help="What was done (voucher number, ...)."),
    tenant: str = typer.Option(None, "--tenant", help="The receipt's tenant, when several have it."),
) -> None:
    """Record the decision on an excess collection; it leaves `hub reconcile`."""
    from digitctl.cli.output import emit
    from digitctl.services import hub_excess

    application, ctx = _app_ctx()
    doc = hub_excess.resolve(application, ctx, receipt, decision.strip().upper(), note, tenant)
    keys = ["receiptNumber", "consumerCode", "counterCode", "amount", "resolution"]
    emit({"ExcessCollection": doc}, columns=keys, rows=[[doc[k] for k in keys]])


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback unless told otherwise)."),
    port: int = typer.Option(8480, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes (stateless; they share the store)."),
    ssl_certfile: str = typer.Option(None, "--ssl-certfile", help="Serve HTTPS with this certificate (PEM)."),
    ssl_keyfile: str = typer.Option(None, "--ssl-keyfile", help="... and this private key (PEM)."),
) -> None:
    """Serve the hub over HTTP; it also runs on SQLite for a one-PC trial.

    Counters call it (`digitctl sync register | push | status`); /health and /metrics are for
    monitoring. Give `--store postgresql://...` (the state's central store, made with `digitctl
    init`); a SQLite store works too, for a one-PC trial. Scale out with --workers, or run several
    hosts on one PostgreSQL behind a load balancer: the workers keep no state."""
    import os

    import uvicorn

    from digitctl.errors import InvalidInput
    from sync.hub_app import STORE_ENV

    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise InvalidInput("INVALID_TLS_OPTIONS", "--ssl-certfile and --ssl-keyfile go together")
    application, _ctx = _app_ctx()
    os.environ[STORE_ENV] = application.store_url
    application.close()
    uvicorn.run("sync.hub_app:app_from_env", factory=True, host=host, port=port, workers=workers,
                ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, log_level="info")

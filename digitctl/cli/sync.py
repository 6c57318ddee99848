"""`digitctl sync register|push|pull|run|status`: this counter and its hub (sync/PROTOCOL.md).

Parse, call `digitctl.services.sync_outbox` (what the store holds) and `sync.client`/`sync.push`
(what travels), print. `sync pull` and `sync run` come with the hub-to-counter direction."""
from __future__ import annotations

from typing import Any

import typer

from digitctl.cli.common import people_iso
from digitctl.cli.output import emit, state

app = typer.Typer(help="Send what this counter did to the central hub: register once, then push.",
                  no_args_is_help=True)


def _app() -> Any:
    from digitctl.services.store import require_initialized

    application = state().app
    require_initialized(application)
    return application


def _kv_table(con: Any, title: str, rows: list[tuple[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    for label, value in rows:
        table.add_row(label, "-" if value in (None, "") else str(value))
    con.print(table)


@app.command("register")
def register_cmd(
    hub: str = typer.Option(..., "--hub", envvar="DIGIT_HUB_URL", help="The hub's URL, e.g. https://hub.example:8480"),
    code: str = typer.Option(..., "--code", help="The one-time enrolment code `digitctl hub enrol` printed."),
) -> None:
    """Register this store with the hub: it takes the hub's counter code and a signing key."""
    from digitctl.services import sync_outbox
    from sync.client import HubClient

    application = _app()
    ctx = application.context(application.state_tenant)
    request = sync_outbox.prepare_registration(application, ctx, code)
    with HubClient(hub, now_ms=lambda: sync_outbox.now_ms(application)) as client:
        answer = client.register(request)
    done = sync_outbox.complete_registration(application, ctx, hub, request, answer)
    rows = [("counter code", done["counterCode"]), ("was", done["previousCounterCode"]), ("tenant", done["tenantId"]),
            ("hub", done["hub"]), ("hub id", done["hubId"]), ("earlier events to push", done["pastEvents"])]
    emit({"Counter": done}, rows=rows, columns=["field", "value"],
         human=lambda con: _kv_table(con, "Registered with the hub", rows))


@app.command("push")
def push_cmd(
    batch: int = typer.Option(500, "--batch", min=1, max=10_000, help="Events per signed batch."),
) -> None:
    """Send every event not yet acknowledged to the hub, in order; exit 1 if the hub is unreachable."""
    from sync.push import client_for, push

    application = _app()
    with client_for(application) as client:
        summary = _with_progress(lambda progress: push(application, client, batch, progress), batch)
    doc = summary.as_json()
    rows = [("counter", doc["counterCode"]), ("hub", doc["hub"]), ("events sent", doc["sent"]),
            ("new at the hub", doc["accepted"]), ("already there", doc["duplicates"]), ("batches", doc["batches"]),
            ("parked by the hub", len(doc["parked"])), ("still unsynced", doc["unsynced"])]
    emit(doc, rows=rows, columns=["field", "value"], human=lambda con: _kv_table(con, "Pushed", rows))


@app.command("pull")
def pull_cmd(
    page: int = typer.Option(1000, "--page", min=1, max=5000, help="Rows per page from the hub."),
) -> None:
    """Bring the state's changes down from the hub since this counter's cursors (resumable: each
    page is applied before the cursor moves); exit 1 if the hub is unreachable."""
    import sys

    from sync.pull import pull
    from sync.push import client_for

    application = _app()
    show = state().output == "table" and sys.stderr.isatty()

    def progress(stream: str, done: int, total: int | None) -> None:
        if show and total and total > page:
            typer.echo(f"\rpulling {stream}: {done}/{total}", err=True, nl=False)

    with client_for(application) as client:
        summary = pull(application, client, page_size=page, progress=progress)
    if show:
        typer.echo("", err=True)
    doc = summary.as_json()
    rows = [(f"{k} received / written", f"{v} / {doc['written'][k]}") for k, v in doc["received"].items()]
    rows += [("pages", doc["pages"]), ("seconds", doc["seconds"])]
    emit(doc, rows=rows, columns=["field", "value"], human=lambda con: _kv_table(con, "Pulled", rows))


@app.command("run")
def run_cmd(
    interval: float = typer.Option(30.0, "--interval", min=1.0, help="Seconds between rounds."),
    rounds: int = typer.Option(0, "--rounds", min=0, help="Stop after N rounds (0: run until stopped)."),
) -> None:
    """Push and pull every --interval seconds; quiet while the hub is unreachable; logs what it did."""
    import datetime as dt

    from sync.run import run

    application = _app()

    def say(text: str) -> None:
        stamp = application.clock.now().astimezone(dt.timezone.utc).strftime("%H:%M:%S")
        typer.echo(f"{stamp} {text}", err=True)

    try:
        done = run(application, interval, rounds or None, say=say)
    except KeyboardInterrupt:
        done = -1
    emit({"rounds": done}, rows=[("rounds", done)], columns=["field", "value"])


def _with_progress(run: Any, batch: int) -> Any:
    """A progress bar (on stderr) when people watch a push longer than one batch."""
    import sys

    if state().output != "table" or not sys.stderr.isatty():
        return run(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from digitctl.cli.output import console

    with Progress(TextColumn("pushing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("push", total=None)

        def progress(done: int, total: int) -> None:
            if total > batch:
                bar.update(task, completed=done, total=total)

        return run(progress)


@app.command("status")
def status_cmd() -> None:
    """Unsynced events, last push, events the hub parked (asks the hub when it answers)."""
    from digitctl.errors import DigitError
    from digitctl.services import sync_outbox
    from sync.client import RetryPolicy
    from sync.push import client_for, refresh_status

    application = _app()
    reachable: bool | None = None
    if application.store_meta("sync_hub_url"):
        try:
            quick = RetryPolicy(attempts=1, timeout=5.0, request_timeout=3.0)
            with client_for(application, policy=quick) as client:
                refresh_status(application, client)
            reachable = True
        except DigitError:
            reachable = False            # offline: what the store holds is the answer
    doc = sync_outbox.status(application)
    out = {"counterCode": doc["counterCode"], "hub": doc["hub"], "unsynced": doc["unsynced"],
           "lastPush": doc["lastPush"], "lastPull": doc["lastPull"], "parked": doc["parked"],
           "excess": doc["excess"], "hubReachable": reachable, "flagged": doc["flagged"]}
    rows = [("counter", out["counterCode"]), ("hub", out["hub"] or "(not registered)"),
            ("hub reachable", {True: "yes", False: "no", None: "-"}[reachable]), ("unsynced events", out["unsynced"]),
            ("last push", people_iso(out["lastPush"])), ("last pull", people_iso(out["lastPull"])), ("parked at the hub", len(out["parked"])),
            ("excess collections", len(out["excess"])), ("flagged", out["flagged"])]

    def human(con: Any) -> None:
        _kv_table(con, "Sync", rows)
        if out["parked"]:
            from rich.table import Table

            table = Table(title="Parked at the hub")
            for col in ("seq", "event", "code", "reason"):
                table.add_column(col)
            for p in out["parked"]:
                table.add_row(str(p.get("seq")), str(p.get("eventId")), str(p.get("code")), str(p.get("message")))
            con.print(table)
        if out["excess"]:
            from rich.table import Table

            table = Table(title="Excess collections (the receipt stands; the hub's demand was paid elsewhere)")
            for col in ("receipt", "consumer code", "amount", "disposition"):
                table.add_column(col)
            for x in out["excess"]:
                table.add_row(str(x.get("receiptNumber")), str(x.get("consumerCode")), str(x.get("amount")),
                              str(x.get("disposition")))
            con.print(table)

    emit(out, rows=rows, columns=["field", "value"], human=human)


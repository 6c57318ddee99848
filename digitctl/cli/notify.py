"""`digitctl notify run|status|retry|preview|prefs`: SMS and e-mail from the outbox."""
from __future__ import annotations

from typing import Any

import typer

from digitctl.cli.output import emit, state

app = typer.Typer(help="Notifications (SMS, e-mail) composed from the outbox in the recipient's language.",
                  no_args_is_help=True)


def _app() -> Any:
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    return st.app


@app.command("run")
def run_cmd(once: bool = typer.Option(False, "--once", help="One pass, then exit."),
            interval: float = typer.Option(10.0, "--interval", help="Seconds between passes.")) -> None:
    """Compose messages for new outbox events and send what is due (DIGIT_SMS_GATEWAY_URL,
    DIGIT_SMTP_URL, DIGIT_NOTIFY_FILE_DIR say where)."""
    import time

    from digitctl.services import notify_send, notify_senders

    a = _app()
    senders = notify_senders.from_settings()
    policy = notify_send.Policy.from_settings()
    first = True
    while True:
        res = notify_send.run_once(a, a.context(), senders, policy, recover_first=first)
        first = False
        if once:
            def human(con: Any) -> None:
                tried = ", ".join(f"{v} {k}" for k, v in sorted(res["attempted"].items())) or "nothing due"
                con.print(f"{res['queued']} composed; sent: {tried}", highlight=False)
                rec = res["recovered"]
                if rec["resent"] or rec["parked"]:
                    con.print(f"interrupted sends: {rec['resent']} to resend, {rec['parked']} parked dead")
                if res["channelsWithoutSender"]:
                    con.print(f"no provider for {', '.join(res['channelsWithoutSender'])}: those stay queued")
            emit(res, human=human)
            return
        time.sleep(max(0.1, interval))


@app.command("status")
def status_cmd() -> None:
    """Queued, sending, sent, failed and dead notifications; the failed and dead listed."""
    from digitctl.services import notify_send

    a = _app()
    doc = notify_send.status(a, a.context())
    rows = [(r["id"], r["eventType"], r["channel"], r["to"], r["status"], r["attempts"], r["lastError"] or "")
            for r in doc["Notifications"]]

    def human(con: Any) -> None:
        con.print("  ".join(f"{s}: {doc[s]}" for s in ("queued", "sending", "sent", "failed", "dead"))
                  + f"  (outbox events not read yet: {doc['unread']})", highlight=False)
        for r in rows:
            con.print(f"  #{r[0]} {r[1]} {r[2]} to {r[3]}: {r[4]} after {r[5]} attempt(s) {r[6]}",
                      highlight=False, markup=False)

    emit(doc, rows=rows, columns=["id", "eventType", "channel", "to", "status", "attempts", "lastError"], human=human)


@app.command("retry")
def retry_cmd(notification_id: int = typer.Argument(..., help="The id notify status lists.")) -> None:
    """Put a failed or dead notification back (attempts reset) and send it now."""
    from digitctl.services import notify_send, notify_senders

    a = _app()
    res = notify_send.retry(a, a.context(), notification_id, notify_senders.from_settings(),
                            notify_send.Policy.from_settings())
    emit(res, human=lambda con: con.print(f"notification {notification_id} ({res['channel']}): {res['status']}"))


@app.command("preview")
def preview_cmd(event_id: str = typer.Argument(..., help="An outbox event id.")) -> None:
    """What an event sends, to whom (masked) and in which language; nothing is written."""
    from digitctl.services import notify

    a = _app()
    doc = notify.preview(a, a.context(), event_id)

    def human(con: Any) -> None:
        if not doc["Notifications"]:
            con.print(f"{doc['eventType']}: nothing to send")
        for m in doc["Notifications"]:
            con.print(f"[bold]{m['channel']} to {m['recipient']} {m['address']} ({m['locale']})[/]")
            if m["channel"] == "email":
                con.print(f"  Subject: {m['subject']}", markup=False, highlight=False)
            con.print(f"  {m['message']}", markup=False, highlight=False)

    emit(doc, human=human)


@app.command("prefs")
def prefs_cmd(user: str = typer.Argument(..., help="User name or uuid."),
              tenant: str = typer.Option(None, "--tenant"),
              locale: str = typer.Option(None, "--locale", help="The language messages reach them in."),
              opt_out: list[str] = typer.Option(None, "--opt-out", help="sms | email"),
              opt_in: list[str] = typer.Option(None, "--opt-in", help="sms | email")) -> None:
    """A user's notification language and per-channel opt-outs."""
    from digitctl.cli.common import tenant_option_value
    from digitctl.services import notify_prefs

    a = _app()
    tenant_id = tenant_option_value(tenant)
    doc = notify_prefs.update(a, a.context(tenant_id), user, tenant_id, locale=locale, opt_out=opt_out or [],
                              opt_in=opt_in or [])
    emit(doc, human=lambda con: con.print(f"{doc['userName']}: locale {doc['locale'] or 'en_IN'}; opted out of "
                                          f"{', '.join(doc['optedOut']) or 'nothing'}"))

"""Closing a shift with a preview, the day book showing a drawer's variance, and a supervisor
reopening a shift closed by mistake (audited), on the quickstart demo store (the clerk's shift is
open with a ₹2,000.00 float)."""
from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services.quickstart import DEMO_PASSWORD

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
SHORT = "500x3,100x4,5x1"           # ₹1,905.00 in a drawer that should hold ₹2,000.00: ₹95 short


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def login(store: str, user: str) -> None:
    run(store, "logout")
    res = run(store, "login", "--username", user, "--password-stdin", stdin=DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


def js(res: Any) -> Any:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_close_dry_run_shows_the_figures_and_closes_nothing(quickstart_url: str):
    login(quickstart_url, "clerk.amritsar")
    preview = run(quickstart_url, "shift", "close", "--count", SHORT, "--dry-run")
    assert preview.exit_code == 0, preview.output
    for text in ("preview", "₹2,000.00", "₹1,905.00", "-₹95.00"):
        assert text in preview.stdout, (text, preview.stdout)
    assert js(run(quickstart_url, "-o", "json", "shift", "status"))["Shift"]["status"] == "OPEN"
    doc = js(run(quickstart_url, "-o", "json", "shift", "close", "--count", SHORT, "--dry-run"))["Shift"]
    assert doc["preview"] is True and doc["varianceText"] == "-₹95.00" and doc["status"] == "OPEN"


def test_the_day_book_shows_a_short_drawer_and_is_not_green(quickstart_url: str):
    login(quickstart_url, "clerk.amritsar")
    assert run(quickstart_url, "shift", "close", "--count", SHORT).exit_code == 0
    book = run(quickstart_url, "report", "daybook")
    assert book.exit_code == 0, book.output
    line = next(x for x in book.stdout.splitlines() if x.startswith("Reconciliation"))
    assert "short by ₹95.00" in line, line
    rc = js(run(quickstart_url, "-o", "json", "report", "daybook"))["Daybook"]["reconciliation"]
    assert rc["drawerVarianceText"] == "-₹95.00" and rc["balanced"] is False
    csv_text = run(quickstart_url, "report", "daybook", "--format", "csv").stdout
    assert "drawer variance -95.00" in csv_text


def test_a_supervisor_reopens_a_shift_closed_by_mistake(quickstart_url: str):
    store = quickstart_url
    login(store, "clerk.amritsar")
    closed = js(run(store, "-o", "json", "shift", "close", "--count", SHORT))["Shift"]
    shift_id = closed["id"]

    own = run(store, "-o", "json", "shift", "reopen", shift_id, "--reason", "miscounted")
    assert own.exit_code == 2 and json.loads(own.stdout)["Errors"][0]["code"] == "SHIFT_REOPEN_OWN", own.output

    login(store, "lme.amritsar")            # no collection workflow action
    refused = run(store, "-o", "json", "shift", "reopen", shift_id, "--reason", "miscounted")
    assert refused.exit_code == 3, refused.output

    login(store, "supervisor.amritsar")
    no_reason = run(store, "-o", "json", "shift", "reopen", shift_id, "--reason", " ")
    assert no_reason.exit_code == 2 and json.loads(no_reason.stdout)["Errors"][0]["code"] == "SHIFT_REOPEN_REASON"
    reopened = js(run(store, "-o", "json", "shift", "reopen", shift_id, "--reason", "counted before the last note"))
    assert reopened["Shift"]["status"] == "OPEN" and reopened["Shift"]["reopenedBy"] == "supervisor.amritsar"
    again = run(store, "-o", "json", "shift", "reopen", shift_id, "--reason", "again")
    assert again.exit_code == 2 and json.loads(again.stdout)["Errors"][0]["code"] == "SHIFT_NOT_CLOSED"

    login(store, "clerk.amritsar")         # the clerk's shift is open again: recount and close
    assert js(run(store, "-o", "json", "shift", "status"))["Shift"]["status"] == "OPEN"
    recount = js(run(store, "-o", "json", "shift", "close", "--count", "500x4"))["Shift"]
    assert recount["countedCash"] == recount["expectedCash"] and recount["status"] == "CLOSED", recount

    login(store, "admin")
    log = js(run(store, "-o", "json", "audit", "log", "--limit", "50"))
    [record] = [r for r in log if r["entityType"] == "Shift" and (r.get("after") or {}).get("reopenedBy")]
    assert record["before"]["countedCash"] == "1905.00" and record["before"]["variance"] == "-95.00"
    assert record["after"]["reason"] == "counted before the last note"
    assert run(store, "store", "check").exit_code == 0

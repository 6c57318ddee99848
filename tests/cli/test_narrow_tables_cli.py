"""Every list command at an 80-column terminal: an id, a receipt number or an amount is never cut
("PB-TL-20…", "₹2,000…"); lower-value columns are left out and named, `--wide` shows them all."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.domain.money import format_inr
from digitctl.services.quickstart import DEMO_PASSWORD

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
ID_KEYS = {"applicationNo", "consumerCode", "billNumber", "receiptNumber", "userName", "code", "businessId"}
AMOUNT_KEYS = {"totalAmount", "totalAmountPaid", "totalDue", "amountPaid", "taxAmount", "collectedAmount", "amount"}


@pytest.fixture(autouse=True)
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's output is an 80-column terminal (TERM=dumb: no colour codes), as a clerk's
    console is; piped output is laid out at 200 columns."""
    import click.testing

    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True, raising=False)


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin,
                         env={"DIGITCTL_NOW": NOW, "COLUMNS": "80", "LINES": "50", "TERM": "dumb"})


def login(store: str, user: str) -> None:
    run(store, "logout")
    res = run(store, "login", "--username", user, "--password-stdin", stdin=DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


# the line items under a demand or bill are its detail (`--wide`, `-o json`), not its row
DETAIL = {"demandDetails", "billDetails", "additionalDetails", "auditDetails", "bill", "roles", "before", "after"}


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            if k not in DETAIL:
                yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def must_show(doc: Any) -> set[str]:
    """The ids and amounts of a command's JSON that its table shows."""
    found = set()
    for key, value in walk(doc):
        if key in ID_KEYS and isinstance(value, str) and value and " " not in value:
            found.add(value)
        elif key in AMOUNT_KEYS and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", str(value)):
                found.add(format_inr(str(value)))
    return found


def _pending(store: str) -> str:
    apps = json.loads(run(store, "-o", "json", "application", "list").stdout)["Applications"]
    return str(next(a["applicationNo"] for a in apps if a.get("applicationStatus") == "PENDINGPAYMENT"))


def _pay(store: str) -> list[str]:
    """Pays the waiting bill (the command's own table is checked like the others)."""
    bill = json.loads(run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar",
                          "--application", _pending(store)).stdout)["Bill"][0]
    return ["pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
            "--amount", str(bill["totalAmount"]).split(".")[0]]


def _receipt(store: str) -> str:
    doc = json.loads(run(store, "-o", "json", "report", "daybook").stdout)
    return str(re.search(r"C01/[0-9]+/[0-9-]+/[0-9]+", json.dumps(doc)).group(0))  # type: ignore[union-attr]


# (who, command); a callable builds the command from the store (for numbers made at run time)
LISTS: list[tuple[str, list[str] | Callable[[str], list[str]]]] = [
    ("verifier.amritsar", ["inbox"]),
    ("clerk.amritsar", ["application", "list"]),
    ("clerk.amritsar", ["demand", "list", "--tenant", "pb.amritsar"]),
    ("clerk.amritsar", lambda s: ["bill", "fetch", "--tenant", "pb.amritsar", "--application", _pending(s)]),
    ("clerk.amritsar", _pay),
    ("clerk.amritsar", lambda s: ["payment", "show", _receipt(s), "--tenant", "pb.amritsar"]),
    ("clerk.amritsar", ["receipt", "search", "--tenant", "pb.amritsar", "--date", "25/11/2026"]),
    ("clerk.amritsar", ["shift", "status"]),
    ("clerk.amritsar", ["report", "daybook"]),
    ("admin", ["user", "list"]),
    ("admin", ["tenant", "list"]),
    ("admin", ["audit", "log"]),
    ("admin", ["mdms", "search", "--tenant", "pb.amritsar", "--module", "BillingService", "--master", "TaxHeadMaster"]),
    ("admin", ["workflow", "list"]),
]


def test_no_list_command_cuts_an_id_or_an_amount_at_80_columns(quickstart_url: str):
    store, current = quickstart_url, "clerk.amritsar"
    login(store, current)
    for who, command in LISTS:
        if who != current:
            login(store, who)
            current = who
        args = command(store) if callable(command) else command
        res = run(store, *args)
        assert res.exit_code == 0, (args, res.output)
        assert "…" not in res.stdout and "..." not in res.stdout, (args, res.stdout)
        assert all(cell_len(line) <= 80 for line in res.stdout.splitlines()), (args, res.stdout)
        if args[0] == "pay":
            continue                # once is enough
        as_json = run(store, "-o", "json", *args)
        assert as_json.exit_code == 0, (args, as_json.output)
        # the columns kept are the ones that matter: every id and amount is in the table, whole
        kept = must_show(json.loads(as_json.stdout))
        missing = {v for v in kept if v not in res.stdout}
        assert not missing, (args, missing, res.stdout)


def test_wide_shows_every_column(quickstart_url: str):
    paid_store = quickstart_url
    login(paid_store, "clerk.amritsar")
    narrow = run(paid_store, "demand", "list", "--tenant", "pb.amritsar")
    assert "not shown at 80 columns" in narrow.stdout and "--wide" in narrow.stdout
    wide = run(paid_store, "demand", "list", "--tenant", "pb.amritsar", "--wide")
    assert wide.exit_code == 0 and "not shown" not in wide.stdout
    for column in ("id", "consumerCode", "period", "taxHeads", "total", "collected", "status"):
        assert column in wide.stdout, wide.stdout

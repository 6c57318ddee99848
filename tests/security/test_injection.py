"""Issue 16.7, terminal and spreadsheet injection, tried through the real CLI as the counter clerk:
control characters are refused on input (INVALID_CHARACTERS, nothing written), and whatever
already sits in a store (older data, a hub sync) is neutralised by every table and CSV renderer."""
from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
TENANT = "pb.amritsar"
CLEAR_SCREEN = "\x1b[2J\x1b[H"
EVIL = f"Gurdeep{CLEAR_SCREEN}\x1b[32mAPPROVED BY COMMISSIONER\x1b[0m"


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


@pytest.fixture
def clerk_store(quickstart_url: str) -> str:
    """A quickstart demo store (workflows, demo applications) with the counter clerk logged in."""
    from digitctl.services import quickstart  # noqa: F401

    url = quickstart_url
    run(url, "logout")
    res = run(url, "login", "--username", "clerk.amritsar", "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    return url


def create(store: str, name: str, *extra: str, fmt: str = "json"):
    return run(store, "-o", fmt, "application", "create", "--service", "NewTL", "--tenant", TENANT,
               "--applicant-name", name, "--applicant-mobile", "9812345670", "--locality", "SUN04",
               "--details", json.dumps({"tradeType": "GOODS.RETAIL.TST-29"}), *extra)


def count(store: str) -> int:
    res = run(store, "-o", "json", "application", "list", "--tenant", TENANT)
    assert res.exit_code == 0, res.output
    return len(json.loads(res.stdout)["Applications"])


def error_code(res) -> str:
    return json.loads(res.stdout)["Errors"][0]["code"]


@pytest.mark.parametrize("name", [EVIL, "Simran\rKaur", "Simran\u202eruaK", "Simran\x9b2J", "Simran\nKaur"])
def test_control_characters_in_a_name_are_refused(clerk_store, name):
    before = count(clerk_store)
    res = create(clerk_store, name)
    assert res.exit_code == 2, res.output
    assert error_code(res) == "INVALID_CHARACTERS"
    assert count(clerk_store) == before             # nothing written


def test_control_characters_in_a_comment_or_details_are_refused(clerk_store):
    before = count(clerk_store)
    res = create(clerk_store, "Gurdeep Singh", "--comment", f"ok{CLEAR_SCREEN}")
    assert res.exit_code == 2 and error_code(res) == "INVALID_CHARACTERS"
    res = run(clerk_store, "-o", "json", "application", "create", "--service", "NewTL", "--tenant", TENANT,
              "--applicant-name", "Gurdeep Singh", "--applicant-mobile", "9812345670", "--locality", "SUN04",
              "--details", json.dumps({"tradeType": "GOODS.RETAIL.TST-29", "note": {"x": [f"a{CLEAR_SCREEN}"]}}))
    assert res.exit_code == 2 and error_code(res) == "INVALID_CHARACTERS"
    assert count(clerk_store) == before
    # a line break in a comment is ordinary text, and a plain name still goes through
    ok = create(clerk_store, "Gurdeep Singh", "--comment", "first line\nsecond line")
    assert ok.exit_code == 0, ok.output
    assert count(clerk_store) == before + 1


def test_control_characters_in_a_user_name_or_payer_are_refused(clerk_store):
    res = run(clerk_store, "-o", "json", "user", "create", "--type", "CITIZEN", "--username", "9811111111",
              "--name", f"Navdeep{CLEAR_SCREEN}", "--mobile", "9811111111")
    assert res.exit_code == 2 and error_code(res) == "INVALID_CHARACTERS"


@pytest.fixture
def legacy_store(clerk_store, monkeypatch):
    """An application whose applicant name carries escape sequences, as older data or a hub
    sync could bring it (the input check switched off while it is written)."""
    from digitctl.domain import safetext

    real = safetext.check_text
    monkeypatch.setattr(safetext, "check_text", lambda value, *a, **k: value)
    res = create(clerk_store, EVIL)
    assert res.exit_code == 0, res.output
    monkeypatch.setattr(safetext, "check_text", real)
    return clerk_store, json.loads(res.stdout)["Applications"][0]["applicationNo"]


def test_stored_escape_sequences_are_shown_escaped_in_show_and_inbox(legacy_store):
    store, number = legacy_store
    for args in (("application", "show", number), ("inbox",), ("application", "list", "--tenant", TENANT)):
        res = run(store, *args)
        assert res.exit_code == 0, res.output
        assert "\x1b" not in res.stdout, args                 # nothing reaches the terminal raw
        assert "\\x1b[2J" in res.stdout or "\\x1b[2*" in res.stdout, (args, res.stdout)


def test_csv_cells_never_become_formulas_or_escapes(legacy_store):
    store, _ = legacy_store
    for name in ("=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)"):
        assert create(store, name).exit_code == 0
    res = run(store, "-o", "csv", "application", "list", "--tenant", TENANT)
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.stdout
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    names = {r["applicant"] for r in rows}
    assert {"'=HYPERLINK(\"http://evil\",\"x\")", "'+1+1", "'-2+3", "'@SUM(A1)"} <= names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
    assert any(n.startswith("Gurdeep\\x1b[2J") for n in names)


def test_csv_keeps_plain_numbers_as_they_are():
    from digitctl.cli.output import csv_cell

    assert csv_cell("-1250.00") == "-1250.00" and csv_cell(-5) == -5 and csv_cell("+91") == "+91"
    assert csv_cell("-2h 30m") == "-2h 30m" and csv_cell("-D1") == "'-D1"
    assert csv_cell("-1250.00+cmd|' /C calc'!A0") == "'-1250.00+cmd|' /C calc'!A0"

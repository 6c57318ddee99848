"""`digitctl localization upsert|search|delete|export|missing` through Typer's runner on a store
with the demo users (the administrator is SUPERUSER at pb; the clerk holds no upsert action)."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from digitctl.cli.main import app as cli_app
from digitctl.services import quickstart

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli_app, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def login(store: str, user: str) -> None:
    run(store, "logout")
    res = run(store, "login", "--username", user, "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


def test_upsert_search_export_round_trip(demo_users_url, reference, tmp_path, contract):
    store = demo_users_url
    login(store, "admin")
    res = run(store, "-o", "json", "localization", "upsert", "-f", str(reference / "localization"))
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["added"], doc["changed"], doc["unchanged"]) == (1632, 0, 0)
    res = run(store, "localization", "upsert", "-f", str(reference / "localization"))
    assert res.exit_code == 0 and "0 added, 0 changed, 1632 unchanged" in res.stdout
    res = run(store, "-o", "json", "localization", "search", "--locale", "en_IN", "--module", "rainmaker-common",
              "--tenant", "pb.amritsar", "--codes", "COMMON_TOTAL,CS_SLA_MINUTE")
    found = json.loads(res.stdout)
    assert found == {"messages": [
        {"code": "COMMON_TOTAL", "message": "Total", "module": "rainmaker-common", "locale": "en_IN"},
        {"code": "CS_SLA_MINUTE", "message": "{0} minutes ago", "module": "rainmaker-common", "locale": "en_IN"}]}
    assert contract("localisation-contract.yml", "MessagesResponse", found, closed=True) == []
    out = tmp_path / "export.json"
    res = run(store, "localization", "export", "--locale", "en_IN", "--module", "egov-user", "--out", str(out))
    assert res.exit_code == 0, res.output
    exported = json.loads(out.read_text(encoding="utf-8"))
    theirs = json.loads((reference / "localization" / "en_IN.egov-user.json").read_text(encoding="utf-8"))
    assert exported == {"tenantId": "pb", "messages": sorted(theirs, key=lambda m: m["code"])}
    assert contract("localisation-contract.yml", "MessagesRequest", exported, closed=True) == []
    res = run(store, "-o", "json", "localization", "upsert", "-f", str(out))
    assert json.loads(res.stdout)["unchanged"] == 3


def test_dry_run_then_delete(demo_users_url, tmp_path):
    store = demo_users_url
    login(store, "admin")
    f = tmp_path / "city.json"
    f.write_text(json.dumps({"RequestInfo": {"apiId": "Rainmaker", "authToken": "ignored"},    # a whole _upsert request
                             "tenantId": "pb.amritsar", "messages": [
        {"code": "X_GREETING", "message": "ਸਤ ਸ੍ਰੀ ਅਕਾਲ", "module": "digitctl-tui", "locale": "pa_IN"}]},
        ensure_ascii=False), encoding="utf-8")
    res = run(store, "localization", "upsert", "-f", str(f), "--dry-run")
    assert res.exit_code == 0 and "1 added" in res.stdout and "dry run" in res.stdout
    search = ("-o", "json", "localization", "search", "--locale", "pa_IN", "--tenant", "pb.amritsar",
              "--codes", "X_GREETING")
    assert json.loads(run(store, *search).stdout) == {"messages": []}
    assert run(store, "localization", "upsert", "-f", str(f)).exit_code == 0
    assert json.loads(run(store, *search).stdout)["messages"][0]["message"] == "ਸਤ ਸ੍ਰੀ ਅਕਾਲ"
    res = run(store, "-o", "json", "localization", "delete", "--tenant", "pb.amritsar", "--locale", "pa_IN",
              "--module", "digitctl-tui", "--codes", "X_GREETING")
    assert json.loads(res.stdout) == {"successful": True, "deleted": 1}     # DeleteMessagesResponse + a count
    assert json.loads(run(store, *search).stdout) == {"messages": []}


def test_refusals(demo_users_url, tmp_path, error_of):
    store = demo_users_url
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"tenantId": "pb.amritsar", "messages": [
        {"code": "X", "message": "x", "module": "m", "locale": "en_IN"}]}), encoding="utf-8")
    login(store, "clerk.amritsar")
    res = run(store, "-o", "json", "localization", "upsert", "-f", str(f))
    assert res.exit_code == 3 and error_of(res)[0] == "ACCESS_DENIED"
    # delete is no DIGIT action in the pb masters: SUPERUSER only
    res = run(store, "-o", "json", "localization", "delete", "--locale", "en_IN", "--module", "m", "--codes", "X")
    assert res.exit_code == 3 and error_of(res)[0] == "ACCESS_DENIED"
    login(store, "admin")
    res = run(store, "-o", "json", "localization", "search", "--locale", "hindi")
    assert res.exit_code == 2 and error_of(res)[0] == "INVALID_LOCALE"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    res = run(store, "-o", "json", "localization", "upsert", "-f", str(f), "-f", str(bad))
    assert res.exit_code == 2 and error_of(res)[0] == "INVALID_JSON"
    res = run(store, "-o", "json", "localization", "search", "--locale", "en_IN", "--tenant", "pb.amritsar",
              "--codes", "X")
    assert json.loads(res.stdout) == {"messages": []}           # the good file was not written either


def test_missing_for_hindi(demo_users_url):
    login(demo_users_url, "admin")
    res = run(demo_users_url, "-o", "json", "localization", "missing", "--locale", "hi_IN",
              "--module", "digitctl-notifications,digitctl-tui,egov-user")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["missing"] == [] and doc["locale"] == "hi_IN"
    res = run(demo_users_url, "localization", "missing", "--locale", "hi_IN")
    assert "rainmaker-common:" in res.stdout and "missing in hi_IN" in res.stdout

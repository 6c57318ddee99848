"""Issue 16.11, limits, tried through the real CLI: oversized and over-nested input is refused
with a code (nothing written), a YAML "billion laughs" is refused by `mdms apply` before it is
expanded, a receipt never overwrites a file without --force, a store constraint failure is a
DIGIT-style code without SQL, and a damaged session file means "not logged in"."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services import quickstart

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
TENANT = "pb.amritsar"


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def login(store: str, user: str) -> None:
    run(store, "logout")
    res = run(store, "login", "--username", user, "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


@pytest.fixture
def demo_store(quickstart_url: str) -> str:
    """A quickstart demo store (workflows, demo applications, a bill waiting, the clerk's shift
    open) with the counter clerk logged in."""
    from digitctl.services import quickstart  # noqa: F401

    url = quickstart_url
    login(url, "clerk.amritsar")
    return url


def code_of(res) -> str:
    return json.loads(res.stdout)["Errors"][0]["code"]


def create(store: str, name: str = "Gurdeep Singh", details: str | None = None):
    return run(store, "-o", "json", "application", "create", "--service", "NewTL", "--tenant", TENANT,
               "--applicant-name", name, "--applicant-mobile", "9812345670", "--locality", "SUN04",
               "--details", details or json.dumps({"tradeType": "GOODS.RETAIL.TST-29"}))


def applications(store: str) -> int:
    res = run(store, "-o", "json", "application", "list", "--tenant", TENANT)
    assert res.exit_code == 0, res.output
    return len(json.loads(res.stdout)["Applications"])


def test_a_huge_name_is_refused(demo_store):
    before = applications(demo_store)
    res = create(demo_store, name="A" * 100_000)
    assert res.exit_code == 2 and code_of(res) == "TOO_LONG", res.output
    assert "maxLength: 100" in json.loads(res.stdout)["Errors"][0]["params"]     # egov-user's name column
    res = run(demo_store, "-o", "json", "user", "create", "--type", "CITIZEN", "--username", "9811111111",
              "--name", "B" * 100_000, "--mobile", "9811111111")
    assert res.exit_code == 2 and code_of(res) == "TOO_LONG"
    assert applications(demo_store) == before
    assert create(demo_store, name="A" * 100).exit_code == 0          # DIGIT's size itself is fine


def test_huge_or_deeply_nested_details_are_refused(demo_store, tmp_path):
    before = applications(demo_store)
    big = json.dumps({"tradeType": "GOODS.RETAIL.TST-29", "blob": "x" * 70_000})
    res = create(demo_store, details=big)
    assert res.exit_code == 2 and code_of(res) == "TOO_LARGE", res.output
    file = tmp_path / "details.json"
    file.write_text(json.dumps({"tradeType": "GOODS.RETAIL.TST-29", "blob": "x" * 3_000_000}))
    res = create(demo_store, details="@" + str(file))
    assert res.exit_code == 2 and code_of(res) == "TOO_LARGE"
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    res = create(demo_store, details=deep)
    assert res.exit_code == 2 and code_of(res) == "NESTING_TOO_DEEP", res.output
    shallow_but_over = json.dumps({"tradeType": "GOODS.RETAIL.TST-29", "n": json.loads("[" * 70 + "]" * 70)})
    res = create(demo_store, details=shallow_but_over)
    assert res.exit_code == 2 and code_of(res) == "NESTING_TOO_DEEP"
    assert applications(demo_store) == before
    ok = json.dumps({"tradeType": "GOODS.RETAIL.TST-29", "n": json.loads("[" * 20 + "]" * 20), "note": "x" * 1000})
    assert create(demo_store, details=ok).exit_code == 0


BILLION_LAUGHS = """tenantId: pb
moduleName: common-masters
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
Department: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_mdms_apply_refuses_a_billion_laughs(tmp_path):
    url = f"sqlite:///{tmp_path / 'mdms.db'}"
    assert run(url, "init", "--state", "pb", "--counter", "C01").exit_code == 0
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS)
    res = run(url, "-o", "json", "mdms", "apply", str(bomb))
    # the only file cannot be loaded: the apply is refused and says why
    assert res.exit_code == 2, res.output
    assert [e["code"] for e in json.loads(res.stdout)["Errors"]] == ["MDMS_YAML_ALIAS_LIMIT"]
    # beside a good file, the bomb is reported and the rest loads
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"tenantId": "pb", "moduleName": "M", "X": [{"code": "A"}]}))
    res = run(url, "-o", "json", "mdms", "apply", str(bomb), str(good))
    report = json.loads(res.stdout)
    assert [e["code"] for e in report["errors"]] == ["MDMS_YAML_ALIAS_LIMIT"], res.output
    assert report["totals"]["added"] == 1
    res = run(url, "-o", "json", "mdms", "apply", "--strict", str(bomb))
    assert res.exit_code == 2


def test_a_few_yaml_aliases_still_load(tmp_path):
    from digitctl.services.mdms_files import safe_yaml

    doc = safe_yaml("base: &b {active: true, code: X}\nrecords: [*b, *b, {code: Y}]\n")
    assert doc["records"][0] == {"active": True, "code": "X"} and doc["records"][2] == {"code": "Y"}


def _pay_the_waiting_bill(store: str) -> str:
    res = run(store, "-o", "json", "application", "list", "--tenant", TENANT, "--status", "PENDINGPAYMENT")
    number = json.loads(res.stdout)["Applications"][0]["applicationNo"]
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--application", number)
    assert res.exit_code == 0, res.output
    bill = json.loads(res.stdout)["Bill"][0]
    res = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", TENANT, "--mode", "CASH",
              "--amount", str(bill["totalAmount"]))
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["receiptNumber"]


def test_receipt_print_does_not_overwrite_without_force(demo_store, tmp_path):
    receipt = _pay_the_waiting_bill(demo_store)
    target = tmp_path / "precious.pdf"
    target.write_bytes(b"the clerk's own file")
    res = run(demo_store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "-o", str(target))
    assert res.exit_code == 2 and code_of(res) == "FILE_EXISTS", res.output
    assert target.read_bytes() == b"the clerk's own file"
    # the refused print was not counted: with --force, the file is replaced by the original
    res = run(demo_store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "-o", str(target), "--force")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["Receipt"]["marks"] == [] and target.read_bytes().startswith(b"%PDF")


def test_an_integrity_error_is_a_code_without_sql(demo_store, monkeypatch):
    from sqlalchemy import text

    from digitctl.services import users

    def clashing_create(app, ctx, spec):
        with app.uow(ctx) as uow:
            uow.session.execute(text("INSERT INTO store_meta (key, value) VALUES ('state_tenant', :v)"),
                                {"v": spec.mobile})
        return {}

    monkeypatch.setattr(users, "create_user", clashing_create)
    for fmt in ("json", "table"):
        res = run(demo_store, "-o", fmt, "user", "create", "--type", "CITIZEN", "--username", "9811111111",
                  "--name", "Navdeep Gill", "--mobile", "9811111111")
        assert res.exit_code == 2, res.output
        shown = res.stdout + res.stderr
        assert "DUPLICATE_RECORD" in shown
        assert "INSERT" not in shown and "9811111111" not in shown and "store_meta (key" not in shown
    assert code_of(run(demo_store, "-o", "json", "user", "create", "--type", "CITIZEN", "--username", "9811111111",
                       "--name", "Navdeep Gill", "--mobile", "9811111111")) == "DUPLICATE_RECORD"


@pytest.mark.parametrize("content", ["[]", "{}", '{"token": 5}', "null", "\x00garbage", '{"token": ["a"]}'])
def test_a_damaged_session_file_means_not_logged_in(demo_store, content):
    from digitctl.bootstrap import build
    from digitctl import session

    app = build(demo_store)
    try:
        path = session.session_file(session.session_key(app))
    finally:
        app.close()
    assert path.is_file()
    path.write_text(content)
    res = run(demo_store, "-o", "json", "whoami")
    assert res.exit_code == 3, res.output
    [err] = json.loads(res.stdout)["Errors"]
    assert err["code"] == "NOT_LOGGED_IN" and "log in again" in err["message"]
    res = run(demo_store, "-o", "json", "application", "list", "--tenant", TENANT)
    assert res.exit_code == 3 and code_of(res) == "NOT_LOGGED_IN"
    assert run(demo_store, "logout").exit_code == 0 and not path.exists()      # logout clears it
    login(demo_store, "clerk.amritsar")
    assert run(demo_store, "whoami").exit_code == 0

"""A damaged store is noticed and said so: `store check` finds overwritten bytes (SQLite's
integrity check), a deleted audit record and an edited payment (exit 2 naming what is wrong);
every other command meeting a damaged file says STORE_DAMAGED with the restore hint, never SQL;
`store backup` taken while another process takes payments restores to a store that passes
`store check`."""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli
from digitctl.services.quickstart import DEMO_PASSWORD

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
REPO = Path(__file__).resolve().parents[2]


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def login(store: str, user: str = "admin") -> None:
    run(store, "logout")
    res = run(store, "login", "--username", user, "--password-stdin", stdin=DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


def error(res: Any) -> tuple[str, str, list[str]]:
    doc = json.loads(res.stdout)
    err = doc["Errors"][0]
    return err["code"], err["message"], err["params"]


def db_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def checkpoint(url: str) -> Path:
    """Everything in the main file (no -wal beside it), as a store at rest is."""
    path = db_path(url)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def overwrite(path: Path, offset: int, size: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes((i * 37 + 11) % 256 for i in range(size)))


@pytest.fixture
def store(quickstart_url: str) -> str:
    login(quickstart_url)
    return quickstart_url


def test_a_sound_store_checks(store: str):
    res = run(store, "-o", "json", "store", "check")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["integrity"] == "ok" and doc["money"]["problems"] == []


def test_bytes_overwritten_in_the_middle_are_found(store: str):
    path = checkpoint(store)
    size = path.stat().st_size
    overwrite(path, (size // 2) // 4096 * 4096, 4096)
    res = run(store, "-o", "json", "store", "check")
    assert res.exit_code == 2, res.output
    code, message, params = error(res)
    assert code == "STORE_DAMAGED" and "store restore" in message, res.stdout
    assert any(p.startswith("problems: ") for p in params)


def test_every_command_on_a_badly_damaged_store_says_store_damaged(store: str):
    path = checkpoint(store)
    size = path.stat().st_size
    overwrite(path, (size // 4) // 4096 * 4096, min(256 * 1024, size // 2))
    for command in (["tenant", "list"], ["user", "list"], ["mdms", "search", "--tenant", "pb", "--module", "tenant"],
                    ["audit", "verify"]):
        res = run(store, "-o", "json", *command)
        assert res.exit_code == 2, (command, res.output)
        code, message, _ = error(res)
        assert code == "STORE_DAMAGED" and "digitctl store restore" in message, (command, res.stdout)
        assert "SELECT" not in res.output.upper().replace("SELECTED", ""), res.output
        table = run(store, *command)
        assert "Error STORE_DAMAGED" in table.stderr and "SELECT" not in table.output, table.output


def test_init_on_a_damaged_store_says_so(store: str):
    path = checkpoint(store)
    overwrite(path, (path.stat().st_size // 2) // 4096 * 4096, 4096)
    res = run(store, "-o", "json", "init")
    assert res.exit_code == 2 and error(res)[0] == "STORE_DAMAGED", res.output


def test_a_file_that_is_not_a_database_is_store_damaged(store: str):
    path = checkpoint(store)
    overwrite(path, 0, 100)
    res = run(store, "-o", "json", "whoami")
    assert res.exit_code == 2 and error(res)[0] == "STORE_DAMAGED", res.output


def test_a_deleted_audit_record_is_found(store: str):
    path = checkpoint(store)
    con = sqlite3.connect(path)
    con.execute("DELETE FROM audit_record WHERE seq = (SELECT MAX(seq) / 2 FROM audit_record)")
    con.commit()
    con.close()
    res = run(store, "-o", "json", "store", "check")
    assert res.exit_code == 2, res.output
    code, _, params = error(res)
    assert code == "AUDIT_CHAIN_BROKEN", res.stdout


def test_an_edited_payment_is_found(store: str):
    login(store, "clerk.amritsar")
    apps = json.loads(run(store, "-o", "json", "application", "list").stdout)["Applications"]
    no = next(a["applicationNo"] for a in apps if a.get("applicationStatus") == "PENDINGPAYMENT")
    bill = json.loads(run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar",
                          "--application", no).stdout)["Bill"][0]
    paid = run(store, "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
               "--amount", str(bill["totalAmount"]).split(".")[0])
    assert paid.exit_code == 0, paid.output
    login(store)
    con = sqlite3.connect(checkpoint(store))
    con.execute("UPDATE payment SET amount_paid_paise = amount_paid_paise - 9500")
    con.commit()
    con.close()
    res = run(store, "-o", "json", "store", "check")
    assert res.exit_code == 2, res.output
    code, _, params = error(res)
    assert code.startswith("AUDIT_") and "entityType: Payment" in params, res.stdout


def test_money_reconciliation_names_a_payment_row_that_disagrees_with_its_receipt(state_app: Any, tmp_path):
    """What a key holder who re-sealed the chain could still not hide: the row against its document."""
    from sqlalchemy import text

    from digitctl.services import store_health

    with state_app.store.engine.begin() as conn:
        conn.execute(text("INSERT INTO payment (id, tenant_id, receipt_number, receipt_date, collector_uuid, bill_id, "
                          "business_service, consumer_code, payment_mode, total_due_paise, amount_paid_paise, "
                          "instrument_status, payment_status, payment, created_at, updated_at) VALUES ('p1', "
                          "'pb.amritsar', 'C01/107/2026-27/000001', :t, 'u', 'b', 'TL', 'CC', 'CASH', 100000, "
                          "90500, 'APPROVED', 'NEW', :doc, :t, :t)"),
                     {"t": dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc),
                      "doc": json.dumps({"totalAmountPaid": 1000.00})})
    report = store_health.money(state_app)
    assert report.payments == 1
    assert report.problems == [{"code": "PAYMENT_AMOUNT_MISMATCH", "receiptNumber": "C01/107/2026-27/000001",
                                "row": "905.00", "document": "1000.0"}]


PAYER = textwrap.dedent('''
    import datetime as dt, sys
    from sqlalchemy import select
    from digitctl.bootstrap import build
    from digitctl.clock import IST, FixedClock
    from digitctl.context import RequestContext
    from digitctl.services import collection, users
    from local_store.models import Bill

    app = build(sys.argv[1], FixedClock(dt.datetime(2026, 11, 25, 11, 0, tzinfo=IST)))
    with app.uow(app.base_context(), readonly=True) as uow:
        actor = users.actor_of(uow.session, users.find(uow.session, "clerk.amritsar"))
    ctx = RequestContext(actor=actor, clock=app.clock)
    print("ready", flush=True)
    paid = 0
    while True:
        with app.store.engine.connect() as conn:
            bill_id = conn.execute(select(Bill.id).where(Bill.status == "ACTIVE").order_by(Bill.bill_number)
                                   .limit(1)).scalar()
        if bill_id is None:
            break
        collection.pay(app, ctx, tenant_id="pb.amritsar", bill_id=bill_id, mode="CASH", amount="1000")
        paid += 1
        print(paid, flush=True)
    print("done", flush=True)
''')


def _counter_with_bills(url: str, count: int) -> None:
    from digitctl.bootstrap import build
    from digitctl.clock import FixedClock, parse_instant
    from digitctl.services import billing, shifts
    from tests.helpers import ctx_as

    app = build(url, FixedClock(parse_instant(NOW)))
    try:
        clerk = ctx_as(app, "clerk.amritsar")
        billing.create_demands(app, clerk, [
            {"tenantId": "pb.amritsar", "consumerCode": f"TL-B-{i:04d}", "businessService": "TL",
             "taxPeriodFrom": 1585679399000, "taxPeriodTo": 1617172199000,
             "payer": {"name": "Simran Kaur", "mobileNumber": "9876543299"},
             "demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": "1000", "collectionAmount": "0"}]}
            for i in range(count)])
        billing.fetch_bill(app, clerk, "pb.amritsar", mobile="9876543299")
        shifts.open_shift(app, clerk, "0")
    finally:
        app.close()


def test_a_backup_taken_while_payments_run_restores_to_a_sound_store(demo_users_url: str, tmp_path: Path):
    url = demo_users_url
    _counter_with_bills(url, 400)
    script = tmp_path / "payer.py"
    script.write_text(PAYER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr
        backups = []
        for i in range(3):          # backups while the other process commits payments, paced by its progress
            while (line := proc.stdout.readline().strip()) != "done" and int(line) < 5 + 10 * i:
                pass
            assert line != "done", "the payer finished before the backups: nothing ran concurrently"
            file = tmp_path / f"backup-{i}.db"
            res = run(url, "-o", "json", "store", "backup", str(file))
            assert res.exit_code == 0, res.output
            backups.append(file)
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    paid = []
    for file in backups:
        restored = f"sqlite:///{tmp_path / ('restored-' + file.name)}"
        res = run(restored, "-o", "json", "store", "restore", str(file), "--yes")
        assert res.exit_code == 0, res.output
        login(restored)
        check = run(restored, "-o", "json", "store", "check")
        assert check.exit_code == 0, check.output
        paid.append(json.loads(check.stdout)["money"]["paymentsChecked"])
    assert paid[0] >= 5 and paid == sorted(paid) and paid[0] < paid[-1], paid   # taken as payments went on


def test_restore_refuses_a_file_that_is_not_a_backup(store: str, tmp_path: Path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    before = db_path(store).read_bytes()
    res = run(store, "-o", "json", "store", "restore", str(junk), "--yes")
    assert res.exit_code == 2 and error(res)[0] == "INVALID_BACKUP", res.output
    assert db_path(store).read_bytes() == before


def test_backup_does_not_overwrite_a_file_without_force(store: str, tmp_path: Path):
    file = tmp_path / "b.db"
    file.write_text("keep me")
    res = run(store, "-o", "json", "store", "backup", str(file))
    assert res.exit_code == 2 and error(res)[0] == "FILE_EXISTS"
    assert file.read_text() == "keep me"


@pytest.mark.postgres
def test_a_postgresql_store_backs_up_and_restores_with_pg_dump(pg_url: str, tmp_path: Path):
    import shutil

    import psycopg

    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump not installed")
    assert run(pg_url, "init", "--state", "pb", "--counter", "C01").exit_code == 0
    file = tmp_path / "pg.dump"
    res = run(pg_url, "-o", "json", "store", "backup", str(file))
    assert res.exit_code == 0, res.output
    other = pg_url.rsplit("/", 1)[0] + "/" + pg_url.rsplit("/", 1)[1] + "_restored"
    server = pg_url.replace("+psycopg", "").rsplit("/", 1)[0] + "/test"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{other.rsplit("/", 1)[1]}"')
        try:
            res = run(other, "-o", "json", "store", "restore", str(file), "--yes")
            assert res.exit_code == 0, res.output
            assert json.loads(res.stdout)["schemaRevision"] == json.loads(
                run(pg_url, "-o", "json", "init").stdout)["schemaRevision"]
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{other.rsplit("/", 1)[1]}" WITH (FORCE)')

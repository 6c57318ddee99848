"""`digitctl report daybook` through Typer's runner, as a logged-in counter clerk: CSV on stdout,
the table, and an A4 PDF whose text carries the totals."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from digitctl.bootstrap import build
from digitctl.cli.main import app as cli
from digitctl.clock import IST
from digitctl.resources import bundled
from local_store.models import Payment, Shift, UserAccount

runner = CliRunner()
ADMIN_PW = "Admin@12345"
CLERK_PW = "Clerk@12345"
TENANT = "pb.amritsar"


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli, ["--store", store, *args], input=stdin,
                         env={"DIGITCTL_NOW": "2026-11-25T19:00:00+05:30"})


def login(store: str, user: str, password: str) -> None:
    res = run(store, "login", "--username", user, "--password-stdin", "-o", "json", stdin=password + "\n")
    assert res.exit_code == 0, res.output


def at(hh: int, mm: int, day: int = 25) -> dt.datetime:
    return dt.datetime(2026, 11, day, hh, mm, tzinfo=IST)


def seed(url: str) -> None:
    """One closed shift on 25 Nov with cash, a cheque, a cancelled receipt; one receipt on the 26th."""
    application = build(url)
    try:
        engine = application.store.engine
        with engine.begin() as conn:
            me = conn.execute(select(UserAccount.uuid).where(UserAccount.user_name == "clerk1")).scalar_one()
            sid = str(uuid.uuid4())
            conn.execute(insert(Shift).values(
                id=sid, tenant_id=TENANT, counter_code="C01", user_uuid=me, status="CLOSED", float_paise=200000,
                opened_at=at(9, 0), closed_at=at(18, 0), expected_cash_paise=200000 + 250050,
                counted_cash_paise=450050, variance_paise=0))
            for number, when, mode, service, paise, status, reason in [
                ("R-1", at(9, 30), "CASH", "TL", 150050, "NEW", None),
                ("R-2", at(10, 0), "CHEQUE", "TL", 1234500, "NEW", None),
                ("R-3", at(11, 0), "CASH", "TL", 70000, "CANCELLED", "WRONG_AMOUNT"),
                ("R-4", at(23, 30), "CASH", "PT", 100000, "NEW", None),
                ("R-5", at(0, 15, day=26), "CASH", "PT", 5500, "NEW", None),
            ]:
                conn.execute(insert(Payment).values(
                    id=str(uuid.uuid4()), tenant_id=TENANT, receipt_number=number, receipt_date=when,
                    counter_code="C01", shift_id=sid if when.day == 25 else None, collector_uuid=me,
                    bill_id=str(uuid.uuid4()), business_service=service, consumer_code="PB-1", payment_mode=mode,
                    total_due_paise=paise, amount_paid_paise=paise, instrument_status="APPROVED",
                    payment_status=status, cancel_reason=reason, payment={}, created_at=when, updated_at=when))
    finally:
        application.close()


def build_store(url: str) -> None:
    """An admin, the bundled state, a clerk, and the day's payments (seed), made once."""
    res = run(url, "init", "--state", "pb", "--counter", "C01", "--admin-username", "admin",
              "--admin-password-stdin", stdin=ADMIN_PW + "\n")
    assert res.exit_code == 0, res.output
    login(url, "admin", ADMIN_PW)
    configs = bundled("configs") / "mdms"
    res = run(url, "mdms", "apply", str(configs / "data" / "pb"),
              "--master-config", str(configs / "master-config.json"))
    assert res.exit_code == 0, res.output
    res = run(url, "user", "create", "--type", "EMPLOYEE", "--username", "clerk1", "--name", "Harpreet Singh",
              "--mobile", "9814012345", "--role", "TL_CEMP@pb.amritsar", "--tenant", TENANT, "--password-stdin",
              stdin=CLERK_PW + "\n")
    assert res.exit_code == 0, res.output
    login(url, "clerk1", CLERK_PW)
    seed(url)


@pytest.fixture
def store(templated_store) -> str:
    url = templated_store("cli-reports", build_store)
    login(url, "clerk1", CLERK_PW)
    return url


def test_csv_has_a_row_per_group_and_the_totals(store):
    res = run(store, "report", "daybook", "--date", "2026-11-25", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    groups = [(r["businessService"], r["paymentMode"], r["count"], r["amount"], r["firstReceipt"], r["lastReceipt"])
              for r in rows if r["section"] == "group"]
    assert groups == [("PT", "CASH", "1", "1000.00", "R-4", "R-4"), ("TL", "CASH", "1", "1500.50", "R-1", "R-1"),
                      ("TL", "CHEQUE", "1", "12345.00", "R-2", "R-2")]
    totals = {r["paymentMode"]: r["amount"] for r in rows if r["section"] == "mode total"}
    assert totals == {"CASH": "2500.50", "CHEQUE": "12345.00"}
    [grand] = [r for r in rows if r["section"] == "grand total"]
    assert grand["count"] == "3" and grand["amount"] == "14845.50"
    [cancelled] = [r for r in rows if r["section"] == "cancelled"]
    assert cancelled["firstReceipt"] == "R-3" and cancelled["reason"] == "WRONG_AMOUNT" and cancelled["who"] == "clerk1"
    [recon] = [r for r in rows if r["section"] == "reconciliation"]
    assert recon["amount"] == "2500.50" and recon["reason"] == "OK"


def test_table_and_json(store):
    table = run(store, "report", "daybook")           # today by the clock: 25 Nov
    assert table.exit_code == 0, table.output
    assert "25/11/2026" in table.stdout and "₹14,845.50" in table.stdout and "R-3" in table.stdout
    assert "OK" in table.stdout and "R-5" not in table.stdout
    doc = json.loads(run(store, "report", "daybook", "--date", "2026-11-26", "-o", "json").stdout)["Daybook"]
    assert doc["grandTotal"] == {"count": 1, "amount": "55.00"}
    assert doc["reconciliation"]["status"] == "MISMATCH"     # R-5 was taken outside any shift


def test_bad_date_and_format_are_refused(store):
    bad = run(store, "report", "daybook", "--date", "25-11-2026", "-o", "json")
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["Errors"][0]["code"] == "INVALID_DATE"
    assert run(store, "report", "daybook", "--format", "xlsx").exit_code == 2


def test_pdf_carries_the_totals(store, tmp_path):
    out = tmp_path / "daybook.pdf"
    res = run(store, "report", "daybook", "--date", "2026-11-25", "--format", "pdf", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed: PDF text not checked")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    for needle in ("Day book 25/11/2026", "GRAND TOTAL", "₹14,845.50", "₹2,500.50", "₹12,345.00", "R-3",
                   "WRONG_AMOUNT", "Reconciliation", "OK"):
        assert needle in text, needle


def seed_reversals(url: str) -> None:
    """On the closed shift of 25 Nov: a cash receipt the supervisor cancelled at 19:00, after the
    shift closed at 18:00 (its ₹250 is in the shift's count), and a cheque dishonoured with a
    reason; both with DIGIT-length receipt numbers."""
    application = build(url)
    try:
        with application.store.engine.begin() as conn:
            me = conn.execute(select(UserAccount.uuid).where(UserAccount.user_name == "clerk1")).scalar_one()
            shift = conn.execute(select(Shift).where(Shift.status == "CLOSED")).one()
            conn.execute(Shift.__table__.update().where(Shift.id == shift.id)
                         .values(expected_cash_paise=shift.expected_cash_paise + 25000,
                                 counted_cash_paise=shift.counted_cash_paise + 25000))
            later = int(at(19, 0).timestamp() * 1000)
            for number, when, mode, paise, status, reason, details in [
                ("PT/C01/107/2026-27/000006", at(12, 0), "CASH", 25000, "CANCELLED", "OTHER",
                 {"cancellationReason": "OTHER", "cancelledBy": "clerk1", "cancellationApprovedBy": "supervisor1"}),
                ("PT/C01/107/2026-27/000007", at(12, 30), "CHEQUE", 60000, "DISHONOURED", None,
                 {"dishonourReason": "insufficient funds"}),
            ]:
                conn.execute(insert(Payment).values(
                    id=str(uuid.uuid4()), tenant_id=TENANT, receipt_number=number, receipt_date=when,
                    counter_code="C01", shift_id=shift.id, collector_uuid=me, bill_id=str(uuid.uuid4()),
                    business_service="PT", consumer_code="PB-2", payment_mode=mode, total_due_paise=paise,
                    amount_paid_paise=paise, instrument_status=status, payment_status=status, cancel_reason=reason,
                    payment={"auditDetails": {"createdBy": me, "lastModifiedBy": me, "lastModifiedTime": later},
                             "additionalDetails": details},
                    created_at=when, updated_at=at(19, 0)))
    finally:
        application.close()


def test_a_receipt_cancelled_after_the_close_reconciles_with_who_and_why(store, tmp_path):
    seed_reversals(store)
    doc = json.loads(run(store, "report", "daybook", "--date", "2026-11-25", "-o", "json").stdout)["Daybook"]
    rc = doc["reconciliation"]
    assert rc["status"] == "OK" and rc["reversedAfterShiftClosed"] == "250.00" and rc["registerCash"] == "2500.50"
    assert [(s["series"], s["first"], s["last"], s["issued"]) for s in doc["receiptRange"]["series"]] == [
        ("PT/C01/107/2026-27", "PT/C01/107/2026-27/000006", "PT/C01/107/2026-27/000007", 2),
        ("R", "R-1", "R-4", 4)]

    table = run(store, "report", "daybook", "--date", "2026-11-25")
    assert table.exit_code == 0, table.output
    flat = " ".join(table.stdout.split())
    assert "Reversed after the shift closed: ₹250.00" in flat
    assert "+ ₹250.00 reversed after the shift closed vs shifts' cash ₹2,750.50" in flat and "OK" in flat
    assert "MISMATCH" not in flat

    rows = list(csv.DictReader(io.StringIO(run(store, "report", "daybook", "--date", "2026-11-25",
                                               "--format", "csv").stdout)))
    who = {r["firstReceipt"]: (r["section"], r["reason"], r["who"]) for r in rows
           if r["section"] in ("cancelled", "dishonoured")}
    assert who["PT/C01/107/2026-27/000006"] == ("cancelled", "OTHER", "clerk1; approved: supervisor1")
    assert who["PT/C01/107/2026-27/000007"] == ("dishonoured", "insufficient funds", "clerk1")
    assert who["R-3"] == ("cancelled", "WRONG_AMOUNT", "clerk1")       # an old receipt without those details
    [late] = [r for r in rows if r["section"] == "reversed after shift closed"]
    assert late["firstReceipt"] == "PT/C01/107/2026-27/000006" and late["amount"] == "250.00"
    series = [(r["firstReceipt"], r["lastReceipt"], r["count"]) for r in rows if r["section"] == "receipt series"]
    assert series == [("PT/C01/107/2026-27/000006", "PT/C01/107/2026-27/000007", "2"), ("R-1", "R-4", "4")]
    [recon] = [r for r in rows if r["section"] == "reconciliation"]
    assert recon["reason"] == "OK"

    out = tmp_path / "daybook.pdf"
    assert run(store, "report", "daybook", "--date", "2026-11-25", "--format", "pdf", "--out", str(out)).exit_code == 0
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed: PDF text not checked")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    for needle in ("clerk1; approved: supervisor1", "insufficient funds", "Reversed after the shift closed: ₹250.00",
                   "PT/C01/107/2026-27/000006 - PT/C01/107/2026-27/000007 (2); R-1 - R-4 (4)"):
        assert needle in flat, needle
    # a receipt number is never split across lines, in any table
    lines = text.splitlines()
    for number in ("PT/C01/107/2026-27/000006", "PT/C01/107/2026-27/000007"):
        assert [ln for ln in lines if ln.strip().startswith(number)], number    # its row in the excluded table
    assert not [ln for ln in lines if "PT/C01/107/2026-2" in ln and "PT/C01/107/2026-27/00000" not in ln]

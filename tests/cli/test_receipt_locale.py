"""`digitctl receipt print --locale`, and who the receipt says collected the money, through Typer's
runner on a scratch store with the bundled state and the demo users (the clerk takes a Trade
Licence payment at an open shift). The PDFs are read back with poppler's `pdftotext`."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from digitctl.cli.main import app as cli_app
from digitctl.services import quickstart
from local_store.models import Payment

pytest.importorskip("fpdf", reason="fpdf2 is not installed (receipts need fpdf2 + uharfbuzz)")
pytest.importorskip("uharfbuzz", reason="uharfbuzz is not installed (fpdf2 text shaping for Indic scripts)")

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
TL_FROM, TL_TO = 1585679399000, 1617172199000
TENANT = "pb.amritsar"


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli_app, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def login(store: str, user: str) -> None:
    run(store, "logout")
    res = run(store, "login", "--username", user, "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


def pdf_text(path: Path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext not found: install poppler-utils (apt-get install poppler-utils) "
                    "to check the receipts' text")
    return subprocess.run([exe, "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True).stdout.decode()


@pytest.fixture
def paid(demo_users_url, tmp_path) -> tuple[str, str]:
    """(store, receipt number): clerk.amritsar took ₹1,250 + round-off for a TL demand in cash."""
    store = demo_users_url
    login(store, "clerk.amritsar")
    assert run(store, "shift", "open", "--float", "0").exit_code == 0
    demand = tmp_path / "demand.json"
    demand.write_text(json.dumps({"Demands": [{
        "tenantId": TENANT, "consumerCode": "TL-LOC-1", "businessService": "TL", "taxPeriodFrom": TL_FROM,
        "taxPeriodTo": TL_TO, "payer": {"name": "Simran Kaur", "mobileNumber": "9876543210"},
        "demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": "1250", "collectionAmount": "0"},
                          {"taxHeadMasterCode": "TL_ADHOC_PENALTY", "taxAmount": "100", "collectionAmount": "0"}]}]}))
    assert run(store, "demand", "create", "-f", str(demand)).exit_code == 0
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--consumer-code", "TL-LOC-1",
              "--service", "TL")
    assert res.exit_code == 0, res.output
    bill = json.loads(res.stdout)["Bill"][0]
    res = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", TENANT, "--mode", "CASH",
              "--amount", "1350", "--payer-name", "Simran Kaur")
    assert res.exit_code == 0, res.output
    return store, json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["receiptNumber"]


def test_en_in_receipt_names_the_service_and_tax_heads(paid, tmp_path):
    store, receipt = paid
    out = tmp_path / "en.pdf"
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["Receipt"]["locale"] == "en_IN"
    text = pdf_text(out)
    assert "Trade License Payment Receipt" in text
    assert "Trade License Fee" in text and "Adhoc Penalty" in text      # digitctl's en_IN billing bundle
    assert "TL_TAX" not in text and "TL_ADHOC_PENALTY" not in text and "BILLINGSERVICE" not in text


def test_hi_in_receipt(paid, tmp_path):
    store, receipt = paid
    out = tmp_path / "hi.pdf"
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "--locale", "hi_IN",
              "-o", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["Receipt"]["locale"] == "hi_IN"
    lines = [ln.strip() for ln in pdf_text(out).splitlines()]
    text = "\n".join(lines)
    assert receipt in lines
    # tenant + label in the Devanagari font (pdftotext splits "नि गम" at the pre-base matra: compare
    # words without one)
    assert "अमृतसर नगर" in text
    assert "व्यापार लाइसेंस भुगतान रसीद" in lines
    assert "रसीद संख्या" in lines and "नकद" in lines
    assert "व्यापार लाइसेंस शुल्क" in lines and "तदर्थ" in text      # TL_TAX, TL_ADHOC_PENALTY
    assert "₹1,250.00" in text and "₹100.00" in text and "₹1,350.00" in text
    assert "TL_TAX" not in text and "Trade License" not in text


def test_unknown_locale_is_refused_and_nothing_written(paid, tmp_path):
    store, receipt = paid
    out = tmp_path / "xx.pdf"
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "--locale", "xx_YY",
              "-o", str(out))
    assert res.exit_code == 2, res.output
    [err] = json.loads(res.stdout)["Errors"]
    assert err["code"] == "INVALID_LOCALE" and "en_IN" in err["message"] and "hi_IN" in err["message"]
    assert not out.exists()
    for bad in ("../configs", "*", "en_IN.rainmaker-common"):       # never a file pattern
        res = run(store, "receipt", "print", receipt, "--tenant", TENANT, "--locale", bad, "-o", str(out))
        assert res.exit_code == 2 and "INVALID_LOCALE" in res.stderr and not out.exists()
    # the refused prints were not counted: the next one is still the original
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", TENANT, "-o", str(out))
    assert res.exit_code == 0 and json.loads(res.stdout)["Receipt"]["marks"] == []


def test_collector_is_the_clerk_who_took_the_payment(paid, tmp_path):
    store, receipt = paid
    login(store, "supervisor.amritsar")
    out = tmp_path / "reprint.pdf"
    res = run(store, "receipt", "print", receipt, "--tenant", TENANT, "--format", "thermal", "-o", str(out))
    assert res.exit_code == 0, res.output
    text = pdf_text(out)
    assert "clerk.amritsar" in text
    assert "supervisor.amritsar" not in text


def test_collector_falls_back_to_the_printer_when_the_taker_is_unknown(paid, tmp_path):
    store, receipt = paid
    engine = create_engine(store)
    with Session(engine) as s:                  # e.g. a payment synced from a counter whose user is not here
        row = s.execute(select(Payment).where(Payment.receipt_number == receipt)).scalar_one()
        row.payment = {**row.payment, "auditDetails": {**row.payment["auditDetails"], "createdBy": "no-such-uuid"}}
        s.commit()
    engine.dispose()
    login(store, "supervisor.amritsar")
    out = tmp_path / "reprint.pdf"
    res = run(store, "receipt", "print", receipt, "--tenant", TENANT, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "supervisor.amritsar" in pdf_text(out)

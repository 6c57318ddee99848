"""`digitctl pay`, `digitctl receipt print`, `digitctl payment show|cancel|remit` through Typer's
runner, logged in as the demo counter clerk with an open shift, on a scratch store in tmp_path."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli_app
from digitctl.resources import bundled
from digitctl.services import quickstart

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
CONFIGS = bundled("configs")
TL_FROM, TL_TO = 1585679399000, 1617172199000
PT_PERIOD = (1554076799000, 1585679399000)      # PTAN2019


CLI = cli_app


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(CLI, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


@pytest.fixture
def store(clerk_cli_store) -> str:
    return clerk_cli_store


def _bill(store: str, tmp_path: Path, consumer: str, service: str = "TL", head: str = "TL_TAX",
          amount: str = "1250", period: tuple[int, int] = (TL_FROM, TL_TO)) -> dict:
    path = tmp_path / f"{consumer}.json"
    path.write_text(json.dumps({"Demands": [{
        "tenantId": "pb.amritsar", "consumerCode": consumer, "businessService": service, "taxPeriodFrom": period[0],
        "taxPeriodTo": period[1], "payer": {"name": "Simran Kaur", "mobileNumber": "9876543210"},
        "demandDetails": [{"taxHeadMasterCode": head, "taxAmount": amount, "collectionAmount": "0"}]}]}))
    res = run(store, "-o", "json", "demand", "create", "-f", str(path))
    assert res.exit_code == 0, res.output
    return _fetch(store, consumer, service)


def _fetch(store: str, consumer: str, service: str = "TL") -> dict:
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", "pb.amritsar", "--consumer-code", consumer,
              "--service", service)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["Bill"][0]


def _code(res) -> str:
    return json.loads(res.stdout)["Errors"][0]["code"]


def test_pay_print_reprint_cancel(store, tmp_path):
    bill = _bill(store, tmp_path, "TL-CLI-1")
    refused = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
                  "--amount", "1250")
    assert refused.exit_code == 2 and json.loads(refused.stdout)["Errors"][0]["code"] == "SHIFT_NOT_OPEN"
    assert run(store, "shift", "open", "--float", "500").exit_code == 0

    bad = run(store, "-o", "json", "pay", "--bill", bill["billNumber"], "--tenant", "pb.amritsar", "--mode", "CHEQUE",
              "--amount", "1250", "--instrument-number", "123456", "--instrument-date", "2026-12-01",
              "--bank", "PNB", "--branch", "Hall Bazar", "--ifsc", "PUNB0012300")
    assert bad.exit_code == 2 and json.loads(bad.stdout)["Errors"][0]["code"] == "INVALID_INSTRUMENT_DATE"

    typo = run(store, "-o", "json", "pay", "--bill", bill["billNumber"], "--tenant", "pb.amritsar", "--mode", "CASH",
               "--amount", "12,50")                  # a stray comma is a typo, not ₹1,250
    assert typo.exit_code == 2 and _code(typo) == "INVALID_AMOUNT"

    res = run(store, "-o", "json", "pay", "--bill", bill["billNumber"], "--tenant", "pb.amritsar", "--mode", "CASH",
              "--amount", "1,250", "--payer-name", "Simran Kaur")
    assert res.exit_code == 0, res.output
    [payment] = json.loads(res.stdout, parse_float=Decimal)["Payments"]
    receipt = payment["paymentDetails"][0]["receiptNumber"]
    assert receipt.startswith("C01/") and payment["totalAmountPaid"] == 1250      # a JSON number, as DIGIT's
    assert '"totalAmountPaid": 1250.00,' in res.stdout                               # exact, never via a float

    table = run(store, "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH", "--amount", "1250")
    assert table.exit_code == 2 and "BILL_ALREADY_PAID" in table.stderr

    shown = run(store, "payment", "show", receipt, "--tenant", "pb.amritsar")
    assert shown.exit_code == 0 and "₹1,250.00" in shown.stdout

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    # a print that cannot be delivered is refused and not counted: the next one is still the original
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", "pb.amritsar",
              "-o", str(tmp_path / "no-such-dir" / "r.pdf"))
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_OUTPUT_PATH"
    assert not (tmp_path / "no-such-dir").exists()
    first = scratch / "first.pdf"
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", "pb.amritsar", "-o", str(first))
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)["Receipt"]
    assert info["marks"] == [] and first.read_bytes().startswith(b"%PDF")
    second = scratch / "second.pdf"
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", "pb.amritsar", "--format", "thermal",
              "--out", str(second))
    assert res.exit_code == 0 and json.loads(res.stdout)["Receipt"]["marks"] == ["DUPLICATE"]

    # the clerk who took the money cannot cancel it: that needs the supervisor's CR_TL
    res = run(store, "-o", "json", "payment", "cancel", receipt, "--tenant", "pb.amritsar", "--reason", "ERRORRECEIPT")
    assert res.exit_code == 3 and json.loads(res.stdout)["Errors"][0]["code"] == "RECEIPT_CANCEL_NOT_AUTHORIZED"
    # ... nor can the approver vouch for it, and a wrong supervisor password cancels nothing
    for who, password, code in (("approver.amritsar", quickstart.DEMO_PASSWORD, "RECEIPT_CANCEL_NOT_AUTHORIZED"),
                                ("supervisor.amritsar", "wrong-password", "INVALID_CREDENTIALS")):
        res = run(store, "-o", "json", "payment", "cancel", receipt, "--tenant", "pb.amritsar", "--reason",
                  "ERRORRECEIPT", "--supervisor", who, "--password-stdin", stdin=password + "\n")
        assert res.exit_code == 3 and json.loads(res.stdout)["Errors"][0]["code"] == code, res.output
    shown = json.loads(run(store, "-o", "json", "payment", "show", receipt, "--tenant", "pb.amritsar").stdout)
    assert shown["Payments"][0]["paymentStatus"] == "NEW"
    # a bad reason is refused before the supervisor's password is even checked (no login recorded)
    res = run(store, "-o", "json", "payment", "cancel", receipt, "--tenant", "pb.amritsar", "--reason", "NOPE",
              "--supervisor", "supervisor.amritsar", "--password-stdin", stdin="not-even-read\n")
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_CANCEL_REASON"
    # the supervisor standing by at the clerk's counter approves with their password
    res = run(store, "payment", "cancel", receipt, "--tenant", "pb.amritsar", "--reason", "ERRORRECEIPT",
              "--supervisor", "supervisor.amritsar", "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    assert "clerk.amritsar / approved by supervisor.amritsar" in res.stdout and "CANCELLED" in res.stdout
    # the bill it paid is cancelled with it, as DIGIT's PaymentWorkflowService does: never "PAID" any more
    assert re.search(r"bill status\s*│\s*CANCELLED", res.stdout), res.stdout
    assert run(store, "whoami").stdout.count("clerk.amritsar") >= 1        # the clerk is still the one logged in
    third = scratch / "third.pdf"
    res = run(store, "-o", "json", "receipt", "print", receipt, "--tenant", "pb.amritsar", "--copy", "-o", str(third))
    assert res.exit_code == 0 and json.loads(res.stdout)["Receipt"]["marks"] == ["DUPLICATE", "CANCELLED"]


def test_a_part_paid_bill_is_not_paid_again_the_clerk_fetches_a_fresh_one(store, tmp_path):
    assert run(store, "shift", "open", "--float", "0").exit_code == 0
    bill = _bill(store, tmp_path, "PT-CLI-1", service="PT", head="PT_TAX", amount="1000", period=PT_PERIOD)
    res = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
              "--amount", "400")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["bill"]["status"] == "PARTIALLY_PAID"
    again = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
                "--amount", "600")
    assert again.exit_code == 2 and _code(again) == "BILL_ALREADY_PAID", again.output
    fresh = _fetch(store, "PT-CLI-1", "PT")
    assert fresh["id"] != bill["id"] and Decimal(str(fresh["totalAmount"])) == 600
    res = run(store, "-o", "json", "pay", "--bill", fresh["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
              "--amount", "600")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["bill"]["status"] == "PAID"


def test_card_needs_its_transaction_number_and_is_deposited_at_once(store, tmp_path):
    assert run(store, "shift", "open", "--float", "0").exit_code == 0
    bill = _bill(store, tmp_path, "TL-CLI-CARD")
    pay = ("-o", "json", "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CARD", "--amount", "1250",
           "--instrument-number", "4111")
    refused = run(store, *pay)
    assert refused.exit_code == 2 and _code(refused) == "INVALID_TXN_NUMBER", refused.output
    res = run(store, *pay, "--transaction-number", "TXN-778899")
    assert res.exit_code == 0, res.output
    [payment] = json.loads(res.stdout)["Payments"]
    assert payment["transactionNumber"] == "TXN-778899"
    assert (payment["paymentStatus"], payment["instrumentStatus"]) == ("DEPOSITED", "REMITTED")


def test_dishonour_takes_a_reason_code_and_a_supervisor(store, tmp_path):
    assert run(store, "shift", "open", "--float", "0").exit_code == 0
    bill = _bill(store, tmp_path, "TL-CLI-BOUNCE")
    res = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CHEQUE",
              "--amount", "1250", "--instrument-number", "123456", "--instrument-date", "2026-11-20",
              "--bank", "PNB", "--branch", "Hall Bazar", "--ifsc", "PUNB0012300")
    assert res.exit_code == 0, res.output
    receipt = json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["receiptNumber"]
    base = ("-o", "json", "payment", "dishonour", receipt, "--tenant", "pb.amritsar")
    alone = run(store, *base, "--reason", "CHEQUEBOUNCE")            # the clerk alone: no cancellator role
    assert alone.exit_code == 3 and _code(alone) == "RECEIPT_DISHONOUR_NOT_AUTHORIZED", alone.output
    # free text is no reason code: refused before the supervisor's password is even read
    text = run(store, *base, "--reason", "insufficient funds", "--supervisor", "supervisor.amritsar",
               "--password-stdin", stdin="not-even-read\n")
    assert text.exit_code == 2 and _code(text) == "INVALID_DISHONOUR_REASON", text.output
    done = run(store, *base, "--reason", "CHEQUEBOUNCE", "--comment", "insufficient funds",
               "--supervisor", "supervisor.amritsar", "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    [payment] = json.loads(done.stdout)["Payments"]
    assert payment["paymentStatus"] == "DISHONOURED"
    assert payment["paymentDetails"][0]["bill"]["status"] == "CANCELLED"
    assert payment["additionalDetails"]["dishonourApprovedBy"] == "supervisor.amritsar"


def test_receipts_are_numbered_in_one_series_unless_the_store_numbers_them_by_service(store, tmp_path):
    assert run(store, "shift", "open", "--float", "0").exit_code == 0
    pt: dict[str, Any] = dict(service="PT", head="PT_TAX", amount="1000", period=PT_PERIOD)

    def receipt(consumer: str) -> str:
        bill = _bill(store, tmp_path, consumer, **pt)
        res = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH",
                  "--amount", "1000")
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["receiptNumber"]

    assert receipt("PT-CLI-A") == "C01/107/2026-27/000001"                 # counter.receipt.id, DIGIT's default
    res = run(store, "-o", "json", "init", "--receipt-numbers-by-service")
    assert res.exit_code == 0, res.output
    assert receipt("PT-CLI-B") == "PT/C01/107/2026-27/000001"              # counter.pt.receipt.id
    res = run(store, "-o", "json", "init", "--receipt-numbers-state-level")
    assert res.exit_code == 2 and _code(res) == "RECEIPT_NUMBERING_MISMATCH"


def test_remit_prints_a_slip(store, tmp_path):
    assert run(store, "shift", "open", "--float", "0").exit_code == 0
    for consumer in ("TL-CLI-1", "TL-CLI-2"):
        bill = _bill(store, tmp_path, consumer)
        res = run(store, "pay", "--bill", bill["id"], "--tenant", "pb.amritsar", "--mode", "CASH", "--amount", "1250")
        assert res.exit_code == 0, res.output
    res = run(store, "-o", "json", "payment", "remit", "--tenant", "pb.amritsar", "--bank", "SBI Hall Bazar")
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "NOTHING_TO_REMIT"
    assert run(store, "shift", "close", "--count", "500x5").exit_code == 0
    taken = tmp_path / "taken.pdf"
    taken.write_bytes(b"keep")
    refused = run(store, "-o", "json", "payment", "remit", "--tenant", "pb.amritsar", "--pdf", str(taken))
    assert refused.exit_code == 2 and json.loads(refused.stdout)["Errors"][0]["code"] == "FILE_EXISTS"
    pdf = tmp_path / "slip.pdf"
    res = run(store, "-o", "json", "payment", "remit", "--tenant", "pb.amritsar", "--bank", "SBI Hall Bazar",
              "--pdf", str(pdf))
    assert res.exit_code == 0, res.output
    slip = json.loads(res.stdout)["Remittance"]
    assert slip["cashTotal"] == "2500.00" and slip["total"] == "2500.00" and len(slip["cash"]["receipts"]) == 2
    assert pdf.read_bytes().startswith(b"%PDF") and taken.read_bytes() == b"keep"


def test_a_usage_error_is_a_digit_error_for_scripts(store):
    res = run(store, "-o", "json", "pay", "--bill", "X", "--tenant", "pb.amritsar", "--mode", "CASH")
    assert res.exit_code == 2
    [err] = json.loads(res.stdout)["Errors"]
    assert err["code"] == "INVALID_USAGE" and "--amount" in err["message"]
    human = run(store, "pay", "--bill", "X", "--tenant", "pb.amritsar", "--mode", "CASH")
    assert human.exit_code == 2 and "Missing option" in human.output and "Errors" not in human.output
    unknown = run(store, "-o", "json", "payy")                 # before any command is found
    assert unknown.exit_code == 2 and json.loads(unknown.stdout)["Errors"][0]["code"] == "INVALID_USAGE"


def test_an_expired_session_says_so_even_without_a_tenant(store):
    later = {"DIGITCTL_NOW": "2026-11-27T11:00:00+05:30"}          # the clerk's 12-hour session is over
    res = runner.invoke(CLI, ["--store", store, "-o", "json", "pay", "--bill", "X", "--mode", "CASH",
                              "--amount", "1250"], env=later)
    assert res.exit_code == 3 and json.loads(res.stdout)["Errors"][0]["code"] == "SESSION_EXPIRED", res.output

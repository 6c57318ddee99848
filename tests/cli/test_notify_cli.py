"""Issue 15's "Done when" for notifications, through the real commands: a payment at the demo
counter reaches the payer once by SMS (a loopback fake gateway) and once by e-mail (aiosmtpd),
in the payer's language, with the receipt number; a gateway failing five times ends dead and
`notify retry` sends it; opting out of a channel is honoured; status and preview show what
happened without the numbers in full."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from digitctl.cli.main import app as cli_app
from digitctl.services import quickstart
from local_store.models import OutboxEvent
from tests.notify_fakes import fake_gateway, smtp_server

pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed (the e-mail tests need a local SMTP server)")
pytest.importorskip("stamina", reason="stamina is not installed (the notifier's retries)")

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
TENANT = "pb.amritsar"
TL_FROM, TL_TO = 1585679399000, 1617172199000
PAYER_MOBILE = "9876543210"          # the demo citizen Simran Kaur


def run(store: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return runner.invoke(cli_app, ["--store", store, *args], input=stdin,
                         env={"DIGITCTL_NOW": NOW, "DIGIT_NOTIFY_RETRY_WAIT": "0", "DIGIT_NOTIFY_BACKOFF": "0",
                              **(env or {})})


def login(store: str, user: str) -> None:
    run(store, "logout")
    res = run(store, "login", "--username", user, "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output


def pay(store: str, tmp_path: Any, consumer: str = "TL-NOTIFY-1", open_shift: bool = True) -> str:
    """clerk.amritsar takes ₹1,350 in cash for a TL demand whose payer is the demo citizen."""
    login(store, "clerk.amritsar")
    if open_shift:
        assert run(store, "shift", "open", "--float", "0").exit_code == 0
    demand = tmp_path / f"{consumer}.json"
    demand.write_text(json.dumps({"Demands": [{
        "tenantId": TENANT, "consumerCode": consumer, "businessService": "TL", "taxPeriodFrom": TL_FROM,
        "taxPeriodTo": TL_TO, "payer": {"name": "Simran Kaur", "mobileNumber": PAYER_MOBILE},
        "demandDetails": [{"taxHeadMasterCode": "TL_TAX", "taxAmount": "1250", "collectionAmount": "0"},
                          {"taxHeadMasterCode": "TL_ADHOC_PENALTY", "taxAmount": "100", "collectionAmount": "0"}]}]}))
    assert run(store, "demand", "create", "-f", str(demand)).exit_code == 0
    res = run(store, "-o", "json", "bill", "fetch", "--tenant", TENANT, "--consumer-code", consumer, "--service", "TL")
    bill = json.loads(res.stdout)["Bill"][0]
    res = run(store, "-o", "json", "pay", "--bill", bill["id"], "--tenant", TENANT, "--mode", "CASH",
              "--amount", "1350", "--payer-name", "Simran Kaur", "--mobile", PAYER_MOBILE)
    assert res.exit_code == 0, res.output
    return str(json.loads(res.stdout)["Payments"][0]["paymentDetails"][0]["receiptNumber"])


@pytest.fixture
def hindi_citizen(demo_users_url: str) -> str:
    """The demo store with the demo citizen reading Hindi and having an e-mail address."""
    store = demo_users_url
    login(store, "admin")
    res = run(store, "user", "update", PAYER_MOBILE, "--tenant", "pb", "--email", "simran@example.in")
    assert res.exit_code == 0, res.output
    res = run(store, "-o", "json", "notify", "prefs", PAYER_MOBILE, "--tenant", "pb", "--locale", "hi_IN")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["locale"] == "hi_IN"
    return store


def _for_receipt(texts: list[str], receipt: str) -> list[str]:
    return [t for t in texts if receipt in t]


def test_a_payment_sends_one_sms_and_one_email_in_the_payers_language(hindi_citizen, tmp_path):
    store = hindi_citizen
    receipt = pay(store, tmp_path)
    login(store, "admin")
    with fake_gateway() as gw, smtp_server() as box:
        env = {"DIGIT_SMS_GATEWAY_URL": gw.url, "DIGIT_SMTP_URL": box.url}
        res = run(store, "-o", "json", "notify", "run", "--once", env=env)
        assert res.exit_code == 0, res.output
        sms = [m for m in gw.messages if receipt in m["content"]]
        assert len(sms) == 1 and sms[0]["mobileno"] == PAYER_MOBILE
        assert sms[0]["content"].startswith("प्रिय Simran Kaur") and "रु. 1,350.00" in sms[0]["content"]
        assert "नकद" in sms[0]["content"] and "अमृतसर" in sms[0]["content"]     # mode and city in Hindi
        mails = [m for m in box.messages if receipt in m.get_content()]
        assert len(mails) == 1 and mails[0]["To"] == "simran@example.in"
        assert mails[0]["Subject"] == f"रसीद {receipt}" and "प्रिय Simran Kaur" in mails[0].get_content()
        # a second pass, and a restarted notifier, send nothing again
        before = (len(gw.requests), len(box.messages))
        assert run(store, "notify", "run", "--once", env=env).exit_code == 0
        assert (len(gw.requests), len(box.messages)) == before
    res = run(store, "-o", "json", "notify", "status")
    doc = json.loads(res.stdout)
    assert doc["sent"] >= 2 and doc["queued"] == doc["failed"] == doc["dead"] == 0 and doc["unread"] == 0
    assert PAYER_MOBILE not in res.stdout and "simran@example.in" not in res.stdout


def test_a_failing_gateway_ends_in_the_dead_letters_and_retry_sends_it(hindi_citizen, tmp_path):
    store = hindi_citizen
    receipt = pay(store, tmp_path)
    login(store, "admin")
    with fake_gateway() as gw:                       # the earlier events' messages out of the way first
        assert run(store, "notify", "run", "--once", env={"DIGIT_SMS_GATEWAY_URL": gw.url}).exit_code == 0
    receipt2 = pay(store, tmp_path, "TL-NOTIFY-2", open_shift=False)
    assert receipt2 != receipt
    login(store, "admin")
    with fake_gateway(fail_first=5) as gw:
        env = {"DIGIT_SMS_GATEWAY_URL": gw.url, "DIGIT_NOTIFY_TRIES_PER_PASS": "3"}
        assert run(store, "notify", "run", "--once", env=env).exit_code == 0     # attempts 1-3 fail
        assert run(store, "notify", "run", "--once", env=env).exit_code == 0     # 4-5 fail: dead
        assert gw.messages == [] and len(gw.requests) == 5
        doc = json.loads(run(store, "-o", "json", "notify", "status").stdout)
        [dead] = [n for n in doc["Notifications"] if n["status"] == "dead"]
        assert dead["attempts"] == 5 and dead["channel"] == "sms" and dead["to"] == "******3210"
        assert "HTTP 500" in dead["lastError"]
        assert run(store, "notify", "run", "--once", env=env).exit_code == 0     # dead stays dead
        assert len(gw.requests) == 5
        res = run(store, "-o", "json", "notify", "retry", str(dead["id"]), env=env)
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["status"] == "sent"
        assert [m["mobileno"] for m in gw.messages] == [PAYER_MOBILE] and receipt2 in gw.messages[0]["content"]
    res = run(store, "-o", "json", "notify", "retry", str(dead["id"]))
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "NOTIFICATION_NOT_RETRYABLE"


def test_opt_out_preview_and_refusals(hindi_citizen, tmp_path):
    store = hindi_citizen
    res = run(store, "-o", "json", "notify", "prefs", PAYER_MOBILE, "--tenant", "pb", "--opt-out", "email")
    assert res.exit_code == 0 and json.loads(res.stdout)["optedOut"] == ["email"]
    receipt = pay(store, tmp_path)
    login(store, "admin")
    engine = create_engine(store if "://" in store else f"sqlite:///{store}")
    with engine.connect() as conn:
        event_id = conn.execute(select(OutboxEvent.event_id).where(
            OutboxEvent.event_type == "collection.payment.created").order_by(OutboxEvent.seq.desc())).scalar()
    engine.dispose()
    res = run(store, "-o", "json", "notify", "preview", str(event_id))
    assert res.exit_code == 0, res.output
    [sms] = json.loads(res.stdout)["Notifications"]             # no e-mail: she opted out
    assert sms["channel"] == "sms" and sms["locale"] == "hi_IN" and sms["address"] == "******3210"
    assert receipt in sms["message"]
    with fake_gateway() as gw, smtp_server() as box:
        env = {"DIGIT_SMS_GATEWAY_URL": gw.url, "DIGIT_SMTP_URL": box.url}
        assert run(store, "notify", "run", "--once", env=env).exit_code == 0
        assert not any(receipt in m.get_content() for m in box.messages)
        assert len([m for m in gw.messages if receipt in m["content"]]) == 1
    # refused: a bad channel, a bad locale, the clerk running the notifier
    res = run(store, "-o", "json", "notify", "prefs", PAYER_MOBILE, "--tenant", "pb", "--opt-out", "fax")
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_CHANNEL"
    res = run(store, "-o", "json", "notify", "prefs", PAYER_MOBILE, "--tenant", "pb", "--locale", "hindi")
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_LOCALE"
    login(store, "clerk.amritsar")
    res = run(store, "-o", "json", "notify", "run", "--once")
    assert res.exit_code == 3 and json.loads(res.stdout)["Errors"][0]["code"] == "ACCESS_DENIED"


def test_killing_the_notifier_mid_send_and_restarting_sends_nothing_twice(hindi_citizen, tmp_path):
    """The notifier (a subprocess) is killed with SIGKILL while the gateway holds the payment's
    SMS open (delivered, not yet answered); the restarted one resends it with the same
    idempotency key, which the gateway acknowledges without delivering again."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    from pathlib import Path

    store = hindi_citizen
    receipt = pay(store, tmp_path)
    login(store, "admin")
    repo = Path(__file__).resolve().parents[2]
    with fake_gateway(hold=threading.Event(), hold_match=receipt) as gw, smtp_server() as box:
        env = {**os.environ, "DIGITCTL_NOW": NOW, "PYTHONPATH": str(repo), "DIGIT_SMS_GATEWAY_URL": gw.url,
               "DIGIT_SMTP_URL": box.url, "DIGIT_NOTIFY_RETRY_WAIT": "0"}
        proc = subprocess.Popen([sys.executable, str(repo / "tests" / "clockhook.py"), "--store", store,
                                 "notify", "run", "--once"], env=env, cwd=repo,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert gw.held.wait(60), proc.communicate(timeout=5)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        assert gw.hold is not None
        gw.hold.set()
        doc = json.loads(run(store, "-o", "json", "notify", "status").stdout)
        in_flight = doc["sending"]                   # the intents were recorded (SMS: a batch); no answer came
        assert in_flight >= 1
        sms_to_payer = [m for m in gw.messages if receipt in m["content"]]
        assert len(sms_to_payer) == 1
        res = run(store, "-o", "json", "notify", "run", "--once",
                  env={"DIGIT_SMS_GATEWAY_URL": gw.url, "DIGIT_SMTP_URL": box.url})
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["recovered"] == {"resent": in_flight, "parked": 0}
        keys = [r["key"] for r in gw.requests if receipt in r.get("content", "")]
        assert len(keys) == 2 and keys[0] == keys[1]          # asked twice, the same key
        assert len([m for m in gw.messages if receipt in m["content"]]) == 1     # delivered once
        assert len([m for m in box.messages if receipt in m.get_content()]) == 1
        ids = [m["Message-ID"] for m in box.messages]
        assert len(ids) == len(set(ids))
        doc = json.loads(run(store, "-o", "json", "notify", "status").stdout)
        assert doc["sending"] == doc["queued"] == doc["failed"] == doc["dead"] == 0
        assert doc["sent"] == len(gw.delivered) + len(box.messages)


def test_a_cancelled_receipt_tells_the_payer_the_amount_is_due_again(hindi_citizen, tmp_path):
    store = hindi_citizen
    receipt = pay(store, tmp_path)
    res = run(store, "payment", "cancel", receipt, "--tenant", TENANT, "--reason", "ERRORRECEIPT",
              "--supervisor", "supervisor.amritsar", "--password-stdin", stdin=quickstart.DEMO_PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    login(store, "admin")
    with fake_gateway() as gw:
        assert run(store, "notify", "run", "--once", env={"DIGIT_SMS_GATEWAY_URL": gw.url}).exit_code == 0
        about = [m["content"] for m in gw.messages if receipt in m["content"]]
    assert len(about) == 2                                    # the payment, then its cancellation
    assert about[1] == (f"प्रिय Simran Kaur, व्यापार लाइसेंस TL-NOTIFY-1 की रु. 1,350.00 की रसीद {receipt} रद्द "
                        "कर दी गई है; यह राशि फिर से देय है। - अमृतसर")


def test_without_a_provider_messages_wait_queued_and_the_loop_sends_them_later(hindi_citizen, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    store = hindi_citizen
    receipt = pay(store, tmp_path)
    login(store, "admin")
    res = run(store, "notify", "run", "--once")
    assert res.exit_code == 0 and "no provider for email, sms: those stay queued" in res.stdout
    queued = json.loads(run(store, "-o", "json", "notify", "status").stdout)["queued"]
    assert queued >= 2
    repo = Path(__file__).resolve().parents[2]
    with fake_gateway() as gw:                      # `notify run` without --once keeps going until stopped
        env = {**os.environ, "DIGITCTL_NOW": NOW, "PYTHONPATH": str(repo), "DIGIT_SMS_GATEWAY_URL": gw.url}
        proc = subprocess.Popen([sys.executable, str(repo / "tests" / "clockhook.py"), "--store", store,
                                 "notify", "run", "--interval", "0.2"], env=env, cwd=repo,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not any(receipt in m["content"] for m in gw.messages) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert proc.poll() is None                # still running after sending
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
        assert proc.returncode == 130, proc.stderr.read() if proc.stderr else ""
    assert any(receipt in m["content"] for m in gw.messages)
    doc = json.loads(run(store, "-o", "json", "notify", "status").stdout)
    # Ctrl-C may land mid-batch (those stay `sending` for the next run); the e-mails wait: no SMTP given
    assert doc["sent"] > 0 and doc["queued"] > 0 and doc["dead"] == 0
    assert doc["queued"] + doc["sending"] + doc["failed"] + doc["sent"] == queued

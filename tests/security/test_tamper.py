"""A local OS user with sqlite3 and the store file (issue 16.4): every direct edit of money, users,
roles or the chain's end is named by `digitctl audit verify` and `digitctl store check` (exit 2,
the first difference: table, key, field). What a holder of the master key file can still do is
shown too (it re-signs), with what catches it: the receipt books, the outbox, the printed head.

One demo store (quickstart + the demo bill paid in cash at the counter) is built per module and
copied for each attack; the attacks are plain SQL on the copy, as sqlite3 would run them."""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

runner = CliRunner()
PASSWORD = "Demo@1234"          # quickstart's demo password
TENANT = "pb.amritsar"


def run(store: str, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["--store", store, *args], input=stdin,
                         env={"DIGIT_TENANT": None, "DIGIT_STORE": None, "DIGIT_TOKEN": None})


def ok(store: str, *args: str, stdin: str | None = None) -> Any:
    res = run(store, *args, stdin=stdin)
    assert res.exit_code == 0, f"digitctl {' '.join(args)} -> {res.exit_code}\n{res.output}"
    return res


def login(store: str, user: str) -> None:
    run(store, "logout")
    ok(store, "login", "--username", user, "--password-stdin", stdin=PASSWORD + "\n")


def refused(store: str, *command: str) -> dict[str, Any]:
    """The command's -o json error: exit 2 and the DIGIT error (code, params)."""
    res = run(store, "-o", "json", *command)
    assert res.exit_code == 2, f"{' '.join(command)} passed a tampered store:\n{res.output}"
    err = json.loads(res.stdout)["Errors"][0]
    # DIGIT's params are "key: value" strings; structured values are compact JSON
    pairs = (p.split(": ", 1) for p in err["params"])
    return dict(err, params={k: json.loads(v) if v[:1] in "[{" else v for k, v in pairs})


def both_refuse(store: str) -> dict[str, Any]:
    """`audit verify` and `store check` name the same first difference; returns it."""
    first = refused(store, "audit", "verify")
    second = refused(store, "store", "check")
    assert (first["code"], first["params"]) == (second["code"], second["params"])
    return first


@pytest.fixture(scope="module")
def paid_store(tmp_path_factory: pytest.TempPathFactory, private_config_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("paid")
    db = folder / "store.db"
    store = f"sqlite:///{db}"
    qs = json.loads(ok(store, "-o", "json", "quickstart").stdout)
    bill = next(a for a in qs["demoApplications"] if a.get("billId"))
    login(store, "clerk.amritsar")
    ok(store, "pay", "--bill", bill["billId"], "--tenant", TENANT, "--mode", "CASH",
       "--amount", bill["amountDue"].split(".")[0])
    run(store, "logout")
    return db


@pytest.fixture
def store(paid_store: Path, tmp_path: Path) -> str:
    """A copy of the paid demo store with the administrator (SUPERUSER) logged in."""
    db = tmp_path / "store.db"
    shutil.copy(paid_store, db)
    url = f"sqlite:///{db}"
    login(url, "admin")
    return url


def sql(store: str, *statements: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """What `sqlite3 store.db` would do: plain SQL, no digitctl in between."""
    con = sqlite3.connect(store.removeprefix("sqlite:///"))
    try:
        out: list[tuple[Any, ...]] = []
        for statement in statements:
            out = con.execute(statement, params if "?" in statement else ()).fetchall()
        con.commit()
        return out
    finally:
        con.close()


def the_payment(store: str) -> tuple[str, str, int]:
    ((pid, number, amount),) = sql(store, "SELECT id, receipt_number, amount_paid_paise FROM payment")
    return pid, number, amount


def reseal(store: str, kind: str, key: str) -> None:
    """What a holder of the master key file can do: unwrap the signing key and sign a record that
    seals the edited rows (here through digitctl's own unit of work, as such a script would)."""
    from digitctl import bootstrap

    app = bootstrap.build(store)
    try:
        with app.uow(app.context()) as uow:
            uow.touch(kind, key)
            uow.commit()
    finally:
        app.close()


# -- the untouched store ------------------------------------------------------------------------
def test_an_untouched_store_verifies_and_checks(store: str) -> None:
    verified = json.loads(ok(store, "-o", "json", "audit", "verify").stdout)
    assert verified["ok"] and verified["liveRowsChecked"] > 0
    checked = ok(store, "store", "check")
    assert "store OK" in checked.stdout and f"#{verified['headSeq']} {verified['head'][:12]}" in checked.stdout


# -- money ----------------------------------------------------------------------------------------
def test_a_payment_amount_edited_is_named(store: str) -> None:
    pid, _number, amount = the_payment(store)
    assert amount == 125000
    sql(store, "UPDATE payment SET amount_paid_paise = 25000")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_LIVE_ROW_MISMATCH"
    assert (err["params"]["table"], err["params"]["key"], err["params"]["field"]) == \
        ("payment", pid, "amount_paid_paise")
    assert f"payment {pid} field amount_paid_paise" in err["message"]


def test_a_payment_json_edited_is_named(store: str) -> None:
    pid, _number, _amount = the_payment(store)
    sql(store, "UPDATE payment SET payment = json_set(payment, '$.totalAmountPaid', '250.00')")
    err = both_refuse(store)
    assert (err["params"]["table"], err["params"]["key"], err["params"]["field"]) == ("payment", pid, "payment")


def test_a_demand_detail_collection_edited_is_named(store: str) -> None:
    ((detail_id, demand_id),) = sql(store, "SELECT id, demand_id FROM demand_detail "
                                           "WHERE collection_amount_paise > 0 LIMIT 1")
    sql(store, f"UPDATE demand_detail SET collection_amount_paise = 0 WHERE id = '{detail_id}'")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_LIVE_ROW_MISMATCH"
    assert err["params"]["entityType"] == "Demand" and err["params"]["entityId"] == demand_id
    assert (err["params"]["table"], err["params"]["key"], err["params"]["field"]) == \
        ("demand_detail", detail_id, "collection_amount_paise")


def test_a_bill_set_back_to_active_is_named(store: str) -> None:
    ((bill_id,),) = sql(store, "SELECT id FROM bill WHERE status = 'PAID'")
    sql(store, f"UPDATE bill SET status = 'ACTIVE' WHERE id = '{bill_id}'")
    err = both_refuse(store)
    assert (err["params"]["table"], err["params"]["key"], err["params"]["field"]) == ("bill", bill_id, "status")


def test_a_payment_deleted_is_named(store: str) -> None:
    pid, _number, _amount = the_payment(store)
    sql(store, "DELETE FROM payment")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_LIVE_ROW_MISMATCH"
    assert (err["params"]["table"], err["params"]["key"]) == ("payment", pid)
    assert "deleted" in err["message"]


def test_a_receipt_renumbered_and_its_event_deleted_is_named(store: str) -> None:
    pid, number, _amount = the_payment(store)
    sql(store, f"UPDATE payment SET receipt_number = '{number[:-1]}9' WHERE id = '{pid}'",
        f"DELETE FROM outbox_event WHERE entity_id = '{pid}'")
    err = both_refuse(store)
    assert (err["params"]["table"], err["params"]["key"], err["params"]["field"]) == \
        ("payment", pid, "receipt_number")


def test_a_payment_whose_outbox_event_was_deleted_is_reported(store: str) -> None:
    pid, number, _amount = the_payment(store)
    sql(store, f"DELETE FROM outbox_event WHERE entity_id = '{pid}'")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_EVENT_MISSING"
    assert err["params"]["entityId"] == pid and number in err["message"]


# -- users and roles ------------------------------------------------------------------------------
def test_a_superuser_role_inserted_is_named(store: str) -> None:
    ((clerk,),) = sql(store, "SELECT uuid FROM user_account WHERE user_name = 'clerk.amritsar'")
    sql(store, f"INSERT INTO user_role (user_uuid, code, tenant_id) VALUES ('{clerk}', 'SUPERUSER', 'pb')")
    ((role_id,),) = sql(store, "SELECT id FROM user_role WHERE code = 'SUPERUSER' AND user_uuid = ?", params=(clerk,))
    err = both_refuse(store)
    assert err["code"] == "AUDIT_LIVE_ROW_MISMATCH"
    assert err["params"]["entityType"] == "User" and err["params"]["entityId"] == clerk
    assert (err["params"]["table"], err["params"]["key"]) == ("user_role", str(role_id))
    assert "inserted" in err["message"]


def test_a_password_hash_swapped_is_named(store: str) -> None:
    ((admin, admin_hash),) = sql(store, "SELECT uuid, password_hash FROM user_account WHERE user_name = 'admin'")
    sql(store, "UPDATE user_account SET password_hash = ? WHERE user_name = 'clerk.amritsar'", params=(admin_hash,))
    err = both_refuse(store)
    assert (err["params"]["table"], err["params"]["field"]) == ("user_account", "password_hash")


def test_a_user_inserted_directly_is_named(store: str) -> None:
    sql(store, "INSERT INTO user_account (uuid, user_name, tenant_id, type, name_enc, active, locked_by_admin, "
               "created_at, updated_at) SELECT 'ffffffff-0000-0000-0000-000000000001', 'ghost', tenant_id, type, "
               "name_enc, 1, 0, created_at, updated_at FROM user_account WHERE user_name = 'admin'")
    err = both_refuse(store)
    assert err["params"]["entityId"] == "ffffffff-0000-0000-0000-000000000001"
    assert err["params"]["table"] == "user_account" and "no audited state" in err["message"]


# -- the chain's end ------------------------------------------------------------------------------
def test_a_tail_cut_off_with_the_head_moved_back_is_detected(store: str) -> None:
    ((last,),) = sql(store, "SELECT max(seq) FROM audit_record")
    sql(store, f"DELETE FROM audit_record WHERE seq > {last - 3}",
        f"UPDATE store_meta SET value = (SELECT hash FROM audit_record WHERE seq = {last - 3}) "
        "WHERE key = 'audit_head'")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_CHAIN_BROKEN" and err["params"]["kind"] == "TRUNCATED"
    assert f"seq {last - 2}..{last} were deleted" in err["message"]


def test_the_signed_head_deleted_is_detected(store: str) -> None:
    sql(store, "DELETE FROM store_meta WHERE key = 'audit_head_signed'")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_CHAIN_BROKEN" and err["params"]["kind"] == "HEAD_UNSIGNED"


def test_the_signed_head_rewritten_is_detected(store: str) -> None:
    sql(store, "UPDATE store_meta SET value = json_set(value, '$.seq', 1) WHERE key = 'audit_head_signed'")
    err = both_refuse(store)
    assert err["params"]["kind"] == "HEAD_UNSIGNED"


# -- a holder of the master key file ------------------------------------------------------------
def test_a_key_holder_can_reseal_an_edit_but_the_printed_head_moves(store: str) -> None:
    """Plainly: unwrapping the signing key with the master key file and re-signing cannot be detected
    locally. What catches it: the head printed on the last slip / day book is no longer the head."""
    printed = json.loads(ok(store, "-o", "json", "audit", "verify").stdout)
    pid, _number, _amount = the_payment(store)
    sql(store, "UPDATE payment SET amount_paid_paise = 25000")
    reseal(store, "Payment", pid)
    after = json.loads(ok(store, "-o", "json", "audit", "verify").stdout)       # undetectable here
    assert (after["headSeq"], after["head"]) != (printed["headSeq"], printed["head"])


def test_a_key_holder_forging_a_receipt_leaves_a_gap_or_a_missing_event(store: str) -> None:
    pid, number, _amount = the_payment(store)
    forged = number[:-6] + "000003"
    sql(store, "INSERT INTO payment SELECT 'ffffffff-0000-0000-0000-00000000000f', tenant_id, ?, receipt_date, "
               "counter_code, shift_id, collector_uuid, bill_id, business_service, consumer_code, payment_mode, "
               "total_due_paise, amount_paid_paise, instrument_number, instrument_date, instrument_status, "
               "payment_status, cancel_reason, remittance_id, payment, created_at, updated_at, origin FROM payment",
        params=(forged,))
    reseal(store, "Payment", "ffffffff-0000-0000-0000-00000000000f")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_RECEIPT_GAP" and err["params"]["missing"] == [number[:-6] + "000002"]
    sql(store, "UPDATE payment SET receipt_number = ? WHERE id = 'ffffffff-0000-0000-0000-00000000000f'",
        params=(number[:-6] + "000002",))
    reseal(store, "Payment", "ffffffff-0000-0000-0000-00000000000f")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_EVENT_MISSING" and err["params"]["entityId"] == "ffffffff-0000-0000-0000-00000000000f"
    # marked as a payment taken at another counter (pulled): in this counter's own series it is still judged
    sql(store, "UPDATE payment SET origin = 'C09' WHERE id = 'ffffffff-0000-0000-0000-00000000000f'")
    reseal(store, "Payment", "ffffffff-0000-0000-0000-00000000000f")
    err = both_refuse(store)
    assert err["code"] == "AUDIT_EVENT_MISSING" and err["params"]["entityId"] == "ffffffff-0000-0000-0000-00000000000f"


# -- paper anchors the chain ----------------------------------------------------------------------
def test_the_day_book_and_the_shift_slip_print_the_audit_head(store: str) -> None:
    verified = json.loads(ok(store, "-o", "json", "audit", "verify").stdout)
    book = ok(store, "report", "daybook", "--tenant", TENANT)
    assert f"Audit head #{verified['headSeq']} {verified['head'][:12]}" in book.stdout
    login(store, "clerk.amritsar")
    slip = json.loads(ok(store, "-o", "json", "shift", "close", "--count", "500x6,100x2,50x1").stdout)
    head = slip["Shift"]["auditHead"]
    # the slip's head is the record of that very close, as the chain holds it
    assert sql(store, "SELECT audit_record.hash, event_type FROM audit_record JOIN outbox_event USING (event_id) "
                      "WHERE audit_record.seq = ?", params=(head["seq"],)) == [(head["hash"], "shift.closed")]
    assert head["short"] == f"#{head['seq']} {head['hash'][:12]}"


# -- service level, on SQLite and PostgreSQL ------------------------------------------------------
def _employee(app: Any, name: str) -> str:
    from digitctl.services import users

    made = users.create_user(app, app.context(TENANT), users.NewUser(
        user_name=name, name="Harpreet Singh", type="EMPLOYEE", tenant_id=TENANT, mobile="9814012345",
        roles=[("EMPLOYEE", TENANT)], password="Counter@123"))
    return str(made["uuid"])


def test_service_verify_names_a_role_inserted_behind_its_back(state_app: Any) -> None:
    app = state_app
    from sqlalchemy import insert

    from digitctl.services import audit
    from local_store.models import UserRole

    uuid = _employee(app, "clerk9")
    assert audit.verify(app, app.context()).ok
    with app.store.engine.begin() as conn:
        conn.execute(insert(UserRole).values(user_uuid=uuid, code="SUPERUSER", tenant_id="pb"))
    report = audit.verify(app, app.context())
    assert report.problem is not None and report.problem.code == "AUDIT_LIVE_ROW_MISMATCH"
    assert (report.problem.entity_type, report.problem.entity_id) == ("User", uuid)
    assert report.problem.detail["table"] == "user_role"
    with pytest.raises(audit.AuditChainBroken) as refused_err:
        report.raise_if_broken()
    assert refused_err.value.code == "AUDIT_LIVE_ROW_MISMATCH" and refused_err.value.params["field"] == "*"


def test_service_key_rotation_and_reencryption_keep_users_sealed(state_app: Any) -> None:
    """Re-encryption rewrites every user's ciphertext in ORM bulk updates: those rows are sealed
    again by the same unit of work, so an honest re-encryption is not reported as tampering."""
    app = state_app
    from digitctl.services import audit, crypto

    _employee(app, "clerk9")
    crypto.rotate_key(app, app.context(), "pb")
    assert crypto.reencrypt_users(app, app.context(), "pb") >= 1
    report = audit.verify(app, app.context())
    assert report.ok, report.summary()
    assert report.rows_checked >= 1


def test_head_is_easy_to_send(state_app: Any) -> None:
    app = state_app
    """What the hub will want from a counter: its chain's head and sequence, and the signed head."""
    from digitctl.services import audit

    _employee(app, "clerk9")
    head = audit.head(app)
    report = audit.verify(app, app.context())
    assert (head["seq"], head["hash"]) == (report.head_seq, report.head)
    assert json.loads(head["signed"])["seq"] == head["seq"]

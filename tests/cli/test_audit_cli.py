"""`digitctl audit log | verify` through Typer's runner: the table, -o json, and a tampered chain
refused with exit status 2, code AUDIT_CHAIN_BROKEN and the first bad record named."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from digitctl import bootstrap
from digitctl.cli.main import app as cli
from digitctl.domain.events import Event
from digitctl.services.audit import ensure_signing_key, signer_for
from local_store.models import AuditRecord
from local_store.uow import UnitOfWork

NOW = "2026-11-25T10:30:00+05:30"
A = AuditRecord.__table__


def run(store: str, *args: str) -> Any:
    env = {"DIGITCTL_NOW": NOW, "DIGIT_TENANT": None, "DIGIT_STORE": None}
    return CliRunner().invoke(cli, ["--store", store, *args], env=env)


def audited_changes(url: str, count: int) -> None:
    """Signed changes made through the services (the key is made if init did not make it)."""
    app = bootstrap.build(url)
    try:
        with app.uow(app.context()) as uow:
            ensure_signing_key(uow, app.master_key)
            uow.commit()
        signer = signer_for(app)
        for n in range(count):
            with UnitOfWork(app.store, app.context("pb.amritsar"), signer=signer) as uow:
                uow.record(Event("test.thing.changed", "pb.amritsar", "Thing", f"thing-{n % 3}",
                                 "/test/thing/_update", {"n": n}, before={"n": n - 1}, after={"n": n}))
                uow.commit()
    finally:
        app.close()


def chain(url: str) -> list[dict[str, Any]]:
    app = bootstrap.build(url)
    try:
        with app.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(A).order_by(A.c.seq)).mappings()]
    finally:
        app.close()


def edit(url: str, seq: int, **values: Any) -> None:
    app = bootstrap.build(url)
    try:
        with app.store.engine.begin() as conn:
            conn.execute(update(A).where(A.c.seq == seq).values(**values))
    finally:
        app.close()


@pytest.fixture
def store(templated_store) -> str:
    return str(templated_store("cli-audit", build_store))


def build_store(url: str) -> None:
    """`digitctl init` and 8 signed changes (once per test process, then copied)."""
    done = run(url, "init", "--state", "pb", "--counter", "C01")
    assert done.exit_code == 0, done.output
    audited_changes(url, 8)


def test_verify_says_the_chain_is_intact(store: str) -> None:
    done = run(store, "audit", "verify")
    assert done.exit_code == 0, done.output
    assert f"{len(chain(store))} records verified, chain intact" in done.stdout


def test_verify_json_is_the_report(store: str) -> None:
    done = run(store, "audit", "verify", "-o", "json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["firstBad"] is None
    assert report["records"] == len(chain(store)) and report["recordsPerSecond"] > 0
    assert len(report["keys"]) == 1 and report["head"] == chain(store)[-1]["hash"]


def test_a_tampered_chain_exits_2_naming_the_record(store: str) -> None:
    assert run(store, "audit", "verify").exit_code == 0          # intact before
    victim = chain(store)[-4]
    edit(store, victim["seq"], after={"n": 1_000_000})
    done = run(store, "audit", "verify")
    assert done.exit_code == 2, done.output
    assert "Error AUDIT_CHAIN_BROKEN" in done.stderr
    for part in (f"seq {victim['seq']}", victim["record_id"], f"Thing {victim['entity_id']}", "EDITED"):
        assert part in done.stderr, (part, done.stderr)
    assert "chain intact" not in done.stdout


def test_a_tampered_chain_in_json_is_the_error_envelope(store: str, error_of) -> None:
    victim = chain(store)[-2]
    edit(store, victim["seq"], signature=None, key_id=None)
    done = run(store, "audit", "verify", "-o", "json")
    assert done.exit_code == 2, done.output
    code, _, params = error_of(done)
    assert code == "AUDIT_CHAIN_BROKEN"
    found = error_of.params_dict(params)
    assert found["kind"] == "UNSIGNED"
    assert (found["seq"], found["recordId"]) == (str(victim["seq"]), victim["record_id"])


def test_log_prints_a_table_newest_first(store: str) -> None:
    done = run(store, "audit", "log", "--limit", "3")
    assert done.exit_code == 0, done.output
    assert "/test/thing/_update" in done.stdout and "digitctl-system" in done.stdout
    last = chain(store)[-1]
    assert f"Thing {last['entity_id']}" in done.stdout


def test_log_json_filters_by_entity(store: str) -> None:
    done = run(store, "audit", "log", "--entity", "thing-1", "-o", "json")
    assert done.exit_code == 0, done.output
    entries = json.loads(done.stdout)
    expected = [r["seq"] for r in reversed(chain(store)) if r["entity_id"] == "thing-1"]
    assert [e["seq"] for e in entries] == expected and len(expected) >= 2
    assert all(e["entityId"] == "thing-1" and e["signed"] for e in entries)
    assert {"recordId", "occurredAt", "actor", "before", "after", "hash", "keyId"} <= set(entries[0])


def test_log_refuses_a_bad_limit(store: str) -> None:
    done = run(store, "audit", "log", "--limit", "0", "-o", "json")
    assert done.exit_code == 2, done.output
    assert json.loads(done.stdout)["Errors"][0]["code"] == "INVALID_LIMIT"


def test_verify_on_a_missing_store_says_so(tmp_path: Path) -> None:
    done = run(f"sqlite:///{tmp_path}/none.db", "audit", "verify", "-o", "json")
    assert done.exit_code == 2, done.output
    assert json.loads(done.stdout)["Errors"][0]["code"] == "STORE_NOT_INITIALIZED"

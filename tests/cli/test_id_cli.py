"""`digitctl id generate` through Typer's runner: output formats, the tenant fallback, refusals
with exit status 2 and DIGIT's error envelope."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from digitctl import bootstrap
from digitctl.cli.main import app as cli
from digitctl.domain.canonical import content_hash
from local_store.models import MdmsRecord, StoreMeta

PB = Path(__file__).resolve().parents[3] / "shared" / "digit-reference" / "mdms" / "data" / "pb"
NOW = "2026-11-25T10:30:00+05:30"


def seed_mdms(url: str) -> None:
    """The real pb IdFormat and tenants as MdmsRecord rows (until `mdms apply` is used here)."""
    app = bootstrap.build(url)
    now = dt.datetime.now(dt.timezone.utc)
    try:
        with Session(app.store.engine) as s:
            for rel in ("common-masters/IdFormat.json", "tenant/tenants.json"):
                doc = json.loads((PB / rel).read_text(encoding="utf-8"))
                master = Path(rel).stem
                for i, rec in enumerate(doc[master]):
                    s.add(MdmsRecord(tenant_id=doc["tenantId"], module=doc["moduleName"], master=master,
                                     unique_key=f"{i}", position=i, data=rec, data_hash=content_hash(rec),
                                     source=rel, is_active=True, created_at=now, updated_at=now))
            s.merge(StoreMeta(key="mdms_version", value=str(uuid.uuid4())))
            s.commit()
    finally:
        app.close()


def run(store: str, *args: str, now: str = NOW, **env: Any) -> Any:
    environ = {"DIGITCTL_NOW": now, "DIGIT_TENANT": None, "DIGIT_STORE": None, **env}
    return CliRunner().invoke(cli, ["--store", store, *args], env=environ)


@pytest.fixture
def store(templated_store) -> str:
    return str(templated_store("cli-id", build_store))


def build_store(url: str) -> None:
    """`digitctl init` and the real pb IdFormat and tenants (once per test process, then copied)."""
    done = run(url, "init", "--state", "pb", "--counter", "C01")
    assert done.exit_code == 0, done.output
    seed_mdms(url)


def test_generate_prints_a_table_of_ids(store: str) -> None:
    done = run(store, "id", "generate", "receipt.id", "--tenant", "pb.amritsar", "--count", "2")
    assert done.exit_code == 0, done.output
    assert "11/2026-27/000001" in done.stdout and "11/2026-27/000002" in done.stdout
    again = run(store, "id", "generate", "pt.receipt.id", "--tenant", "pb.amritsar")
    assert "PT/107/2026-27/000001" in again.stdout


def test_json_output_is_digits_idgen_response(store: str, contract) -> None:
    done = run(store, "id", "generate", "waterservice.connection.id", "--tenant", "pb.amritsar",
               "-n", "3", "-o", "json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    # egov-idgen's IdGenerationResponse spells it `responseInfo` (lower r), unlike other services
    assert set(doc) == {"responseInfo", "idResponses"}
    assert contract("idgen-contract.yml", "IdGenerationResponse", doc, closed=True) == []
    assert doc["idResponses"] == [{"id": f"WS/107/2026-27/00000{i}"} for i in (1, 2, 3)]
    info = doc["responseInfo"]
    assert info["status"] == "SUCCESSFUL"
    assert info["ts"] == int(dt.datetime.fromisoformat(NOW).timestamp() * 1000)
    assert {"apiId", "ver", "resMsgId", "msgId"} <= set(info)


def test_csv_output(store: str) -> None:
    done = run(store, "-o", "csv", "id", "generate", "pg.txnid", "--tenant", "pb.amritsar", "--count", "2")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == "id" and len(lines) == 3
    assert lines[1].startswith("PB_PG_2026_11_25_000001_") and lines[2].startswith("PB_PG_2026_11_25_000002_")


def test_clock_comes_from_digitctl_now(store: str) -> None:
    done = run(store, "id", "generate", "receipt.id", "--tenant", "pb.amritsar", "-o", "json",
               now="2027-04-01T00:15:00+05:30")
    assert json.loads(done.stdout)["idResponses"] == [{"id": "04/2027-28/000001"}]


def test_tenant_falls_back_to_the_global_option_and_env(store: str) -> None:
    done = run(store, "--tenant", "pb.jalandhar", "id", "generate", "pt.receipt.id", "-o", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["idResponses"] == [{"id": "PT/1013/2026-27/000001"}]
    env = run(store, "id", "generate", "pt.receipt.id", "-o", "json", DIGIT_TENANT="pb.amritsar")
    assert json.loads(env.stdout)["idResponses"] == [{"id": "PT/107/2026-27/000002"}]
    own = run(store, "--tenant", "pb.jalandhar", "id", "generate", "pt.mutation.number",
              "--tenant", "pb.amritsar", "-o", "json")
    assert json.loads(own.stdout)["idResponses"] == [{"id": "PB-MT-107-000001"}]


def test_format_option_for_an_unconfigured_name(store: str) -> None:
    """egov-idgen: the caller's format for a name with no IdFormat may not start a new sequence."""
    done = run(store, "id", "generate", "my.series", "--tenant", "pb.amritsar",
               "--format", "[COUNTER]-[SEQ_MY_SERIES]", "-o", "json")
    assert done.exit_code == 2, done.output
    assert [e["code"] for e in json.loads(done.stdout)["Errors"]] == ["SEQ_DOES_NOT_EXIST"]
    assert run(store, "id", "generate", "receipt.id", "--tenant", "pb.amritsar").exit_code == 0
    done = run(store, "id", "generate", "my.series", "--tenant", "pb.amritsar",
               "--format", "[COUNTER]-[SEQ_COLL_RCPT_NUM]", "-o", "json")       # an existing sequence
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["idResponses"] == [{"id": "C01-000002"}]


@pytest.mark.parametrize("args, code", [
    (["rev_grants.receipt.id", "--tenant", "pb.amritsar"], "IDGEN_INVALID_FORMAT"),
    (["no.such.id", "--tenant", "pb.amritsar"], "ID_NOT_FOUND"),
    (["receipt.id", "--tenant", "pb.amritsar", "--count", "0"], "IDGEN_INVALID_COUNT"),
    (["receipt.id", "--tenant", "pb.amritsar", "--count", "10001"], "IDGEN_INVALID_COUNT"),
    (["receipt.id", "--tenant", "pb.nowhere"], "INVALID_TENANTID"),
    (["receipt.id"], "INVALID_TENANTID"),
    (["x.id", "--tenant", "pb.amritsar", "--format", "[SEQ_X"], "IDGEN_INVALID_FORMAT"),
    (["x.id", "--tenant", "pb.amritsar", "--format", "X-[SEQ_X]"], "SEQ_DOES_NOT_EXIST"),
])
def test_refusals_exit_2_with_digits_error_envelope(store: str, args: list[str], code: str) -> None:
    done = run(store, "id", "generate", *args, "-o", "json")
    assert done.exit_code == 2, done.output
    errors = json.loads(done.stdout)["Errors"]
    assert [e["code"] for e in errors] == [code]
    # nothing was issued: the next receipt number is still the first
    after = run(store, "id", "generate", "receipt.id", "--tenant", "pb.amritsar", "-o", "json")
    assert json.loads(after.stdout)["idResponses"] == [{"id": "11/2026-27/000001"}]


def test_refusal_in_table_mode_goes_to_stderr(store: str) -> None:
    done = run(store, "id", "generate", "rev_grants.receipt.id", "--tenant", "pb.amritsar")
    assert done.exit_code == 2
    assert "IDGEN_INVALID_FORMAT" in done.stderr and "[SEQ_EGOV_COMMON" in done.stderr
    assert done.stdout == ""


def test_uninitialized_store_is_refused(tmp_path: Path) -> None:
    done = run(f"sqlite:///{tmp_path}/empty.db", "id", "generate", "receipt.id", "--tenant", "pb.amritsar",
               "-o", "json")
    assert done.exit_code == 2, done.output
    assert json.loads(done.stdout)["Errors"][0]["code"] == "STORE_NOT_INITIALIZED"


def test_a_counter_receipt_book_is_not_handed_out_by_hand(store: str) -> None:
    """counter.receipt.id numbers the counter's receipts: an id taken here would be a gap in the
    day book, so only a payment takes one."""
    for name in ("counter.receipt.id", "counter.pt.receipt.id"):     # (this store has DIGIT's IdFormats only)
        res = run(store, "id", "generate", name, "--tenant", "pb.amritsar", "--format",
                  "[COUNTER]/[fy:yyyy-yy]/[SEQ_COUNTER_RCPT]", "-o", "json")
        assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "IDGEN_RESERVED_SERIES"

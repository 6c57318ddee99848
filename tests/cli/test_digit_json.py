"""`-o json` as DIGIT's services write it, each object checked against its contract in
../shared/digit-reference/contracts (issue 9, item 12): the error envelope, idgen, workflow
history and BusinessService search, HRMS employees, demands and bills."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

runner = CliRunner()
NOW = "2026-11-25T11:00:00+05:30"
NOW_MS = int(dt.datetime.fromisoformat(NOW).timestamp() * 1000)


def run(store: str, *args: str, stdin: str | None = None):
    return runner.invoke(cli, ["--store", store, *args], input=stdin, env={"DIGITCTL_NOW": NOW})


def js(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout, parse_float=Decimal)


# -- the error envelope: tracer's ErrorRes ---------------------------------------------------------
def test_an_error_is_digits_error_response_with_params_as_strings(tmp_path, error_of, contract):
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert run(url, "init", "--state", "pb", "--counter", "C01").exit_code == 0
    res = run(url, "-o", "json", "init", "--counter", "C02")
    assert res.exit_code == 2, res.output
    doc = json.loads(res.stdout)
    assert contract("common-contract.yml", "ErrorRes", doc, closed=True) == []
    [err] = doc["Errors"]
    assert contract("common-contract.yml", "Error", err, closed=True) == []
    assert set(err) == {"code", "message", "description", "params"}
    assert error_of(res) == ("COUNTER_MISMATCH", err["message"], ["counterCode: C01", "requested: C02"])
    info = doc["ResponseInfo"]
    assert info["status"] == "FAILED" and info["ts"] == NOW_MS
    assert contract("common-contract.yml", "ResponseInfo", info, closed=True) == []
    # people read the same params, one a line
    human = run(url, "init", "--counter", "C02")
    assert human.exit_code == 2 and "counterCode: C01" in human.stderr and "requested: C02" in human.stderr


def test_usage_errors_use_the_same_envelope(tmp_path, error_of, contract):
    url = f"sqlite:///{tmp_path / 's.db'}"
    res = run(url, "-o", "json", "pay", "--no-such-option")
    assert res.exit_code == 2, res.output
    code, _, params = error_of(res)
    assert code == "INVALID_USAGE" and len(params) == 1 and params[0].startswith("command: ")
    assert params[0].endswith(" pay")
    assert contract("common-contract.yml", "ErrorRes", json.loads(res.stdout), closed=True) == []

"""A store that cannot be used is a clear refusal (exit 2, a DIGIT-style code), not an
"unexpected failure": a PostgreSQL server that is down, a URL digitctl cannot keep a store at."""
from __future__ import annotations

import json
import socket

from typer.testing import CliRunner

from digitctl.cli.main import app as cli

runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as s:           # a port nobody listens on: bind, learn it, close
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_postgresql_store_is_store_unavailable():
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/nothing"
    res = runner.invoke(cli, ["--store", url, "-o", "json", "whoami"])
    assert res.exit_code == 2, res.output
    [err] = json.loads(res.stdout)["Errors"]
    assert err["code"] == "STORE_UNAVAILABLE" and "refused" in err["message"].lower()


def test_a_url_of_another_database_kind_is_refused():
    res = runner.invoke(cli, ["--store", "mysql://x/y", "-o", "json", "whoami"])
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "INVALID_STORE_URL"


def test_a_store_keeps_its_counter_code(tmp_path, error_of):
    """The counter code is in every receipt number this store issues: it cannot be changed."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert runner.invoke(cli, ["--store", url, "init", "--state", "pb", "--counter", "C01"]).exit_code == 0
    res = runner.invoke(cli, ["--store", url, "-o", "json", "init", "--counter", "C02"])
    assert res.exit_code == 2, res.output
    code, _, params = error_of(res)
    assert code == "COUNTER_MISMATCH" and params == ["counterCode: C01", "requested: C02"]
    res = runner.invoke(cli, ["--store", url, "-o", "json", "init", "--state", "mh"])
    assert res.exit_code == 2 and json.loads(res.stdout)["Errors"][0]["code"] == "STATE_MISMATCH"

"""A store that cannot be used is a clear refusal (exit 2, a DIGIT-style code), not an
"unexpected failure": a PostgreSQL server that is down, a URL digitctl cannot keep a store at."""
from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest
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


READ_ONLY = (["user", "list"], ["whoami"], ["tenant", "list"], ["store", "check"], ["audit", "verify"],
             ["mdms", "search", "--tenant", "pb", "--module", "tenant"])


def test_a_read_only_command_with_no_store_leaves_no_file(tmp_path, error_of):
    folder = tmp_path / "nothing"
    for command in READ_ONLY:
        res = runner.invoke(cli, ["--store", str(folder / "store.db"), "-o", "json", *command])
        assert res.exit_code == 2 and error_of(res)[0] == "STORE_NOT_INITIALIZED", (command, res.output)
        assert not (folder / "store.db").exists(), command
    assert runner.invoke(cli, ["--store", str(folder / "store.db"), "init"]).exit_code == 0
    assert (folder / "store.db").stat().st_mode & 0o777 == 0o600


def test_a_store_that_cannot_be_created_names_the_folder(tmp_path, error_of):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = runner.invoke(cli, ["--store", str(blocker / "sub" / "store.db"), "-o", "json", "init"])
    assert res.exit_code == 2, res.output
    code, message, params = error_of(res)
    assert code == "STORE_NOT_WRITABLE" and str(blocker) in message and f"folder: {blocker}" in params


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder this process cannot write in: mode 0555, and for root (who writes through any mode
    bits) the immutable attribute as well."""
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    immutable = os.geteuid() == 0
    if immutable and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i: no folder is read-only to root")
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_store_in_a_read_only_folder_names_the_folder(read_only_folder, error_of):
    folder = read_only_folder
    res = runner.invoke(cli, ["--store", str(folder / "store.db"), "-o", "json", "init"])
    assert res.exit_code == 2 and error_of(res)[0] == "STORE_NOT_WRITABLE" and str(folder) in error_of(res)[1]
    assert list(folder.iterdir()) == []


def test_a_postgresql_store_without_its_driver_says_what_to_install(monkeypatch, error_of):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)      # as if digitctl[postgres] was not installed
    res = runner.invoke(cli, ["--store", "postgresql://postgres@127.0.0.1:5432/test", "-o", "json", "whoami"])
    assert res.exit_code == 2, res.output
    code, message, _ = error_of(res)
    assert code == "STORE_DRIVER_MISSING" and "digitctl[postgres]" in message

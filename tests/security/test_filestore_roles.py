"""Who may read a stored document (issue 16.13). DIGIT grants file reads through the action
/filestore/v1/files/url (pb roleactions: action 1528 to CITIZEN, EMPLOYEE, GRO, DGRO, SUPERUSER);
/filestore/v1/files/id is mapped to no role at all, so `filestore get` authorised on it was refused
to everybody, the administrator included."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

PASSWORD = "Demo@1234"
TENANT = "pb.amritsar"
PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


def run(store: str, files: Path, *args: str, stdin: str | None = None) -> Any:
    env = {"DIGIT_TENANT": None, "DIGIT_STORE": None, "DIGIT_TOKEN": None, "DIGIT_FILESTORE": str(files)}
    return CliRunner().invoke(cli, ["--store", store, *args], input=stdin, env=env)


def ok(store: str, files: Path, *args: str, stdin: str | None = None) -> Any:
    res = run(store, files, *args, stdin=stdin)
    assert res.exit_code == 0, f"digitctl {' '.join(args)} -> {res.exit_code}\n{res.output}"
    return res


def login(store: str, files: Path, user: str, password: str = PASSWORD) -> None:
    run(store, files, "logout")
    ok(store, files, "login", "--username", user, "--password-stdin", stdin=password + "\n")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, private_config_dir: Path) -> tuple[Path, Path, str]:
    """A demo store with one document uploaded by the counter clerk, and a user holding only
    TL_CEMP (none of the roles DIGIT lets read files)."""
    folder = tmp_path_factory.mktemp("fs")
    db, files = folder / "store.db", folder / "files"
    store = f"sqlite:///{db}"
    ok(store, files, "quickstart")
    login(store, files, "admin")
    ok(store, files, "user", "create", "--type", "EMPLOYEE", "--username", "tlonly.amritsar", "--name", "Tl Only",
       "--mobile", "9800000099", "--tenant", TENANT, "--department", "DEPT_1", "--designation", "DESIG_1",
       "--role", f"TL_CEMP@{TENANT}", "--password-stdin", stdin=PASSWORD + "\n")
    login(store, files, "clerk.amritsar")
    deed = folder / "deed.pdf"
    deed.write_bytes(PDF)
    file_id = ok(store, files, "filestore", "upload", str(deed), "--tenant", TENANT, "--module", "TL").stdout.strip()
    run(store, files, "logout")
    return db, files, file_id


@pytest.fixture
def store(demo: tuple[Path, Path, str], tmp_path: Path) -> tuple[str, Path, str]:
    db, files, file_id = demo
    shutil.copy(db, tmp_path / "store.db")
    shutil.copytree(files, tmp_path / "files")
    return f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "files", file_id


@pytest.mark.parametrize("user", ["admin", "clerk.amritsar", "supervisor.amritsar"])
def test_the_roles_digit_allows_can_get_a_file(store: tuple[str, Path, str], user: str, tmp_path: Path) -> None:
    url, files, file_id = store
    login(url, files, user)
    out = tmp_path / f"{user}.pdf"
    ok(url, files, "filestore", "get", file_id, "--tenant", TENANT, "--out", str(out))
    assert out.read_bytes() == PDF


def test_a_role_digit_does_not_allow_is_refused(store: tuple[str, Path, str], tmp_path: Path) -> None:
    url, files, file_id = store
    login(url, files, "tlonly.amritsar")
    out = tmp_path / "no.pdf"
    res = run(url, files, "-o", "json", "filestore", "get", file_id, "--tenant", TENANT, "--out", str(out))
    assert res.exit_code != 0
    err = json.loads(res.stdout)["Errors"][0]
    assert err["code"] == "ACCESS_DENIED" and "/filestore/v1/files/url" in err["message"]
    assert not out.exists()

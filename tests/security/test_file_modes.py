"""Issue 16.12: the store file (password hashes, payments) and the file store were readable by
every local account (0644 / 0755). A local user who is not the store's owner reads nothing:
store.db and its -wal/-shm are 0600, the file store's folders 0700 and its blobs 0600, whatever
the umask."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)           # the usual desktop umask: new files 0644, folders 0755
    try:
        yield
    finally:
        os.umask(old)


def run(store: Path, *args: str):
    env = {"DIGIT_TENANT": None, "DIGIT_STORE": None, "DIGIT_FILESTORE": None}
    return CliRunner().invoke(cli, ["--store", str(store), *args], env=env)


def test_the_store_and_its_files_are_private_to_their_owner(tmp_path, open_umask):
    store = tmp_path / "data" / "store.db"
    res = run(store, "init", "--state", "pb", "--counter", "C01")
    assert res.exit_code == 0, res.output
    deed = tmp_path / "deed.pdf"
    deed.write_bytes(PDF)
    res = run(store, "filestore", "upload", str(deed), "--tenant", "pb.amritsar", "--module", "PT")
    assert res.exit_code == 0, res.output

    assert mode(store) == 0o600
    assert mode(store.parent) == 0o700                  # the folder digitctl made for it
    for side in ("-wal", "-shm"):
        extra = store.with_name(store.name + side)
        if extra.exists():
            assert mode(extra) == 0o600, side
    files = store.with_name(store.name + ".files")
    folders = [files, *(p for p in files.rglob("*") if p.is_dir())]
    blobs = [p for p in files.rglob("*") if p.is_file()]
    assert blobs, "the upload left no blob"
    assert {str(p.relative_to(tmp_path)): mode(p) for p in folders} == \
        {str(p.relative_to(tmp_path)): 0o700 for p in folders}
    assert all(mode(p) == 0o600 for p in blobs)


def test_an_old_store_left_readable_is_made_private_when_opened(tmp_path, open_umask):
    store = tmp_path / "store.db"
    assert run(store, "init", "--state", "pb", "--counter", "C01").exit_code == 0
    os.chmod(store, 0o644)                               # as digitctl used to leave it
    assert run(store, "init").exit_code == 0
    assert mode(store) == 0o600

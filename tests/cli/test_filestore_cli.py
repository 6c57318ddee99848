"""`digitctl filestore upload | get | show` through Typer's runner: the id on stdout, DIGIT's
{"files": [...]} with -o json, refusals with exit 2 and {"Errors": [...]}, writing a fetched
document without clobbering an existing file."""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl.cli.main import app as cli

NOW = "2026-11-25T10:30:00+05:30"
PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x10\x20\x30")) + chunk(b"IEND", b""))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path / "files"


def run(store: str, files: Path, *args: str) -> Any:
    env = {"DIGITCTL_NOW": NOW, "DIGIT_TENANT": None, "DIGIT_STORE": None, "DIGIT_FILESTORE": str(files)}
    return CliRunner().invoke(cli, ["--store", store, *args], env=env)


@pytest.fixture
def store(tmp_path: Path, files: Path) -> str:
    url = f"sqlite:///{tmp_path}/s.db"
    done = run(url, files, "init", "--state", "pb", "--counter", "C01")
    assert done.exit_code == 0, done.output
    return url


@pytest.fixture
def deed(tmp_path: Path) -> Path:
    path = tmp_path / "deed.pdf"
    path.write_bytes(PDF)
    return path


def test_upload_prints_the_id_and_get_writes_the_bytes(store: str, files: Path, deed: Path, tmp_path: Path) -> None:
    done = run(store, files, "filestore", "upload", str(deed), "--tenant", "pb.amritsar", "--module", "PT")
    assert done.exit_code == 0, done.output
    file_id = done.stdout.strip()
    assert len(file_id) == 36 and file_id.count("-") == 4

    out = tmp_path / "fetched.pdf"
    got = run(store, files, "filestore", "get", file_id, "--tenant", "pb.amritsar", "--out", str(out))
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == PDF
    if os.name == "posix":
        assert out.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*.tmp"))

    shown = run(store, files, "-o", "json", "filestore", "show", file_id, "--tenant", "pb.amritsar")
    assert shown.exit_code == 0, shown.output
    meta = json.loads(shown.stdout)
    assert meta["fileName"] == "deed.pdf" and meta["contentType"] == "application/pdf"
    assert meta["fileSize"] == len(PDF) and meta["module"] == "PT"


def test_json_output_is_digits_upload_response(store: str, files: Path, tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(png())
    done = run(store, files, "filestore", "upload", str(image), "--tenant", "pb", "-o", "json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert list(doc) == ["files"] and len(doc["files"]) == 1
    assert set(doc["files"][0]) == {"fileStoreId", "tenantId"} and doc["files"][0]["tenantId"] == "pb"


def test_get_refuses_to_overwrite_unless_forced(store: str, files: Path, deed: Path, tmp_path: Path) -> None:
    file_id = run(store, files, "filestore", "upload", str(deed), "--tenant", "pb").stdout.strip()
    out = tmp_path / "existing.pdf"
    out.write_bytes(b"keep me")
    kept = run(store, files, "-o", "json", "filestore", "get", file_id, "--tenant", "pb", "--out", str(out))
    assert kept.exit_code == 2
    assert json.loads(kept.stdout)["Errors"][0]["code"] == "FILE_EXISTS"
    assert out.read_bytes() == b"keep me"
    forced = run(store, files, "filestore", "get", file_id, "--tenant", "pb", "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() == PDF


def test_get_into_a_folder_uses_the_stored_name(store: str, files: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "src"
    hostile.mkdir()
    (hostile / "scan.pdf").write_bytes(PDF)
    done = run(store, files, "filestore", "upload", str(hostile / "scan.pdf"), "--tenant", "pb",
               "--name", "../../etc/evil.pdf")
    assert done.exit_code == 0, done.output
    dest = tmp_path / "dest"
    dest.mkdir()
    got = run(store, files, "filestore", "get", done.stdout.strip(), "--tenant", "pb", "--out", str(dest))
    assert got.exit_code == 0, got.output
    assert (dest / "evil.pdf").read_bytes() == PDF
    assert not (tmp_path / "etc").exists()


def test_get_with_short_o_writes_a_file(store: str, files: Path, deed: Path, tmp_path: Path) -> None:
    """`-o FILE` after `filestore get`: -o is also the global --output, so the root must hoist
    -o only when its value is an output format."""
    file_id = run(store, files, "filestore", "upload", str(deed), "--tenant", "pb").stdout.strip()
    out = tmp_path / "short.pdf"
    got = run(store, files, "filestore", "get", file_id, "--tenant", "pb", "-o", str(out))
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == PDF


@pytest.mark.parametrize(("name", "data", "code"), [
    ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "FILESTORE_INVALID_FORMAT"),
    ("fake.pdf", b"a text file, renamed\n", "FILESTORE_INVALID_FORMAT"),
    ("empty.pdf", b"", "FILESTORE_EMPTY_FILE"),
    ("huge.pdf", b"%PDF-1.4\n" + b"%" * (5 * 1024 * 1024), "FILESTORE_FILE_TOO_LARGE"),
])
def test_refused_uploads_exit_2_with_digits_envelope(store: str, files: Path, tmp_path: Path,
                                                     name: str, data: bytes, code: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    done = run(store, files, "-o", "json", "filestore", "upload", str(path), "--tenant", "pb")
    assert done.exit_code == 2, done.output
    assert json.loads(done.stdout)["Errors"][0]["code"] == code
    assert not files.exists() or not [p for p in files.rglob("*") if p.is_file()]


def test_unknown_id_exits_2_and_writes_nothing(store: str, files: Path, tmp_path: Path) -> None:
    out = tmp_path / "never.pdf"
    for bad in ("../x", "not-a-uuid", "5f0c3a56-2f7e-4d3e-9a0c-0b9e6f1e2d3c"):
        done = run(store, files, "filestore", "get", bad, "--tenant", "pb", "--out", str(out))
        assert done.exit_code == 2, done.output
        assert "FILESTORE_NOT_FOUND" in done.stderr
    assert not out.exists()

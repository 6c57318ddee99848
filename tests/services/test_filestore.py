"""The local file store on a real temporary store (SQLite and PostgreSQL): round trips of real
PDF / PNG bytes, content-addressed dedupe, DIGIT's size and format limits with nothing written on
refusal, hostile file names and ids, tenant visibility, tampering, and what lies on disk."""
from __future__ import annotations

import hashlib
import io
import os
import struct
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import App, build
from digitctl.context import Actor, Role
from digitctl.errors import DigitError, Forbidden, InvalidInput, NotFound
from digitctl.services import filestore
from digitctl.services.filestore import FileStoreCorrupt
from local_store.models import AuditRecord, FileStoreObject, OutboxEvent
from tests.helpers import every_row_on_sqlite

MARKER = "AADHAAR 4821-7730-1953 Gurpreet Kaur Sandhu"


# -- real documents, built byte by byte ------------------------------------------------------------
def make_pdf(text: str = MARKER) -> bytes:
    """A one-page PDF whose (uncompressed) content stream shows `text`."""
    content = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_png(rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A 1x1 RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + bytes(rgb))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def make_zip(entries: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in entries.items():
            # a fixed date: writestr(name) stamps the current time, which made the bytes (and the test
            # ids pytest-xdist workers compare at collection) differ between workers
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()


DOCX = {"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"}


# -- helpers ---------------------------------------------------------------------------------------
@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "files"
    monkeypatch.setenv("DIGIT_FILESTORE", str(folder))
    return folder


def blobs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def counts(app: App) -> tuple[int, int, int]:
    """(file rows, filestore.uploaded outbox events, audit records of uploads)."""
    with app.store.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(FileStoreObject)).scalar_one()
        events = conn.execute(select(func.count()).select_from(OutboxEvent)
                              .where(OutboxEvent.event_type == filestore.EVENT_UPLOADED)).scalar_one()
        audits = conn.execute(select(func.count()).select_from(AuditRecord)
                              .where(AuditRecord.operation == filestore.UPLOAD_ACTION)).scalar_one()
    return rows, events, audits


def put(app: App, data: bytes, name: str = "deed.pdf", tenant: str = "pb.amritsar", **kw: Any) -> str:
    done = filestore.upload(app, app.context(tenant), tenant, data, name, **kw)
    return str(done["files"][0]["fileStoreId"])


def get(app: App, file_store_id: str, tenant: str = "pb.amritsar") -> tuple[dict[str, Any], bytes]:
    return filestore.fetch(app, app.context(tenant), tenant, file_store_id)


# -- round trips -----------------------------------------------------------------------------------
def test_round_trip_of_a_pdf_file_and_png_bytes(app: App, root: Path, tmp_path: Path) -> None:
    pdf, png = make_pdf(), make_png()
    source = tmp_path / "Sale Deed 2026.pdf"
    source.write_bytes(pdf)

    done = filestore.upload(app, app.context("pb.amritsar"), "pb.amritsar", source, module="PT")
    assert set(done) == {"files"} and len(done["files"]) == 1
    pdf_id = done["files"][0]["fileStoreId"]
    assert done["files"][0] == {"fileStoreId": pdf_id, "tenantId": "pb.amritsar"}
    assert uuid.UUID(pdf_id).version == 4
    png_id = put(app, png, "photo.PNG")

    meta, data = get(app, pdf_id)
    assert data == pdf
    assert meta == {"fileStoreId": pdf_id, "tenantId": "pb.amritsar", "module": "PT",
                    "fileName": "Sale Deed 2026.pdf", "contentType": "application/pdf", "fileSize": len(pdf),
                    "sha256": hashlib.sha256(pdf).hexdigest(), "createdBy": app.context().actor.uuid,
                    "createdTime": int(app.clock.now().timestamp() * 1000)}
    meta, data = get(app, png_id)
    assert data == png and meta["contentType"] == "image/png" and meta["fileName"] == "photo.PNG"
    assert filestore.describe(app, app.context("pb.amritsar"), "pb.amritsar", png_id) == meta
    assert counts(app) == (2, 2, 2)
    assert len(blobs(root)) == 2


def test_upload_records_digits_shape_in_the_outbox(app: App, root: Path) -> None:
    pdf = make_pdf()
    file_id = put(app, pdf, "deed.pdf")
    with app.store.engine.connect() as conn:
        row = conn.execute(select(OutboxEvent).where(OutboxEvent.event_type == filestore.EVENT_UPLOADED)).one()
    assert (row.entity_type, row.entity_id, row.tenant_id) == ("FileStore", file_id, "pb.amritsar")
    assert row.payload == {"files": [{"fileStoreId": file_id, "tenantId": "pb.amritsar", "fileName": "deed.pdf",
                                      "contentType": "application/pdf", "size": len(pdf)}]}


def test_office_documents_and_declared_types(app: App, root: Path) -> None:
    docx = make_zip(DOCX)
    odt = make_zip({"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<x/>"})
    assert get(app, put(app, docx, "affidavit.docx"))[1] == docx
    assert get(app, put(app, odt, "letter.odt"))[1] == odt
    csv_id = put(app, "plot,area\n12,240.5\n".encode(), "plots.csv")
    assert get(app, csv_id)[0]["contentType"] == "text/csv"
    # DIGIT's allowed.formats.map types are accepted as declared types and recorded as given
    jpg_id = put(app, b"\xff\xd8\xff\xe0" + b"\x00" * 64, "id.jpg", content_type="image/jpg")
    assert get(app, jpg_id)[0]["contentType"] == "image/jpg"


def test_same_bytes_twice_are_two_ids_and_one_blob(app: App, root: Path) -> None:
    pdf = make_pdf()
    first = put(app, pdf, "deed.pdf", tenant="pb.amritsar")
    second = put(app, pdf, "copy of deed.pdf", tenant="pb.amritsar")
    third = put(app, pdf, "deed.pdf", tenant="pb.jalandhar")          # same state: same blob
    assert len({first, second, third}) == 3
    assert len(blobs(root)) == 1
    assert blobs(root)[0].name.startswith(hashlib.sha256(pdf).hexdigest() + ".")
    assert get(app, first)[1] == get(app, second)[1] == get(app, third, "pb.jalandhar")[1] == pdf
    assert get(app, second)[0]["fileName"] == "copy of deed.pdf"
    assert counts(app) == (3, 3, 3)


def test_exactly_five_mb_is_accepted(app: App, root: Path) -> None:
    head = make_pdf()
    data = head + b"%" * (filestore.MAX_FILE_SIZE - len(head))
    assert len(data) == 5 * 1024 * 1024
    assert get(app, put(app, data, "big.pdf"))[1] == data


# -- refusals: nothing written ---------------------------------------------------------------------
def test_five_mb_and_one_byte_is_refused_and_nothing_written(app: App, root: Path, tmp_path: Path) -> None:
    head = make_pdf()
    data = head + b"%" * (filestore.MAX_FILE_SIZE + 1 - len(head))
    source = tmp_path / "big.pdf"
    source.write_bytes(data)
    for src in (data, source):
        with pytest.raises(InvalidInput) as err:
            filestore.upload(app, app.context("pb.amritsar"), "pb.amritsar", src, "big.pdf")
        assert err.value.code == "FILESTORE_FILE_TOO_LARGE"
        assert err.value.params["size"] == filestore.MAX_FILE_SIZE + 1 and err.value.exit_code == 2
    assert counts(app) == (0, 0, 0)
    assert blobs(root) == []


@pytest.mark.parametrize("store_backend,name,data,code", every_row_on_sqlite([
    ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100, "FILESTORE_INVALID_FORMAT"),
    ("setup.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100, "FILESTORE_INVALID_FORMAT"),
    ("scan.pdf", make_png(), "FILESTORE_INVALID_FORMAT"),                 # a PNG named .pdf
    ("notes.pdf", b"just some text, renamed\n", "FILESTORE_INVALID_FORMAT"),
    ("photo.png", make_pdf(), "FILESTORE_INVALID_FORMAT"),
    ("photo.jpg", make_png(), "FILESTORE_INVALID_FORMAT"),
    ("letter.docx", make_zip({"a.txt": "plain zip"}), "FILESTORE_INVALID_FORMAT"),
    ("letter.odt", make_zip(DOCX), "FILESTORE_INVALID_FORMAT"),
    ("archive.zip", make_zip(DOCX), "FILESTORE_INVALID_FORMAT"),
    ("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00", "FILESTORE_INVALID_FORMAT"),
    ("data.txt", b"\x00\x01\x02binary", "FILESTORE_INVALID_FORMAT"),
    ("noextension", b"hello", "FILESTORE_INVALID_FORMAT"),
    ("empty.pdf", b"", "FILESTORE_EMPTY_FILE"),
    # the bytes decide, before the store is written; on PostgreSQL one refusal of each code
], lambda name, data, code: name in {"setup.exe", "empty.pdf"}), indirect=["store_backend"])
def test_wrong_or_empty_files_are_refused(app: App, root: Path, name: str, data: bytes, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        put(app, data, name)
    assert err.value.code == code
    assert counts(app) == (0, 0, 0)
    assert blobs(root) == []


def test_declared_content_type_must_fit_the_extension(app: App, root: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        put(app, make_pdf(), "deed.pdf", content_type="image/png")
    assert err.value.code == "FILESTORE_INVALID_FORMAT"
    assert put(app, make_pdf(), "deed.pdf", content_type="application/pdf; charset=binary")
    assert counts(app)[0] == 1


def test_unreadable_paths_and_bad_tenants_are_refused(app: App, root: Path, tmp_path: Path) -> None:
    for src in (tmp_path / "missing.pdf", tmp_path):
        with pytest.raises(InvalidInput) as err:
            filestore.upload(app, app.context("pb"), "pb", src)
        assert err.value.code == "FILESTORE_INVALID_INPUT"
    for tenant in ("", "../pb", "pb/amritsar", "mz"):                # "mz": this store serves pb
        with pytest.raises(InvalidInput) as err:
            put(app, make_pdf(), tenant=tenant)
        assert err.value.code == "INVALID_TENANTID", tenant
    with pytest.raises(InvalidInput) as err:
        put(app, make_pdf(), module="x" * 65)
    assert err.value.code == "FILESTORE_INVALID_MODULE"
    assert counts(app) == (0, 0, 0) and blobs(root) == []


def test_uploads_and_fetches_are_authorized(app: App, root: Path) -> None:
    file_id = put(app, make_pdf())
    clerk = app.context("pb.amritsar").__class__(
        actor=Actor("c1", "clerk", "EMPLOYEE", (Role("COLLECTION_EMPLOYEE", "pb"),)),
        tenant_id="pb.amritsar", clock=app.clock)
    with pytest.raises(Forbidden):
        filestore.upload(app, clerk, "pb.amritsar", make_png(), "x.png")
    for call in (filestore.fetch, filestore.describe):
        with pytest.raises(Forbidden):
            call(app, clerk, "pb.amritsar", file_id)
    assert counts(app) == (1, 1, 1) and len(blobs(root)) == 1


# -- hostile names and ids -------------------------------------------------------------------------
@pytest.mark.parametrize("store_backend,given,stored", every_row_on_sqlite([
    ("../../etc/passwd", "passwd.pdf"),           # no extension: taken from the bytes
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("a/b\\c.pdf", "c.pdf"),
    ("x\x00.pdf", "x.pdf"),
    ("..\\..\\Windows\\System32\\evil.pdf", "evil.pdf"),
    ("/abs/olute.pdf", "olute.pdf"),
    ("..", "document.pdf"),
    ("...pdf", "pdf.pdf"),
    ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),       # bidi override dropped
    ("CON.pdf", "_CON.pdf"),
    ('q<u>o:t"e|s?*.pdf', "q_u_o_t_e_s__.pdf"),
    ("\u0915\u094d\u200d\u0937 deed.pdf", "\u0915\u094d\u200d\u0937 deed.pdf"),   # ZWJ in Devanagari kept
    # on PostgreSQL the names whose characters a PostgreSQL text column treats otherwise (NUL is
    # refused there, bidi and joiners kept) and a path; the rest is the same sanitizing, in Python
], lambda given, stored: given in {"../../etc/passwd", "x\x00.pdf", "invoice\u202efdp.exe.pdf",
                                   "\u0915\u094d\u200d\u0937 deed.pdf"}), indirect=["store_backend"])
def test_hostile_file_names_are_stored_sanitized(app: App, root: Path, tmp_path: Path,
                                                 given: str, stored: str) -> None:
    file_id = put(app, make_pdf(), given)
    assert get(app, file_id)[0]["fileName"] == stored
    for blob in blobs(root):
        assert blob.resolve().is_relative_to(root.resolve())
        assert blob.parent.parent == root
    assert not (tmp_path.parent / "etc").exists() and not (root.parent / "etc").exists()


def test_long_names_are_cut_keeping_the_extension(app: App, root: Path) -> None:
    name = get(app, put(app, make_pdf(), "\u0a2a" * 400 + ".pdf"))[0]["fileName"]
    assert len(name) == filestore.MAX_NAME_CHARS and name.endswith(".pdf")


@pytest.mark.parametrize("bad_id", ["../x", "not-a-uuid", "", "../../etc/passwd",
                                    "00000000-0000-0000-0000-000000000000/../x",
                                    "5f0c2a8e-4b7d-4e1a-9c3f-2d6b8a1e7f90"])  # fixed: a fresh uuid4 would differ per xdist worker
def test_malformed_or_unknown_ids_are_not_found(app: App, root: Path, bad_id: str) -> None:
    put(app, make_pdf())
    with pytest.raises(NotFound) as err:
        get(app, bad_id)
    assert err.value.code == "FILESTORE_NOT_FOUND" and err.value.exit_code == 2
    with pytest.raises(NotFound):
        filestore.describe(app, app.context("pb.amritsar"), "pb.amritsar", bad_id)


def test_ids_are_case_insensitive(app: App, root: Path) -> None:
    file_id = put(app, make_png(), "x.png")
    assert get(app, file_id.upper())[0]["fileStoreId"] == file_id


def test_tenants_see_their_own_and_their_states_files(app: App, root: Path) -> None:
    city = put(app, make_pdf(), tenant="pb.amritsar")
    state = put(app, make_png(), "seal.png", tenant="pb")
    assert get(app, state, "pb.amritsar")[1] == make_png()              # state-level: readable from cities
    for other in ("pb.jalandhar", "pb"):
        with pytest.raises(NotFound) as err:
            get(app, city, other)
        assert err.value.code == "FILESTORE_NOT_FOUND"


# -- damage ----------------------------------------------------------------------------------------
def test_a_tampered_blob_is_corrupt_and_a_new_upload_repairs_it(app: App, root: Path) -> None:
    pdf = make_pdf()
    file_id = put(app, pdf)
    (blob,) = blobs(root)
    raw = bytearray(blob.read_bytes())
    raw[-20] ^= 0x01
    blob.write_bytes(bytes(raw))
    with pytest.raises(FileStoreCorrupt) as err:
        get(app, file_id)
    assert err.value.code == "FILESTORE_CORRUPT" and err.value.exit_code == 1
    assert filestore.describe(app, app.context("pb.amritsar"), "pb.amritsar", file_id)["fileSize"] == len(pdf)
    put(app, pdf)                                                      # same bytes again: rewritten
    assert get(app, file_id)[1] == pdf and len(blobs(root)) == 1


def test_a_swapped_truncated_or_missing_blob_is_corrupt(app: App, root: Path) -> None:
    pdf_id, png_id = put(app, make_pdf()), put(app, make_png(), "x.png")
    by_sha = {b.name.split(".")[0]: b for b in blobs(root)}
    pdf_blob = by_sha[hashlib.sha256(make_pdf()).hexdigest()]
    png_blob = by_sha[hashlib.sha256(make_png()).hexdigest()]
    pdf_blob.write_bytes(png_blob.read_bytes())                        # someone copies one over the other
    png_raw = png_blob.read_bytes()
    with pytest.raises(FileStoreCorrupt):
        get(app, pdf_id)
    png_blob.write_bytes(png_raw[:40])
    with pytest.raises(FileStoreCorrupt):
        get(app, png_id)
    png_blob.write_bytes(b"%PDF-1.4 plain text where ciphertext should be")
    with pytest.raises(FileStoreCorrupt):
        get(app, png_id)
    png_blob.unlink()
    with pytest.raises(FileStoreCorrupt) as err:
        get(app, png_id)
    assert "missing" in err.value.message


def test_blobs_hold_no_plaintext(app: App, root: Path) -> None:
    pdf = make_pdf()
    assert MARKER.encode() in pdf                                     # the marker is really in the document
    put(app, pdf)
    put(app, make_png(), "x.png")
    (scan,) = [b for b in blobs(root) if b.name.startswith(hashlib.sha256(pdf).hexdigest())]
    raw = scan.read_bytes()
    assert len(raw) > len(pdf)                                        # we are reading the whole blob
    for blob in blobs(root):
        data = blob.read_bytes()
        for needle in (MARKER, "Gurpreet", "4821-7730-1953", "%PDF", "/Catalog"):
            for encoding in ("utf-8", "utf-16-le"):
                assert needle.encode(encoding) not in data, (needle, blob)
        assert b"\x89PNG" not in data and b"IHDR" not in data
        assert oct(blob.stat().st_mode & 0o777) == oct(0o600) or os.name != "posix"
    assert not [p for p in root.rglob("*.tmp")]


# -- units of work and where the root is -----------------------------------------------------------
def test_upload_in_belongs_to_the_callers_unit_of_work(app: App, root: Path) -> None:
    with app.uow(app.context("pb.amritsar")) as uow:
        meta = filestore.upload_in(uow, app, "pb.amritsar", make_pdf(), "deed.pdf", module="TL")
        assert meta["fileName"] == "deed.pdf" and meta["module"] == "TL"
        assert filestore.fetch_in(uow, app, "pb.amritsar", meta["fileStoreId"])[1] == make_pdf()
        # no commit: the caller's transition failed
    assert counts(app) == (0, 0, 0)
    with pytest.raises(NotFound):
        get(app, meta["fileStoreId"])
    with app.uow(app.context("pb.amritsar")) as uow:
        again = filestore.upload_in(uow, app, "pb.amritsar", make_pdf(), "deed.pdf")
        uow.commit()
    assert get(app, again["fileStoreId"])[1] == make_pdf() and counts(app) == (1, 1, 1)


def test_root_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGIT_FILESTORE", raising=False)
    lite = build(f"sqlite:///{tmp_path / 'counter' / 'store.db'}")
    assert filestore.root_dir(lite) == tmp_path / "counter" / "store.db.files"
    store_id = str(uuid.uuid4())
    pg = build("postgresql://digit@127.0.0.1:5432/digit")
    from platformdirs import user_data_dir

    assert filestore.root_dir(pg, store_id) == Path(user_data_dir("digitctl", appauthor=False)) / "files" / store_id
    assert filestore.root_dir(pg, "../../x").parent.name == "files"   # a strange store id is hashed
    monkeypatch.setenv("DIGIT_FILESTORE", str(tmp_path / "docs"))
    assert filestore.root_dir(lite) == filestore.root_dir(pg, store_id) == tmp_path / "docs"
    lite.close()
    pg.close()


def test_default_root_is_beside_a_sqlite_store(sqlite_url: str, frozen_clock: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from digitctl.services.store import init_store

    monkeypatch.delenv("DIGIT_FILESTORE", raising=False)
    app = build(sqlite_url, frozen_clock)
    try:
        init_store(app, app.context(), "pb", "C01")
        file_id = put(app, make_pdf())
        assert len(blobs(tmp_path / "store.db.files")) == 1
        assert get(app, file_id)[1] == make_pdf()
    finally:
        app.close()


def test_sniff_knows_the_signatures() -> None:
    assert filestore.sniff(make_pdf()) == "pdf"
    assert filestore.sniff(make_png()) == "png"
    assert filestore.sniff(b"\xff\xd8\xff\xdb\x00") == "jpeg"
    assert filestore.sniff(make_zip(DOCX)) == "ooxml"
    assert filestore.sniff(make_zip({"mimetype": "application/vnd.oasis.opendocument.spreadsheet"})) == "ods"
    assert filestore.sniff(b"PK\x03\x04 not really a zip") == "binary"
    assert filestore.sniff(b"MZ\x90\x00") == "executable"
    assert filestore.sniff("नमस्ते, plain text\n".encode()) == "text"
    assert isinstance(FileStoreCorrupt("FILESTORE_CORRUPT", "x"), DigitError)

"""What the file store accepts (DIGIT's egov-filestore StorageValidator, stricter): 5 MB per file,
the extensions of `allowed.formats.map`, bytes that are what the extension says (`sniff`), a safe
file name (`sanitize_file_name`). `check_upload` is the whole check; `services.filestore` uses it.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from digitctl.errors import InvalidInput

MAX_FILE_SIZE = 5 * 1024 * 1024        # Spring's "5MB" is 5 MiB
MAX_NAME_CHARS = 200                   # filestore_object.file_name is VARCHAR(256)
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_KEEP_FORMAT_CHARS = {"\u200c", "\u200d"}   # ZWNJ / ZWJ shape Indic names; other Cf (bidi overrides) go

Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]


# -- DIGIT's allowed formats -------------------------------------------------------------------
@dataclass(frozen=True)
class Format:
    extension: str
    content_type: str                 # what we record and serve (IANA)
    digit_types: frozenset[str]       # allowed.formats.map's content types for the extension
    kinds: frozenset[str]             # what the bytes may be (see `sniff`)

    def accepts_type(self, content_type: str) -> bool:
        return content_type == self.content_type or content_type in self.digit_types


def _fmt(ext: str, ctype: str, digit: tuple[str, ...], kinds: tuple[str, ...]) -> Format:
    return Format(ext, ctype, frozenset(digit), frozenset(kinds))


_MSOFFICE = ("application/x-tika-msoffice", "application/x-tika-ooxml", "application/vnd.oasis.opendocument.text")
_SHEETS = ("application/x-tika-ooxml", "application/x-tika-msoffice")
ALLOWED_FORMATS: dict[str, Format] = {f.extension: f for f in (
    _fmt("jpg", "image/jpeg", ("image/jpg", "image/jpeg"), ("jpeg",)),
    _fmt("jpeg", "image/jpeg", ("image/jpeg", "image/jpg"), ("jpeg",)),
    _fmt("png", "image/png", ("image/png",), ("png",)),
    _fmt("pdf", "application/pdf", ("application/pdf",), ("pdf",)),
    _fmt("odt", "application/vnd.oasis.opendocument.text", ("application/vnd.oasis.opendocument.text",), ("odt",)),
    _fmt("ods", "application/vnd.oasis.opendocument.spreadsheet",
         ("application/vnd.oasis.opendocument.spreadsheet",), ("ods",)),
    _fmt("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", _MSOFFICE,
         ("ooxml", "ole2", "odt")),
    _fmt("doc", "application/msword", _MSOFFICE, ("ole2", "ooxml", "odt")),
    _fmt("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _SHEETS, ("ooxml", "ole2")),
    _fmt("xls", "application/vnd.ms-excel", _SHEETS, ("ole2", "ooxml")),
    _fmt("dxf", "image/vnd.dxf", ("text/plain",), ("text",)),
    _fmt("csv", "text/csv", ("text/plain",), ("text",)),
    _fmt("txt", "text/plain", ("text/plain",), ("text",)),
)}
# a name without an extension gets one from its bytes, when the bytes say it unambiguously
_EXTENSION_OF_KIND = {"pdf": "pdf", "png": "png", "jpeg": "jpg", "odt": "odt", "ods": "ods"}

_SIGNATURES = ((b"%PDF-", "pdf"), (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"),
               (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"), (b"PK\x03\x04", "zip"),
               (b"MZ", "executable"), (b"\x7fELF", "executable"), (b"GIF8", "gif"))
_ODF = {"application/vnd.oasis.opendocument.text": "odt",
        "application/vnd.oasis.opendocument.spreadsheet": "ods"}


def sniff(data: bytes) -> str:
    """What the bytes are: pdf, png, jpeg, ole2, ooxml, odt, ods, zip, text, or something we
    refuse (executable, gif, binary). Looks at signatures and, for zips, the container's entries."""
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            if kind == "zip":
                return _zip_kind(data)
            if kind != "executable" or b"\x00" in data[:512]:
                return kind
    if b"\x00" in data:
        return "binary"
    controls = sum(1 for b in data[:65536] if b < 0x20 and b not in b"\t\n\r\f\x1a")
    return "text" if controls * 100 <= min(len(data), 65536) else "binary"


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names:
                return "ooxml"
            info = archive.NameToInfo.get("mimetype")
            if info is not None and info.file_size <= 128:
                return _ODF.get(archive.read(info).decode("ascii", "replace").strip(), "zip")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return "binary"
    return "zip"


def _allowed_list() -> str:
    return ", ".join(ALLOWED_FORMATS)


# -- file names and inputs ---------------------------------------------------------------------
def sanitize_file_name(name: str | None) -> str:
    """A safe display name: the last path component only (either separator), no control or
    bidi-override characters (NUL included), none of Windows' forbidden characters, no leading
    dots, not a Windows device name, at most MAX_NAME_CHARS characters (the extension kept)."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(ch for ch in text if ch in _KEEP_FORMAT_CHARS or unicodedata.category(ch)[0] != "C")
    text = re.split(r"[\\/]", text)[-1]
    text = re.sub(r'[<>:"|?*]', "_", text)
    text = text.strip().lstrip(".").strip().rstrip(". ")
    if not text:
        return "document"
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    if len(text) > MAX_NAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and len(ext) <= 16:
            text = stem[:MAX_NAME_CHARS - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            text = text[:MAX_NAME_CHARS]
    return text


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _read_source(source: Source) -> tuple[bytes, str | None, int]:
    """(at most MAX_FILE_SIZE + 1 bytes, the file's own name if a path, its full size)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return data, None, len(data)
    path = Path(source)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput("FILESTORE_INVALID_INPUT", f"{path} is not a regular file", {"path": str(path)})
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_SIZE + 1)
    except OSError as err:
        raise InvalidInput("FILESTORE_INVALID_INPUT", f"cannot read {path}: {err.strerror or err}",
                           {"path": str(path)}) from None
    return data, path.name, max(info.st_size, len(data))


@dataclass(frozen=True)
class Checked:
    """An upload that passed the checks: what will be recorded."""

    data: bytes
    file_name: str
    extension: str
    content_type: str
    sha256: str


def check_upload(data: bytes, size: int, file_name: str | None, content_type: str | None) -> Checked:
    """DIGIT's StorageValidator, stricter: size, extension in allowed.formats.map, the bytes match
    the extension, the declared content type (if any) is one the extension allows."""
    name = sanitize_file_name(file_name)
    if size == 0:
        raise InvalidInput("FILESTORE_EMPTY_FILE", f"{name} is empty", {"fileName": name})
    if size > MAX_FILE_SIZE:
        raise InvalidInput("FILESTORE_FILE_TOO_LARGE",
                           f"{name} is {size:,} bytes; the file store takes at most {MAX_FILE_SIZE:,} (5 MB)",
                           {"fileName": name, "size": size, "maxSize": MAX_FILE_SIZE},
                           description="DIGIT: spring.servlet.multipart.max-file-size=5MB")
    kind = sniff(data)
    ext = _extension(name)
    if not ext and kind in _EXTENSION_OF_KIND:
        ext = _EXTENSION_OF_KIND[kind]
        name = sanitize_file_name(f"{name}.{ext}")
    fmt = ALLOWED_FORMATS.get(ext)
    if fmt is None:
        raise InvalidInput("FILESTORE_INVALID_FORMAT",
                           f"{name}: {'.' + ext if ext else 'no extension'} is not an allowed format; "
                           f"upload one of {_allowed_list()}",
                           {"fileName": name, "extension": ext, "allowedFormats": list(ALLOWED_FORMATS)},
                           description="DIGIT: EG_FILESTORE_INVALID_INPUT")
    if kind not in fmt.kinds:
        raise InvalidInput("FILESTORE_INVALID_FORMAT",
                           f"{name}: the content is not a .{ext} file (it looks like {kind})",
                           {"fileName": name, "extension": ext, "detected": kind},
                           description="DIGIT: EG_FILESTORE_INVALID_INPUT (the extension does not match the file format)")
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared and not fmt.accepts_type(declared):
        raise InvalidInput("FILESTORE_INVALID_FORMAT",
                           f"{name}: content type {declared!r} does not fit .{ext}",
                           {"fileName": name, "contentType": declared,
                            "allowedContentTypes": sorted(fmt.digit_types | {fmt.content_type})},
                           description="DIGIT: EG_FILESTORE_INVALID_INPUT (Invalid Content Type)")
    return Checked(data, name, ext, declared or fmt.content_type, hashlib.sha256(data).hexdigest())


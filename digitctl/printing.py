"""Where a printed receipt goes: DIGIT_PRINTER, shared by the TUI's counter and the CLI.

`pdf:FOLDER` writes RECEIPT-NO.pdf into FOLDER; with no DIGIT_PRINTER the folder is ./receipts.
`cups:QUEUE` hands the PDF to CUPS (`lp -d QUEUE`). `escpos:usb:VID:PID` (hex ids, e.g.
0x04b8:0x0202) and `escpos:tcp:HOST:PORT` print the thermal receipt as a raster image on an
80 mm ESC/POS printer through python-escpos (digitctl.documents.escpos_receipt). A printer
that fails is PRINTER_FAILED and the print is not counted (the service counts a print only once
it is delivered); a DIGIT_PRINTER this module cannot read is PRINTER_NOT_SUPPORTED.

No business rule here: it only moves bytes. python-escpos and Pillow are imported when printing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRINTER_ENV = "DIGIT_PRINTER"
DEFAULT_FOLDER = "receipts"
ESCPOS_DOTS = 576          # 80 mm roll at 203 dpi


@dataclass(frozen=True)
class Printer:
    kind: str
    target: str
    fmt: str = "a4"

    def path_for(self, receipt_no: str, copy: bool = False) -> Path:
        name = receipt_no.replace("/", "-") + ("-DUPLICATE" if copy else "") + ".pdf"
        return Path(self.target) / name

    def deliver(self, receipt_no: str, pdf: bytes, copy: bool = False) -> Path:
        """Write the PDF whole (a temporary file beside it, renamed); an existing copy is kept by
        numbering the new one. A CUPS printer then gets that file through `lp`; an ESC/POS
        printer gets the (thermal) PDF as a raster image."""
        if self.kind == "cups":
            return self._to_cups(receipt_no, pdf, copy)
        if self.kind == "escpos":
            return self._to_escpos(pdf, copy)
        return self._to_folder(receipt_no, pdf, copy)

    def _to_escpos(self, pdf: bytes, copy: bool) -> Path:
        from digitctl.documents import escpos_receipt
        from digitctl.errors import InvalidInput

        device = open_escpos(self.target)          # a USB printer without pyusb is refused first
        try:
            image = escpos_receipt.raster(pdf, ESCPOS_DOTS)
            escpos_receipt.send(device, image, duplicate=copy)
        except InvalidInput:
            raise
        except Exception as err:      # python-escpos raises its own errors, pyusb / socket theirs
            raise InvalidInput("PRINTER_FAILED", f"escpos:{self.target}: {err}", {"printer": self.target}) from None
        finally:
            try:
                device.close()
            except Exception:       # pragma: no cover - a device that failed may not close cleanly
                pass
        return Path(f"escpos:{self.target}")

    def _to_cups(self, receipt_no: str, pdf: bytes, copy: bool) -> Path:
        import shutil
        import subprocess
        import tempfile

        from digitctl.errors import InvalidInput

        lp = shutil.which("lp")
        if lp is None:
            raise InvalidInput("PRINTER_FAILED", "CUPS's `lp` is not installed on this PC", {"printer": self.target})
        with tempfile.TemporaryDirectory(prefix="digitctl-print-") as spool:
            path = Printer("pdf", spool).path_for(receipt_no, copy)
            path.write_bytes(pdf)
            done = subprocess.run([lp, "-d", self.target, "-t", receipt_no, str(path)], capture_output=True,
                                  text=True, timeout=60)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise InvalidInput("PRINTER_FAILED", f"lp -d {self.target}: {reason[0] if reason else done.returncode}",
                               {"printer": self.target})
        return Path(f"cups:{self.target}")

    def _to_folder(self, receipt_no: str, pdf: bytes, copy: bool) -> Path:
        from digitctl.errors import InvalidInput

        target = self.path_for(receipt_no, copy)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            n = 1
            while target.exists():
                n += 1
                target = target.with_name(f"{self.path_for(receipt_no, copy).stem}-{n}.pdf")
            tmp = target.with_name("." + target.name + ".tmp")
            tmp.write_bytes(pdf)
            os.replace(tmp, target)
        except OSError as err:
            raise InvalidInput("INVALID_OUTPUT_PATH", f"cannot write the receipt to {target}: "
                               f"{err.strerror or err}", {"file": str(target)}) from None
        return target.resolve()


def _escpos_target(rest: str) -> str | None:
    """`usb:VID:PID` (hex) or `tcp:HOST:PORT`, normalised; None when malformed."""
    how, _, addr = rest.partition(":")
    if how == "usb":
        vid, _, pid = addr.partition(":")
        try:
            return f"usb:{int(vid, 16):#06x}:{int(pid, 16):#06x}"
        except ValueError:
            return None
    if how == "tcp":
        host, _, port = addr.rpartition(":")
        return f"tcp:{host}:{int(port)}" if host and port.isdigit() and 0 < int(port) < 65536 else None
    return None


def open_escpos(target: str) -> Any:
    """A python-escpos printer for a normalised target (tests put a Dummy here). A network
    printer connects on its first write; a USB one opens now (pyusb)."""
    from digitctl.errors import InvalidInput

    how, _, addr = target.partition(":")
    try:
        if how == "usb":
            from escpos.printer import Usb

            if not Usb.is_usable():
                raise InvalidInput("PRINTER_FAILED", "a USB receipt printer needs pyusb: pip install "
                                   "'digitctl[printer]'", {"printer": target})
            vid, _, pid = addr.partition(":")
            return Usb(int(vid, 16), int(pid, 16))
        from escpos.printer import Network

        host, _, port = addr.rpartition(":")
        return Network(host, int(port), timeout=10)
    except ImportError:
        raise InvalidInput("PRINTER_FAILED", "python-escpos is not installed: pip install 'digitctl[printer]'",
                           {"printer": target}) from None
    except InvalidInput:
        raise
    except Exception as err:
        raise InvalidInput("PRINTER_FAILED", f"escpos:{target}: {err}", {"printer": target}) from None


def printer(spec: str | None = None) -> Printer:
    """The printer DIGIT_PRINTER names (or `spec`); an ESC/POS printer prints the thermal format."""
    from digitctl.errors import InvalidInput

    spec = (os.environ.get(PRINTER_ENV) or "" if spec is None else spec).strip()
    if not spec:
        return Printer("pdf", DEFAULT_FOLDER)
    kind, _, rest = spec.partition(":")
    if kind in ("pdf", "cups") and rest:
        return Printer(kind, rest)
    target = _escpos_target(rest) if kind == "escpos" else None
    if target is not None:
        return Printer("escpos", target, "thermal")
    raise InvalidInput("PRINTER_NOT_SUPPORTED", f"{PRINTER_ENV}={spec!r}: a printer is pdf:FOLDER, cups:QUEUE, "
                       "escpos:usb:VID:PID or escpos:tcp:HOST:PORT", {"printer": spec})

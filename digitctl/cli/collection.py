"""`digitctl pay`, `digitctl payment cancel|dishonour|remit|show`, `digitctl receipt print`
(DIGIT collection-services v2 at the counter). Parse, call digitctl.services.collection, render.

`-o json|yaml|csv|table` is the root's output option (hoisted); `receipt print -o FILE` is the
file to write, because the root hoists `-o` only when a format name follows it."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from digitctl.cli.common import require_tenant

payment_app = typer.Typer(help="Payments: show, cancel, dishonour (cheque/DD), remit to the bank.",
                          no_args_is_help=True)
receipt_app = typer.Typer(help="Receipts: print (a reprint is marked DUPLICATE).", no_args_is_help=True)
_PRINTER_HELP = ("Print on a printer instead of a PDF file: pdf:FOLDER, cups:QUEUE, escpos:usb:VID:PID or "
                 "escpos:tcp:HOST:PORT (80 mm ESC/POS: the thermal receipt as an image), as DIGIT_PRINTER.")

PAYMENT_COLUMNS = ["field", "value"]


def _inr(value: Any) -> str:
    from digitctl.domain.money import format_inr

    return "" if value in (None, "") else format_inr(str(value))


def _app_ctx(tenant: str | None) -> tuple[Any, Any, str]:
    from digitctl.cli.output import state
    from digitctl.services.store import require_initialized

    st = state()
    require_initialized(st.app)
    t = require_tenant(tenant)
    return st.app, st.app.context(t), t


def _summary(doc: dict[str, Any]) -> list[tuple[str, str]]:
    pd = (doc.get("paymentDetails") or [{}])[0]
    extra = doc.get("additionalDetails") or {}
    rows = [("receipt number", pd.get("receiptNumber") or ""), ("consumer code", (pd.get("bill") or {}).get("consumerCode", "")),
            ("service", pd.get("businessService") or ""), ("mode", doc.get("paymentMode") or ""),
            ("amount paid", _inr(doc.get("totalAmountPaid"))), ("total due", _inr(doc.get("totalDue"))),
            ("bill status", (pd.get("bill") or {}).get("status", "")),
            ("payment status", doc.get("paymentStatus") or ""), ("instrument status", doc.get("instrumentStatus") or ""),
            ("payer", doc.get("payerName") or ""), ("mobile", doc.get("mobileNumber") or ""),
            ("counter", extra.get("counterCode") or "")]
    if extra.get("takenAt"):
        rows.append(("taken at", _taken_at(doc)))
    if doc.get("instrumentNumber"):
        rows.append(("instrument", f"{doc['instrumentNumber']} {extra.get('bankName') or ''} "
                                   f"{extra.get('branchName') or ''} {doc.get('ifscCode') or ''}".strip()))
    if (extra.get("applicationNotice") or {}).get("message"):
        rows.append(("application", extra["applicationNotice"]["message"]))
    if extra.get("cancellationReason"):
        rows.append(("cancelled for", extra["cancellationReason"]))
        rows.append(("cancelled by", " / approved by ".join(dict.fromkeys(
            v for v in (extra.get("cancelledBy"), extra.get("cancellationApprovedBy")) if v))))
    if extra.get("dishonourReason") and doc.get("paymentStatus") == "DISHONOURED":
        rows.append(("dishonoured for", extra["dishonourReason"]))
        rows.append(("dishonoured by", " / approved by ".join(dict.fromkeys(
            v for v in (extra.get("dishonouredBy"), extra.get("dishonourApprovedBy")) if v))))
    return rows


def _taken_at(doc: dict[str, Any]) -> str:
    """Where a receipt was taken: here, or (a payment pulled from the hub) the counter / the hub."""
    where = (doc.get("additionalDetails") or {}).get("takenAt")
    return "here" if not where else "the hub (elsewhere)" if where == "HUB" else f"counter {where} (elsewhere)"


def _emit_payment(doc: dict[str, Any], title: str, extra: dict[str, Any] | None = None) -> None:
    from digitctl.cli.output import emit

    rows = _summary(doc)
    extra = extra or {}
    if "changeDue" in extra:
        rows.insert(5, ("change due", _inr(extra["changeDue"])))
    if "Receipt" in extra:
        rows.append(("receipt printed", extra["Receipt"]["file"]))
    emit({"Payments": [doc], **extra}, rows=rows, columns=PAYMENT_COLUMNS, title=title)


def _date(text: str | None) -> dt.date | None:
    from digitctl.errors import InvalidInput

    if not text:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("INVALID_INSTRUMENT_DATE", f"--instrument-date {text!r} is not a date YYYY-MM-DD",
                           {"instrumentDate": text}) from None


def pay(
    bill: str = typer.Option(..., "--bill", help="Bill id or bill number (from `digitctl bill fetch`)."),
    tenant: str = typer.Option(None, "--tenant"),
    mode: str = typer.Option(..., "--mode", help="CASH | CHEQUE | DD | OFFLINE_NEFT | OFFLINE_RTGS | POSTAL_ORDER | CARD"),
    amount: str = typer.Option(..., "--amount", help="Rupees, whole (no paise): 1250, or grouped the Indian way "
                                                     "(1,250 / 1,25,000); other commas are refused."),
    instrument_number: str = typer.Option(None, "--instrument-number",
                                          help="Cheque / DD number, NEFT / RTGS reference, postal order number; "
                                               "for CARD the card's number (e.g. its last four digits)."),
    instrument_date: str = typer.Option(None, "--instrument-date",
                                        help="Date on the cheque / DD, of the NEFT / RTGS transfer or postal "
                                             "order (YYYY-MM-DD, not after today)."),
    transaction_number: str = typer.Option(None, "--transaction-number",
                                           help="CARD: the card machine's transaction number (required)."),
    bank: str = typer.Option(None, "--bank", help="Bank the cheque / DD is drawn on."),
    branch: str = typer.Option(None, "--branch", help="Its branch."),
    ifsc: str = typer.Option(None, "--ifsc", help="Branch IFSC (e.g. PUNB0012300)."),
    payer_name: str = typer.Option(None, "--payer-name", help="Who pays, when not the bill's payer."),
    mobile: str = typer.Option(None, "--mobile", help="Payer's mobile."),
    tendered: str = typer.Option(None, "--tendered", help="CASH: the notes handed over (e.g. 2000); the change "
                                                          "due is shown."),
    print_receipt: bool = typer.Option(False, "--print", help="Print the receipt at once (PDF, as receipt print)."),
    fmt: str = typer.Option("a4", "--format", help="With --print: a4 | a5 | thermal."),
    printer: str = typer.Option(None, "--printer", help="Implies --print. " + _PRINTER_HELP),
) -> None:
    """Take a payment against a bill (needs an open shift); -o json prints DIGIT's Payment.

    A bill takes one payment: a part-paid bill is refused BILL_ALREADY_PAID (fetch a fresh bill
    for the rest). A CARD payment is deposited when taken, so it cannot be cancelled."""
    from digitctl.services import collection

    application, ctx, t = _app_ctx(tenant)
    change = None
    if tendered is not None:        # refused before anything is written
        from digitctl.domain.collection import change_due

        change = change_due(tendered, amount, mode)
    if printer is not None:          # a printer DIGIT_PRINTER could not name is refused before paying
        from digitctl.printing import printer as named

        named(printer)
    doc = collection.pay(application, ctx, tenant_id=t, bill_id=bill, mode=mode, amount=amount,
                         instrument_number=instrument_number, instrument_date=_date(instrument_date), bank=bank,
                         branch=branch, ifsc=ifsc, payer_name=payer_name, mobile=mobile,
                         transaction_number=transaction_number)
    extra: dict[str, Any] = {}
    if change is not None:
        extra["changeDue"] = change
    if print_receipt or printer is not None:
        receipt_no = (doc.get("paymentDetails") or [{}])[0].get("receiptNumber") or ""
        extra["Receipt"] = _print_receipt(application, ctx, t, receipt_no, fmt=fmt, out=None, copy=False,
                                          force=False, locale="en_IN", printer=printer)
    _emit_payment(doc, "Payment recorded", extra)


@payment_app.command("show")
def show_cmd(receipt_no: str = typer.Argument(..., metavar="RECEIPT_NO"),
             tenant: str = typer.Option(None, "--tenant")) -> None:
    """A payment by receipt number; -o json prints DIGIT's Payment."""
    from digitctl.services import collection

    application, ctx, t = _app_ctx(tenant)
    _emit_payment(collection.get_payment(application, ctx, t, receipt_no), "Payment")


def _approver(application: Any, supervisor: str | None, password_stdin: bool, check: Any) -> Any:
    """The supervisor approving at this counter (their password asked, or read from stdin), after
    `check()` has refused what is wrong anyway (reason, state, not the latest) before a password
    is typed and a login recorded; None without --supervisor."""
    from digitctl import session

    if supervisor:
        from digitctl.cli.common import read_password_stdin

        check()
        password = (read_password_stdin() if password_stdin
                    else typer.prompt(f"Password of {supervisor}", hide_input=True, err=True))
        return session.approver(application, application.base_context(), supervisor, password)
    if password_stdin:
        from digitctl.errors import InvalidInput

        raise InvalidInput("INVALID_OPTIONS", "--password-stdin is the supervisor's password: give --supervisor USER")
    return None


_SUPERVISOR_HELP = ("The supervisor approving at this counter (asked for their password) when you hold no "
                    "cancellator role.")


@payment_app.command("cancel")
def cancel_cmd(receipt_no: str = typer.Argument(..., metavar="RECEIPT_NO"),
               tenant: str = typer.Option(None, "--tenant"),
               reason: str = typer.Option(..., "--reason", help="ERRORRECEIPT | CHEQUEBOUNCE | OTHER "
                                          "(common-masters.CancelReceiptReason)"),
               comment: str = typer.Option(None, "--comment"),
               supervisor: str = typer.Option(None, "--supervisor", metavar="USER", help=_SUPERVISOR_HELP),
               password_stdin: bool = typer.Option(False, "--password-stdin",
                                                   help="Read the supervisor's password from standard input.")) -> None:
    """Cancel the latest APPROVED payment of a consumer code; what it paid is owed again. Needs a
    supervisor: a receipt cancellator role (CR_PT, CR_TL ...), yours or --supervisor's."""
    from digitctl.services import collection

    application, ctx, t = _app_ctx(tenant)
    approver = _approver(application, supervisor, password_stdin,
                         lambda: collection.check_cancel(application, ctx, t, receipt_no, reason))
    _emit_payment(collection.cancel(application, ctx, t, receipt_no, reason, comment, approver=approver),
                  "Payment cancelled")


@payment_app.command("dishonour")
def dishonour_cmd(receipt_no: str = typer.Argument(..., metavar="RECEIPT_NO"),
                  tenant: str = typer.Option(None, "--tenant"),
                  reason: str = typer.Option(..., "--reason", help="CHEQUEBOUNCE | OTHER | ... "
                                             "(common-masters.CancelReceiptReason: DIGIT has no dishonour "
                                             "reason master)"),
                  comment: str = typer.Option(None, "--comment", help="Free text, e.g. the bank's return memo."),
                  supervisor: str = typer.Option(None, "--supervisor", metavar="USER", help=_SUPERVISOR_HELP),
                  password_stdin: bool = typer.Option(False, "--password-stdin",
                                                      help="Read the supervisor's password from standard input.")
                  ) -> None:
    """Mark a cheque / DD payment dishonoured (bounced); what it paid is owed again. Only the
    latest cheque / DD of its consumer code; needs a supervisor, as a cancel does."""
    from digitctl.services import collection

    application, ctx, t = _app_ctx(tenant)
    approver = _approver(application, supervisor, password_stdin,
                         lambda: collection.check_dishonour(application, ctx, t, receipt_no, reason))
    _emit_payment(collection.dishonour(application, ctx, t, receipt_no, reason, comment, approver=approver),
                  "Payment dishonoured")


@payment_app.command("remit")
def remit_cmd(receipt_nos: list[str] = typer.Argument(None, metavar="[RECEIPT_NO]...",
                                                      help="Receipts to deposit (default: your shift's NEW payments)."),
              tenant: str = typer.Option(None, "--tenant"),
              bank: str = typer.Option(None, "--bank", help="Bank and branch the deposit is made at."),
              pdf: Path = typer.Option(None, "--pdf", help="Also write the deposit slip as a PDF to this file.")) -> None:
    """Deposit payments in the bank: prints the deposit slip (instruments and cash); --pdf FILE
    writes it as a PDF to take to the bank."""
    from digitctl.cli.output import emit
    from digitctl.documents import slips
    from digitctl.errors import InvalidInput
    from digitctl.services import collection

    application, ctx, t = _app_ctx(tenant)
    if pdf is not None and (pdf.exists() or not pdf.parent.is_dir()):      # refused before anything is remitted
        raise InvalidInput("FILE_EXISTS" if pdf.exists() else "INVALID_OUTPUT_PATH",
                           f"cannot write the deposit slip to {pdf}", {"file": str(pdf)})
    slip = collection.remit(application, ctx, t, list(receipt_nos or []), bank)
    if pdf is not None:
        from digitctl.documents import deposit_slip

        deposit_slip.write_pdf(slip, pdf)
    emit({"Remittance": slip, **({"file": str(pdf)} if pdf else {})}, rows=slips.deposit_rows(slip),
         columns=slips.DEPOSIT_COLUMNS, title=slips.deposit_title(slip))


def _to_printer(application: Any, ctx: Any, t: str, receipt_no: str, *, spec: str, fmt: str, copy: bool,
                locale: str) -> dict[str, Any]:
    """Print on the printer `spec` names (DIGIT_PRINTER's forms; an ESC/POS printer prints the
    thermal format): its info. The print is counted only once the printer took it."""
    from digitctl import printing
    from digitctl.services import collection

    dest = printing.printer(spec)          # PRINTER_NOT_SUPPORTED before anything is rendered
    fmt = dest.fmt if dest.kind == "escpos" else fmt
    written: list[Path] = []

    def deliver(pdf: bytes) -> None:
        written.append(dest.deliver(receipt_no, pdf, copy))

    pdf, doc, duplicate = collection.receipt_pdf(application, ctx, t, receipt_no, fmt=fmt, copy=copy,
                                                 locale=locale, deliver=deliver)
    return {"receiptNumber": receipt_no, "file": str(written[0]) if written else "", "format": fmt,
            "locale": locale, "bytes": len(pdf), "marks": _marks(doc, duplicate)}


def _marks(doc: dict[str, Any], duplicate: bool) -> list[str]:
    return [m for m, on in (("DUPLICATE", duplicate), ("CANCELLED", doc.get("paymentStatus") == "CANCELLED"),
                            ("DISHONOURED", doc.get("paymentStatus") == "DISHONOURED"),
                            ("TAKEN ELSEWHERE", bool((doc.get("additionalDetails") or {}).get("takenAt")))) if on]


def _print_receipt(application: Any, ctx: Any, t: str, receipt_no: str, *, fmt: str, out: Path | None, copy: bool,
                   force: bool, locale: str, printer: str | None = None) -> dict[str, Any]:
    """Write the receipt's PDF (whole or not at all; an existing file only with force), or print it
    on `printer` (DIGIT_PRINTER's forms): its info."""
    from digitctl.errors import InvalidInput
    from digitctl.services import collection

    if printer is not None:
        if out is not None:
            raise InvalidInput("INVALID_OPTIONS", "--out is a PDF file: give --out or --printer, not both")
        return _to_printer(application, ctx, t, receipt_no, spec=printer, fmt=fmt, copy=copy, locale=locale)
    target = out or Path(receipt_no.replace("/", "-") + ".pdf")

    def refuse_overwrite() -> None:
        if not force and (target.exists() or target.is_symlink()):
            raise InvalidInput("FILE_EXISTS", f"{target} exists: give --force to overwrite it, or another --out",
                               {"file": str(target)})

    refuse_overwrite()

    def deliver(pdf: bytes) -> None:
        import contextlib
        import os
        import tempfile

        refuse_overwrite()
        tmp: str | None = None
        try:       # whole or not at all: a temporary file beside the target, then renamed
            fd, tmp = tempfile.mkstemp(prefix=".receipt-", suffix=".pdf", dir=target.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pdf)
            os.replace(tmp, target)
            tmp = None
        except OSError as err:
            raise InvalidInput("INVALID_OUTPUT_PATH", f"cannot write the receipt to {target}: {err.strerror or err}",
                               {"file": str(target)}) from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    pdf, doc, duplicate = collection.receipt_pdf(application, ctx, t, receipt_no, fmt=fmt, copy=copy,
                                                 locale=locale, deliver=deliver)
    return {"receiptNumber": receipt_no, "file": str(target), "format": fmt, "locale": locale, "bytes": len(pdf),
            "marks": _marks(doc, duplicate)}


@receipt_app.command("print")
def print_cmd(receipt_no: str = typer.Argument(..., metavar="RECEIPT_NO"),
              tenant: str = typer.Option(None, "--tenant"),
              fmt: str = typer.Option("a4", "--format", help="a4 | a5 | thermal"),
              out: Path = typer.Option(None, "--out", "-o", help="PDF file (default: the receipt number, '/' → '-')."),
              copy: bool = typer.Option(False, "--copy", help="A copy for the payer: marked DUPLICATE."),
              force: bool = typer.Option(False, "--force", help="Overwrite the PDF file if it exists."),
              locale: str = typer.Option("en_IN", "--locale",
                                         help="Labels' language: en_IN, hi_IN (configs/localization)."),
              printer: str = typer.Option(None, "--printer", help=_PRINTER_HELP)) -> None:
    """Print a receipt as PDF (or on a --printer). The first print is the original; a reprint is marked DUPLICATE,
    a cancelled receipt CANCELLED, a bounced cheque's DISHONOURED. Labels, tax heads and the
    service are localized (--locale, falling back to en_IN code by code). An existing file is
    not overwritten without --force (FILE_EXISTS; the print is not counted)."""
    from digitctl.cli.output import emit

    application, ctx, t = _app_ctx(tenant)
    info = _print_receipt(application, ctx, t, receipt_no, fmt=fmt, out=out, copy=copy, force=force, locale=locale,
                          printer=printer)
    emit({"Receipt": info}, rows=[(k, v if not isinstance(v, list) else ", ".join(v)) for k, v in info.items()],
         columns=["field", "value"], title="Receipt printed")


RECEIPT_COLUMNS = ["receiptNumber", "date (IST)", "consumerCode", "service", "mode", "amount", "status", "payer",
                   "taken at"]


@receipt_app.command("search")
def receipt_search(
    tenant: str = typer.Option(None, "--tenant"),
    consumer_code: str = typer.Option(None, "--consumer-code", help="The consumer code paid for."),
    mobile: str = typer.Option(None, "--mobile", help="The payer's mobile number (as on the bill)."),
    date: str = typer.Option(None, "--date", help="The IST day the receipt was issued (DD/MM/YYYY or YYYY-MM-DD)."),
) -> None:
    """Find receipts without their number: by consumer code, the payer's mobile or the day
    (criteria combine); newest first. A citizen finds only their own. -o json prints
    {"Payments": [...]}; reprint one with `receipt print RECEIPT_NO --copy`."""
    from digitctl.cli.output import emit
    from digitctl.clock import people_time
    from digitctl.services import receipt_search as rs

    application, ctx, t = _app_ctx(tenant)
    found = rs.search(application, ctx, t, consumer_code=consumer_code, mobile=mobile, date=date)
    rows = []
    for doc in found:
        pd = (doc.get("paymentDetails") or [{}])[0]
        rows.append((pd.get("receiptNumber") or "", people_time(pd.get("receiptDate"), zone=False),
                     (pd.get("bill") or {}).get("consumerCode", ""), pd.get("businessService") or "",
                     doc.get("paymentMode") or "", _inr(doc.get("totalAmountPaid")), doc.get("paymentStatus") or "",
                     doc.get("payerName") or "", _taken_at(doc)))
    emit({"Payments": found}, rows=rows, columns=RECEIPT_COLUMNS, title=f"Receipts at {t} ({len(found)})")

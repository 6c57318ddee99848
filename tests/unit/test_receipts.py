"""Counter receipts (digitctl.documents.receipt.render): a pure function of DIGIT's Payment JSON.

The PDFs are read back with poppler's `pdftotext` (skipped with a message when it is missing:
`apt-get install poppler-utils`), so what is checked is what a reader extracts: the receipt
number, the amount in Indian words, Hindi / Punjabi payer names round-tripping through HarfBuzz
shaping + the font's ToUnicode map, the DUPLICATE / CANCELLED marks, and the 80 mm thermal width.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal

import pytest

pytest.importorskip("fpdf", reason="fpdf2 is not installed (receipts need fpdf2 + uharfbuzz)")
pytest.importorskip("uharfbuzz", reason="uharfbuzz is not installed (fpdf2 text shaping for Indic scripts)")

from digitctl.documents import receipt as receipts  # noqa: E402
from digitctl.resources import bundled  # noqa: E402

PUNJABI = "ਗੁਰਪ੍ਰੀਤ ਕੌਰ"
HINDI = "राम कुमार"
RECEIPT_NO = "PB-TL-2026-27-000123"
WORDS = "Rupees Twelve Thousand Five Hundred Forty Five and Fifty Paise Only"
MM = 72 / 25.4

TENANT = {
    "code": "pb.jalandhar", "name": "Jalandhar", "type": "CITY",
    "address": "Municipal Corporation Office, Dr. B.R.Ambedkar Admin Complex, Nehru Garden, Jalandhar City-144001",
    "contactNumber": "0181-2227015", "domainUrl": "www.mcjalandhar.in", "emailId": "complaints.mcj@gmail.com",
}


def payment_json(payer: str = PUNJABI, **overrides: object) -> str:
    """A Trade Licence renewal paid by cheque at the counter, as collection-services returns it
    (amounts are JSON numbers there; epochs are ms, IST midnight for the periods)."""
    doc = {
        "id": "7c1b2f0e-9a4d-4c57-8c3e-1f2a3b4c5d6e", "tenantId": "pb.jalandhar",
        "totalDue": 12545.50, "totalAmountPaid": 12545.50,
        "transactionNumber": "TXN-PB-JAL-2026-000117", "transactionDate": 1795500120000,
        "paymentMode": "CHEQUE", "instrumentNumber": "004512", "instrumentDate": 1795285800000,
        "instrumentStatus": "APPROVALPENDING", "ifscCode": "PUNB0012300",
        "paidBy": "OWNER", "mobileNumber": "9876543210", "payerName": payer,
        "payerAddress": "12, Model Town, Jalandhar", "payerId": "u-81", "paymentStatus": "NEW",
        "paymentDetails": [{
            "id": "pd-1", "tenantId": "pb.jalandhar", "totalDue": 12545.50, "totalAmountPaid": 12545.50,
            "receiptNumber": RECEIPT_NO, "receiptType": "BILLBASED", "receiptDate": 1795500120000,
            "businessService": "TL", "billId": "bill-1",
            "bill": {
                "id": "bill-1", "tenantId": "pb.jalandhar", "billNumber": "BILL-PB-JAL-0077",
                "consumerCode": "PB-TL-2026-11-20-000456", "businessService": "TL", "status": "PAID",
                "totalAmount": 12545.50,
                "billDetails": [{
                    "id": "bd-1", "tenantId": "pb.jalandhar", "demandId": "dm-1",
                    "fromPeriod": 1774981800000, "toPeriod": 1806517799000,
                    "amount": 12545.50, "amountPaid": 12545.50,
                    "billAccountDetails": [
                        {"id": "bad-2", "order": 2, "amount": 545.50, "adjustedAmount": 545.50,
                         "taxHeadCode": "TL_RENEWAL_PENALTY", "purpose": "CURRENT"},
                        {"id": "bad-1", "order": 1, "amount": 12000, "adjustedAmount": 12000,
                         "taxHeadCode": "TL_TAX", "purpose": "CURRENT"},
                        {"id": "bad-3", "order": 3, "amount": 0, "adjustedAmount": 0,
                         "taxHeadCode": "TL_RENEWAL_REBATE", "purpose": "REBATE"},
                    ],
                }],
            },
        }],
    }
    doc.update(overrides)
    return json.dumps(doc, ensure_ascii=False)


def payment(payer: str = PUNJABI, **overrides: object) -> dict:
    return json.loads(payment_json(payer, **overrides), parse_float=Decimal)


def pdf_text(pdf: bytes, tmp_path, layout: bool = False) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext not found: install poppler-utils (apt-get install poppler-utils) "
                    "to check the receipts' text")
    f = tmp_path / "r.pdf"
    f.write_bytes(pdf)
    args = [exe, "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(f), "-"]
    return subprocess.run(args, check=True, capture_output=True).stdout.decode("utf-8")


def flat(text: str) -> str:
    return " ".join(text.split())


def mediaboxes(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in points of every /MediaBox in the file (page objects are uncompressed)."""
    out = []
    for box in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf):
        x0, y0, x1, y1 = (float(v) for v in box.split())
        out.append((x1 - x0, y1 - y0))
    return out


@pytest.mark.parametrize("fmt", receipts.FORMATS)
@pytest.mark.parametrize("payer", [PUNJABI, HINDI])
def test_receipt_text_reads_back(fmt, payer, tmp_path):
    pdf = receipts.render(payment(payer), fmt=fmt, tenant=TENANT, collector="Harpreet Singh")
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf, tmp_path)
    assert RECEIPT_NO in text
    assert WORDS in flat(text)                       # thermal wraps the words over two lines
    assert "Jalandhar" in text and "0181-2227015" in text
    assert "PB-TL-2026-11-20-000456" in text         # consumer code
    assert "₹12,000.00" in text and "₹545.50" in text and "₹12,545.50" in text
    assert "TL_RENEWAL_REBATE" not in text           # nothing paid against it: left off
    assert "004512" in text and "PUNB0012300" in text and "Cheque" in text
    assert "22/11/2026" in text                      # instrument date, IST
    assert "01/04/2026 to 31/03/2027" in text        # billing period, IST
    assert "Harpreet Singh" in text
    # shaping + ToUnicode: the payer's name comes back exactly, code point for code point
    lines = [ln.strip() for ln in text.splitlines()]
    assert payer in lines, f"payer {payer!r} not extracted as such; lines with Indic text: " + repr(
        [ln for ln in lines if any(ord(c) >= 0x900 for c in ln)])
    assert "DUPLICATE" not in text and "CANCELLED" not in text


def test_tax_heads_print_in_bill_order(tmp_path):
    text = pdf_text(receipts.render(payment(), fmt="a4", tenant=TENANT), tmp_path, layout=True)
    assert text.index("Trade License Fee") < text.index("Renewal Penalty")     # TL_TAX, TL_RENEWAL_PENALTY


@pytest.mark.parametrize("fmt", receipts.FORMATS)
def test_reprint_is_marked_duplicate(fmt, tmp_path):
    text = pdf_text(receipts.render(payment(), fmt=fmt, tenant=TENANT, copy=True), tmp_path)
    assert "DUPLICATE" in text
    assert "CANCELLED" not in text


@pytest.mark.parametrize("fmt", receipts.FORMATS)
def test_cancelled_receipt_is_marked(fmt, tmp_path):
    text = pdf_text(receipts.render(payment(), fmt=fmt, tenant=TENANT, cancelled=True), tmp_path)
    assert "CANCELLED" in text


def test_a_cancelled_payment_is_marked_without_the_flag(tmp_path):
    text = pdf_text(receipts.render(payment(paymentStatus="CANCELLED"), fmt="thermal", tenant=TENANT),
                    tmp_path)
    assert "CANCELLED" in text


@pytest.mark.parametrize("fmt", receipts.FORMATS)
def test_dishonoured_receipt_is_marked(fmt, tmp_path):
    text = pdf_text(receipts.render(payment(), fmt=fmt, tenant=TENANT, dishonoured=True), tmp_path)
    assert "*** DISHONOURED ***" in text and "dishonoured" in flat(text)
    assert "CANCELLED" not in text and "DUPLICATE" not in text


def test_a_dishonoured_payment_is_marked_without_the_flag(tmp_path):
    p = payment(paymentStatus="DISHONOURED", instrumentStatus="DISHONOURED")
    text = pdf_text(receipts.render(p, fmt="a5", tenant=TENANT, copy=True), tmp_path)
    assert "*** DISHONOURED ***" in text and "*** DUPLICATE ***" in text


def watermark_pixels(pdf: bytes, tmp_path) -> int:
    """Pixels of the watermark's gray (215) in the page's lower-left quarter, which a 45° mark
    through the centre crosses (the receipt's own text is black)."""
    from PIL import Image

    exe = shutil.which("pdftoppm")
    if exe is None:
        pytest.skip("pdftoppm not found: install poppler-utils to check the watermark")
    (tmp_path / "w.pdf").write_bytes(pdf)
    subprocess.run([exe, "-png", "-r", "50", "-singlefile", str(tmp_path / "w.pdf"), str(tmp_path / "w")], check=True)
    with Image.open(tmp_path / "w.png") as im:
        gray = im.convert("L")
        w, h = gray.size
        px = gray.load()
        assert px is not None
        return sum(1 for x in range(w // 2) for y in range(h // 2, h) if px[x, y] == 215)


@pytest.mark.parametrize("fmt", ["a4", "a5"])
@pytest.mark.parametrize("marks", [dict(dishonoured=True), dict(dishonoured=True, copy=True),
                                   dict(cancelled=True, copy=True)], ids=["dishonoured", "dis+dup", "can+dup"])
def test_a_watermark_wider_than_the_page_stays_on_it(fmt, marks, tmp_path):
    """"DISHONOURED" (or two marks) is wider than the page: it used to start at a negative x, which
    fpdf2's set_xy takes as "from the right edge", so the mark went off the page."""
    assert watermark_pixels(receipts.render(payment(), fmt=fmt, tenant=TENANT), tmp_path) < 100
    assert watermark_pixels(receipts.render(payment(), fmt=fmt, tenant=TENANT, **marks), tmp_path) > 500


def test_hi_in_dishonoured_mark():
    hi = receipts.labels_for("hi_IN")
    assert hi["DIGITCTL_RECEIPT_DISHONOURED"] == "अनादरित"
    assert receipts.labels_for("en_IN").get("DIGITCTL_RECEIPT_DISHONOURED") is None   # the template's default


LONG_RECEIPT_NO = "PT/C01/107/2026-27/000003"


@pytest.mark.parametrize("fmt", receipts.FORMATS)
@pytest.mark.parametrize("locale", ["en_IN", "hi_IN"])
def test_a_long_receipt_number_is_never_split(fmt, locale, tmp_path):
    """On a5 the receipt number's cell is 40 mm: PT/C01/107/2026-27/000003 printed as
    "PT/C01/107/2026-27/0000" / "03". It shrinks to fit instead."""
    p = payment("Gurpreet Kaur")
    p["paymentDetails"][0]["receiptNumber"] = LONG_RECEIPT_NO
    p["transactionNumber"] = "TXN/PB/JAL/2026-27/000000117"
    text = pdf_text(receipts.render(p, fmt=fmt, tenant=TENANT, locale=locale), tmp_path, layout=True)
    assert LONG_RECEIPT_NO in text, text
    assert "TXN/PB/JAL/2026-27/000000117" in text, text


def test_page_sizes():
    thermal = mediaboxes(receipts.render(payment(), fmt="thermal", tenant=TENANT))
    assert thermal, "no MediaBox found"
    for w, h in thermal:
        assert w == pytest.approx(80 * MM, abs=0.05)        # 80 mm roll
        assert 60 * MM < h < 297 * MM                        # as tall as the content, not a page
    for w, h in mediaboxes(receipts.render(payment(), fmt="a4", tenant=TENANT)):
        assert (w, h) == pytest.approx((595.28, 841.89), abs=0.05)
    for w, h in mediaboxes(receipts.render(payment(), fmt="a5", tenant=TENANT)):
        assert (w, h) == pytest.approx((419.53, 595.28), abs=0.05)


def test_thermal_grows_with_the_content():
    short = mediaboxes(receipts.render(payment(), fmt="thermal", tenant=TENANT))[0][1]
    longer = mediaboxes(receipts.render(payment(), fmt="thermal", tenant=TENANT, copy=True))[0][1]
    assert longer > short                                    # the DUPLICATE banners take room


def test_a_float_amount_never_reaches_money():
    parsed_with_floats = json.loads(payment_json())          # no parse_float=Decimal
    assert isinstance(parsed_with_floats["totalAmountPaid"], float)
    with pytest.raises(TypeError, match="float"):
        receipts.render(parsed_with_floats, fmt="a4", tenant=TENANT)


def test_a_float_in_a_tax_head_is_refused_too():
    p = payment()
    p["paymentDetails"][0]["bill"]["billDetails"][0]["billAccountDetails"][0]["adjustedAmount"] = 545.5
    with pytest.raises(TypeError, match="float"):
        receipts.render(p, fmt="thermal", tenant=TENANT)


def test_amounts_as_strings_and_lakh_crore_words(tmp_path):
    p = payment(payer="Gurpreet Kaur", totalAmountPaid="12345678", totalDue="12345678")
    text = flat(pdf_text(receipts.render(p, fmt="a5", tenant=TENANT), tmp_path))
    assert "₹1,23,45,678.00" in text
    assert "Rupees One Crore Twenty Three Lakh Forty Five Thousand Six Hundred Seventy Eight Only" in text


def test_labels_come_from_localization(tmp_path):
    hindi = {
        "PDF_STATIC_LABEL_CONSOLIDATED_RECEIPT_PAYMENT_RECEIPT": "भुगतान रसीद",
        "PDF_STATIC_LABEL_CONSOLIDATED_RECEIPT_RECEIPT_NO": "रसीद संख्या",
        "COMMON_MASTERS_PAYMENTMODE_CHEQUE": "चेक",
        "TL_TAX": "व्यापार लाइसेंस कर",
    }
    text = pdf_text(receipts.render(payment("Gurpreet Kaur"), fmt="a4", tenant=TENANT, labels=hindi),
                    tmp_path)
    lines = [ln.strip() for ln in text.splitlines()]
    assert "रसीद संख्या" in lines
    assert "चेक" in lines
    assert "व्यापार लाइसेंस कर" in lines
    assert "Trade License भुगतान रसीद" in lines


def test_labels_for_reads_the_bundle_and_falls_back_to_en_in():
    en = receipts.labels_for("en_IN")
    assert en["COMMON_MASTERS_PAYMENTMODE_CHEQUE"] == "Cheque"
    assert en["COMMON_TOTAL"] == "Total"
    assert en["TL_TAX"] == "Trade License Fee" and en["BILLINGSERVICE_BUSINESSSERVICE_TL"] == "Trade License"
    hi = receipts.labels_for("hi_IN")
    assert hi["COMMON_TOTAL"] == "कुल" and hi["TL_TAX"] == "व्यापार लाइसेंस शुल्क"
    assert hi["WS_CHARGE"] == "जल शुल्क"
    own = {m["code"] for f in ("receipts", "notifications", "tui") for m in _messages(f"hi_IN.digitctl-{f}.json")}
    untranslated = sorted(set(en) - own)                      # e.g. most of DIGIT's own rainmaker-common
    assert untranslated and all(hi[c] == en[c] for c in untranslated)     # fall back to en_IN, code by code
    assert hi["COMMON_MASTERS_PAYMENTMODE_NEFT"] == "एनईएफटी"
    assert receipts.labels_for("xx_YY") == en                # no bundle: en_IN only
    assert receipts.locales() == ["en_IN", "hi_IN", "pa_IN"]
    assert receipts.has_locale("hi_IN") and not receipts.has_locale("xx_YY")
    assert not receipts.has_locale("*") and receipts.labels_for("../configs/*") == en   # never a glob


def test_tenant_name_is_localized_when_a_message_exists(tmp_path):
    text = pdf_text(receipts.render(payment(), fmt="thermal", tenant=TENANT,
                                    labels={"TENANT_TENANTS_PB_JALANDHAR": "Jalandhar City"}), tmp_path)
    assert "Jalandhar City Municipal Corporation" in text


def test_optional_fields_are_left_off(tmp_path):
    p = payment(paymentMode="CASH", instrumentNumber=None, instrumentDate=None, ifscCode=None)
    text = pdf_text(receipts.render(p, fmt="thermal", tenant=TENANT), tmp_path)
    assert "Cash" in text
    assert "Instrument" not in text and "IFSC" not in text
    assert "Collected by" not in text                        # no collector given


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="a4, a5, thermal"):
        receipts.render(payment(), fmt="letter")


def test_rendering_is_deterministic_apart_from_the_timestamp():
    a = receipts.render(payment(), fmt="thermal", tenant=TENANT)
    b = receipts.render(payment(), fmt="thermal", tenant=TENANT)
    # the file /ID is a hash of the creation time too (the two renders may straddle a second)
    strip = lambda pdf: re.sub(rb"/CreationDate \([^)]*\)|/ID \[[^\]]*\]", b"", pdf)  # noqa: E731
    assert strip(a) == strip(b)


# -- localization: the bundled en_IN billing names and the hi_IN receipt bundle ----------------------
CONFIGS = bundled("configs")
REFERENCE = CONFIGS.parent.parent / "shared" / "digit-reference"


def _messages(name: str) -> list[dict]:
    return json.loads((CONFIGS / "localization" / name).read_text(encoding="utf-8"))


def _mdms(module: str, master: str) -> list[dict]:
    path = CONFIGS / "mdms" / "data" / "pb" / module / f"{master}.json"
    return json.loads(path.read_text(encoding="utf-8"))[master]


def test_en_in_receipt_prints_names_not_codes(tmp_path):
    text = pdf_text(receipts.render(payment(), fmt="a4", tenant=TENANT), tmp_path)
    assert "Trade License Payment Receipt" in text           # BILLINGSERVICE_BUSINESSSERVICE_TL
    assert "Trade License Fee" in text and "Renewal Penalty" in text   # digitctl's en_IN billing bundle
    assert "TL_TAX" not in text and "TL_RENEWAL_PENALTY" not in text and "BILLINGSERVICE" not in text


def test_dotted_services_and_mixed_case_tax_heads_are_found(tmp_path):
    p = payment()
    pd = p["paymentDetails"][0]
    pd["businessService"] = "WS.ONE_TIME_FEE"
    heads = pd["bill"]["billDetails"][0]["billAccountDetails"]
    heads[0]["taxHeadCode"], heads[1]["taxHeadCode"] = "WS_Round_Off", "WS_FORM_FEE"
    text = pdf_text(receipts.render(p, fmt="a4", tenant=TENANT), tmp_path)
    assert "Water Connection Fee Payment Receipt" in text
    assert "Round Off" in text and "Application Form Fee" in text


def test_a_tax_head_no_bundle_knows_prints_its_mdms_name_else_its_code(tmp_path):
    p = payment()
    p["paymentDetails"][0]["bill"]["billDetails"][0]["billAccountDetails"][1]["taxHeadCode"] = "SW_GARBAGE_FEE"
    text = pdf_text(receipts.render(p, fmt="a4", tenant=TENANT), tmp_path)
    assert "SW_GARBAGE_FEE" in text                          # nothing knows it: the code, never an empty cell
    names = {"SW_GARBAGE_FEE": "Garbage Collection Fee", "TL_TAX": "not used: en_IN has TL_TAX"}
    text = pdf_text(receipts.render(p, fmt="a4", tenant=TENANT, names=names), tmp_path)
    assert "Garbage Collection Fee" in text and "SW_GARBAGE_FEE" not in text
    assert "Renewal Penalty" in text and "not used" not in text
    text = pdf_text(receipts.render(p, fmt="a4", tenant=TENANT, names=names, locale="hi_IN"), tmp_path)
    assert "Garbage Collection Fee" in text and "नवीनीकरण" in text


@pytest.mark.parametrize("fmt", receipts.FORMATS)
def test_hi_in_receipt_reads_back(fmt, tmp_path):
    pdf = receipts.render(payment("Gurpreet Kaur"), fmt=fmt, tenant=TENANT, collector="clerk.jalandhar",
                          locale="hi_IN", copy=True)
    text = pdf_text(pdf, tmp_path)
    assert RECEIPT_NO in text and "Gurpreet Kaur" in text and "clerk.jalandhar" in text
    # (pdftotext splits a word at a pre-base matra, "नि गम": these have none)
    assert "व्यापार लाइसेंस भुगतान रसीद" in text and "रसीद संख्या" in text and "चेक" in text
    assert "व्यापार लाइसेंस शुल्क" in text and "जालंधर नगर" in text
    # amounts right after a Hindi tax head: fpdf2 once lost the font there (garbage glyphs)
    assert "₹12,000.00" in text and "₹545.50" in text and "₹12,545.50" in text
    assert "01/04/2026 से 31/03/2027" in text
    # DUPLICATE: thermal has two banners; a4 / a5 one banner and the (rotated, so extracted in
    # pieces) watermark, shaped through a cell: pdf.text() neither shapes nor falls back
    squeezed = "".join(text.split())
    assert "***प्रतिलिपि***" in squeezed and squeezed.count("प्रति") == 2
    assert "Payment Receipt" not in text and "TL_TAX" not in text
    # the amount in Hindi words (none of these words has a pre-base matra; NFC: nukta forms)
    import unicodedata

    words = unicodedata.normalize("NFC", "रुपयेबारहहज़ारपाँचसौपैंतालीसऔरपचासपैसेमात्र")
    assert words in unicodedata.normalize("NFC", squeezed) and "Rupees" not in text


def test_bundled_en_in_rainmaker_common_is_digits_file():
    ours = CONFIGS / "localization" / "en_IN.rainmaker-common.json"
    theirs = REFERENCE / "localization" / "en_IN.rainmaker-common.json"
    if not theirs.exists():
        pytest.skip("the DIGIT reference data is not next to the project")
    assert ours.read_bytes() == theirs.read_bytes()


@pytest.mark.parametrize("name,locale", [("en_IN.digitctl-billing.json", "en_IN"),
                                         ("hi_IN.digitctl-receipts.json", "hi_IN"),
                                         ("pa_IN.digitctl-receipts.json", "pa_IN")])
def test_digitctl_bundles_are_in_digits_message_format(name, locale):
    msgs = _messages(name)
    assert all(list(m) == ["code", "message", "module", "locale"] for m in msgs)
    assert all(m["module"] == "rainmaker-common" and m["locale"] == locale and m["message"].strip() for m in msgs)
    codes = [m["code"] for m in msgs]
    assert len(codes) == len(set(codes))
    common = {m["code"] for m in _messages("en_IN.rainmaker-common.json")}
    if locale == "en_IN":
        assert not set(codes) & common                     # adds, never shadows DIGIT's messages


def test_en_in_billing_names_every_shipped_tax_head_and_service():
    en = {m["code"]: m["message"] for m in _messages("en_IN.digitctl-billing.json")}
    for head in _mdms("BillingService", "TaxHeadMaster"):
        message = en[receipts._code("", head["code"])]
        assert message.strip() and message[0].isupper() and "_" not in message, (head["code"], message)
    assert en["TL_TAX"] == "Trade License Fee" and en["PT_TAX"] == "Property Tax"
    services = [s["code"] for s in _mdms("BillingService", "BusinessService")]
    assert {c for c in en if c.startswith("BILLINGSERVICE_")} == {
        receipts._code("BILLINGSERVICE_BUSINESSSERVICE", s) for s in services}
    assert en["BILLINGSERVICE_BUSINESSSERVICE_FIRENOC"] == "Fire NOC"


def test_hi_in_covers_the_receipt():
    hi = {m["code"]: m["message"] for m in _messages("hi_IN.digitctl-receipts.json")}
    for head in _mdms("BillingService", "TaxHeadMaster"):       # every shipped tax head has a Hindi name
        assert receipts._code("", head["code"]) in hi, head["code"]
    assert all(any(0x0900 <= ord(c) <= 0x097F for c in msg) for msg in hi.values())
    tpl = receipts._template()
    assert {spec["code"] for spec in tpl["labels"].values()} <= set(hi)
    modes = {"CASH", "CHEQUE", "DD", "ONLINE", "OFFLINE_NEFT", "OFFLINE_RTGS", "ONLINE_NEFT", "ONLINE_RTGS",
             "POSTAL_ORDER", "CARD"}
    assert {f"COMMON_MASTERS_PAYMENTMODE_{m}" for m in modes} <= set(hi)
    heads = {receipts._code("", h["code"]) for h in _mdms("BillingService", "TaxHeadMaster")
             if h["service"].split(".")[0] in ("TL", "PT")}
    assert heads <= set(hi)
    assert {receipts._code("BILLINGSERVICE_BUSINESSSERVICE", s["code"])
            for s in _mdms("BillingService", "BusinessService")} <= set(hi)
    assert {receipts._code("TENANT_TENANTS", t["code"]) for t in _mdms("tenant", "tenants")} <= set(hi)


def test_a_payment_over_two_periods_prints_from_the_first_to_the_last(tmp_path):
    p = payment()
    details = p["paymentDetails"][0]["bill"]["billDetails"]
    older = json.loads(json.dumps(details[0], default=str), parse_float=Decimal)
    older.update(fromPeriod=1743445800000, toPeriod=1774981799000)      # FY 2025-26, before 2026-27
    details.insert(0, older)          # DIGIT lists a bill's details oldest first; the receipt must not stop there
    details.reverse()                 # ... nor rely on the order
    text = pdf_text(receipts.render(p, fmt="a4", tenant=TENANT), tmp_path)
    assert "01/04/2025 to 31/03/2027" in text, text


@pytest.mark.parametrize("fmt", receipts.FORMATS)
def test_a_cheque_receipt_names_the_bank_and_branch_it_is_drawn_on(fmt, tmp_path):
    p = payment()
    p["additionalDetails"] = {**(p.get("additionalDetails") or {}), "bankName": "Punjab National Bank",
                              "branchName": "Model Town"}
    text = pdf_text(receipts.render(p, fmt=fmt, tenant=TENANT), tmp_path)
    assert "Punjab National Bank" in text and "Model Town" in text


def test_pa_in_receipt_reads_back(tmp_path):
    """digitctl's Punjabi bundle (pa_IN.digitctl-receipts.json): Gurmukhi labels, shaped."""
    pdf = receipts.render(payment("Gurpreet Kaur"), fmt="a4", tenant=TENANT, locale="pa_IN")
    text = pdf_text(pdf, tmp_path)
    # pdftotext splits Gurmukhi words after a bindi/tippi or a pre-base sihari ("ਨੰ ਬਰ"): compare squeezed
    squeezed = "".join(text.split())
    assert RECEIPT_NO in text and "ਰਸੀਦਨੰਬਰ" in squeezed and "ਵਪਾਰਲਾਇਸੈਂਸਫੀਸ" in squeezed
    assert "₹12,545.50" in text and "TL_TAX" not in text and "Payment Receipt" not in text


def test_pa_in_translates_every_hi_in_receipt_label():
    hi = [m["code"] for m in _messages("hi_IN.digitctl-receipts.json")]
    pa = [m["code"] for m in _messages("pa_IN.digitctl-receipts.json")]
    assert pa == hi


def test_amounts_in_punjabi_words():
    from digitctl.domain.money_words_pa import in_words_inr_pa, words_indian_pa

    assert words_indian_pa(12345678) == "ਇੱਕ ਕਰੋੜ ਤੇਈ ਲੱਖ ਪੰਤਾਲੀ ਹਜ਼ਾਰ ਛੇ ਸੌ ਅਠੱਤਰ"
    assert in_words_inr_pa("1250") == "ਰੁਪਏ ਇੱਕ ਹਜ਼ਾਰ ਦੋ ਸੌ ਪੰਜਾਹ ਮਾਤਰ"
    assert in_words_inr_pa("12545.50") == "ਰੁਪਏ ਬਾਰਾਂ ਹਜ਼ਾਰ ਪੰਜ ਸੌ ਪੰਤਾਲੀ ਅਤੇ ਪੰਜਾਹ ਪੈਸੇ ਮਾਤਰ"
    assert in_words_inr_pa("-100") == "ਰਿਣ ਰੁਪਏ ਇੱਕ ਸੌ ਮਾਤਰ" and in_words_inr_pa("0") == "ਰੁਪਏ ਸਿਫ਼ਰ ਮਾਤਰ"

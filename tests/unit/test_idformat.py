"""IdFormat parsing and rendering (plain Python, no store): egov-idgen's semantics on the real
pb formats, Java SimpleDateFormat patterns, financial years in IST, and refused formats."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from digitctl.clock import IST
from digitctl.domain import idformat
from digitctl.errors import InvalidInput

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "digit-reference"
ID_FORMATS = REFERENCE / "mdms" / "data" / "pb" / "common-masters" / "IdFormat.json"
NOV_25 = dt.datetime(2026, 11, 25, 10, 30, 15, tzinfo=IST)


def real_formats() -> dict[str, str]:
    doc = json.loads(ID_FORMATS.read_text(encoding="utf-8"))
    return {r["idname"]: r["format"] for r in doc["IdFormat"]}


def render(fmt: str, *, tenant: str = "pb.amritsar", now: dt.datetime = NOV_25, count: int = 1,
           last: dict[str, int] | None = None, city: str | None = "107", counter: str | None = None,
           randbelow: Callable[[int], int] | None = None) -> list[str]:
    parsed = idformat.parse(fmt, tenant, "test.id")
    values = last if last is not None else {n: count for n in parsed.sequence_names}
    kwargs = {"randbelow": randbelow} if randbelow else {}
    return parsed.render(now=now, last_values=values, count=count, city_code=city, counter_code=counter,
                         **kwargs)


def refused(fmt: str, id_name: str = "x.id") -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        idformat.parse(fmt, "pb.amritsar", id_name)
    assert info.value.code == "IDGEN_INVALID_FORMAT"
    return info.value


# -- the real pb formats ----------------------------------------------------------------------
def test_every_real_format_parses_except_the_unclosed_bracket() -> None:
    bad = []
    for name, fmt in real_formats().items():
        try:
            idformat.parse(fmt, "pb.amritsar", name)
        except InvalidInput:
            bad.append(name)
    assert bad == ["rev_grants.receipt.id"]


def test_unclosed_bracket_of_rev_grants_names_the_id_and_the_format() -> None:
    fmt = real_formats()["rev_grants.receipt.id"]
    assert fmt == "[cy:MM]/[fy:yyyy-yy]/[SEQ_EGOV_COMMON"
    err = refused(fmt, "rev_grants.receipt.id")
    assert err.params["idName"] == "rev_grants.receipt.id"
    assert err.params["format"] == fmt
    assert "rev_grants.receipt.id" in err.message and fmt in err.message


@pytest.mark.parametrize("id_name, expected", [
    ("receipt.id", "11/2026-27/000001"),
    ("pt.receipt.id", "PT/107/2026-27/000001"),
    ("pt.assessmentnumber", "PB-AS-2026-11-25-000001"),
    ("billnumberid", "BILL-000001"),
    ("egov.idgen.bpa.englicensenumber", "BR/ENG/2026/000001"),
    ("pt.mutation.number", "PB-MT-107-000001"),
    ("waterservice.connection.id", "WS/107/2026-27/000001"),
    ("fsm.aplnumber", "107-FSM-2026-11-25-000001"),
    ("bs.amendment.id", "NOTETYPE-CONSUMERCODE-000001"),
])
def test_real_formats_render_for_amritsar(id_name: str, expected: str) -> None:
    assert render(real_formats()[id_name]) == [expected]


def test_tenant_placeholders_are_substituted_before_tokens() -> None:
    formats = real_formats()
    ws = idformat.parse(formats["waterservice.connection.id"], "pb.amritsar", "waterservice.connection.id")
    assert ws.sequence_names == ("SEQ_WS_CON_PB_AMRITSAR",)
    fsm = idformat.parse(formats["fsm.trip_charges.receipt.id"], "pb.amritsar")
    assert fsm.sequence_names == ("SEQ_EGOV_COMMONPB_AMRITSAR",)
    # [tenant_id] is lower case; PostgreSQL (DIGIT) folds the sequence name, so do we.
    bs = idformat.parse(formats["bs.amendment.id"], "pb.amritsar")
    assert bs.sequence_names == ("SEQ_BS_MUTATION_PB_AMRITSAR",)
    jal = idformat.parse(formats["waterservice.connection.id"], "pb.jalandhar")
    assert jal.sequence_names == ("SEQ_WS_CON_PB_JALANDHAR",)
    assert render("X-[tenantid]-[tenant_id]-[TENANT_ID]") == ["X-pb.amritsar-pb_amritsar-PB_AMRITSAR"]


def test_sequences_are_case_insensitive_and_sorted() -> None:
    parsed = idformat.parse("[seq_b]-[SEQ_A]-[Seq_B]", "pb", "x")
    assert parsed.sequence_names == ("SEQ_A", "SEQ_B")
    assert parsed.render(now=NOV_25, last_values={"SEQ_A": 7, "SEQ_B": 42}) == ["000042-000007-000042"]


# -- sequences ---------------------------------------------------------------------------------
def test_sequence_block_is_padded_to_six_and_grows_past_it() -> None:
    assert render("R-[SEQ_R]", count=3, last={"SEQ_R": 10}) == ["R-000008", "R-000009", "R-000010"]
    assert render("R-[SEQ_R]", count=2, last={"SEQ_R": 1_000_000}) == ["R-999999", "R-1000000"]
    assert render("R-[SEQ_R]", last={"SEQ_R": 123_456_789}) == ["R-123456789"]


def test_two_sequences_advance_together() -> None:
    out = render("[SEQ_A]/[SEQ_B]", count=2, last={"SEQ_A": 5, "SEQ_B": 102})
    assert out == ["000004/000101", "000005/000102"]


def test_a_missing_sequence_value_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        render("[SEQ_A]/[SEQ_B]", last={"SEQ_A": 1})


# -- financial year -----------------------------------------------------------------------------
@pytest.mark.parametrize("when, expected", [
    (dt.datetime(2026, 11, 25, 12, 0, tzinfo=IST), "2026-27"),
    (dt.datetime(2027, 3, 15, 12, 0, tzinfo=IST), "2026-27"),
    (dt.datetime(2027, 3, 31, 23, 59, tzinfo=IST), "2026-27"),
    (dt.datetime(2027, 4, 1, 0, 0, tzinfo=IST), "2027-28"),
    # 1 April 00:10 IST is still 31 March in UTC: the IST date decides.
    (dt.datetime(2027, 3, 31, 18, 40, tzinfo=dt.timezone.utc), "2027-28"),
    (dt.datetime(2027, 3, 31, 18, 20, tzinfo=dt.timezone.utc), "2026-27"),
    (dt.datetime(2008, 11, 1, tzinfo=IST), "2008-09"),     # Java would print 2008-9
    (dt.datetime(2100, 1, 1, tzinfo=IST), "2099-00"),      # Java would print 2099-100
])
def test_financial_year_april_to_march_in_ist(when: dt.datetime, expected: str) -> None:
    assert render("[fy:yyyy-yy]", now=when) == [expected]


def test_financial_year_single_year_pattern_prints_start_year() -> None:
    # DIGIT's Java prints "2026-0" here (its end year stays 0); we print the starting year.
    assert render("[fy:yyyy]") == ["2026"]
    assert render("[fy:yyyy]", now=dt.datetime(2027, 2, 1, tzinfo=IST)) == ["2026"]
    assert render("[fy:yy-yy]") == ["26-27"]
    assert render("[FY: yyyy - yy ]") == ["2026-27"]


# -- current date (Java SimpleDateFormat in IST) --------------------------------------------------
@pytest.mark.parametrize("pattern, expected", [
    ("yyyy-MM-dd", "2026-03-05"),
    ("yyyy_MM_dd", "2026_03_05"),
    ("yy", "26"),
    ("M/d", "3/5"),
    ("MMM", "Mar"),
    ("MMMM", "March"),
    ("dd-MMM-yyyy", "05-Mar-2026"),
    ("HH:mm:ss", "07:04:09"),
    ("hh a", "07 AM"),
    ("EEE", "Thu"),
    ("D", "64"),
    ("yyyyMMdd'T'HHmm", "20260305T0704"),
    ("dd 'of' MMMM", "05 of March"),
    ("''yy''", "'26'"),
    ("'it''s' yyyy", "it's 2026"),
])
def test_current_date_patterns(pattern: str, expected: str) -> None:
    when = dt.datetime(2026, 3, 5, 7, 4, 9, tzinfo=IST)
    assert render(f"[cy:{pattern}]", now=when) == [expected]


def test_current_date_is_taken_in_ist_across_utc_midnight() -> None:
    late_utc = dt.datetime(2026, 11, 24, 19, 0, tzinfo=dt.timezone.utc)   # 00:30 IST on the 25th
    assert render("[cy:yyyy-MM-dd HH:mm]", now=late_utc) == ["2026-11-25 00:30"]
    early_utc = dt.datetime(2026, 11, 24, 18, 29, tzinfo=dt.timezone.utc)  # 23:59 IST on the 24th
    assert render("[cy:yyyy-MM-dd]", now=early_utc) == ["2026-11-24"]


# -- city, counter, random ------------------------------------------------------------------------
def test_city_tokens_all_print_the_city_code() -> None:
    assert render("[CITY.CODE]|[city]|[CITY]|[city.code]", city="1013") == ["1013|1013|1013|1013"]


def test_city_token_without_a_city_code_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        render("[CITY.CODE]-[SEQ_A]", city=None)
    assert info.value.code == "IDGEN_NO_CITY_CODE"


def test_counter_token_prints_the_store_counter() -> None:
    assert render("[COUNTER]/[fy:yyyy-yy]/[SEQ_R]", counter="C01") == ["C01/2026-27/000001"]
    assert render("[counter]-[SEQ_R]", counter="C7") == ["C7-000001"]


def test_counter_token_without_a_counter_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        render("[COUNTER]/[SEQ_R]", counter=None)
    assert info.value.code == "IDGEN_NO_COUNTER"
    assert not idformat.parse("[SEQ_R]", "pb", "x").needs_counter


def test_random_digits_count_and_default() -> None:
    for out in render("[d{10}]", count=50):
        assert re.fullmatch(r"\d{10}", out)
    # Any other token is random digits, two by default - including [cb.name] of the real
    # birth/death certificate formats, as egov-idgen does.
    birth = render(real_formats()["birth_cert.receipt.id"], count=20)
    assert all(re.fullmatch(r"BR/107/\d{2}/2026/0000(0[1-9]|1\d|20)", b) for b in birth)


def test_random_digits_come_from_the_given_source_and_vary_per_id() -> None:
    digits = itertools.cycle(range(10))
    out = render("PG_[SEQ_T]_[d{3}]", count=3, randbelow=lambda n: next(digits))
    assert out == ["PG_000001_012", "PG_000002_345", "PG_000003_678"]


def test_random_digits_are_spread() -> None:
    seen = {v for v in render("[d{1}]", count=400)}
    assert seen == set("0123456789")


def test_same_random_token_twice_prints_the_same_digits_within_one_id() -> None:
    for out in render("[d{4}]-[d{4}]", count=10):
        left, right = out.split("-")
        assert left == right


# -- refused formats -------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [
    "",
    "   ",
    "[]",
    "A-[ ]-B",
    "A-]",
    "A-[SEQ_X]]",
    "[SEQ_X",
    "[SEQ_[X]]",                   # nested after substitution: only tenant placeholders may nest
    "[SEQ X]",
    "[SEQ-X]",
    "[cy]",
    "[cy:]",
    "[cy:yyyy-QQ]",
    "[cy:ww]",                     # a Java letter we do not render
    "[cy:'unterminated]",
    "[cy:yyyy-MM-dd hh:mm z]",
    "[fy]",
    "[fy:MM]",
    "[fy:yyyy-yy-yy]",
    "[fy:yyyy-]",
    "[d{x}]",
    "[d{0}]",
    "[d{65}]",
])
def test_malformed_formats_are_refused(fmt: str) -> None:
    refused(fmt)


def test_check_validates_without_a_tenant() -> None:
    assert idformat.check("WS/[CITY.CODE]/[SEQ_WS_[TENANT_ID]]", "ws.id").needs_city
    with pytest.raises(InvalidInput):
        idformat.check("[SEQ_WS", "ws.id")

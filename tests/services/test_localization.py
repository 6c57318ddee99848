"""Localization as egov-localization keeps it: the real en_IN bundles upsert unchanged and
idempotently, a city's message overrides its state's, a missing code falls back to en_IN and
then to the code, and placeholders in DIGIT's styles are filled."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digitctl.domain.localization import fill, tenant_hierarchy
from digitctl.errors import Forbidden, InvalidInput
from digitctl.resources import bundled
from digitctl.services import localization, localization_messages as lm
from local_store.models import OutboxEvent
from local_store.models_notify import LocalizationMessage


def _count(app, model) -> int:
    with app.uow(app.base_context(), readonly=True) as uow:
        return uow.session.execute(select(func.count()).select_from(model)).scalar_one()


def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_real_bundles_load_unchanged_and_a_second_upsert_changes_nothing(state_app, reference):
    folder = reference / "localization"
    ctx = state_app.context("pb")
    first = lm.upsert(state_app, ctx, [folder], tenant="pb")
    assert (first.total("added"), first.total("changed")) == (1632, 0)
    assert first.duplicates == 1                    # ACTION_TEST_MDMS is in DIGIT's file twice, identical
    events = _count(state_app, OutboxEvent)
    again = lm.upsert(state_app, ctx, [folder], tenant="pb")
    assert (again.total("added"), again.total("changed"), again.total("unchanged")) == (0, 0, 1632)
    assert _count(state_app, OutboxEvent) == events          # nothing written, no event
    # the search answers every message of the file exactly as DIGIT ships it
    theirs = json.loads((folder / "en_IN.egov-user.json").read_text(encoding="utf-8"))
    got = lm.search(state_app, ctx, locale="en_IN", tenant="pb.amritsar", module="egov-user")
    assert got == {"messages": sorted(theirs, key=lambda m: m["code"])}


def test_dry_run_counts_and_writes_nothing(state_app, reference):
    report = lm.upsert(state_app, state_app.context("pb"), [reference / "localization"], tenant="pb", dry_run=True)
    assert report.total("added") == 1632 and report.as_json()["dryRun"] is True
    assert _count(state_app, LocalizationMessage) == 0


def test_city_overrides_state_and_falls_back_to_en_in_then_the_code(state_app, tmp_path):
    ctx = state_app.context("pb")
    _write(tmp_path / "state.json", {"tenantId": "pb", "messages": [
        {"code": "X_HELLO", "message": "Hello from Punjab, <1>", "module": "m", "locale": "en_IN"},
        {"code": "X_HELLO", "message": "पंजाब से नमस्ते, <1>", "module": "m", "locale": "hi_IN"}]})
    _write(tmp_path / "city.json", {"tenantId": "pb.amritsar", "messages": [
        {"code": "X_HELLO", "message": "अमृतसर से नमस्ते, <1>", "module": "m", "locale": "hi_IN"}]})
    report = lm.upsert(state_app, ctx, [tmp_path])
    assert report.total("added") == 3
    tr = localization.translator(state_app)
    assert tr.t("X_HELLO", "hi_IN", "pb.amritsar", "Simran") == "अमृतसर से नमस्ते, Simran"
    assert tr.t("X_HELLO", "hi_IN", "pb.jalandhar", "Simran") == "पंजाब से नमस्ते, Simran"
    assert tr.t("X_HELLO", "pa_IN", "pb.amritsar", "Simran") == "Hello from Punjab, Simran"   # en_IN
    assert tr.t("X_NOWHERE", "hi_IN", "pb.amritsar") == "X_NOWHERE"
    # the bundled files answer what the store lacks; the store wins where both have it
    assert tr.t("TUI_KEY_PAY", "pa_IN", "pb") == "ਭੁਗਤਾਨ"
    _write(tmp_path / "city.json", {"tenantId": "pb.amritsar", "messages": [
        {"code": "TUI_KEY_PAY", "message": "ਭੁਗਤਾਨ ਲਓ", "module": "digitctl-tui", "locale": "pa_IN"}]})
    lm.upsert(state_app, ctx, [tmp_path / "city.json"])
    tr = localization.translator(state_app)            # a write bumps the version: no stale cache
    assert tr.t("TUI_KEY_PAY", "pa_IN", "pb.amritsar") == "ਭੁਗਤਾਨ ਲਓ"
    assert tr.t("TUI_KEY_PAY", "pa_IN", "pb.jalandhar") == "ਭੁਗਤਾਨ"
    # the search is DIGIT's computed list: the city's message over the state's
    found = lm.search(state_app, ctx, locale="hi_IN", tenant="pb.amritsar", codes=["X_HELLO"])
    assert [m["message"] for m in found["messages"]] == ["अमृतसर से नमस्ते, <1>"]


def test_delete_takes_the_tenants_own_message_only(state_app, tmp_path):
    ctx = state_app.context("pb")
    for tenant, text in (("pb", "state"), ("pb.amritsar", "city")):
        _write(tmp_path / f"{tenant}.json", {"tenantId": tenant, "messages": [
            {"code": "X_A", "message": text, "module": "m", "locale": "en_IN"}]})
    lm.upsert(state_app, ctx, [tmp_path])
    assert lm.delete(state_app, ctx, tenant="pb.amritsar", items=[("en_IN", "m", "X_A")]) == \
        {"successful": True, "deleted": 1}
    assert localization.translator(state_app).t("X_A", "en_IN", "pb.amritsar") == "state"
    assert lm.export(state_app, ctx, tenant="pb", module="m") == \
        {"tenantId": "pb", "messages": [{"code": "X_A", "message": "state", "module": "m", "locale": "en_IN"}]}


@pytest.mark.parametrize("doc,code", [
    ({"tenantId": "pb", "messages": [{"code": "A", "message": "a", "module": "m", "locale": "english"}]},
     "INVALID_LOCALE"),
    ({"tenantId": "pb", "messages": [{"code": "A", "module": "m", "locale": "en_IN"}]}, "INVALID_MESSAGE"),
    ({"tenantId": "mh.pune", "messages": [{"code": "A", "message": "a", "module": "m", "locale": "en_IN"}]},
     "INVALID_TENANTID"),
    ({"messages": "nope"}, "INVALID_UPSERT_REQUEST"),
])
def test_bad_input_is_refused_and_nothing_written(state_app, tmp_path, doc, code):
    good = {"code": "OK", "message": "fine", "module": "m", "locale": "en_IN"}
    if isinstance(doc.get("messages"), list):
        doc["messages"].insert(0, good)                # one bad message refuses the whole upsert
    with pytest.raises(InvalidInput) as err:
        lm.upsert(state_app, state_app.context("pb"), [_write(tmp_path / "bad.json", doc)])
    assert err.value.code == code
    assert _count(state_app, LocalizationMessage) == 0


def test_a_clerk_may_not_upsert(world_app, as_user, tmp_path):
    doc = {"tenantId": "pb.amritsar", "messages": [{"code": "A", "message": "a", "module": "m", "locale": "en_IN"}]}
    with pytest.raises(Forbidden):
        lm.upsert(world_app, as_user(world_app, "clerk.amritsar"), [_write(tmp_path / "a.json", doc)])
    assert _count(world_app, LocalizationMessage) == 0


def test_missing_lists_what_hindi_lacks_of_digitctls_own_modules(state_app):
    res = lm.missing(state_app, state_app.context("pb"), locale="hi_IN", module="digitctl-notifications,egov-user")
    assert res["missing"] == [] and res["counts"] == {"digitctl-notifications": 0, "egov-user": 0}
    whole = lm.missing(state_app, state_app.context("pb"), locale="pa_IN")
    lacking = {(m["module"], m["code"]) for m in whole["missing"]}
    assert ("rainmaker-common", "AADHAAR_IS_REQUIRED") in lacking       # DIGIT's file: en_IN only
    assert not any(mod.startswith("digitctl-") for mod, _ in lacking)
    assert ("egov-user", "sms.login.otp.msg") not in lacking             # digitctl's Punjabi OTP text


def test_every_digitctl_bundle_has_the_same_codes_in_every_language():
    """Hindi and Punjabi say all digitctl says (the TUI's English is its own defaults: no en_IN file)."""
    folder = bundled("configs") / "localization"

    def codes(name: str, module: str) -> set[str]:
        return {m["code"] for m in json.loads((folder / name).read_text(encoding="utf-8")) if m["module"] == module}

    notif = "digitctl-notifications"
    assert codes(f"en_IN.{notif}.json", notif) == codes(f"hi_IN.{notif}.json", notif) == \
        codes(f"pa_IN.{notif}.json", notif)
    tui = codes("hi_IN.digitctl-tui.json", "digitctl-tui")
    import re

    shown = {code for path in (Path(__file__).resolve().parents[2] / "tui").rglob("*.py")
             for code in re.findall(r'label\(\s*"(TUI_[A-Z0-9_]+)"', path.read_text(encoding="utf-8"))}
    assert shown and shown - tui == set(), "labels the TUI shows without a Hindi (and Punjabi) message"
    assert tui == codes("pa_IN.digitctl-tui.json", "digitctl-tui")
    assert not (folder / "en_IN.digitctl-tui.json").exists()


def test_placeholders_in_digits_styles():
    assert fill("Dear <1>, receipt {receiptNumber} for <2>", ["Simran", "₹1,350.00"], {"receiptNumber": "R/1"}) == \
        "Dear Simran, receipt R/1 for ₹1,350.00"
    assert fill("Your Login OTP is %s.", ["123456"]) == "Your Login OTP is 123456."
    assert fill("Overdue by {0} days", [3]) == "Overdue by 3 days"
    assert fill("<3> and {missing} stay", ["a"]) == "<3> and {missing} stay"
    assert tenant_hierarchy("pb.amritsar") == ["default", "pb", "pb.amritsar"]
    assert localization.t("sms.login.otp.msg", "hi_IN", None, "654321").startswith("प्रिय नागरिक, आपका लॉगिन ओटीपी 654321")


def test_the_tuis_labels_in_hindi_and_punjabi():
    """tui/labels.py asks `message(code, locale)` and shows its own English default on None."""
    assert localization.message("TUI_KEY_HELP", "hi_IN") == "सहायता"
    assert localization.message("TUI_REVIEW_TITLE", "pa_IN") == "ਕੀ ਇਹ ਭੁਗਤਾਨ ਲੈਣਾ ਹੈ?"
    assert localization.message("TUI_KEY_HELP", "en_IN") is None       # the TUI's own English default shows
    assert localization.message("TUI_FLOAT", "hi_IN") == "आरंभिक नकदी"

"""DIGIT's real masking patterns and SecurityPolicy (pb DataSecurity masters) on real-looking
values: the Java regexes as DIGIT applies them (expected values produced by Java 17's
String.replaceAll), pattern 004's `\\G`, Indic names, and who sees which attribute how."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from digitctl.services.masking import (BUILTIN_PATTERNS, JavaPattern, Masker, digit_mask, guessed_policy,
                                       mask, visible)


def _master(reference: Path, name: str) -> list[dict[str, Any]]:
    doc = json.loads((reference / "mdms" / "data" / "pb" / "DataSecurity" / f"{name}.json").read_text("utf-8"))
    assert doc["tenantId"] == "pb" and doc["moduleName"] == "DataSecurity"
    return doc[name]


@pytest.fixture(scope="module")
def patterns(reference: Path) -> dict[str, str]:
    return {p["patternId"]: p["pattern"] for p in _master(reference, "MaskingPatterns")}


@pytest.fixture(scope="module")
def masker(reference: Path) -> Masker:
    return Masker.from_masters(_master(reference, "SecurityPolicy"), _master(reference, "MaskingPatterns"))


def test_builtin_patterns_are_pb_s_real_ones(patterns: dict[str, str]) -> None:
    assert patterns == BUILTIN_PATTERNS
    assert r"\G" in patterns["004"]          # the one Python's re cannot run as it is


# Each expected value is what Java 17 printed for value.replaceAll(pattern, "*").
JAVA_REPLACE_ALL = [
    ("001", "9876543210", "******3210"),
    ("001", "+91-9876543210", "**********3210"),
    ("001", "ABCDE1234F", "******234F"),
    ("001", "123456789012", "********9012"),
    ("002", "Gurpreet Kaur Sandhu", "G******* K*** S*****"),
    ("002", "O'Brien-Smith Jr.", "O'B****-S**** J*."),
    ("002", "gurpreet_k83", "g*******_***"),
    ("002", "ਗੁਰਪ੍ਰੀਤ ਕੌਰ ਸੰਧੂ", "ਗੁਰਪ੍ਰੀਤ ਕੌਰ ਸੰਧੂ"),
    ("002", "गुरप्रीत कौर", "गुरप्रीत कौर"),
    ("002", "Harpreet ਸਿੰਘ", "H******* ਸਿੰਘ"),
    ("003", "9876543210", "********10"),
    ("004", "gurpreet.sandhu@gmail.com", "g**************@g*******m"),
    ("004", "a@b.co", "a@b**o"),
    ("004", "ab@cd", "a*@cd"),
    ("004", "first.last+tag@sub.example.org", "f*************@s*************g"),
    ("004", "ram@उदाहरण.भारत", "r**@उ*********त"),
    ("004", "x@gov.in", "x@g****n"),
    ("004", "no-email-here", "no-email-here"),
    ("004", "a@b@c.com", "a@******m"),
    ("005", "12, Mall Road, Amritsar", "***********************"),
    ("005", "House #7/B", "******#***"),
    ("006", "Gurpreet Kaur Sandhu", "******** **** ****hu"),
    ("007", "9876543210", "9******210"),
    ("008", "Sandhu", "S***hu"),
]


@pytest.mark.parametrize(("pattern_id", "value", "java"), JAVA_REPLACE_ALL)
def test_digit_mask_is_java_replace_all(patterns: dict[str, str], pattern_id: str, value: str, java: str) -> None:
    assert digit_mask(value, patterns[pattern_id]) == java


@pytest.mark.parametrize(("pattern", "value", "java"), [
    (r"\Ga", "aab a", "**b a"),          # \G chains from the start of input, then stops
    (r"(?!^)\G.", "abc", "abc"),         # \G only where the previous match ended
    (r"\Ga|b", "aabab", "*****"),        # a match of the other branch moves \G along
])
def test_backslash_g_follows_java(pattern: str, value: str, java: str) -> None:
    assert JavaPattern(pattern).replace_all(value) == java


def test_mobile_and_email_masks(masker: Masker) -> None:
    assert masker.mask("9876543210", "001") == "******3210"
    assert masker.mask("9988776655", "001").endswith("6655")
    assert masker.mask("gurpreet.sandhu@gmail.com", "004") == "g**************@g*******m"
    # 004 alone leaves a 2-letter domain label whole; mask() hides it too
    assert digit_mask("ab@cd", BUILTIN_PATTERNS["004"]) == "a*@cd"
    assert masker.mask("ab@cd", "004") == "a*@c*"
    assert masker.mask("no-email-here", "004") == "n*-e****-h***"


def test_indic_names_are_masked_although_pattern_002_is_ascii_only(masker: Masker) -> None:
    gurmukhi = "ਗੁਰਪ੍ਰੀਤ ਕੌਰ ਸੰਧੂ"
    devanagari = "गुरप्रीत कौर"
    assert digit_mask(gurmukhi, BUILTIN_PATTERNS["002"]) == gurmukhi     # DIGIT would show it whole
    masked = masker.mask(gurmukhi, "002")
    assert masked == "ਗੁ****** ਕੌ* ਸੰ**"
    assert len(masked) == len(gurmukhi) and "ਰਪ" not in masked
    assert masker.mask(devanagari, "002") == "गु****** कौ*"
    assert masker.mask("Harpreet ਸਿੰਘ", "002") == "H******* ਸਿੰ*"     # ਸ keeps both its signs
    assert masker.mask("ਗੁਰਪ੍ਰੀਤ-Kaur", "002") == "ਗੁ******-K***"
    assert masker.mask("K", "002") == "K"                                   # nothing to hide


def test_unknown_pattern_and_empty_values() -> None:
    assert mask("9876543210", "999") == "**********"
    assert mask("9876543210", None) == "**********"
    assert mask("", "001") == ""
    assert mask(None, "001") == ""


# -- visibility, from the real pb SecurityPolicy -----------------------------------------------
def test_gro_and_pgr_lme_see_name_and_mobile_masked_until_they_ask(masker: Masker) -> None:
    user = masker.policy_for("User")
    for role in ("GRO", "PGR_LME"):
        for attribute in ("name", "mobileNumber", "username", "permanentAddress"):
            assert visible(user, attribute, {role}) == "MASKED", (role, attribute)
            assert visible(user, attribute, {role}, plain=True) == "PLAIN", (role, attribute)
        # e-mail is not in their rule: the attribute's defaultVisibility (PLAIN in pb) applies
        assert visible(user, "emailId", {role}) == "PLAIN"


def test_roles_without_a_rule_get_default_visibility(masker: Masker) -> None:
    user = masker.policy_for("User")
    assert {a["defaultVisibility"] for a in user["attributes"]} == {"PLAIN"}   # what pb configures
    for roles in ({"CITIZEN"}, {"EMPLOYEE"}, {"TL_CEMP"}, set()):
        assert visible(user, "mobileNumber", roles) == "PLAIN"
        assert visible(user, "name", roles, plain=True) == "PLAIN"


def test_other_rules_of_the_real_policy(masker: Masker) -> None:
    user = masker.policy_for("User")
    assert visible(user, "mobileNumber", {"TLCEMP"}) == "MASKED"
    assert visible(user, "name", {"TLCEMP"}) == "PLAIN"
    assert visible(user, "mobileNumber", {"REINDEXING_ROLE"}) == "ENCRYPTED"
    assert visible(user, "mobileNumber", {"REINDEXING_ROLE"}, plain=True) == "PLAIN"
    assert visible(user, "name", {"WS_CLERK"}) == "PLAIN"
    assert visible(user, "emailId", {"WS_CLERK"}) == "MASKED"
    assert visible(user, "aadhaarNumber", {"INTERNAL_MICROSERVICE_ROLE"}) == "PLAIN"
    # several roles: the most open rule wins
    assert visible(user, "name", {"GRO", "WS_CLERK"}) == "PLAIN"
    assert visible(user, "mobileNumber", {"GRO", "REINDEXING_ROLE"}) == "MASKED"
    # an attribute the policy does not list is not PII
    assert visible(user, "gender", {"GRO"}) == "PLAIN"
    inbox = masker.policy_for("InboxWnS")
    assert visible(inbox, "mobileNumber", {"EMPLOYEE"}) == "MASKED"


def test_default_masked_policy_and_second_level_masked() -> None:
    """The shape DIGIT documents for stricter modules: default MASKED, a role that gets less."""
    policy: dict[str, Any] = {"model": "Teacher", "uniqueIdentifier": {"name": "id", "jsonPath": "/id"},
              "attributes": [{"name": "teacherMobileNumber", "jsonPath": "teacherMobileNumber",
                              "patternId": "001", "defaultVisibility": "MASKED"}],
              "roleBasedDecryptionPolicy": [
                  {"roles": ["ADMIN"], "attributeAccessList": [
                      {"attribute": "teacherMobileNumber", "firstLevelVisibility": "MASKED",
                       "secondLevelVisibility": "PLAIN"}]},
                  {"roles": ["VERIFIER"], "attributeAccessList": [
                      {"attribute": "teacherMobileNumber", "firstLevelVisibility": "NONE",
                       "secondLevelVisibility": "MASKED"}]}]}
    assert visible(policy, "teacherMobileNumber", {"CLERK"}) == "MASKED"
    assert visible(policy, "teacherMobileNumber", {"CLERK"}, plain=True) == "MASKED"
    assert visible(policy, "teacherMobileNumber", {"ADMIN"}, plain=True) == "PLAIN"
    assert visible(policy, "teacherMobileNumber", {"VERIFIER"}) == "NONE"
    assert visible(policy, "teacherMobileNumber", {"VERIFIER"}, plain=True) == "MASKED"
    broken = {**policy, "attributes": [{**policy["attributes"][0], "defaultVisibility": ""}],
              "roleBasedDecryptionPolicy": []}
    assert visible(broken, "teacherMobileNumber", {"CLERK"}) == "MASKED"      # empty → safe


def test_safe_default_without_masters() -> None:
    masker = Masker()
    assert not masker.has_masters
    user = masker.policy_for("User")
    for attribute in ("name", "mobileNumber", "emailId"):
        for roles in ({"SUPERUSER"}, {"CITIZEN"}, {"GRO"}):
            assert visible(user, attribute, roles) == "MASKED"
            assert visible(user, attribute, roles, plain=True) == "MASKED"
    record = {"uuid": "u1", "ownerName": "Gurpreet Kaur", "contact": "9876543210",
              "mail": "g.kaur@example.in", "consumerCode": "PT-107-0042", "amount": "1200"}
    guessed = guessed_policy("Payment", record)
    assert {a["name"]: a["patternId"] for a in guessed["attributes"]} == \
        {"ownerName": "002", "contact": "001", "mail": "004"}


def test_unknown_model_falls_back_to_the_safe_default(masker: Masker) -> None:
    policy = masker.policy_for("NoSuchModel", {"name": "Gurpreet", "mobileNumber": "9876543210"})
    assert policy.get("guessed") is True
    assert visible(policy, "mobileNumber", {"INTERNAL_MICROSERVICE_ROLE"}) == "MASKED"

"""The senders against loopback fakes: DIGIT's SMS provider settings (request type, content
type, parameter map, mobile prefix, success codes), SMTP through aiosmtpd, the rate limit."""
from __future__ import annotations

import json
import time

import pytest

from digitctl.services.notify_senders import HttpSms, Outgoing, RateLimit, SendFailed, Smtp, from_settings
from tests.notify_fakes import fake_gateway, smtp_server

MSG = Outgoing("sms", "9876543210", "", "प्रिय Simran, रसीद R/1", "key-1")


def test_a_json_post_with_the_configured_map_and_prefix():
    with fake_gateway() as gw:
        sender = from_settings({"DIGIT_SMS_GATEWAY_URL": gw.url, "DIGIT_SMS_CONTENT_TYPE": "application/json",
                                "DIGIT_SMS_CONFIG_MAP": json.dumps({"to": "$mobileno", "text": "$message",
                                                                    "sender": "EGOVS", "ref": "$reference"}),
                                "DIGIT_SMS_MOBILE_PREFIX": "91"})["sms"]
        assert sender.send(MSG) == "gw-key-1"
        assert gw.messages == [{"to": "919876543210", "text": MSG.body, "sender": "EGOVS", "ref": "key-1"}]
        assert sender.send(MSG) == "gw-key-1" and len(gw.messages) == 1      # the same key: not again


def test_a_get_request_and_the_default_form_map():
    with fake_gateway() as gw:
        HttpSms(url=gw.url, request_type="GET", rate=RateLimit(0)).send(MSG)
        assert gw.messages == [{"mobileno": "9876543210", "content": MSG.body, "reference": "key-1",
                                "category": "NOTIFICATION"}]


def test_failures_say_whether_to_try_again():
    with fake_gateway(fail_first=1) as gw:
        with pytest.raises(SendFailed) as err:
            HttpSms(url=gw.url, rate=RateLimit(0)).send(MSG)
        assert err.value.transient and err.value.reason == "SMS gateway answered HTTP 500"
        assert "9876543210" not in err.value.reason
        with pytest.raises(SendFailed) as err:      # 200 is not a success code here: refused for good
            HttpSms(url=gw.url, rate=RateLimit(0), success_codes=frozenset({202})).send(MSG)
        assert not err.value.transient
    with pytest.raises(SendFailed) as err:
        HttpSms(url="http://127.0.0.1:9/none", rate=RateLimit(0), timeout=2).send(MSG)
    assert err.value.transient and "unreachable" in err.value.reason


def test_smtp_delivers_through_a_local_server():
    pytest.importorskip("aiosmtpd")
    with smtp_server() as box:
        sender = from_settings({"DIGIT_SMTP_URL": box.url, "DIGIT_SMTP_FROM": "receipts@amritsar.example"})["email"]
        assert isinstance(sender, Smtp) and not sender.idempotent
        mid = sender.send(Outgoing("email", "simran@example.in", "रसीद R/1", "प्रिय Simran", "key-2"))
        [mail] = box.messages
        assert mail["To"] == "simran@example.in" and mail["From"] == "receipts@amritsar.example"
        assert mail["Subject"] == "रसीद R/1" and mail.get_content().strip() == "प्रिय Simran"
        assert mail["Message-ID"] == mid == "<key-2@digitctl>"


def test_the_rate_limit_spaces_sends():
    limit = RateLimit(100)
    start = time.perf_counter()
    for _ in range(21):
        limit.wait()
    assert time.perf_counter() - start >= 0.19

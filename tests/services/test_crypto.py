"""PII encryption on a real temporary store (SQLite and PostgreSQL): data keys per state, the
`<keyId>|<base64>` format, blind indexes, rotation and re-encryption, master-key failures,
tampering, what the raw SQLite file holds, and masked / audited presentation of users."""
from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from digitctl.bootstrap import App, build
from digitctl.clock import FixedClock
from digitctl.context import Actor, Role
from digitctl.errors import DigitError, Forbidden, InvalidInput, NotFound
from digitctl.services import crypto, masterkey, mdms
from digitctl.services.crypto import KeyRing, keyring
from digitctl.services.masking import present, present_many
from digitctl.services.masterkey import MasterKeyError
from local_store.models import AuditRecord, DataKey, OutboxEvent, UserAccount

CIPHERTEXT = re.compile(r"^pb-\d{10}-[0-9a-f]{8}\|[A-Za-z0-9+/]+=*$")
NAME, MOBILE, EMAIL = "Gurpreet Kaur Sandhu", "9876543210", "gurpreet.sandhu@gmail.com"


def _count(app: App, model: Any, *where: Any) -> int:
    with app.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _store_id(app: App) -> str:
    with app.uow(app.context(), readonly=True) as uow:
        value = uow.meta("store_id")
    assert value
    return value


def _add_user(app: App, ring: KeyRing, tenant: str = "pb.amritsar", name: str = NAME,
              mobile: str | None = MOBILE, email: str | None = EMAIL) -> str:
    user_uuid = str(uuid.uuid4())
    with app.uow(app.context(tenant)) as uow:
        now = uow.ctx.now()
        uow.session.add(UserAccount(
            uuid=user_uuid, user_name=f"u-{user_uuid[:8]}", tenant_id=tenant, type="CITIZEN",
            name_enc=ring.encrypt(uow, tenant, name),
            mobile_enc=ring.encrypt(uow, tenant, mobile) if mobile else None,
            mobile_bidx=ring.blind_index(tenant, mobile) if mobile else None,
            email_enc=ring.encrypt(uow, tenant, email) if email else None,
            created_at=now, updated_at=now))
        uow.commit()
    return user_uuid


def _row(app: App, user_uuid: str) -> UserAccount:
    with app.uow(app.context(), readonly=True) as uow:
        row = uow.session.get(UserAccount, user_uuid)
        assert row is not None
        uow.session.expunge(row)
    return row


# -- encrypt / decrypt ------------------------------------------------------------------------------
def test_round_trip_including_indic_text_and_city_tenants_use_the_state_key(app: App) -> None:
    ring = KeyRing(app)
    values = [NAME, "ਗੁਰਪ੍ਰੀਤ ਕੌਰ ਸੰਧੂ", "गुरप्रीत कौर", "₹1,23,456 — ok ✓", "", MOBILE]
    with app.uow(app.context("pb.amritsar")) as uow:
        tokens = [ring.encrypt(uow, "pb.amritsar", v) for v in values]
        assert ring.encrypt(uow, "pb", "x").split("|")[0] == tokens[0].split("|")[0]
        uow.commit()
    for value, token in zip(values, tokens):
        assert CIPHERTEXT.match(token), token
        assert value == "" or value not in token
    with app.uow(app.context(), readonly=True) as uow:
        assert [ring.decrypt(uow, t) for t in tokens] == values
        assert [k.tenant_id for k in ring.keys(uow, "pb.jalandhar")] == ["pb"]
    fresh = KeyRing(app)                                        # nothing cached: loads and unwraps
    assert [fresh.decrypt(None, t) for t in tokens] == values
    assert _count(app, DataKey) == 1


def test_same_plaintext_encrypts_differently(app: App) -> None:
    ring = keyring(app)
    assert keyring(app) is ring
    with app.uow(app.context("pb")) as uow:
        a, b = ring.encrypt(uow, "pb", MOBILE), ring.encrypt(uow, "pb", MOBILE)
        uow.commit()
    assert a != b and a.split("|")[0] == b.split("|")[0]
    assert ring.decrypt(None, a) == ring.decrypt(None, b) == MOBILE


def test_blind_index_normalizes_mobile_numbers_and_is_keyed_per_state(app: App) -> None:
    ring = KeyRing(app)
    same = {ring.blind_index("pb.amritsar", v) for v in ("98765 43210", "+91-9876543210", " 9876543210 ",
                                                          "(+91) 98765-43210")}
    assert len(same) == 1
    index = same.pop()
    assert re.fullmatch(r"[0-9a-f]{64}", index) and MOBILE not in index
    assert ring.blind_index("pb", MOBILE) == index                       # the state's key
    assert ring.blind_index("mz", MOBILE) != index                       # another state
    assert ring.blind_index("pb", "9876543211") != index
    assert ring.blind_index("pb", "G.Kaur@Example.IN") == ring.blind_index("pb", "g.kaur@example.in")
    assert KeyRing(app).blind_index("pb", "98765 43210") == index        # stable across instances


def test_a_key_made_in_a_rolled_back_transaction_is_forgotten(app: App) -> None:
    ring = KeyRing(app)
    with app.uow(app.context("pb")) as uow:
        lost = ring.encrypt(uow, "pb", NAME)
        assert ring.decrypt(uow, lost) == NAME                            # usable inside
    assert _count(app, DataKey) == 0
    with app.uow(app.context("pb")) as uow:
        kept = ring.encrypt(uow, "pb", NAME)
        uow.commit()
    assert kept.split("|")[0] != lost.split("|")[0]
    with pytest.raises(NotFound) as err:
        ring.decrypt(None, lost)
    assert err.value.code == "DATA_KEY_NOT_FOUND"


def test_tampered_swapped_and_non_ciphertext(app: App) -> None:
    ring = KeyRing(app)
    with app.uow(app.context("pb")) as uow:
        token = ring.encrypt(uow, "pb", MOBILE)
        uow.commit()
    key_id, body = token.split("|")
    raw = bytearray(base64.b64decode(body))
    raw[-20] ^= 0x01
    with pytest.raises(DigitError) as err:
        ring.decrypt(None, f"{key_id}|{base64.b64encode(bytes(raw)).decode()}")
    assert err.value.code == "DECRYPTION_FAILED" and err.value.exit_code == 1
    with app.uow(app.context("pb")) as uow:
        other = ring.rotate(uow, "pb")
        uow.commit()
    with pytest.raises(DigitError) as err:                               # moved under another key id
        ring.decrypt(None, f"{other}|{body}")
    assert err.value.code == "DECRYPTION_FAILED"
    for bad in (MOBILE, "abc|def", "", f"{key_id}|", f"{key_id}|{body[:20]}", "|" + body):
        with pytest.raises(InvalidInput) as err:
            ring.decrypt(None, bad)
        assert err.value.code == "NOT_CIPHERTEXT"
        assert MOBILE not in json.dumps(err.value.as_digit())
    assert not crypto.is_ciphertext(MOBILE) and crypto.is_ciphertext(token)


# -- rotation and re-encryption ---------------------------------------------------------------------
def test_rotate_keeps_old_keys_and_new_ciphertext_uses_the_new_key(app: App, frozen_clock: FixedClock) -> None:
    ring = keyring(app)
    with app.uow(app.context("pb")) as uow:
        old = ring.encrypt(uow, "pb", NAME)
        uow.commit()
    first = old.split("|")[0]
    result = crypto.rotate_key(app, app.context("pb"), "pb.amritsar")
    assert result.tenant_id == "pb" and result.keys == 2 and result.key_id != first
    again = crypto.rotate_key(app, app.context("pb"), "pb")              # same frozen second
    keys = crypto.list_keys(app, app.context("pb"), "pb")
    assert [k.key_id for k in keys] == sorted(k.key_id for k in keys) == [first, result.key_id, again.key_id]
    assert [k.active for k in keys] == [False, False, True]
    with app.uow(app.context("pb")) as uow:
        new = ring.encrypt(uow, "pb", NAME)
        uow.commit()
    assert new.split("|")[0] == again.key_id
    assert KeyRing(app).decrypt(None, old) == KeyRing(app).decrypt(None, new) == NAME
    # the events name keys, never their material
    with app.store.engine.connect() as conn:
        events = conn.execute(select(OutboxEvent.payload).where(OutboxEvent.event_type == "keys.rotated")
                              .order_by(OutboxEvent.seq)).scalars().all()
        audit = conn.execute(select(AuditRecord.before, AuditRecord.after)
                             .where(AuditRecord.operation == crypto.ROTATE_ACTION)).all()
        wrapped = conn.execute(select(DataKey.wrapped)).scalars().all()
    assert len(events) == 2 and events[1]["previousKeyIds"] == [result.key_id]
    assert events[1]["keyId"] == again.key_id and events[1]["keys"] == 3
    dumped = json.dumps([events, [list(a) for a in audit]])
    for w in wrapped:
        assert w not in dumped and w[:16] not in dumped


def test_another_state_keeps_its_own_keys_but_the_commands_serve_the_store_s_state(app: App) -> None:
    ring = KeyRing(app)
    with app.uow(app.context("mz")) as uow:
        token = ring.encrypt(uow, "mz.aizawl", NAME)
        uow.commit()
    assert token.startswith("mz-")
    crypto.rotate_key(app, app.context("pb"), "pb")
    with app.uow(app.context("mz"), readonly=True) as uow:
        assert [k.active for k in ring.keys(uow, "mz")] == [True]
    for call in (crypto.rotate_key, crypto.reencrypt_users, crypto.list_keys):
        with pytest.raises(InvalidInput) as err:
            call(app, app.context("mz"), "mz.aizawl")
        assert err.value.code == "INVALID_TENANTID"
    with pytest.raises(InvalidInput):
        crypto.rotate_key(app, app.context(), "")


def test_reencrypt_moves_old_ciphertext_to_the_active_key(app: App) -> None:
    ring = keyring(app)
    old_users = [_add_user(app, ring), _add_user(app, ring, "pb", "ਗੁਰਪ੍ਰੀਤ ਕੌਰ", None, None)]
    other_state = _add_user(app, ring, "mz.aizawl", "Lalremruata", "9436100000", None)
    old_key = _row(app, old_users[0]).name_enc.split("|")[0]
    new_key = crypto.rotate_key(app, app.context("pb"), "pb").key_id
    current = _add_user(app, ring, "pb.jalandhar", "Harpreet Singh")
    assert _row(app, current).name_enc.startswith(new_key + "|")
    before_mz = _row(app, other_state)

    assert crypto.reencrypt_users(app, app.context("pb"), "pb") == 2
    first, second = _row(app, old_users[0]), _row(app, old_users[1])
    for value in (first.name_enc, first.mobile_enc, first.email_enc, second.name_enc):
        assert value is not None and value.startswith(new_key + "|") and old_key not in value
    assert second.mobile_enc is None and second.email_enc is None
    fresh = KeyRing(app)
    assert first.name_enc is not None and first.mobile_enc is not None
    assert fresh.decrypt(None, first.name_enc) == NAME
    assert fresh.decrypt(None, first.mobile_enc) == MOBILE
    assert first.email_enc is not None and second.name_enc is not None
    assert fresh.decrypt(None, first.email_enc) == EMAIL
    assert fresh.decrypt(None, second.name_enc) == "ਗੁਰਪ੍ਰੀਤ ਕੌਰ"
    assert first.mobile_bidx == ring.blind_index("pb", MOBILE)           # the index does not change
    after_mz = _row(app, other_state)
    assert (after_mz.name_enc, after_mz.mobile_enc) == (before_mz.name_enc, before_mz.mobile_enc)

    assert crypto.reencrypt_users(app, app.context("pb"), "pb") == 0
    with app.store.engine.connect() as conn:
        counts = conn.execute(select(OutboxEvent.payload).where(OutboxEvent.event_type == "keys.reencrypted")
                              .order_by(OutboxEvent.seq)).scalars().all()
    assert [c["reencrypted"] for c in counts] == [2, 0] and counts[0]["keyId"] == new_key
    assert _count(app, AuditRecord, AuditRecord.operation == crypto.REENCRYPT_ACTION) == 2


def test_key_operations_are_authorized(app: App) -> None:
    clerk = app.context("pb").__class__(actor=Actor("c1", "clerk", "EMPLOYEE", (Role("COLLECTION_EMPLOYEE", "pb"),)),
                                        tenant_id="pb", clock=app.clock)
    for call in (crypto.rotate_key, crypto.reencrypt_users, crypto.list_keys):
        with pytest.raises(Forbidden):
            call(app, clerk, "pb")
    assert _count(app, DataKey) == 0


# -- master key failures ---------------------------------------------------------------------------
@pytest.fixture
def one_ciphertext(app: App) -> str:
    with app.uow(app.context("pb")) as uow:
        token = keyring(app).encrypt(uow, "pb", NAME)
        uow.commit()
    return token


def test_wrong_master_key_is_a_clear_error(app: App, one_ciphertext: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIT_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    other = build(app.store_url, app.clock)
    try:
        with pytest.raises(MasterKeyError) as err:
            KeyRing(other).decrypt(None, one_ciphertext)
        assert err.value.code == "MASTER_KEY_MISMATCH" and err.value.exit_code == 2
        with pytest.raises(MasterKeyError):
            KeyRing(other).blind_index("pb", MOBILE)
    finally:
        other.close()


def test_the_right_key_from_the_environment_works(app: App, one_ciphertext: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = masterkey.key_file_for(_store_id(app))
    monkeypatch.setenv("DIGIT_MASTER_KEY", key_file.read_text().strip())
    other = build(app.store_url, app.clock)
    try:
        assert KeyRing(other).decrypt(None, one_ciphertext) == NAME
    finally:
        other.close()


def test_missing_key_file(app: App, one_ciphertext: str) -> None:
    key_file = masterkey.key_file_for(_store_id(app))
    hidden = key_file.with_name(key_file.name + ".away")
    key_file.rename(hidden)
    other = build(app.store_url, app.clock)
    try:
        with pytest.raises(MasterKeyError) as err:
            KeyRing(other).decrypt(None, one_ciphertext)
        assert err.value.code == "MASTER_KEY_MISSING" and str(key_file) in err.value.params["keyFile"]
    finally:
        other.close()
        hidden.rename(key_file)


def test_key_file_readable_by_others(app: App, one_ciphertext: str) -> None:
    key_file = masterkey.key_file_for(_store_id(app))
    key_file.chmod(0o644)
    other = build(app.store_url, app.clock)
    try:
        with pytest.raises(MasterKeyError) as err:
            KeyRing(other).decrypt(None, one_ciphertext)
        assert err.value.code == "MASTER_KEY_INSECURE" and "chmod 600" in err.value.message
    finally:
        other.close()
        key_file.chmod(0o600)


# -- what the SQLite file holds --------------------------------------------------------------------
@pytest.fixture
def sqlite_app(sqlite_url: str, frozen_clock: FixedClock) -> Iterator[App]:
    from digitctl.services.store import init_store

    application = build(sqlite_url, frozen_clock)
    try:
        init_store(application, application.context(), "pb", "C01")
        yield application
    finally:
        application.close()


def test_raw_sqlite_file_holds_no_name_or_mobile(sqlite_app: App, tmp_path: Path) -> None:
    ring = keyring(sqlite_app)
    user_uuid = _add_user(sqlite_app, ring)
    db = Path(sqlite_app.store.engine.url.database or "")
    files = [p for p in (db, db.with_name(db.name + "-wal")) if p.exists()]
    assert db in files
    raw = b"".join(p.read_bytes() for p in files)
    row = _row(sqlite_app, user_uuid)
    assert row.name_enc.encode() in raw                                  # we are reading the right bytes
    for secret in (NAME, "Gurpreet", "Sandhu", MOBILE, "98765", "43210", EMAIL, "gurpreet.sandhu"):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert secret.encode(encoding) not in raw, (secret, encoding)
    sqlite_app.store.dispose()                                           # checkpoint the WAL into the file
    assert NAME.encode() not in db.read_bytes() and MOBILE.encode() not in db.read_bytes()


# -- presenting users ------------------------------------------------------------------------------
def _actor(uuid_: str, *roles: str, tenant: str = "pb", type_: str = "EMPLOYEE") -> Actor:
    return Actor(uuid_, f"user-{uuid_}", type_, tuple(Role(r, tenant) for r in roles))


def _ctx(app: App, actor: Actor) -> Any:
    return app.context("pb.amritsar").__class__(actor=actor, tenant_id="pb.amritsar", clock=app.clock)


@pytest.fixture
def with_policy(app: App, reference: Path) -> App:
    report = mdms.apply(app, app.context("pb"), [reference / "mdms" / "data" / "pb" / "DataSecurity"])
    assert report.errors == []
    return app


def _user_doc(app: App, user_uuid: str) -> dict[str, Any]:
    row = _row(app, user_uuid)
    return {"uuid": row.uuid, "tenantId": row.tenant_id, "userName": row.user_name, "type": row.type,
            "name": row.name_enc, "mobileNumber": row.mobile_enc, "emailId": row.email_enc}


def _disclosures(app: App) -> list[dict[str, Any]]:
    with app.store.engine.connect() as conn:
        return list(conn.execute(select(OutboxEvent.payload).where(OutboxEvent.event_type == "pii.disclosed")
                                 .order_by(OutboxEvent.seq)).scalars())


def test_gro_sees_masks_and_asking_for_plain_is_audited(with_policy: App) -> None:
    app = with_policy
    user_uuid = _add_user(app, keyring(app))
    doc = _user_doc(app, user_uuid)
    gro = _ctx(app, _actor("gro-1", "GRO", "EMPLOYEE"))
    with app.uow(gro) as uow:
        shown = present(app, uow, gro, "User", doc)
        uow.commit()
    assert shown["name"] == "G******* K*** S*****" and shown["mobileNumber"] == "******3210"
    # e-mail and userName (attribute "searchUsername") are not in GRO's rule: pb's default, PLAIN
    assert shown["emailId"] == EMAIL and shown["userName"] == doc["userName"]
    assert doc["name"].startswith("pb-")                                   # the input is untouched
    with app.uow(gro) as uow:
        plain = present(app, uow, gro, "User", doc, plain=True, fields=["mobileNumber"], purpose="call back")
        uow.commit()
    assert plain["mobileNumber"] == MOBILE and plain["name"] == "G******* K*** S*****"
    first, second = _disclosures(app)
    assert first["attributes"] == ["emailId", "searchUsername"] and first["purpose"] == "search"
    assert sorted(second["attributes"]) == ["emailId", "mobileNumber", "searchUsername"]
    assert second["purpose"] == "call back" and second["secondLevel"] is True
    assert second["actor"]["uuid"] == "gro-1" and second["recordId"] == user_uuid
    with app.store.engine.connect() as conn:
        audit = conn.execute(select(AuditRecord.entity_id, AuditRecord.entity_type, AuditRecord.after)
                             .where(AuditRecord.operation == "/egov-enc-service/crypto/v1/_decrypt")).all()
    assert [(a.entity_id, a.entity_type) for a in audit] == [(user_uuid, "User")] * 2
    dumped = json.dumps([second, [a.after for a in audit]], ensure_ascii=False)
    for secret in (NAME, MOBILE, EMAIL, "3210"):
        assert secret not in dumped


def test_own_record_special_roles_and_list(with_policy: App) -> None:
    app = with_policy
    ring = keyring(app)
    user_uuid = _add_user(app, ring)
    doc = _user_doc(app, user_uuid)
    me = _ctx(app, _actor(user_uuid, "CITIZEN", type_="CITIZEN"))
    with app.uow(me) as uow:
        mine = present(app, uow, me, "User", doc)
        uow.commit()
    assert (mine["name"], mine["mobileNumber"], mine["emailId"]) == (NAME, MOBILE, EMAIL)
    reindexer = _ctx(app, _actor("r-1", "REINDEXING_ROLE"))
    with app.uow(reindexer) as uow:
        shown = present(app, uow, reindexer, "User", {**doc, "mobileNumber": MOBILE})
        uow.commit()
    assert shown["name"] == NAME                                          # default PLAIN, audited
    assert crypto.is_ciphertext(shown["mobileNumber"]) and ring.decrypt(None, shown["mobileNumber"]) == MOBILE
    lme = _ctx(app, _actor("lme-1", "PGR_LME"))
    other = _user_doc(app, _add_user(app, ring, name="ਗੁਰਪ੍ਰੀਤ ਕੌਰ", mobile="9988776655", email=None))
    with app.uow(lme, readonly=True) as uow:                             # readonly: audited on its own
        rows = present_many(app, uow, lme, "User", [doc, other])
    assert [r["mobileNumber"] for r in rows] == ["******3210", "******6655"]
    assert rows[1]["name"] == "ਗੁ****** ਕੌ*" and rows[1]["emailId"] is None
    # PGR_LME sees e-mail and userName plain (pb's default): one disclosure per record shown
    assert [(d["recordId"], d["attributes"]) for d in _disclosures(app) if d["actor"]["uuid"] == "lme-1"] == \
        [(doc["uuid"], ["emailId", "searchUsername"]), (other["uuid"], ["searchUsername"])]
    assert [d["actor"]["uuid"] for d in _disclosures(app)] == ["r-1", "lme-1", "lme-1"]   # none for me


def test_without_masters_everything_personal_is_masked_even_for_superuser(app: App) -> None:
    user_uuid = _add_user(app, keyring(app))
    doc = _user_doc(app, user_uuid)
    ctx = app.context("pb.amritsar")                                      # SYSTEM: SUPERUSER at *
    with app.uow(ctx) as uow:
        shown = present(app, uow, ctx, "User", doc, plain=True)
        uow.commit()
    assert shown["name"] == "G******* K*** S*****" and shown["mobileNumber"] == "******3210"
    assert shown["emailId"] == "g**************@g*******m"
    assert _disclosures(app) == []

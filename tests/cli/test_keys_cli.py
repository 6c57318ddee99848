"""`digitctl keys rotate | reencrypt | list` through Typer's runner: output formats, old
ciphertext surviving a rotation, refusals with DIGIT's error envelope, no key material shown."""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digitctl import bootstrap
from digitctl.cli.main import app as cli
from local_store.models import DataKey, UserAccount

NOW = "2026-11-25T10:30:00+05:30"
KEY_ID = re.compile(r"pb-\d{10}-[0-9a-f]{8}")


PASSWORD = "KeyAdmin@2026"


def run(store: str, *args: str, stdin: str | None = None, **env: Any) -> Any:
    environ = {"DIGITCTL_NOW": NOW, "DIGIT_TENANT": None, "DIGIT_STORE": None, "DIGIT_TOKEN": None, **env}
    return CliRunner().invoke(cli, ["--store", store, *args], env=environ, input=stdin)


@pytest.fixture
def store(templated_store) -> str:
    """A store with a superuser (a template copy), logged in (key operations are SUPERUSER's:
    DIGIT's action master has no enc-service actions)."""
    url = str(templated_store("cli-keys", build_store))
    login = run(url, "login", "--username", "keyadmin", "--password-stdin", stdin=PASSWORD + "\n")
    assert login.exit_code == 0, login.output
    return url


def build_store(url: str) -> None:
    done = run(url, "init", "--state", "pb", "--counter", "C01", "--admin-username", "keyadmin",
               "--admin-password-stdin", stdin=PASSWORD + "\n")
    assert done.exit_code == 0, done.output


def _add_user(url: str, name: str) -> str:
    """A user row with PII encrypted under the current key (as the users service writes it)."""
    from digitctl.services.crypto import keyring

    app = bootstrap.build(url)
    try:
        with app.uow(app.context("pb.amritsar")) as uow:
            ring = keyring(app)
            now = dt.datetime.now(dt.timezone.utc)
            user_uuid = str(uuid.uuid4())
            uow.session.add(UserAccount(uuid=user_uuid, user_name=name.split()[0].lower(), tenant_id="pb.amritsar",
                                        type="CITIZEN", name_enc=ring.encrypt(uow, "pb.amritsar", name),
                                        created_at=now, updated_at=now))
            uow.commit()
        return user_uuid
    finally:
        app.close()


def _read(url: str, user_uuid: str) -> tuple[str, str]:
    from digitctl.services.crypto import KeyRing

    app = bootstrap.build(url)
    try:
        with app.store.engine.connect() as conn:
            token = conn.execute(UserAccount.__table__.select().where(UserAccount.uuid == user_uuid)).one().name_enc
        return token.split("|")[0], KeyRing(app).decrypt(None, token)
    finally:
        app.close()


def _keys(store: str) -> list[dict[str, Any]]:
    done = run(store, "-o", "json", "keys", "list", "--tenant", "pb")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)["keys"]


def test_rotate_prints_the_new_key_and_the_count(store: str) -> None:
    before = len(_keys(store))                 # the superuser's PII already made pb's first key
    first = run(store, "keys", "rotate", "--tenant", "pb")
    assert first.exit_code == 0, first.output
    assert KEY_ID.search(first.stdout) and f"({before + 1} key" in first.stdout
    second = run(store, "-o", "json", "keys", "rotate", "--tenant", "pb.amritsar")
    assert second.exit_code == 0, second.output
    doc = json.loads(second.stdout)
    assert doc["tenantId"] == "pb" and doc["keys"] == before + 2 and doc["acknowledged"] is True
    assert KEY_ID.fullmatch(doc["keyId"]) and doc["keyId"] not in first.stdout


def test_list_shows_ids_and_dates_never_material(store: str) -> None:
    run(store, "keys", "rotate", "--tenant", "pb")
    run(store, "keys", "rotate", "--tenant", "pb")
    keys = _keys(store)
    assert len(keys) >= 2 and [k["active"] for k in keys][-2:] == [False, True]
    assert sum(k["active"] for k in keys) == 1
    assert [k["keyId"] for k in keys] == sorted(k["keyId"] for k in keys)
    assert set(keys[0]) == {"keyId", "tenantId", "createdAt", "active"}
    assert keys[-1]["createdAt"].startswith("2026-11-25T05:00:00")
    app = bootstrap.build(store)
    try:
        with app.store.engine.connect() as conn:
            wrapped = [r.wrapped for r in conn.execute(DataKey.__table__.select())]
    finally:
        app.close()
    table = run(store, "keys", "list", "--tenant", "pb")
    csv = run(store, "-o", "csv", "keys", "list", "--tenant", "pb")
    assert csv.stdout.splitlines()[0] == "keyId,tenantId,createdAt,active"
    assert all(k["keyId"] in table.stdout for k in keys)
    for output in (json.dumps(keys), table.stdout, csv.stdout):
        for w in wrapped:
            assert w[:12] not in output


def test_a_new_store_has_no_keys_yet(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bare.db"
    assert run(url, "init", "--state", "pb").exit_code == 0
    done = run(url, "keys", "list", "--tenant", "pb")
    assert done.exit_code == 0 and "no data keys for pb yet" in done.stdout
    assert json.loads(run(url, "-o", "json", "keys", "list", "--tenant", "pb").stdout) == {"keys": []}


def test_old_ciphertext_survives_rotation_and_reencrypt_migrates_it(store: str) -> None:
    user_uuid = _add_user(store, "Gurpreet Kaur Sandhu")
    old_key, name = _read(store, user_uuid)
    assert name == "Gurpreet Kaur Sandhu"
    rotated = json.loads(run(store, "-o", "json", "keys", "rotate", "--tenant", "pb").stdout)
    assert _read(store, user_uuid) == (old_key, "Gurpreet Kaur Sandhu")
    done = run(store, "keys", "reencrypt", "--tenant", "pb")
    assert done.exit_code == 0, done.output
    assert re.search(r"re-encrypted [12] users? of pb", done.stdout), done.stdout   # ours (+ the superuser)
    assert _read(store, user_uuid) == (rotated["keyId"], "Gurpreet Kaur Sandhu")
    again = run(store, "-o", "json", "keys", "reencrypt", "--tenant", "pb")
    assert json.loads(again.stdout) == {"tenantId": "pb", "reencrypted": 0}


def test_tenant_falls_back_to_the_global_option_then_the_users_own(store: str) -> None:
    own = run(store, "-o", "json", "keys", "rotate")          # the superuser's own tenant: pb
    assert own.exit_code == 0 and json.loads(own.stdout)["tenantId"] == "pb"
    env = run(store, "-o", "json", "keys", "rotate", DIGIT_TENANT="pb.jalandhar")
    assert env.exit_code == 0 and json.loads(env.stdout)["tenantId"] == "pb"


def test_wrong_master_key_exits_2_with_a_clear_code(store: str) -> None:
    run(store, "keys", "rotate", "--tenant", "pb")
    done = run(store, "-o", "json", "keys", "rotate", "--tenant", "pb",
               DIGIT_MASTER_KEY=base64.b64encode(os.urandom(32)).decode())
    assert done.exit_code == 2, done.output
    assert json.loads(done.stdout)["Errors"][0]["code"] == "MASTER_KEY_MISMATCH"


def test_uninitialized_store_is_refused(tmp_path: Path) -> None:
    done = run(f"sqlite:///{tmp_path}/empty.db", "-o", "json", "keys", "list", "--tenant", "pb")
    assert done.exit_code == 2, done.output
    assert json.loads(done.stdout)["Errors"][0]["code"] == "STORE_NOT_INITIALIZED"

"""Creating and upgrading a store: schema to head, the store's identity and counter code."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digitctl.domain.events import Event
from digitctl.errors import Conflict, DigitError, InvalidInput
from local_store.migrate import head_revision

if TYPE_CHECKING:
    from digitctl.ports import App
    from digitctl.context import RequestContext
    from local_store.uow import UnitOfWork

COUNTER_RE = re.compile(r"^[A-Z0-9]{1,8}$")
CAMEL = {"state_tenant": "stateTenantId", "counter_code": "counterCode"}
STATE_RE = re.compile(r"^[a-z][a-z0-9]{0,31}$")
ROW_SEALS_REVISION = "0006"      # the migration after which audit records seal the rows they write
# from 0007 a citizen's mobile-number user name is stored as a pseudonym; init renames older ones
# (users.pseudonymize_citizens: it needs the master key, which a migration does not have)
CITIZEN_PSEUDONYMS_REVISION = "0007"


@dataclass
class StoreInfo:
    url: str
    dialect: str
    revision_before: str | None
    revision: str
    store_id: str
    state_tenant: str | None
    counter_code: str | None
    created: bool
    admin: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"store": self.url, "dialect": self.dialect, "schemaRevision": self.revision,
                "previousRevision": self.revision_before, "storeId": self.store_id,
                "stateTenantId": self.state_tenant, "counterCode": self.counter_code,
                "created": self.created, "admin": self.admin}


def validate_init(state_tenant: str | None, counter: str | None) -> None:
    if state_tenant is not None and not STATE_RE.match(state_tenant):
        raise InvalidInput("INVALID_TENANTID", f"state tenant {state_tenant!r} must be a lower-case code like 'pb'",
                           {"state": state_tenant})
    if counter is not None and not COUNTER_RE.match(counter):
        raise InvalidInput("INVALID_COUNTER_CODE",
                           f"counter code {counter!r} must be 1-8 upper-case letters or digits (e.g. C01)",
                           {"counter": counter})


def init_store(app: "App", ctx: "RequestContext", state_tenant: str | None = None,
               counter: str | None = None, *, admin_username: str | None = None,
               admin_password: str | None = None, receipt_numbers_by_service: bool | None = None) -> StoreInfo:
    """Bring a new or old store to the head schema; give a new store its identity.

    A store's state and counter code are fixed once set: numbering on this counter depends on them.
    So is `receipt_numbers_by_service`, collection-services' `receiptnumber.servicebased` (unset:
    false, one `receipt.id` series for every service)."""
    validate_init(state_tenant, counter)
    from digitctl.services import audit, masterkey     # signing and key files: init's, not every command's
    from digitctl.services.store_health import require_sound

    require_sound(app)          # a damaged file is said so, not "Checked store"
    store = app.store
    before, after = store.upgrade()
    with app.uow(ctx) as uow:
        store_id = uow.meta("store_id")
        created = store_id is None
        if created:
            store_id = str(uuid.uuid4())
            uow.set_meta("store_id", store_id)
        assert store_id is not None
        if uow.meta(masterkey.CHECK_META) is None:
            # the key file (or DIGIT_MASTER_KEY) is made/checked now, so PII can be encrypted from the start
            key = masterkey.load(store_id, create=True)
            uow.set_meta(masterkey.CHECK_META, key.check_value)
        if uow.meta(audit.CURRENT_KEY) is None:
            # before the first audited event, so every record is signed (this uow signs with the new key)
            key = masterkey.load(store_id)
            masterkey.check(key, uow.meta(masterkey.CHECK_META))
            audit.ensure_signing_key(uow, key)
        if before is not None and before < ROW_SEALS_REVISION:
            # rows written before audit records sealed them: seal them as they stand now, once
            audit.seal_existing_rows(uow)
        if not created:
            # citizens' user names kept plain (stores from before revision 0007): their pseudonyms
            from digitctl.services import users

            users.pseudonymize_citizens(uow, app)
        for name, value, code in (("state_tenant", state_tenant, "STATE_MISMATCH"),
                                  ("counter_code", counter, "COUNTER_MISMATCH")):
            current = uow.meta(name)
            if value is None:
                continue
            if current is not None and current != value:
                raise InvalidInput(code, f"this store is already set up with {name.replace('_', ' ')} "
                                   f"{current!r}; refusing to change it to {value!r}",
                                   {CAMEL[name]: current, "requested": value})
            if current is None:
                uow.set_meta(name, value)
                uow.record(Event("store.configured", state_tenant or uow.meta("state_tenant") or "*",
                                 "Store", store_id, "/digitctl/store/_init",
                                 {"storeId": store_id, CAMEL[name]: value},
                                 before=None, after={CAMEL[name]: value}))
        if receipt_numbers_by_service is not None:
            _set_receipt_numbering(uow, store_id, receipt_numbers_by_service)
        info = StoreInfo(store.display_url(), store.dialect, before, after, store_id,
                         uow.meta("state_tenant"), uow.meta("counter_code"), created)
        uow.commit()
    if admin_username:
        info.admin = create_admin(app, ctx, admin_username, admin_password)
    return info


RECEIPT_NUMBERING_META = "receiptnumber.servicebased"      # collection-services' application.properties


def _set_receipt_numbering(uow: "UnitOfWork", store_id: str, by_service: bool) -> None:
    value = "true" if by_service else "false"
    current = uow.meta(RECEIPT_NUMBERING_META)
    if current == value:
        return
    if current is not None:
        raise InvalidInput("RECEIPT_NUMBERING_MISMATCH", f"this store numbers receipts "
                           f"{'by service' if current == 'true' else 'in one receipt.id series'}; refusing to "
                           "change it (its receipt series would change mid-way)",
                           {"receiptNumbersByService": current == "true", "requested": by_service})
    uow.set_meta(RECEIPT_NUMBERING_META, value)
    uow.record(Event("store.configured", uow.meta("state_tenant") or "*", "Store", store_id, "/digitctl/store/_init",
                     {"storeId": store_id, "receiptNumbersByService": by_service},
                     before=None, after={"receiptNumbersByService": by_service}))


def create_admin(app: "App", ctx: "RequestContext", user_name: str, password: str | None) -> str:
    """The first superuser: SUPERUSER at the state tenant. Only while the store has no users."""
    from digitctl.services import users
    from digitctl.services.users import has_users

    if has_users(app):
        raise InvalidInput("ADMIN_EXISTS", "this store already has users; create more with `digitctl user create`",
                           {"userName": user_name})
    if not password:
        raise InvalidInput("INVALID_PASSWORD", "the superuser needs a password (--admin-password-stdin)")
    state = app.store_meta("state_tenant")
    if not state:
        raise InvalidInput("INVALID_TENANTID", "give the store a state first: digitctl init --state pb")
    spec = users.NewUser(user_name=user_name, name="Administrator", type="EMPLOYEE", tenant_id=state,
                         roles=[("SUPERUSER", state)], password=password)
    with app.uow(ctx) as uow:
        spec = users.validate(app, spec, state)
        users.create_in(uow, app, spec)
        uow.commit()
    return user_name


def require_initialized(app: "App") -> None:
    rev = app.store.current_revision()
    if rev is None:
        raise InvalidInput("STORE_NOT_INITIALIZED",
                           f"no digitctl store at {app.store.display_url()}; run `digitctl init` "
                           "(or `digitctl quickstart` for a demo store)", {"store": app.store.display_url()})
    if rev != head_revision():
        raise InvalidInput("STORE_OUTDATED",
                           f"the store's schema is at {rev}, this digitctl needs {head_revision()}; "
                           "run `digitctl init` to upgrade it", {"revision": rev})


# -- the store's own failures, as a front door reports them ---------------------------------------
def unavailable_reason(err: Exception) -> str | None:
    """The message for a store that cannot be reached or used right now (SQLAlchemy's
    OperationalError: connection refused, no such database, database locked), else None."""
    from sqlalchemy import exc

    if not isinstance(err, exc.OperationalError):
        return None
    reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    return f"the store cannot be used: {reason}"


def constraint_refusal(err: Exception) -> DigitError | None:
    """A store constraint violation as a DIGIT-style refusal (DUPLICATE_RECORD for a unique key,
    INTEGRITY_VIOLATION otherwise), naming the constraint, never the SQL or its parameters."""
    from sqlalchemy import exc

    if not isinstance(err, exc.IntegrityError):
        return None
    orig = getattr(err, "orig", None)
    diag = getattr(orig, "diag", None)
    first = (str(orig or "").strip().splitlines() or [""])[0]
    unique = getattr(orig, "sqlstate", None) == "23505" or first.upper().startswith("UNIQUE")
    where = getattr(diag, "constraint_name", None) or (first.split(":", 1)[1].strip() if ":" in first else None)
    params = {"constraint": where} if where else None
    if unique:
        return Conflict("DUPLICATE_RECORD", "a record with the same key already exists; nothing was written", params)
    return InvalidInput("INTEGRITY_VIOLATION", "the store refused the change (a constraint failed); nothing was "
                        "written", params)

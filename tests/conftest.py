"""Shared fixtures: the DIGIT reference data, a frozen clock, and stores to run services on
(a SQLite file per test, and a fresh PostgreSQL database per test when the server is there)."""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any
from pathlib import Path

import pytest

from digitctl.bootstrap import App, build
from digitctl.clock import IST, FixedClock

REPO = Path(__file__).resolve().parents[1]
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session", autouse=True)
def private_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Master-key files and session tokens go to a throwaway config dir, never the user's."""
    import os

    folder = tmp_path_factory.mktemp("config")
    saved = {k: os.environ.pop(k, None) for k in ("DIGIT_MASTER_KEY", "DIGIT_MASTER_KEY_FILE", "DIGIT_TOKEN",
                                                  "DIGIT_STORE", "DIGIT_TENANT", "DIGITCTL_NOW")}
    os.environ["DIGIT_CONFIG_DIR"] = str(folder)
    yield folder
    os.environ.pop("DIGIT_CONFIG_DIR", None)
    os.environ.update({k: v for k, v in saved.items() if v is not None})


@pytest.fixture(scope="session", autouse=True)
def test_clock_hook() -> Iterator[None]:
    """The test process's clock hook (tests/clockhook.py): a command run through CliRunner with
    DIGITCTL_NOW in its environment runs at that instant. The shipped program has no such switch
    (digitctl.bootstrap.clock_factory is the system clock there)."""
    from tests import clockhook

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("digitctl.bootstrap.clock_factory", clockhook.env_clock)
        yield


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """Passwords hashed in the test process use scrypt N=2^10 (~2 ms) instead of the shipped
    N=2^14 (~40 ms CPU, 16 MiB): hundreds of users and logins per run. A hash carries its own
    parameters, so verification follows whichever made it; commands run as subprocesses (the
    shipped program) still hash at full cost, and no test is about the cost."""
    from digitctl.domain import identity

    defaults = identity.hash_password.__kwdefaults__
    assert defaults is not None and defaults["n"] == identity.SCRYPT_N
    saved = dict(defaults)
    defaults["n"] = 2 ** 10
    yield
    defaults.update(saved)


@pytest.fixture(scope="session")
def reference() -> Path:
    """../shared/digit-reference: DIGIT's own MDMS data, schemas, workflows and contracts
    (DIGIT_REFERENCE names it elsewhere, e.g. from a worktree that is not beside ../shared)."""
    import os

    path = Path(os.environ.get("DIGIT_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "digit-reference")
    if not path.is_dir():
        pytest.skip(f"DIGIT reference data not found at {path} (expected ../shared/digit-reference)")
    return path


@pytest.fixture
def frozen_clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 11, 25, 11, 0, tzinfo=IST))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


class PgDatabases:
    """The test process's databases on the local server: created on demand, dropped in a
    background thread (a DROP waits on the server's disk; the next test need not wait with it)."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._admin: Any = None
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drop")
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-spare")
        self._drops: list[tuple[Future[None], str]] = []
        self._unreachable: str | None = None

    @staticmethod
    def _connect() -> Any:
        import psycopg

        return psycopg.connect(PG_SERVER.replace("+psycopg", ""), autocommit=True, connect_timeout=3)

    def admin(self) -> Any:
        """The process's admin connection (skips the test when the server is not there)."""
        if self._unreachable is not None:
            pytest.skip(self._unreachable)
        if self._admin is None:
            try:
                import psycopg
            except ImportError as err:
                self._unreachable = f"PostgreSQL not reachable at 127.0.0.1:5432 ({err}): store tests ran on SQLite only"
                pytest.skip(self._unreachable)
            try:
                self._admin = self._connect()
            except psycopg.OperationalError as err:
                reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                self._unreachable = (f"PostgreSQL not reachable at 127.0.0.1:5432 ({reason}): "
                                     "store tests ran on SQLite only")
                pytest.skip(self._unreachable)
        return self._admin

    @staticmethod
    def url(name: str) -> str:
        return PG_SERVER.rsplit("/", 1)[0] + "/" + name

    def create(self, name: str, template: str | None = None) -> None:
        self.admin().execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def create_later(self, name: str, template: str) -> "Future[None]":
        """CREATE DATABASE name TEMPLATE template in the background (a spare copy for the next test)."""
        return self._maker.submit(self._create, name, template)

    def _create(self, name: str, template: str) -> None:
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop_later(self, name: str) -> None:
        self._drops.append((self._dropper.submit(self._drop, name), name))

    def _drop(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drops still queued when the session ends go to a detached process (tests/pg_drop.py):
        every DROP DATABASE waits for a checkpoint, and a worker waited up to a minute and a half
        for its queue at the end of a run on a busy machine."""
        self._maker.shutdown(wait=True)
        self._dropper.shutdown(wait=True, cancel_futures=True)
        left = [name for done, name in self._drops if done.cancelled()]
        for done, _name in self._drops:
            if not done.cancelled():
                done.result()       # a failed drop is a leak on the server: say so
        if self._admin is not None:
            self._admin.close()
        if left:
            import subprocess
            import sys
            import tempfile

            log = Path(tempfile.gettempdir()) / "digitctl-test-pg-drops.log"
            with open(log, "a") as err:
                subprocess.Popen([sys.executable, str(Path(__file__).with_name("pg_drop.py")), PG_SERVER, *left],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                 start_new_session=True)


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases()
    yield dbs
    dbs.close()


@pytest.fixture
def pg_name(pg_databases: PgDatabases) -> Iterator[str]:
    """A unique database name on the local server, NOT created (a store template is copied to it
    with CREATE DATABASE ... TEMPLATE); dropped after the test, in the background."""
    pg_databases.admin()            # skip here when the server is not there
    name = f"digitctl_test_{uuid.uuid4().hex[:8]}"
    yield name
    pg_databases.drop_later(name)


@pytest.fixture
def pg_url(pg_name: str, pg_databases: PgDatabases) -> str:
    """A fresh (empty) database on the local server, dropped (FORCE) after the test."""
    pg_databases.create(pg_name)
    return pg_databases.url(pg_name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_backend(request: pytest.FixtureRequest) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def store_url(store_backend: str, request: pytest.FixtureRequest) -> str:
    """An empty store on each backend (store_backend)."""
    url = request.getfixturevalue("sqlite_url" if store_backend == "sqlite" else "pg_url")
    assert isinstance(url, str)
    return url


@pytest.fixture
def template_url(store_backend: str, request: pytest.FixtureRequest, pg_databases: PgDatabases) -> str:
    """Where a templated store goes, on each backend: a SQLite file path, or a PostgreSQL
    database not yet created (StoreTemplates creates it from the template in one statement)."""
    if store_backend == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return pg_databases.url(str(request.getfixturevalue("pg_name")))


FROZEN = dt.datetime(2026, 11, 25, 11, 0, tzinfo=IST)


class StoreTemplates:
    """Stores built once per test process and copied per test: a file copy on SQLite,
    `CREATE DATABASE ... TEMPLATE` on PostgreSQL. Building one (Alembic upgrade, init, the bundled
    MDMS apply, scrypt-hashed demo users) costs 0.4-1 s; a copy a few milliseconds."""

    def __init__(self, folder: Path, dbs: PgDatabases) -> None:
        self.folder = folder
        self.dbs = dbs
        self.sqlite: dict[str, Path] = {}
        self.pg: dict[str, str] = {}
        self.made: dict[str, str] = {}
        self.spares: dict[str, tuple[str, Future[None]]] = {}

    @staticmethod
    def _copy_sqlite(src: Path, target: Path) -> None:
        import shutil

        for suffix in ("", "-wal", "-shm"):
            origin = src.with_name(src.name + suffix)
            if origin.exists():
                shutil.copyfile(origin, target.with_name(target.name + suffix))

    def materialize(self, name: str, builder: "Any", url: str) -> None:
        """Make the (empty) store at `url` a copy of template `name`, building it on first use."""
        made = self.made.get(url)
        if made is not None:
            if made != name:
                raise RuntimeError(f"{url} is already the {made!r} template; a test cannot have both")
            return
        self.made[url] = name
        if url.startswith("sqlite"):
            src = self.sqlite.get(name)
            if src is None:
                src = self.folder / f"{name}.db"
                builder(f"sqlite:///{src}")
                self.sqlite[name] = src
            self._copy_sqlite(src, Path(url.split("///", 1)[1]))
            return
        target = url.rsplit("/", 1)[1]
        tpl = self.pg.get(name)
        if tpl is None:
            tpl = f"digitctl_tpl_{name}_{uuid.uuid4().hex[:8]}"
            self.dbs.create(tpl)
            builder(self.dbs.url(tpl))
            self.pg[name] = tpl
        admin = self.dbs.admin()
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone():
            admin.execute(f'DROP DATABASE "{target}" WITH (FORCE)')     # an empty store_url database
        if not self._take_spare(name, target):
            self.dbs.create(target, template=tpl)
        # the next test of this template renames a copy made meanwhile (a rename is a catalog
        # update; the copy itself overlaps this test instead of delaying the next one)
        spare = f"digitctl_spare_{uuid.uuid4().hex[:8]}"
        self.spares[name] = (spare, self.dbs.create_later(spare, tpl))

    def _take_spare(self, name: str, target: str) -> bool:
        taken = self.spares.pop(name, None)
        if taken is None:
            return False
        spare, ready = taken
        try:
            ready.result()
        except Exception:           # the copy failed: make this one directly (the caller does)
            return False
        self.dbs.admin().execute(f'ALTER DATABASE "{spare}" RENAME TO "{target}"')
        return True

    def drop(self) -> None:
        for spare, ready in self.spares.values():
            try:
                ready.result()
            finally:
                self.dbs.drop_later(spare)
        for tpl in self.pg.values():
            self.dbs.drop_later(tpl)


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory: pytest.TempPathFactory, pg_databases: PgDatabases) -> Iterator[StoreTemplates]:
    templates = StoreTemplates(tmp_path_factory.mktemp("templates"), pg_databases)
    yield templates
    templates.drop()


def _build_initialized(url: str) -> None:
    from digitctl.services.store import init_store

    application = build(url, FixedClock(FROZEN))
    try:
        init_store(application, application.context(), "pb", "C01")
    finally:
        application.close()


def _build_state(url: str) -> None:
    from digitctl.resources import bundled
    from digitctl.services import mdms

    _build_initialized(url)
    application = build(url, FixedClock(FROZEN))
    try:
        configs = bundled("configs") / "mdms"
        mdms.apply(application, application.context("pb"), [configs / "data" / "pb"],
                   master_config=configs / "master-config.json")
    finally:
        application.close()


def _build_demo_users(url: str) -> None:
    from digitctl.services import quickstart

    _build_state(url)
    application = build(url, FixedClock(FROZEN))
    try:
        quickstart.demo_users(application, application.context())
    finally:
        application.close()


def _build_quickstart(url: str) -> None:
    from digitctl.services import quickstart

    application = build(url, FixedClock(FROZEN))
    try:
        quickstart.quickstart(application, application.base_context())
    finally:
        application.close()


def _templated_app(templates: StoreTemplates, name: str, builder: "Any", url: str,
                   clock: FixedClock) -> Iterator[App]:
    templates.materialize(name, builder, url)
    application = build(url, clock)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def app(template_url: str, frozen_clock: FixedClock, store_templates: StoreTemplates) -> Iterator[App]:
    """An initialized store (state pb, counter C01) behind the composition root."""
    yield from _templated_app(store_templates, "initialized", _build_initialized, template_url, frozen_clock)


@pytest.fixture
def state_app(template_url: str, frozen_clock: FixedClock, store_templates: StoreTemplates) -> Iterator[App]:
    """A store (both backends) holding the bundled demo state's master data."""
    yield from _templated_app(store_templates, "state", _build_state, template_url, frozen_clock)


@pytest.fixture(scope="session")
def world_builder(reference: Path, tmp_path_factory: pytest.TempPathFactory) -> "Any":
    """Builds tests.helpers.build_world's store: the bundled state, the real access records, the
    five workflows at pb, the demo users, a second citizen and a SYSTEM user."""
    folder = tmp_path_factory.mktemp("world-access")

    def build_it(url: str) -> None:
        from tests.helpers import build_world

        _build_initialized(url)
        application = build(url, FixedClock(FROZEN))
        try:
            build_world(application, reference, folder)
        finally:
            application.close()

    return build_it


@pytest.fixture
def world_app(template_url: str, frozen_clock: FixedClock, store_templates: StoreTemplates,
              world_builder: "Any") -> Iterator[App]:
    """`build_world`'s store on both backends, built once per test process and copied per test."""
    yield from _templated_app(store_templates, "world", world_builder, template_url, frozen_clock)


@pytest.fixture(scope="session")
def fee_world_builder(world_builder: "Any", store_templates: StoreTemplates) -> "Any":
    """world_builder's store plus the TL fee rates (tests/data/TradeLicenseFeeRates.json), on a
    copy of the world template."""
    def build_it(url: str) -> None:
        from digitctl.services import mdms
        from tests.helpers import FEE_RATES

        store_templates.materialize("world", world_builder, url)
        application = build(url, FixedClock(FROZEN))
        try:
            mdms.apply(application, application.context("pb"), [FEE_RATES])
        finally:
            application.close()

    return build_it


@pytest.fixture
def fee_world_app(template_url: str, frozen_clock: FixedClock, store_templates: StoreTemplates,
                  fee_world_builder: "Any") -> Iterator[App]:
    """`world_app` with the TL fee rates applied (the collection suites), both backends, copied per test."""
    yield from _templated_app(store_templates, "fee-world", fee_world_builder, template_url, frozen_clock)


@pytest.fixture
def quickstart_url(tmp_path: Path, store_templates: StoreTemplates) -> str:
    """A SQLite copy of `digitctl quickstart`'s demo store (workflows, demo users and applications,
    a bill waiting, the clerk's shift open); nobody logged in."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    store_templates.materialize("quickstart", _build_quickstart, url)
    return url


@pytest.fixture
def templated_store(tmp_path: Path, store_templates: StoreTemplates) -> "Any":
    """templated_store(name, builder) -> the URL of a SQLite store in tmp_path that is a copy of
    what builder(url) made, once per test process (for a CLI suite's own set-up: run the same
    commands once, copy the store per test; log in per test, since a login is per store copy)."""
    def make(name: str, builder: "Any") -> str:
        url = f"sqlite:///{tmp_path / (name + '.db')}"
        store_templates.materialize(name, builder, url)
        return url

    return make


@pytest.fixture(scope="session")
def demo_users_builder() -> "Any":
    """Builds demo_users_url's store (for a suite's template that starts from it)."""
    return _build_demo_users


@pytest.fixture
def demo_users_url(tmp_path: Path, store_templates: StoreTemplates) -> str:
    """A SQLite store with the bundled state and quickstart's demo users (nobody logged in)."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    store_templates.materialize("demo-users", _build_demo_users, url)
    return url


PB_ADMIN = "admin"
PB_ADMIN_PASSWORD = "Admin@1234"


@pytest.fixture(scope="session")
def pb_tree_builder(reference: Path) -> "Any":
    """Builds a store holding the WHOLE real pb tree (../shared/digit-reference/mdms/data/pb, with
    the master-config.json beside it), DIGIT's workflow definitions at the state, and one
    SUPERUSER@pb (`admin`)."""
    def build_tree(url: str) -> None:
        from digitctl.services import mdms, workflow
        from digitctl.services.store import create_admin

        _build_initialized(url)
        application = build(url, FixedClock(FROZEN))
        try:
            report = mdms.apply(application, application.context("pb"), [reference / "mdms" / "data" / "pb"])
            assert not report.errors, [p.line() for p in report.errors]
            workflow.apply(application, application.context("pb"), [reference / "workflow"], tenant_id="pb")
            create_admin(application, application.context(), PB_ADMIN, PB_ADMIN_PASSWORD)
        finally:
            application.close()

    return build_tree


@pytest.fixture
def pb_tree_app(template_url: str, frozen_clock: FixedClock, store_templates: StoreTemplates,
                pb_tree_builder: "Any") -> Iterator[App]:
    """The whole real pb tree, on SQLite and PostgreSQL: applied once per test process, copied
    per test."""
    yield from _templated_app(store_templates, "pb-tree", pb_tree_builder, template_url, frozen_clock)


@pytest.fixture
def as_user():
    """as_user(app, user_name, tenant=None) -> the RequestContext of that user, on the app's clock."""
    from digitctl.context import RequestContext
    from digitctl.services import users

    def make(app: Any, user_name: str, tenant: str | None = None) -> RequestContext:
        with app.uow(app.base_context(), readonly=True) as uow:
            actor = users.actor_of(uow.session, users.find(uow.session, user_name, tenant))
        return RequestContext(actor=actor, clock=app.clock)

    return make


@pytest.fixture
def clerk_cli_store(demo_users_url: str) -> str:
    """demo_users_url with the demo counter clerk logged in through `digitctl login` (the CLI's
    saved session), the clock at the tests' frozen instant."""
    from typer.testing import CliRunner

    from digitctl.cli.main import app as cli
    from digitctl.services import quickstart

    env = {"DIGITCTL_NOW": "2026-11-25T11:00:00+05:30"}
    runner = CliRunner()
    runner.invoke(cli, ["--store", demo_users_url, "logout"], env=env)
    res = runner.invoke(cli, ["--store", demo_users_url, "login", "--username", "clerk.amritsar", "--password-stdin"],
                        input=quickstart.DEMO_PASSWORD + "\n", env=env)
    assert res.exit_code == 0, res.output
    return demo_users_url


# -- DIGIT's JSON: the error envelope and the contracts ----------------------------------------------
def _error_of(output: Any) -> tuple[str, str, list[str]]:
    import json

    text = output if isinstance(output, str) else output.stdout
    doc = json.loads(text)
    assert set(doc) == {"ResponseInfo", "Errors"}, doc
    err = doc["Errors"][0]
    assert isinstance(err["params"], list) and all(isinstance(p, str) for p in err["params"]), err
    return err["code"], err["message"], err["params"]


def _params_dict(params: list[str]) -> dict[str, str]:
    """["key: value", ...] -> {"key": "value"} (values stay text; json.loads the structured ones)."""
    return dict(p.split(": ", 1) for p in params)


@pytest.fixture
def error_of():
    """error_of(result_or_stdout) -> (code, message, params) of the first error in the DIGIT error
    envelope `-o json` printed; params is DIGIT's list of strings, each "key: value"
    (error_of.params_dict(params) gives {"key": "value"}, the values as text)."""
    _error_of.params_dict = _params_dict  # type: ignore[attr-defined]
    return _error_of


_CONTRACT_URLS = {
    "https://raw.githubusercontent.com/egovernments/egov-services/master/docs/common/contracts/v1-0-0.yml":
        "common-contract.yml",
    "https://raw.githubusercontent.com/egovernments/egov-services/master/docs/common/contracts/v1-1-1.yml":
        "common-contract.yml",
    "https://raw.githubusercontent.com/egovernments/egov-services/master/docs/egov-user/contracts/v1-0-0.yml":
        "egov-user-contract.yml",
    "https://raw.githubusercontent.com/egovernments/egov-services/master/docs/egov-user/contracts/v1-1-0.yml":
        "egov-user-contract.yml",
}


def _contract_definitions(folder: Path, name: str) -> dict[str, Any]:
    """A Swagger 2.0 file's `definitions` (billing-service-v2.yml: its `definitions:` block alone,
    the file as a whole is not valid YAML)."""
    import yaml

    text = (folder / name).read_text(encoding="utf-8")
    if name == "billing-service-v2.yml":
        text = text[text.index("\ndefinitions:") + 1:]
    return dict(yaml.safe_load(text)["definitions"])


def _contract_bundle(folder: Path, name: str) -> dict[str, Any]:
    """Every definition reachable from `name`, keyed "file:Definition", $refs rewritten to them;
    refs to contracts the reference folder lacks accept anything. Each property also accepts
    null: Swagger 2.0 cannot say nullable, and DIGIT's Jackson writes null fields."""
    bundle: dict[str, Any] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        if any(k.startswith(current + ":") for k in bundle):
            continue

        def fix(node: Any) -> Any:
            if isinstance(node, dict):
                out = {}
                for k, v in node.items():
                    if k == "$ref" and isinstance(v, str):
                        where, _, pointer = v.partition("#/definitions/")
                        target = current if not where else _CONTRACT_URLS.get(where)
                        if target is None or not pointer:
                            return {}
                        if target != current:
                            todo.append(target)
                        return {"$ref": f"#/definitions/{target}:{pointer}"}
                    if k == "properties" and isinstance(v, dict):
                        out[k] = {p: {"anyOf": [fix(s), {"type": "null"}]} for p, s in v.items()}
                    else:
                        out[k] = fix(v)
                return out
            if isinstance(node, list):
                return [fix(x) for x in node]
            return node

        for key, schema in _contract_definitions(folder, current).items():
            bundle[f"{current}:{key}"] = fix(schema)
    return bundle


@pytest.fixture(scope="session")
def contract(reference: Path):
    """contract(file, definition, payload, *, closed=False, patch=None) -> problems (empty when
    `payload` is valid against that Swagger 2.0 definition of contracts/<file>). closed: the
    payload's own top-level keys must all be properties the definition names (an envelope).
    patch, where a contract is known to differ from DIGIT's own Java (say why in the test):
    {"Def": schema} replaces a definition, {"Def.prop": schema} one property, {"Def!required":
    [...]} its required list; "Def" may name another file's as "file.yml:Def"; "$ref": "#X"
    in a patch means definition X of the same file."""
    import jsonschema

    folder = reference / "contracts"
    cache: dict[str, dict[str, Any]] = {}

    def check(file: str, definition: str, payload: Any, *, closed: bool = False,
              patch: dict[str, Any] | None = None) -> list[str]:
        if file not in cache:
            cache[file] = _contract_bundle(folder, file)
        defs = dict(cache[file])

        def local(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: (f"#/definitions/{file}:{v[1:]}" if k == "$ref" and v.startswith("#") and "/" not in v
                            else local(v)) for k, v in node.items()}
            return [local(x) for x in node] if isinstance(node, list) else node

        for key, schema in (patch or {}).items():
            schema = local(schema)
            owner, _, rest = key.rpartition(":")
            rest, _, required = rest.partition("!")
            rest, _, prop = rest.partition(".")
            name = f"{owner or file}:{rest}"
            if required:
                defs[name] = {**defs[name], "required": schema}
            elif prop:
                defs[name] = {**defs[name], "properties": {**defs[name]["properties"],
                                                           prop: {"anyOf": [schema, {"type": "null"}]}}}
            else:
                defs[name] = schema
        root = defs[f"{file}:{definition}"]
        problems = []
        if closed:
            named = set(root.get("properties") or {})
            for part in root.get("allOf") or []:
                named |= set(part.get("properties") or {})
            problems += [f"{k}: not in {definition}" for k in payload if k not in named]
        schema = {"$ref": f"#/definitions/{file}:{definition}", "definitions": defs}
        validator = jsonschema.Draft4Validator(schema)
        for e in sorted(validator.iter_errors(payload), key=lambda e: [str(p) for p in e.absolute_path]):
            while e.context:            # the real reason inside anyOf [schema, null]: the deepest
                found = [c for c in e.context if not (c.validator == "type" and c.validator_value == "null")]
                if not found:
                    break
                e = max(found, key=lambda c: len(c.absolute_path))
            problems.append(f"{'/'.join(map(str, e.absolute_path))}: {e.message}")
        return problems

    return check

"""MDMS v2 schema definitions: JSON Schema draft-07 plus DIGIT's `x-unique` and `x-ref-schema`.

What DIGIT's mdms-v2 service does, and this module follows (egovernments/Digit-Core,
core-services/mdms-v2):

- `SchemaDefinitionValidator`: a definition needs a non-empty `required` list
  (REQUIRED_ATTRIBUTE_LIST_ERR) and a non-empty `x-unique` list that is a subset of `required`
  (UNIQUE_ATTRIBUTE_LIST_ERR); an existing (tenantId, code) is DUPLICATE_SCHEMA_CODE.
- `SchemaDefinitionService.create/search`: schemas always live at the state-level tenant.
- `CompositeUniqueIdentifierGenerationUtil`: a record's `uniqueIdentifier` is the values at the
  `x-unique` paths (dot paths read as JSON pointers, `asText()`), joined with "."; an empty value
  is UNIQUE_IDENTIFIER_EMPTY_ERR.
- `MdmsDataValidator`: data is validated against the definition (everit; violations are coded
  INVALID_REQUEST_<KEYWORD>), DUPLICATE_RECORD when the uniqueIdentifier exists, and each
  `x-ref-schema` `fieldPath` is read as the JsonPath `$.<fieldPath>` (so `documents.*.code`
  yields a list); the value(s) must be strings/numbers naming existing records of `schemaCode`
  at the tenant or a parent tenant, else REFERENCE_VALIDATION_ERR.
- `SchemaUtil.getSchema`: no schema for a record's schemaCode is SCHEMA_DEFINITION_NOT_FOUND_ERR.

Where this toolkit differs on purpose: applying an identical definition again is a no-op and a
changed one updates in place (DIGIT refuses both with DUPLICATE_SCHEMA_CODE and has no update),
because `digitctl mdms schema apply` must be idempotent.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from digitctl.clock import epoch_millis
from digitctl.domain.canonical import content_hash
from digitctl.domain.events import Event
from digitctl.domain.mdms import Problem, unique_key
from digitctl.domain.tenancy import fallback_chain, state_of
from digitctl.errors import InvalidInput
from digitctl.services.access import authorize
from local_store.models import MdmsSchema

if TYPE_CHECKING:
    from jsonschema import Draft7Validator, ValidationError

    from digitctl.bootstrap import App
    from digitctl.context import RequestContext

# -- DIGIT's error codes (mdms-v2 errors/ErrorCodes.java and the validators named above) -------
DUPLICATE_SCHEMA_CODE = "DUPLICATE_SCHEMA_CODE"
INVALID_JSON = "INVALID_JSON"
INVALID_REQUEST_JSON = "INVALID_REQUEST_JSON"
REQUIRED_ATTRIBUTE_LIST_ERR = "REQUIRED_ATTRIBUTE_LIST_ERR"
UNIQUE_ATTRIBUTE_LIST_ERR = "UNIQUE_ATTRIBUTE_LIST_ERR"
SCHEMA_DEFINITION_NOT_FOUND_ERR = "SCHEMA_DEFINITION_NOT_FOUND_ERR"
DUPLICATE_RECORD = "DUPLICATE_RECORD"
REFERENCE_VALIDATION_ERR = "REFERENCE_VALIDATION_ERR"
UNIQUE_IDENTIFIER_EMPTY_ERR = "UNIQUE_IDENTIFIER_EMPTY_ERR"
UNIQUE_KEY_UPDATE_ERR = "UNIQUE_KEY_UPDATE_ERR"
MASTER_DATA_VALIDATION_ERR = "MASTER_DATA_VALIDATION_ERR"
INVALID_REQUEST = "INVALID_REQUEST"              # + "_<KEYWORD>" per schema violation
# -- this toolkit's own codes, where DIGIT has none ---------------------------------------------
INVALID_SCHEMA_DEFINITION = "INVALID_SCHEMA_DEFINITION"   # not a valid draft-07 schema
INVALID_SCHEMA_CODE = "INVALID_SCHEMA_CODE"               # code missing or not "<module>.<master>"
INVALID_REF_SCHEMA = "INVALID_REF_SCHEMA"                 # x-ref-schema entries malformed
MDMS_SCHEMA_INVALID = "MDMS_SCHEMA_INVALID"               # --strict refused a batch with problems

CREATE_ACTION = "/mdms-v2/schema/v1/_create"
EVENT_TYPE = "mdms.schema.upserted"
SCHEMA_SUFFIXES = (".json", ".yaml", ".yml")


# -- one schema ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaDef:
    """A registered schema: `code` is "<module>.<master>", `definition` the JSON Schema."""

    tenant_id: str
    code: str
    definition: dict[str, Any]
    description: str | None = None
    is_active: bool = True

    @property
    def module(self) -> str:
        return self.code.split(".", 1)[0]

    @property
    def master(self) -> str:
        parts = self.code.split(".", 1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def unique_fields(self) -> list[str]:
        value = self.definition.get("x-unique")
        return [str(f) for f in value] if isinstance(value, list) else []

    @property
    def refs(self) -> list[tuple[str, str]]:
        """(fieldPath, schemaCode) per well-formed x-ref-schema entry."""
        out: list[tuple[str, str]] = []
        for entry in self.definition.get("x-ref-schema") or []:
            if isinstance(entry, dict) and isinstance(entry.get("fieldPath"), str) \
                    and isinstance(entry.get("schemaCode"), str):
                out.append((entry["fieldPath"], entry["schemaCode"]))
        return out

    @property
    def definition_hash(self) -> str:
        return content_hash(self.definition)

    def unique_identifier(self, record: Any) -> str | None:
        """DIGIT's uniqueIdentifier: the x-unique values as text, joined with "."; None when a
        value is missing, null, empty or not a scalar (DIGIT: UNIQUE_IDENTIFIER_EMPTY_ERR)."""
        fields = self.unique_fields
        if not fields:
            return None
        chunks: list[str] = []
        for f in fields:
            text = _as_text(_pointer_get(record, f))
            if not text:
                return None
            chunks.append(text)
        return ".".join(chunks)

    def store_key(self, record: Any) -> tuple[str, list[str]]:
        """The key the local store uses for the record (and the x-unique paths it lacks)."""
        return unique_key(record, ["$." + f for f in self.unique_fields])

    @cached_property
    def _validator(self) -> "Draft7Validator":
        # cached_property writes the instance __dict__ directly, so it works on a frozen dataclass
        from jsonschema import Draft7Validator

        return Draft7Validator(self.definition, format_checker=Draft7Validator.FORMAT_CHECKER)

    def violations(self, record: Any) -> list[tuple[str, str]]:
        """(DIGIT code INVALID_REQUEST_<KEYWORD>, "<json path>: message") per violation."""
        errors = sorted(self._validator.iter_errors(record), key=lambda e: (e.json_path, e.message))
        return [(f"{INVALID_REQUEST}_{str(e.validator).upper()}", f"{_error_path(e)}: {e.message}")
                for e in errors]

    def validate(self, record: Any) -> list[str]:
        """Draft-07 violations of `record`, each prefixed with the JSON path of the field."""
        return [message for _code, message in self.violations(record)]

    def as_digit(self) -> dict[str, Any]:
        """DIGIT's SchemaDefinition JSON (camelCase)."""
        return {"tenantId": self.tenant_id, "code": self.code, "description": self.description,
                "definition": self.definition, "isActive": self.is_active}


def _error_path(err: "ValidationError") -> str:
    """Where a violation is: for `required`, the missing field itself rather than its parent."""
    path: str = err.json_path
    if err.validator == "required" and isinstance(err.instance, dict):
        for name in err.validator_value or []:
            if name not in err.instance and err.message == f"{name!r} is a required property":
                return f"{path}.{name}"
    return path


_MISSING = object()


def _pointer_get(record: Any, dotted: str) -> Any:
    """DIGIT reads an x-unique path "a.b" as the JSON pointer /a/b (list indexes allowed)."""
    value = record
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _as_text(value: Any) -> str:
    """Jackson's JsonNode.asText(): scalars as text, containers/missing/null as ""."""
    if value is _MISSING or value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- the registry --------------------------------------------------------------------------------
class SchemaRegistry:
    """The active schemas of a store, looked up with DIGIT's tenant fallback."""

    def __init__(self, schemas: Iterable[SchemaDef] = ()) -> None:
        self._by_key: dict[tuple[str, str], SchemaDef] = {}
        for s in schemas:
            self._by_key[(s.tenant_id, s.code)] = s

    @classmethod
    def load(cls, conn: Connection) -> "SchemaRegistry":
        rows = conn.execute(select(MdmsSchema.tenant_id, MdmsSchema.code, MdmsSchema.definition,
                                   MdmsSchema.description)
                            .where(MdmsSchema.is_active.is_(True))).all()
        return cls(SchemaDef(r.tenant_id, r.code, r.definition, r.description) for r in rows)

    def find(self, tenant_id: str, module: str, master: str) -> SchemaDef | None:
        return self.find_code(tenant_id, f"{module}.{master}")

    def find_code(self, tenant_id: str, code: str) -> SchemaDef | None:
        """The schema registered at the tenant, else at each parent (pb.amritsar -> pb)."""
        for candidate in fallback_chain(tenant_id):
            hit = self._by_key.get((candidate, code))
            if hit is not None:
                return hit
        return None

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[SchemaDef]:
        return iter(self._by_key.values())


# -- x-ref-schema --------------------------------------------------------------------------------
_TOKEN = re.compile(r"^([^\[\]]*)((?:\[(?:\*|\d+)\])*)$")


def _json_path_values(record: Any, field_path: str) -> tuple[bool, bool, list[Any]]:
    """Evaluate DIGIT's `$.<fieldPath>` the way Jayway JsonPath does for the forms that occur
    (a.b, a.*.b, a[*].b, a[0].b). Returns (definite, found, values): a definite path yields one
    value or is missing (Jayway: PathNotFoundException); a wildcard path yields the matches."""
    steps: list[str | int] = []
    for token in field_path.split("."):
        m = _TOKEN.match(token)
        if m is None:
            raise ValueError(f"unsupported fieldPath {field_path!r}")
        name, brackets = m.groups()
        if name:
            steps.append(name)
        for b in re.findall(r"\[(\*|\d+)\]", brackets):
            steps.append(b if b == "*" else int(b))
    definite = "*" not in steps
    current: list[Any] = [record]
    for step in steps:
        nxt: list[Any] = []
        for node in current:
            if step == "*":
                if isinstance(node, dict):
                    nxt.extend(node.values())
                elif isinstance(node, list):
                    nxt.extend(node)
            elif isinstance(step, int):
                if isinstance(node, list) and step < len(node):
                    nxt.append(node[step])
            elif isinstance(node, dict) and step in node:
                nxt.append(node[step])
        current = nxt
    if definite:
        return True, bool(current), current[:1]
    return False, True, current


def _reference_ids(values: list[Any], definite: bool) -> list[str] | None:
    """The identifiers to look up, or None when a value is not a string, a number or a list of
    them (DIGIT: "Reference must only be of the type string, number or a list ...")."""
    flat: list[Any] = []
    for v in values:
        if isinstance(v, list) and (definite or all(not isinstance(x, (list, dict)) for x in v)):
            flat.extend(v)
        else:
            flat.append(v)
    out: list[str] = []
    for v in flat:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            return None
        text = str(v)
        if text not in out:
            out.append(text)
    return out


def check_references(schema: SchemaDef, tenant_id: str, record: Any,
                     exists: Callable[[str, str, str], bool]) -> list[str]:
    """For each x-ref-schema entry, the value(s) at `fieldPath` must be the uniqueIdentifier of an
    existing record of `schemaCode`. `exists(tenant_id, schema_code, identifier)` is the caller's
    lookup (store with tenant fallback, plus the batch being applied). Returns messages; the caller
    reports them as REFERENCE_VALIDATION_ERR."""
    messages: list[str] = []
    for field_path, schema_code in schema.refs:
        try:
            definite, found, values = _json_path_values(record, field_path)
        except ValueError as err:
            messages.append(f"$.{field_path}: {err}")
            continue
        if not found:
            messages.append(f"$.{field_path}: missing; x-ref-schema requires a reference to {schema_code}")
            continue
        ids = _reference_ids(values, definite)
        if ids is None:
            messages.append(f"$.{field_path}: reference must only be of the type string, number "
                            f"or a list of strings/numbers (got {json.dumps(values[0] if definite else values)})")
            continue
        for ident in ids:
            if not exists(tenant_id, schema_code, ident):
                messages.append(f"$.{field_path}: {schema_code} has no record {ident!r} "
                                f"at {tenant_id} or a parent tenant")
    return messages


# -- reading schema files ------------------------------------------------------------------------
def _load_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def _definition_problems(definition: Any) -> list[tuple[str, str]]:
    """What DIGIT's SchemaDefinitionValidator refuses, plus a draft-07 meta-schema check."""
    if not isinstance(definition, dict):
        return [(INVALID_SCHEMA_DEFINITION, "definition must be a JSON object (a draft-07 schema)")]
    out: list[tuple[str, str]] = []
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft7Validator.check_schema(definition)
    except SchemaError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        out.append((INVALID_SCHEMA_DEFINITION, f"not a valid draft-07 schema at {where}: {err.message}"))
    required = definition.get("required")
    unique = definition.get("x-unique")
    if not isinstance(required, list) or not required:
        out.append((REQUIRED_ATTRIBUTE_LIST_ERR, "Required attribute list cannot be empty"))
    if not isinstance(unique, list) or not unique:
        out.append((UNIQUE_ATTRIBUTE_LIST_ERR, "Unique attribute list cannot be empty"))
    elif isinstance(required, list) and required:
        outside = [u for u in unique if u not in required]
        if outside:
            out.append((UNIQUE_ATTRIBUTE_LIST_ERR, "Fields provided under unique fields must be a subset "
                        f"of required attributes list: {', '.join(map(str, outside))} not in required"))
        props = definition.get("properties")
        unknown = [u for u in unique if not isinstance(props, dict) or str(u).split(".")[0] not in props]
        if unknown:
            out.append((UNIQUE_ATTRIBUTE_LIST_ERR,
                        f"x-unique names fields that are not among properties: {', '.join(map(str, unknown))}"))
    refs = definition.get("x-ref-schema")
    if refs is not None:
        bad = not isinstance(refs, list) or any(
            not isinstance(r, dict) or not isinstance(r.get("fieldPath"), str) or not r.get("fieldPath")
            or not isinstance(r.get("schemaCode"), str) or "." not in r.get("schemaCode", "")
            for r in refs)
        if bad:
            out.append((INVALID_REF_SCHEMA, "x-ref-schema must be a list of "
                        '{"fieldPath": "<dot path>", "schemaCode": "<module>.<master>"}'))
        else:
            for r in refs:
                try:
                    _json_path_values({}, r["fieldPath"])
                except ValueError as err:
                    out.append((INVALID_REF_SCHEMA, str(err)))
    return out


def _is_bare_definition(doc: dict[str, Any]) -> bool:
    return any(k in doc for k in ("$schema", "properties", "x-unique")) and "definition" not in doc


def parse_schema_file(path: str | Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Read a schema file in any of DIGIT's shapes (JSON or YAML):
    a search response {"SchemaDefinitions": [...]}, a create request {"SchemaDefinition": {...}},
    a list of SchemaDefinitions, or a bare draft-07 definition whose code is the file name.

    Returns the valid ones as DIGIT SchemaDefinition dicts {"tenantId" (None when the file does
    not say), "code", "description", "definition", "isActive"} and a Problem per refused one."""
    path = Path(path)
    src = str(path)
    try:
        doc = _load_document(path)
    except (OSError, UnicodeDecodeError, ValueError) as err:   # JSON and YAML errors are ValueErrors
        return [], [Problem(INVALID_JSON, f"Failed to deserialize json: {err}", file=src, severity="error")]
    except Exception as err:  # yaml.YAMLError is not a ValueError
        return [], [Problem(INVALID_JSON, f"Failed to deserialize yaml: {err}", file=src, severity="error")]

    candidates: list[Any]
    if isinstance(doc, dict) and isinstance(doc.get("SchemaDefinitions"), list):
        candidates = doc["SchemaDefinitions"]
    elif isinstance(doc, dict) and isinstance(doc.get("SchemaDefinition"), dict):
        candidates = [doc["SchemaDefinition"]]
    elif isinstance(doc, dict) and _is_bare_definition(doc):
        candidates = [{"code": path.stem, "definition": doc}]
    elif isinstance(doc, list):
        candidates = doc
    else:
        return [], [Problem(INVALID_REQUEST_JSON, "not a schema file: expected {\"SchemaDefinitions\": [...]}, "
                            "{\"SchemaDefinition\": {...}} or a draft-07 definition", file=src, severity="error")]

    found: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for index, item in enumerate(candidates):
        if not isinstance(item, dict):
            problems.append(Problem(INVALID_REQUEST_JSON, f"SchemaDefinitions[{index}] is not an object",
                                    file=src, severity="error"))
            continue
        code = item.get("code")
        tenant = item.get("tenantId")
        tenant = tenant if isinstance(tenant, str) and tenant.strip() else None
        module, _, master = code.partition(".") if isinstance(code, str) else ("", "", "")

        def problem(c: str, m: str) -> Problem:
            return Problem(c, m, file=src, tenant_id=tenant, module=module or None, master=master or None,
                           severity="error")

        if not isinstance(code, str) or not module or not master or not 2 <= len(code) <= 128:
            problems.append(problem(INVALID_SCHEMA_CODE,
                                    f"schema code {code!r} must be '<module>.<master>' (2-128 characters)"))
            continue
        issues = _definition_problems(item.get("definition"))
        if issues:
            problems.extend(problem(c, m) for c, m in issues)
            continue
        active = item.get("isActive", True)
        found.append({"tenantId": tenant, "code": code,
                      "description": item.get("description") if isinstance(item.get("description"), str) else None,
                      "definition": item["definition"],
                      "isActive": active if isinstance(active, bool) else str(active).lower() == "true"})
    return found, problems


def schema_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expand to every *.json / *.yaml / *.yml below them, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SCHEMA_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise InvalidInput("PATH_NOT_FOUND", f"no such file or folder: {p}", {"path": str(p)})
    return out


# -- applying ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchemaOutcome:
    tenant_id: str
    code: str
    file: str

    def as_json(self) -> dict[str, str]:
        return {"tenantId": self.tenant_id, "code": self.code, "file": self.file}


@dataclass
class SchemaApplyReport:
    added: list[SchemaOutcome] = field(default_factory=list)
    changed: list[SchemaOutcome] = field(default_factory=list)
    unchanged: list[SchemaOutcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    dry_run: bool = False

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(code, tenantId, status, file) in file order, for tables and csv."""
        rows = [(o.code, o.tenant_id, status, o.file)
                for status, items in (("added", self.added), ("changed", self.changed),
                                      ("unchanged", self.unchanged)) for o in items]
        return sorted(rows, key=lambda r: (r[3], r[0]))

    def as_json(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "files": self.files,
                "summary": {"added": len(self.added), "changed": len(self.changed),
                            "unchanged": len(self.unchanged), "problems": len(self.problems)},
                "added": [o.as_json() for o in self.added],
                "changed": [o.as_json() for o in self.changed],
                "unchanged": [o.as_json() for o in self.unchanged],
                "problems": [p.as_json() for p in self.problems]}


class SchemaApplyRefused(InvalidInput):
    """--strict: the batch had problems, nothing was written. `report` says what was found."""

    def __init__(self, report: SchemaApplyReport) -> None:
        n = len(report.problems)
        super().__init__(MDMS_SCHEMA_INVALID,
                         f"{n} problem{'s' if n != 1 else ''} in the schema files; nothing was written",
                         {"problems": [p.as_json() for p in report.problems]})
        self.report = report


def _payload(tenant_id: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"tenantId": tenant_id, "code": item["code"], "description": item["description"],
            "definition": item["definition"], "isActive": item["isActive"]}


def apply_schemas(app: "App", ctx: "RequestContext", paths: list[Path], *, tenant_id: str | None = None,
                  dry_run: bool = False, strict: bool = False) -> SchemaApplyReport:
    """Register the schema definitions in `paths` (files or folders), idempotently.

    Tenant of a definition: `tenant_id` when given (an administrator re-targets schemas
    exported from another deployment: the reference set says tenantId "pg", DIGIT's sandbox),
    else its own tenantId, else the store's state tenant; like DIGIT, the schema is kept at that
    tenant's state level. An identical definition is
    unchanged; a changed one is updated in place. One event per added/changed schema.
    `dry_run` computes everything and commits nothing; `strict` refuses the whole batch
    (SchemaApplyRefused, MDMS_SCHEMA_INVALID) when any file had a problem."""
    report = SchemaApplyReport(dry_run=dry_run)
    parsed: list[tuple[str, list[dict[str, Any]]]] = []
    for f in schema_files(paths):
        items, problems = parse_schema_file(f)
        parsed.append((str(f), items))
        report.problems.extend(problems)
    report.files = len(parsed)

    with app.uow(ctx) as uow:
        default = tenant_id or uow.meta("state_tenant")
        planned: list[tuple[str, str, dict[str, Any]]] = []      # (file, tenant, item)
        for src, items in parsed:
            for item in items:
                tenant = tenant_id or item["tenantId"] or default
                if not tenant:
                    raise InvalidInput("INVALID_TENANTID",
                                       f"{src}: {item['code']} names no tenantId; pass --tenant or "
                                       "initialize the store with a state (digitctl init --state pb)",
                                       {"file": src, "code": item["code"]})
                planned.append((src, state_of(tenant), item))
        store_state = uow.meta("state_tenant")
        foreign = sorted({(t, src) for src, t, _ in planned if store_state and t != store_state})
        if foreign and not tenant_id:
            # DIGIT's reference schemas say "pg" (its sandbox): registered there they would never
            # validate this state's records, so say it instead of storing them where nothing looks
            raise InvalidInput("MDMS_SCHEMA_TENANT_MISMATCH",
                               f"{len(foreign)} schema file(s) name tenant {foreign[0][0]!r} "
                               f"(e.g. {Path(foreign[0][1]).name}), not this store's state {store_state!r}; "
                               f"pass --tenant {store_state} to register them for {store_state}",
                               {"storeState": store_state, "tenants": sorted({t for t, _ in foreign}),
                                "files": [f for _, f in foreign[:10]]})
        tenants = sorted({t for _, t, _ in planned})
        scopes: list[str | None] = [*tenants] or [state_of(default) if default else None]
        for t in scopes:
            authorize(app, ctx, CREATE_ACTION, t)

        existing: dict[tuple[str, str], MdmsSchema] = {}
        if planned:
            rows = uow.session.execute(select(MdmsSchema).where(MdmsSchema.tenant_id.in_(tenants))).scalars()
            existing = {(r.tenant_id, r.code): r for r in rows}
        in_batch: dict[tuple[str, str], tuple[str, str]] = {}     # key -> (payload hash, file)
        now = ctx.now()
        for src, tenant, item in planned:
            key = (tenant, item["code"])
            payload = _payload(tenant, item)
            outcome = SchemaOutcome(tenant, item["code"], src)
            seen = in_batch.get(key)
            if seen is not None:
                if seen[0] == content_hash(payload):
                    report.unchanged.append(outcome)
                else:
                    report.problems.append(Problem(
                        DUPLICATE_SCHEMA_CODE, f"Schema code already exists in this batch ({seen[1]}) "
                        "with a different definition; this one was skipped", file=src, tenant_id=tenant,
                        module=item["code"].split(".", 1)[0], master=item["code"].split(".", 1)[1],
                        severity="error"))
                continue
            in_batch[key] = (content_hash(payload), src)
            row = existing.get(key)
            def_hash = content_hash(item["definition"])
            if row is None:
                before = None
                uow.session.add(MdmsSchema(tenant_id=tenant, code=item["code"], description=item["description"],
                                           definition=item["definition"], definition_hash=def_hash,
                                           is_active=item["isActive"], created_at=now, updated_at=now))
                report.added.append(outcome)
            elif (row.definition_hash, row.description, row.is_active) == (def_hash, item["description"],
                                                                           item["isActive"]):
                report.unchanged.append(outcome)
                continue
            else:
                before = {"tenantId": row.tenant_id, "code": row.code, "description": row.description,
                          "definition": row.definition, "isActive": row.is_active}
                row.definition, row.definition_hash = item["definition"], def_hash
                row.description, row.is_active, row.updated_at = item["description"], item["isActive"], now
                report.changed.append(outcome)
            digit = dict(payload, auditDetails={"createdBy": ctx.actor.uuid, "lastModifiedBy": ctx.actor.uuid,
                                                "createdTime": epoch_millis(row.created_at if row else now),
                                                "lastModifiedTime": epoch_millis(now)})
            uow.record(Event(EVENT_TYPE, tenant, "MdmsSchema", item["code"], CREATE_ACTION, digit,
                             before=before, after=payload))
        if strict and report.problems:
            raise SchemaApplyRefused(report)
        if not dry_run:
            uow.commit()
    return report

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

This module is the pure engine (no store): definitions, validation, x-unique and x-ref-schema
paths; `mdms_schema_files` reads schema files. `digitctl.services.mdms_schema` registers them in a store.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from digitctl.domain.canonical import content_hash
from digitctl.domain.mdms import unique_key
from digitctl.domain.tenancy import fallback_chain

if TYPE_CHECKING:
    from jsonschema import Draft7Validator, ValidationError

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
    """Active schemas, looked up with DIGIT's tenant fallback (the service loads a store's)."""

    def __init__(self, schemas: Iterable[SchemaDef] = ()) -> None:
        self._by_key: dict[tuple[str, str], SchemaDef] = {}
        for s in schemas:
            self._by_key[(s.tenant_id, s.code)] = s


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

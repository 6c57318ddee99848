"""Workflow definitions: DIGIT BusinessService files read, checked and loaded as they are
(versioned: a changed definition is a new version, an unchanged one is left alone), found where
egov-workflow-v2 looks for them (`Workflow.BusinessServiceMasterConfig`), and shown as
`businessservice/_search` returns them."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from digitctl.domain import workflow as wf
from digitctl.domain.canonical import content_hash
from digitctl.domain.events import Event
from digitctl.domain.mdms import as_bool
from digitctl.domain.tenancy import fallback_chain, state_of
from digitctl.errors import InvalidInput, NotFound
from digitctl.services.access import authorize
from local_store.models import WfBusinessService

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App
    from digitctl.context import RequestContext

CREATE_ACTION = "/egov-workflow-v2/egov-wf/businessservice/_create"
SEARCH_DEFINITION_ACTION = "/egov-workflow-v2/egov-wf/businessservice/_search"


def read_files(paths: list[Path]) -> list[tuple[dict[str, Any], str]]:
    """BusinessService dicts from files: `{"BusinessServices": [...]}` (bare, or a whole _create
    request with RequestInfo), a single BusinessService object, or a list; JSON or YAML."""
    out: list[tuple[dict[str, Any], str]] = []
    files: list[Path] = []
    for p in paths:
        if not p.exists():
            raise InvalidInput("WORKFLOW_PATH_NOT_FOUND", f"no such file or folder: {p}", {"path": str(p)})
        files += sorted(x for x in p.rglob("*") if x.suffix in (".json", ".yaml", ".yml")) if p.is_dir() else [p]
    for f in files:
        text = f.read_text(encoding="utf-8-sig")
        try:
            if f.suffix in (".yaml", ".yml"):
                import yaml

                doc = yaml.safe_load(text)
            else:
                doc = json.loads(text)
        except Exception as err:
            raise InvalidInput("WORKFLOW_INVALID_FILE", f"{f}: not valid {f.suffix[1:].upper()}: {err}",
                               {"file": str(f)}) from None
        items = doc.get("BusinessServices") if isinstance(doc, dict) and "BusinessServices" in doc else doc
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InvalidInput("WORKFLOW_INVALID_FILE", f"{f}: no BusinessServices in it", {"file": str(f)})
        out += [(i, str(f)) for i in items]
    return out


@dataclass
class ApplyReport:
    dry_run: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "businessServices": self.rows, "warnings": self.warnings}


def _known_roles(app: "App", tenant: str) -> set[str] | None:
    roles = {r.get("code") for r in app.mdms.master(state_of(tenant), "ACCESSCONTROL-ROLES", "roles")
             if isinstance(r, dict)}
    return {r for r in roles if r} or None


def retarget(doc: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """The same definition at another tenant (e.g. the real NewTL, written for pb.amritsar,
    at the state pb so that every city uses it)."""
    out: dict[str, Any] = json.loads(json.dumps(doc))
    out["tenantId"] = tenant_id
    for st in out.get("states") or []:
        st["tenantId"] = tenant_id
        for a in st.get("actions") or []:
            a["tenantId"] = tenant_id
    return out


def apply(app: "App", ctx: "RequestContext", paths: list[Path], *, dry_run: bool = False,
          tenant_id: str | None = None) -> ApplyReport:
    """Load definitions; any invalid one refuses the whole apply with the reasons (nothing written).
    `tenant_id` re-targets every definition to that tenant."""
    found = read_files(paths)
    if tenant_id:
        found = [(retarget(doc, tenant_id), f) for doc, f in found]
    report = ApplyReport(dry_run)
    problems: list[str] = []
    parsed = []
    for doc, f in found:
        defn = wf.parse(doc)
        errors, warnings = wf.check(defn, _known_roles(app, defn.tenant_id))
        used_at = definition_tenant(app, defn.tenant_id, defn.code)
        if used_at != defn.tenant_id:
            warnings = [*warnings, f"Workflow.BusinessServiceMasterConfig makes {defn.code} state-level: DIGIT "
                        f"uses the definition at {used_at} in every city, never this one at {defn.tenant_id} "
                        f"(apply it with --tenant {used_at})"]
        problems += [f"{defn.code} ({f}): {e}" for e in errors]
        report.warnings += [f"{defn.code}: {w}" for w in warnings]
        parsed.append((defn, doc, f))
    if problems:
        raise InvalidInput("WORKFLOW_INVALID", "; ".join(problems[:5]) + ("" if len(problems) <= 5 else " ..."),
                           {"problems": problems})
    with app.uow(ctx) as uow:
        s = uow.session
        for defn, doc, f in parsed:
            authorize(app, ctx, CREATE_ACTION, defn.tenant_id)
            clean = {k: v for k, v in doc.items() if k not in ("auditDetails",)}
            h = content_hash(clean)
            cur = s.execute(select(WfBusinessService).where(
                WfBusinessService.tenant_id == defn.tenant_id, WfBusinessService.code == defn.code,
                WfBusinessService.is_current.is_(True))).scalar_one_or_none()
            if cur is not None and cur.definition_hash == h:
                report.rows.append({"businessService": defn.code, "tenantId": defn.tenant_id,
                                    "version": cur.version, "status": "unchanged", "file": f})
                continue
            version = (cur.version + 1) if cur else 1
            if cur is not None:
                cur.is_current = False
            s.add(WfBusinessService(tenant_id=defn.tenant_id, code=defn.code, business=defn.business,
                                    version=version, sla_ms=defn.sla_ms, definition=clean, definition_hash=h,
                                    is_current=True, created_at=ctx.now()))
            uow.record(Event("workflow.businessservice.upserted", defn.tenant_id, "BusinessService",
                             f"{defn.tenant_id}:{defn.code}", CREATE_ACTION, {"BusinessServices": [clean]},
                             before={"version": cur.version} if cur else None, after={"version": version}))
            report.rows.append({"businessService": defn.code, "tenantId": defn.tenant_id, "version": version,
                                "status": "added" if cur is None else "new version", "file": f})
        if not dry_run:
            uow.commit()
    return report


_PARSED: dict[str, wf.Definition] = {}


def _parsed(row: WfBusinessService) -> wf.Definition:
    # keyed by content, not row id: one process may hold several stores (tests, the hub)
    d = _PARSED.get(row.definition_hash)
    if d is None:
        d = _PARSED[row.definition_hash] = wf.parse(row.definition)
    return d


def definition_tenant(app: "App", tenant_id: str, code: str, conn: Any = None) -> str:
    """Where DIGIT's egov-workflow-v2 keeps the definition of `code` used at `tenant_id`
    (BusinessServiceRepository.getBusinessServices): at the state unless the state's
    `Workflow.BusinessServiceMasterConfig` says `isStatelevel` false for it (a service it does not
    name is state-level); then at the tenant itself. No fallback either way."""
    for rec in app.mdms.at_state(tenant_id, "Workflow", "BusinessServiceMasterConfig", conn):
        if isinstance(rec, dict) and rec.get("businessService") == code:
            if not as_bool(rec.get("isStatelevel", True)):
                return tenant_id
            break
    return state_of(tenant_id)


def load(app: "App", s: "Session", tenant_id: str, code: str,
         version: int | None = None) -> tuple[WfBusinessService, wf.Definition]:
    """The definition used at a tenant (see `definition_tenant`); the current version unless asked."""
    at = definition_tenant(app, tenant_id, code, s.connection())
    q = select(WfBusinessService).where(WfBusinessService.tenant_id == at, WfBusinessService.code == code)
    q = q.where(WfBusinessService.version == version) if version is not None else \
        q.where(WfBusinessService.is_current.is_(True))
    row = s.execute(q).scalar_one_or_none()
    if row is not None:
        return row, _parsed(row)
    where = "the state" if at != tenant_id else tenant_id
    raise NotFound("BUSINESSSERVICE_NOT_FOUND",
                   f"no workflow {code!r} for {tenant_id}: DIGIT looks it up at {where} ({at}) as "
                   "Workflow.BusinessServiceMasterConfig says; load it there with "
                   f"`digitctl workflow apply FILE --tenant {at}`",
                   {"businessService": code, "tenantId": tenant_id, "definitionTenant": at})


def list_definitions(app: "App", ctx: "RequestContext", tenant_id: str | None = None) -> list[dict[str, Any]]:
    authorize(app, ctx, SEARCH_DEFINITION_ACTION, tenant_id)
    with app.uow(ctx, readonly=True) as uow:
        q = select(WfBusinessService).where(WfBusinessService.is_current.is_(True))
        if tenant_id:
            q = q.where(WfBusinessService.tenant_id.in_(fallback_chain(tenant_id)))
        rows = uow.session.execute(q.order_by(WfBusinessService.code, WfBusinessService.tenant_id)).scalars()
        return [{"businessService": r.code, "tenantId": r.tenant_id, "business": r.business, "version": r.version,
                 "states": len(_parsed(r).states), "businessServiceSla": r.sla_ms} for r in rows]


def get_definition(app: "App", ctx: "RequestContext", code: str, tenant_id: str) -> tuple[dict[str, Any], wf.Definition]:
    """(DIGIT's BusinessService as `businessservice/_search` returns it, the parsed definition)."""
    authorize(app, ctx, SEARCH_DEFINITION_ACTION, tenant_id)
    with app.uow(ctx, readonly=True) as uow:
        row, defn = load(app, uow.session, tenant_id, code)
        return business_service_json(row), defn


_UUID_NAMESPACE = uuid.UUID("6f1c4f3e-52d1-4d0e-9a53-0c6b7e2f4a10")     # digitctl's workflow uuids


def _stable_uuid(*parts: Any) -> str:
    return str(uuid.uuid5(_UUID_NAMESPACE, "|".join("" if p is None else str(p) for p in parts)))


def business_service_json(row: WfBusinessService) -> dict[str, Any]:
    """A stored definition as egov-workflow-v2 returns it from `_search`: uuids on the service,
    its states and actions (EnrichmentService gives them on create and keeps them on update; a
    file that carries them keeps them), each action's `currentState` and `nextState` as STATE
    uuids (as DIGIT stores them), tenantId on every part. Uuids digitctl gives are derived from
    tenant, business service and names, so they stay the same across versions and reads."""
    raw = row.definition
    tenant, code = row.tenant_id, row.code
    bs_uuid = raw.get("uuid") or _stable_uuid(tenant, code)
    created = int(row.created_at.timestamp() * 1000)
    audit = {"createdBy": None, "createdTime": created, "lastModifiedBy": None, "lastModifiedTime": created}
    state_uuid = {s.get("state"): s.get("uuid") or _stable_uuid(tenant, code, "state", s.get("state"))
                  for s in raw.get("states") or []}
    states = []
    for s in raw.get("states") or []:
        sid = state_uuid[s.get("state")]
        actions = [{**a, "uuid": a.get("uuid") or _stable_uuid(tenant, code, "action", s.get("state"), a.get("action")),
                    "tenantId": tenant, "currentState": sid,
                    "nextState": state_uuid.get(a.get("nextState"), a.get("nextState")),
                    "active": a.get("active", True), "auditDetails": audit}
                   for a in s.get("actions") or []]
        states.append({**s, "uuid": sid, "tenantId": tenant, "businessServiceId": bs_uuid,
                       "actions": actions or s.get("actions"), "auditDetails": audit})
    return {**raw, "uuid": bs_uuid, "tenantId": tenant, "businessService": code, "version": row.version,
            "states": states, "auditDetails": audit}

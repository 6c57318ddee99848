"""What an application's module checks on create, as DIGIT's do, and the table of modules:
each business service's DIGIT URLs and number series (`SERVICES`, `spec_for`), fields that name
master data (NewTL `tradeType` in TradeLicense.TradeType as tl-services' MDMSValidator, PGR
`serviceCode` in RAINMAKER-PGR.ServiceDefs as pgr-services' validator), the city's own
localities, and documents in the tenant's file store."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from digitctl.domain.tenancy import fallback_chain
from digitctl.errors import InvalidInput
from local_store.models import FileStoreObject

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from digitctl.ports import App


@dataclass(frozen=True)
class MasterField:
    """A `details` field that names a master record: required, and one of the master's active
    records' `key` values (read through app.mdms at the application's tenant)."""

    field: str
    module: str
    master: str
    key: str
    code: str                 # the refusal's code


@dataclass(frozen=True)
class ServiceSpec:
    """What a module's application needs: its DIGIT URLs, its number series, what it checks."""

    create_url: str
    search_url: str
    id_name: str
    fallback_format: str      # used when common-masters.IdFormat has no `id_name`; {STATE} = PB
    needs_locality: bool = False
    master_fields: tuple[MasterField, ...] = ()


# The real URLs (pb ACCESSCONTROL-ACTIONS-TEST) and idnames (each module's application.properties).
SERVICES: dict[str, ServiceSpec] = {
    "NewTL": ServiceSpec("/tl-services/v1/_create", "/tl-services/v1/_search", "tl.aplnumber",
                         "{STATE}-TL-[cy:yyyy-MM-dd]-[SEQ_EG_TL_APL]", needs_locality=True,
                         master_fields=(MasterField("tradeType", "TradeLicense", "TradeType", "code",
                                                    "INVALID_TRADETYPE"),)),
    "PGR": ServiceSpec("/pgr-services/v2/request/_create", "/pgr-services/v2/request/_search",
                       "pgr.servicerequestid", "{STATE}-PGR-[cy:yyyy-MM-dd]-[SEQ_EG_PGR_ID]", needs_locality=True,
                       master_fields=(MasterField("serviceCode", "RAINMAKER-PGR", "ServiceDefs", "serviceCode",
                                                  "INVALID_SERVICECODE"),)),
    "PT.CREATE": ServiceSpec("/property-services/property/_create", "/property-services/property/_search",
                             "pt.acknowledgementnumber", "{STATE}-AC-[cy:yyyy-MM-dd]-[SEQ_EG_PT_ACK]",
                             needs_locality=True),
    "NewWS1": ServiceSpec("/ws-services/wc/_create", "/ws-services/wc/_search", "waterservice.application.id",
                          "WS_AP/[CITY.CODE]/[fy:yyyy-yy]/[SEQ_WS_APP_[TENANT_ID]]"),
    "FIRENOC": ServiceSpec("/firenoc-services/v1/_create", "/firenoc-services/v1/_search", "noc.application.number",
                           "{STATE}-NOCSRV-[cy:yyyy-MM-dd]-[SEQ_EG_NOC_APN]"),
}
GENERIC_CREATE = "/digitctl/application/_create"
GENERIC_SEARCH = "/digitctl/application/_search"


def spec_for(business_service: str) -> ServiceSpec:
    known = SERVICES.get(business_service)
    if known is not None:
        return known
    code = re.sub(r"[^A-Z0-9]", "_", business_service.upper())
    return ServiceSpec(GENERIC_CREATE, GENERIC_SEARCH, f"{business_service.lower()}.aplnumber",
                       f"{{STATE}}-{code}-[cy:yyyy-MM-dd]-[SEQ_EG_APP_{code}]")


# -- validation ------------------------------------------------------------------------------------
def localities(app: "App", tenant_id: str, conn: Any = None) -> dict[str, str]:
    """Locality code -> name from the city's own REVENUE and ADMIN boundaries."""
    from digitctl.services.tenants import flatten

    found_at, records = app.mdms.resolve(tenant_id, "egov-location", "TenantBoundary", conn)
    if found_at != tenant_id:
        return {}
    out: dict[str, str] = {}
    for rec in records:
        if not isinstance(rec, dict) or not isinstance(rec.get("boundary"), dict):
            continue
        if str((rec.get("hierarchyType") or {}).get("code", "")).upper() not in ("REVENUE", "ADMIN"):
            continue
        for node in flatten(rec["boundary"]):
            if str(node.get("label") or "").lower() == "locality" and node.get("code"):
                out.setdefault(str(node["code"]), str(node.get("name") or node["code"]))
    return out


def _check_locality(app: "App", tenant_id: str, locality: str, conn: Any) -> str:
    known = localities(app, tenant_id, conn)
    if locality in known:
        return known[locality]
    sample = ", ".join(sorted(known)[:5])
    raise InvalidInput("INVALID_LOCALITY",
                       f"{locality!r} is not a locality of {tenant_id}"
                       + (f" (e.g. {sample}; see `digitctl boundary show --tenant {tenant_id}`)" if known
                          else ": the tenant has no REVENUE/ADMIN boundaries loaded"),
                       {"locality": locality, "tenantId": tenant_id, "valid": sorted(known)[:5]})


def _check_master_fields(app: "App", spec: ServiceSpec, business_service: str, tenant_id: str,
                         details: dict[str, Any] | None, conn: Any) -> None:
    for mf in spec.master_fields:
        value = (details or {}).get(mf.field)
        where = f"{mf.module}.{mf.master}"
        if value is None or value == "":
            raise InvalidInput(mf.code, f"{business_service} needs details.{mf.field} (a code of {where})",
                               {"field": mf.field})
        known = {str(r.get(mf.key)) for r in app.mdms.master(tenant_id, mf.module, mf.master, conn)
                 if isinstance(r, dict) and r.get(mf.key) is not None
                 and str(r.get("active", True)).strip().lower() != "false"}
        if not isinstance(value, str) or value not in known:
            sample = ", ".join(sorted(known)[:5])
            raise InvalidInput(mf.code, f"{mf.field} {value!r} is not in {where} at {tenant_id}"
                               + (f" (e.g. {sample})" if known else f": {where} is not loaded"),
                               {"field": mf.field, "value": str(value), "master": where})


def _check_documents(s: "Session", tenant_id: str, documents: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    docs = []
    for d in documents or []:
        fid = d.get("fileStoreId") if isinstance(d, dict) else None
        obj = s.get(FileStoreObject, fid) if isinstance(fid, str) else None
        if obj is None or obj.tenant_id not in fallback_chain(tenant_id):
            raise InvalidInput("INVALID_DOCUMENT", f"document {fid!r} is not in the file store of {tenant_id}",
                               {"fileStoreId": fid})
        docs.append({"documentType": d.get("documentType") or "DOCUMENT", "fileStoreId": fid})
    return docs

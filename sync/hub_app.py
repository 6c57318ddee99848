"""The hub over HTTP (sync/PROTOCOL.md): a FastAPI app whose routes only translate HTTP to the
services in digitctl/services/hub_*.py and DigitError back to DIGIT's error envelope with the
status the error carries (400 / 401 / 403 / 409). Stateless: every worker process builds its own
App on the same store; what one counter sends is serialised by the store's row lock.

Imported only by `digitctl hub serve` and tests: fastapi is heavy."""
from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from digitctl import bootstrap
from digitctl.context import RequestContext
from digitctl.errors import DigitError, Forbidden, InvalidInput, errors_envelope
from digitctl.services import hub_applyloop, hub_ingest, hub_pull, hub_reconcile
from digitctl.services.hub_auth import SignedRequest

STORE_ENV = "DIGIT_HUB_STORE"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost", "testclient"})
log = logging.getLogger("digitctl.hub")


def _envelope(application: bootstrap.App, err: DigitError) -> JSONResponse:
    info = RequestContext(clock=application.clock).response_info("FAILED")
    return JSONResponse(errors_envelope([err], info), status_code=err.http_status)


def _unexpected(err: Exception) -> DigitError:
    from digitctl.services.store import constraint_refusal, unavailable_reason

    refused = constraint_refusal(err)
    if refused is not None:
        return refused
    reason = unavailable_reason(err)
    failure = DigitError("STORE_UNAVAILABLE" if reason else "INTERNAL_ERROR",
                         reason or f"{type(err).__name__}: the hub could not handle the request")
    failure.http_status = 503 if reason else 500
    return failure


def _apply_after(application: bootstrap.App, code: str) -> None:
    """Apply what the batch stored, after its transaction committed (a failure here leaves the
    events `stored` for the next push or `digitctl hub apply`)."""
    try:
        hub_applyloop.apply_counter(application, code)
    except Exception:  # noqa: BLE001 - the push itself succeeded; log and let the next run retry
        log.exception("applying counter %s's events failed", code)


def _apply_left_over(application: bootstrap.App) -> None:
    """At start: apply what a hub that stopped (or was killed) between storing a batch and applying
    it left `stored`, without waiting for those counters' next push."""
    try:
        counts = hub_applyloop.apply_pending(application)
        if any(counts.values()):
            log.info("applied events left stored by an earlier run: %s", counts)
    except Exception:  # noqa: BLE001 - the next push or `digitctl hub apply` tries again
        log.exception("applying events left stored by an earlier run failed")


def create_app(store_url: str) -> FastAPI:
    """The hub's ASGI app over the store at `store_url` (PostgreSQL, or SQLite for a one-PC trial)."""
    application = bootstrap.build(store_url)

    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_apply_left_over, application)
        yield
        application.close()

    api = FastAPI(title="digitctl hub", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    api.state.digit_app = application

    @api.exception_handler(DigitError)
    async def _digit_error(_request: Request, err: DigitError) -> JSONResponse:
        return _envelope(application, err)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        refusal = DigitError("NOT_FOUND" if err.status_code == 404 else "INVALID_REQUEST", str(err.detail))
        refusal.http_status = err.status_code
        return _envelope(application, refusal)

    @api.exception_handler(Exception)
    async def _other_error(_request: Request, err: Exception) -> JSONResponse:
        log.exception("hub request failed")
        return _envelope(application, _unexpected(err))

    async def _signed(request: Request) -> SignedRequest:
        body = await request.body()
        return SignedRequest(request.method, request.url.path, request.headers, body)

    @api.get("/health")
    async def health() -> JSONResponse:
        ok = await run_in_threadpool(hub_reconcile.store_ok, application)
        return JSONResponse({"status": "UP" if ok else "DOWN", "store": "ok" if ok else "unreachable"},
                            status_code=200 if ok else 503)

    @api.get("/metrics")
    async def metrics(request: Request) -> Response:
        if request.client is None or request.client.host not in LOOPBACK:
            raise Forbidden("ACCESS_DENIED", "metrics are served to loopback callers only")
        text = await run_in_threadpool(hub_reconcile.metrics_text, application)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @api.post(hub_ingest.REGISTER_ACTION)
    async def register(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(await run_in_threadpool(hub_ingest.register, application, body))

    @api.post(hub_ingest.PUSH_ACTION)
    async def push(request: Request) -> JSONResponse:
        req = await _signed(request)
        status, answer = await run_in_threadpool(hub_ingest.push, application, req)
        code = req.header("X-Digit-Counter") or ""
        # applied in the same request, after the storing transaction committed: when the counter
        # has its answer, the hub's store shows the batch, and `parked` says what it could not apply
        await run_in_threadpool(_apply_after, application, code)
        parked = await run_in_threadpool(hub_ingest.parked_of, application, code)
        return JSONResponse({**answer, "parked": parked}, status_code=status)

    @api.get("/sync/v1/counters/{code}/_status")
    async def status(code: str, request: Request) -> JSONResponse:
        req = await _signed(request)
        if req.header("X-Digit-Counter") != code:
            raise InvalidInput("SYNC_INVALID_REQUEST", "a counter asks only for its own status", {"counterCode": code})
        return JSONResponse(await run_in_threadpool(hub_ingest.status, application, req))

    @api.post(hub_pull.PULL_ACTION)
    async def pull(request: Request) -> JSONResponse:
        req = await _signed(request)
        return JSONResponse(await run_in_threadpool(hub_pull.pull, application, req))

    return api


def app_from_env() -> FastAPI:
    """uvicorn's factory for `--workers N`: each worker process builds its app from the store URL
    `digitctl hub serve` put in DIGIT_HUB_STORE."""
    url = os.environ.get(STORE_ENV)
    if not url:
        raise RuntimeError(f"{STORE_ENV} is not set: start the hub with `digitctl hub serve --store URL`")
    return create_app(url)

"""The home page and the probes: ``/`` (who is signed in, if anyone), ``/healthz`` (the
process answers) and ``/readyz`` (store, schema and Temporal reachable: runtime/health.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from runtime.health import readiness
from web.deps import MaybeSignedIn
from web.rendering import page
from web.state import State

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(email: MaybeSignedIn) -> HTMLResponse:  # plain def: the session read, in a thread
    return page("home.html", signed_in=email)


@router.get("/healthz", response_class=PlainTextResponse)
async def healthz() -> str:
    return "ok"


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    # Store reachable, schema current, Temporal reachable (runtime/health.py); a load
    # balancer takes the process out of rotation on 503 and reads the reason.
    client = state.service.client if state.service is not None else None
    result = await readiness(state.engine, client)
    body = {"status": "ready" if result.ready else "not ready", "reason": result.reason()}
    return JSONResponse(
        {**body, "checks": [c.model_dump() for c in result.checks]},
        status_code=200 if result.ready else 503,
        headers={"Cache-Control": "no-store"},
    )

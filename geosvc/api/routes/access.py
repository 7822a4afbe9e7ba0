"""``/access-requests``: signed-in callers ask for a restricted layer; stewards approve or deny.

Asking does not reveal whether a restricted layer exists: any well-formed id that is not a public layer is
accepted (a steward sees and denies requests for ids that name nothing).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from geosvc.auth.access import decide_request, request_access
from geosvc.auth.caller import Caller, utcnow
from geosvc.auth.middleware import caller_of
from geosvc.auth.requests import parse_expiry
from geosvc.errors import Forbidden, InvalidParameter, Unauthorized
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer


class NewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layer: str = Field(description="Id of the restricted layer")
    role: str = Field(description="Role wanted (one of the layer's access roles)")
    purpose: str = Field(description="What the data will be used for")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires: str | None = Field(None, description="Approvals only: '30d', '12h', '90m' or an ISO 8601 date-time")
    note: str | None = None


def _signed_in(request: Request) -> Caller:
    caller = caller_of(request)
    if caller.anonymous:
        raise Unauthorized("sign in (bearer token or API key) to use access requests")
    return caller


def _steward(request: Request) -> Caller:
    caller = _signed_in(request)
    role = request.app.state.settings.auth.steward_role
    if role not in caller.roles:
        raise Forbidden(f"deciding access requests needs the '{role}' role")
    return caller


def create_router() -> APIRouter:
    """Router with ``POST|GET /access-requests`` and ``POST /access-requests/{id}/approve|deny``."""
    router = APIRouter(prefix="/access-requests", tags=["access"])

    @router.post("", status_code=201, operation_id="requestAccess", summary="Ask for access to a restricted layer")
    def create(body: NewRequest, request: Request) -> dict:
        caller = _signed_in(request)
        for layer in request.app.state.store.published():
            if layer.id == body.layer and layer.record.sensitivity == "public":
                raise InvalidParameter(f"layer '{body.layer}' is public: no access request needed", param="layer")
        return request_access(request.app.state.access_store, caller, body.layer, body.role, body.purpose,
                              request.url.path).as_dict()

    @router.get("", operation_id="listAccessRequests", summary="Your access requests (all of them for a steward)")
    def list_requests(request: Request) -> dict:
        caller = _signed_in(request)
        steward = request.app.state.settings.auth.steward_role in caller.roles
        found = request.app.state.access_store.list_requests(None if steward else caller.subject)
        return {"requests": [r.as_dict() for r in found]}

    async def _decide(request_id: int, body: Decision | None, request: Request, approve: bool) -> dict:
        steward = _steward(request)
        body = body or Decision()
        now = utcnow()
        expires = parse_expiry(body.expires, now) if body.expires else None
        records = {layer.id: layer.record for layer in request.app.state.store.published()}
        decided = await run_in_threadpool(decide_request, request.app.state.access_store, request_id, approve,
                                          steward, records, request.url.path, expires_at=expires, note=body.note,
                                          at=now)
        return decided.as_dict()

    @router.post("/{request_id}/approve", operation_id="approveAccessRequest", summary="Approve (steward)")
    async def approve(request_id: int, request: Request, body: Decision | None = None) -> dict:
        return await _decide(request_id, body, request, True)

    @router.post("/{request_id}/deny", operation_id="denyAccessRequest", summary="Deny (steward)")
    async def deny(request_id: int, request: Request, body: Decision | None = None) -> dict:
        return await _decide(request_id, body, request, False)

    return router


def install_access(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """``create_app`` hook: the access-request routes (the access database is ``app.state.access_store``)."""
    app.include_router(create_router())

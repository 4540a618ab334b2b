"""Gateway JWT authentication: HS256 with ``GATEWAY_JWT_SECRET``, ``exp`` required (claims
and roles: docs/api.md, "Authentication")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from billing_kit.errors import ForbiddenError, NotFoundError, UnauthenticatedError


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    CLIENT = "client"
    PLATFORM_OPERATOR = "platform_operator"


AGENCY_BILLING = (Role.OWNER, Role.ADMIN)


class Principal(BaseModel):
    """Who is calling, as the gateway vouches."""

    sub: str
    role: Role
    agency_id: str | None = None
    workspace_ids: list[str] = []
    email: str | None = None

    def require_agency(self) -> str:
        if self.agency_id is None:
            raise ForbiddenError("This action needs an agency.")
        return self.agency_id

    def require_workspace(self, workspace_id: str) -> None:
        """Clients see only their own workspaces; anything else is as if it did not exist."""
        if workspace_id not in self.workspace_ids:
            raise NotFoundError()


def decode_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "sub", "role"]}
        )
        principal = Principal.model_validate(claims)
    except (jwt.PyJWTError, ValidationError) as exc:
        raise UnauthenticatedError() from exc
    if principal.role != Role.PLATFORM_OPERATOR and principal.agency_id is None:
        raise UnauthenticatedError("The token names no agency.")
    return principal


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthenticatedError()
    secret: str = request.app.state.jwt_secret
    return decode_token(credentials.credentials, secret)


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Dependency: the caller must hold one of ``roles``; a client must also be a member of
    the path's workspace. Both are checked before the endpoint runs, so an
    ``Idempotency-Key`` replay is authorized exactly like a new request."""

    async def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.role not in roles:
            raise ForbiddenError()
        workspace_id = request.path_params.get("workspace_id")
        if principal.role == Role.CLIENT and workspace_id is not None:
            principal.require_workspace(workspace_id)
        return principal

    return dependency


Owner = Annotated[Principal, Depends(require_roles(Role.OWNER))]
"""The agency's owner (Connect onboarding, the revenue dashboard)."""
AgencyStaff = Annotated[Principal, Depends(require_roles(*AGENCY_BILLING))]
"""An agency's owner or admin: whoever may bill the agency's clients."""
Client = Annotated[Principal, Depends(require_roles(Role.CLIENT))]
"""A client member, in the workspaces they belong to."""
Operator = Annotated[Principal, Depends(require_roles(Role.PLATFORM_OPERATOR))]
"""The platform's operator (suspensions, SaaS-fee plans, collections)."""

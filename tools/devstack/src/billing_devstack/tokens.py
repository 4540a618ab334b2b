"""Development gateway tokens: the HS256 JWTs the gateway signs, minted locally.

The claims are the kit's :class:`~billing_kit.auth.Principal`, so a token minted here is
exactly what the services' auth accepts; ``billing-stack token`` prints one.
"""

from __future__ import annotations

import time

import jwt

from billing_kit.auth import Principal, Role

DEFAULT_EXPIRES_IN = 8 * 3600
"""A working day, so one token lasts a session of trying things out."""


class TokenRequestError(ValueError):
    """The claims asked for would make a token the services refuse or that sees nothing."""


def principal(
    role: Role,
    agency_id: str | None = None,
    *,
    workspace_ids: list[str] | None = None,
    sub: str | None = None,
    email: str | None = None,
) -> Principal:
    """The caller a token vouches for; refuses combinations no service would honour."""
    if role != Role.PLATFORM_OPERATOR and not agency_id:
        raise TokenRequestError(f"a token for role {role.value} needs an agency")
    if role == Role.CLIENT and not workspace_ids:
        raise TokenRequestError("a client token needs at least one workspace")
    if role != Role.CLIENT and workspace_ids:
        raise TokenRequestError("only client tokens carry workspaces")
    return Principal(
        sub=sub or f"dev-{role.value}",
        role=role,
        agency_id=agency_id or None,
        workspace_ids=workspace_ids or [],
        email=email,
    )


def mint(
    who: Principal,
    secret: str,
    *,
    expires_in: int = DEFAULT_EXPIRES_IN,
    now: float | None = None,
) -> str:
    """An HS256 JWT carrying ``who`` plus ``iat`` and ``exp``."""
    issued = int(time.time() if now is None else now)
    claims = {
        **who.model_dump(mode="json", exclude_defaults=True),
        "iat": issued,
        "exp": issued + expires_in,
    }
    return jwt.encode(claims, secret, algorithm="HS256")

"""Gateway tokens for tests: the same HS256 JWTs the gateway signs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

TEST_JWT_SECRET = "test-gateway-secret-of-the-test-suite"


@dataclass(frozen=True)
class Tokens:
    secret: str = TEST_JWT_SECRET

    def token(
        self,
        role: str,
        agency_id: str | None = None,
        *,
        workspace_ids: list[str] | None = None,
        sub: str | None = None,
        expires_in: int = 3600,
    ) -> str:
        claims: dict[str, object] = {
            "sub": sub or f"user-{uuid.uuid4().hex[:8]}",
            "role": role,
            "email": "person@example.com",
            "exp": int(time.time()) + expires_in,
        }
        if agency_id is not None:
            claims["agency_id"] = agency_id
        if workspace_ids is not None:
            claims["workspace_ids"] = workspace_ids
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def headers(self, role: str, agency_id: str | None = None, **kwargs: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, agency_id, **kwargs)}"}  # type: ignore[arg-type]


def new_agency_id() -> str:
    return f"agency-{uuid.uuid4().hex[:12]}"

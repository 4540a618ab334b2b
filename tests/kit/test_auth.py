"""Gateway tokens: HS256, ``exp`` required, roles and tenancy claims."""

from __future__ import annotations

import time

import jwt
import pytest

from billing_kit.auth import Principal, Role, decode_token
from billing_kit.errors import NotFoundError, UnauthenticatedError
from tests.helpers.tokens import TEST_JWT_SECRET, Tokens

pytestmark = pytest.mark.unit


def test_a_valid_token_names_the_caller() -> None:
    token = Tokens().token("admin", "agency-1", sub="u-1")
    principal = decode_token(token, TEST_JWT_SECRET)
    assert principal == Principal(
        sub="u-1", role=Role.ADMIN, agency_id="agency-1", email="person@example.com"
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "u", "role": "owner", "agency_id": "a"},  # no exp
        {"sub": "u", "role": "owner", "agency_id": "a", "exp": int(time.time()) - 5},  # expired
        {"sub": "u", "role": "king", "agency_id": "a", "exp": int(time.time()) + 60},  # no role
        {"sub": "u", "role": "owner", "exp": int(time.time()) + 60},  # agency role, no agency
        {"role": "owner", "agency_id": "a", "exp": int(time.time()) + 60},  # no subject
    ],
)
def test_an_incomplete_or_expired_token_is_refused(claims: dict[str, object]) -> None:
    token = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    with pytest.raises(UnauthenticatedError):
        decode_token(token, TEST_JWT_SECRET)


def test_a_token_signed_with_another_secret_or_algorithm_is_refused() -> None:
    with pytest.raises(UnauthenticatedError):
        decode_token(Tokens(secret="x" * 32).token("owner", "a"), TEST_JWT_SECRET)
    unsigned = jwt.encode(
        {"sub": "u", "role": "owner", "agency_id": "a", "exp": int(time.time()) + 60},
        key=None,
        algorithm="none",
    )
    with pytest.raises(UnauthenticatedError):
        decode_token(unsigned, TEST_JWT_SECRET)
    with pytest.raises(UnauthenticatedError):
        decode_token("not-a-jwt", TEST_JWT_SECRET)


def test_a_platform_operator_needs_no_agency() -> None:
    principal = decode_token(Tokens().token("platform_operator"), TEST_JWT_SECRET)
    assert principal.role is Role.PLATFORM_OPERATOR
    assert principal.agency_id is None


def test_a_client_sees_only_its_own_workspaces() -> None:
    principal = decode_token(Tokens().token("client", "a", workspace_ids=["ws-1"]), TEST_JWT_SECRET)
    principal.require_workspace("ws-1")
    with pytest.raises(NotFoundError):
        principal.require_workspace("ws-2")

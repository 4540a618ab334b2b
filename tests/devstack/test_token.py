"""``make token`` (``billing-stack token``): a ready header the services' auth accepts."""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI
from typer.testing import CliRunner

from billing_devstack import repo_root
from billing_devstack.cli import app as cli
from billing_devstack.tokens import DEFAULT_EXPIRES_IN
from billing_kit.auth import Principal, Role, decode_token, require_roles
from billing_kit.errors import install_error_handlers
from billing_kit.settings import DEV_JWT_SECRET

pytestmark = [pytest.mark.unit, pytest.mark.slow]  # no infrastructure, but seconds each

HEADER = "Authorization: Bearer "


def _make_token(*assignments: str, secret: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_JWT_SECRET"}
    if secret is not None:
        env["GATEWAY_JWT_SECRET"] = secret
    return subprocess.run(
        ["make", "--no-print-directory", "token", *assignments],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _bearer(stdout: str) -> str:
    [line] = stdout.splitlines()
    assert line.startswith(HEADER)
    return line.removeprefix(HEADER)


def test_make_token_prints_one_header_signed_with_the_development_secret() -> None:
    before = int(time.time())
    result = _make_token("ROLE=owner", "AGENCY=agency-demo")
    after = int(time.time())
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(_bearer(result.stdout), DEV_JWT_SECRET, algorithms=["HS256"])
    issued, expires = claims.pop("iat"), claims.pop("exp")
    assert before <= issued <= after
    assert expires - issued == DEFAULT_EXPIRES_IN
    assert claims == {"sub": "dev-owner", "role": "owner", "agency_id": "agency-demo"}


def test_make_token_for_a_client_with_every_claim_and_the_configured_secret() -> None:
    secret = "a-secret-only-this-test-knows-about-0123456789"
    result = _make_token(
        "ROLE=client",
        "AGENCY=agency-7",
        "WORKSPACES=ws_1,ws_2",
        "SUB=u-42",
        "EMAIL=pat@example.com",
        "BARE=1",
        secret=secret,
    )
    assert result.returncode == 0, result.stderr
    [token] = result.stdout.splitlines()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, DEV_JWT_SECRET, algorithms=["HS256"])
    assert decode_token(token, secret) == Principal(
        sub="u-42",
        role=Role.CLIENT,
        agency_id="agency-7",
        workspace_ids=["ws_1", "ws_2"],
        email="pat@example.com",
    )


def _readme_token_commands() -> list[list[str]]:
    """Every ``make token …`` the README shows, inside ``$(…)`` or on a line of its own."""
    readme = (repo_root() / "README.md").read_text()
    # The walk-through names its agency once (``AGENCY=agency-demo``) and reuses ``$AGENCY``.
    readme = readme.replace("$AGENCY", "agency-demo")
    found = re.findall(r"make token((?: [A-Z_]+=[\w,.@-]+)+)", readme)
    return [assignments.split() for assignments in dict.fromkeys(found)]


def test_the_readme_token_commands_print_a_header_the_services_accept() -> None:
    commands = _readme_token_commands()
    assert ["ROLE=owner", "AGENCY=agency-demo"] in commands
    assert any("ROLE=client" in command for command in commands)
    for command in commands:
        result = _make_token(*command)
        assert result.returncode == 0, (command, result.stderr)
        principal = decode_token(_bearer(result.stdout), DEV_JWT_SECRET)
        assert principal.role == command[0].removeprefix("ROLE=")
        # the platform's operator acts for no agency; everyone else for the README's
        wanted = None if principal.role == "platform_operator" else "agency-demo"
        assert principal.agency_id == wanted


def test_make_token_refuses_a_token_no_service_would_honour() -> None:
    result = _make_token("ROLE=admin")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "needs an agency" in result.stderr


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--role", "client", "--agency", "a"], "at least one workspace"),
        (["--role", "owner", "--agency", "a", "--workspaces", "ws_1"], "only client tokens"),
        (["--role", "king", "--agency", "a"], "king"),
    ],
)
def test_the_command_explains_what_is_missing(args: list[str], problem: str) -> None:
    result = CliRunner().invoke(cli, ["token", *args], env={"GATEWAY_JWT_SECRET": ""})
    assert result.exit_code == 2
    assert problem in result.output


def test_the_token_expires_when_asked_and_a_platform_operator_needs_no_agency() -> None:
    result = CliRunner().invoke(
        cli,
        ["token", "--role", "platform_operator", "--expires-in", "60", "--bare"],
        env={"GATEWAY_JWT_SECRET": ""},
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), DEV_JWT_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 60
    assert abs(claims["iat"] - time.time()) < 60
    assert (claims["role"], "agency_id" in claims) == ("platform_operator", False)


async def test_a_service_route_accepts_the_header_as_printed() -> None:
    service = FastAPI()
    service.state.jwt_secret = DEV_JWT_SECRET
    install_error_handlers(service)

    @service.get("/whoami")
    async def whoami(
        who: Annotated[Principal, Depends(require_roles(Role.OWNER, Role.ADMIN))],
    ) -> Principal:
        return who

    result = _make_token("ROLE=owner", "AGENCY=agency-demo")
    name, value = result.stdout.strip().split(": ", 1)
    claims = jwt.decode(_bearer(result.stdout), options={"verify_signature": False})
    forged = jwt.encode(
        claims, "not-the-gateway-secret-but-long-enough-for-hs256", algorithm="HS256"
    )
    transport = httpx.ASGITransport(app=service)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        accepted = await client.get("/whoami", headers={name: value})
        refused = await client.get("/whoami", headers={name: f"Bearer {forged}"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["agency_id"] == "agency-demo"
    assert refused.status_code == 401

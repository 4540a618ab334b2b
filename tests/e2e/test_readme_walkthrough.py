"""README's "Try it" walk-through, pasted as a newcomer would: its shell blocks run in order
with bash against the test stack (only the base URLs and the agency differ), every step
succeeds, and the revenue summary it ends on equals Stripe's balance transaction for the
charge, to the cent."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.revenue.figures import FIGURES
from tests.helpers.revenue.money import expected_summary, platform_fee
from tests.helpers.tokens import TEST_JWT_SECRET, Tokens, new_agency_id
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Try it"
RETAINER_CENTS = 250_000


def walkthrough_blocks() -> list[str]:
    """The ``sh`` blocks of README's walk-through section, in order."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index(f"\n{HEADING}")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else None]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 5, "the walk-through lost its steps"
    return blocks


def replace_line(script: str, prefix: str, line: str) -> str:
    """Swap the one line starting with ``prefix`` (the README must keep exactly one)."""
    pattern = rf"^{re.escape(prefix)}.*$"
    assert len(re.findall(pattern, script, flags=re.MULTILINE)) == 1, prefix
    return re.sub(pattern, lambda _: line, script, flags=re.MULTILINE)


def script_for(services: dict[str, str], emulator: str, agency_id: str) -> str:
    script = "\n".join(walkthrough_blocks())
    urls = " ".join(
        f"{name.upper()}={services[name]}" for name in ("catalog", "subscriptions", "revenue")
    )
    script = replace_line(script, "CATALOG=", urls)
    script = replace_line(script, "EMULATOR=", f"EMULATOR={emulator}")
    script = replace_line(script, "AGENCY=", f"AGENCY={agency_id}")
    return "set -euo pipefail\n" + script


def run(script: str) -> subprocess.CompletedProcess[str]:
    # A newcomer's terminal: not inside make (``make test`` sets MAKELEVEL, and a make inside
    # make prints "Entering directory" lines into what ``$(make token …)`` captures).
    outside_make = {
        k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    }
    env = {**outside_make, "GATEWAY_JWT_SECRET": TEST_JWT_SECRET}
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


async def owner_get(url: str, tokens: Tokens, agency_id: str, **params: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url, params=params, headers=tokens.headers("owner", agency_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_readme_walkthrough_bills_a_client_and_shows_the_revenue(
    services: dict[str, str], infra: Infra, tokens: Tokens, stripe_sdk: stripe.StripeClient
) -> None:
    agency_id = new_agency_id()
    assert infra.stripe_api_base is not None
    done = await asyncio.to_thread(run, script_for(services, infra.stripe_api_base, agency_id))
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "Connect: enabled" in done.stdout
    assert "Payment succeeded" in done.stdout

    connect = await owner_get(f"{services['catalog']}/v1/connect", tokens, agency_id)
    on_account: stripe.RequestOptions = {"stripe_account": connect["account_id"]}
    transactions = [
        txn.to_dict()
        for txn in stripe_sdk.v1.balance_transactions.list(options=on_account).auto_paging_iter()
    ]
    [charge] = [txn for txn in transactions if txn["type"] == "charge"]
    assert charge["amount"] == RETAINER_CENTS

    summary = await owner_get(
        f"{services['revenue']}/v1/revenue/summary",
        tokens,
        agency_id,
        **{"from": "2020-01-01", "to": "2099-12-31"},
    )
    assert summary["gross_cents"] == RETAINER_CENTS
    assert summary["platform_fee_cents"] == platform_fee(RETAINER_CENTS)
    assert {name: summary[name] for name in FIGURES} == expected_summary(transactions)
    assert f'"gross_cents": {RETAINER_CENTS}' in done.stdout, done.stdout

    # The last step: the balance paid out, its payout adding up to what Stripe settled.
    [payout] = stripe_sdk.v1.payouts.list(options=on_account).data
    arrives = datetime.fromtimestamp(payout.arrival_date, UTC).date().isoformat()
    payouts = await owner_get(
        f"{services['revenue']}/v1/revenue/payouts", tokens, agency_id,
        **{"from": arrives, "to": arrives},
    )  # fmt: skip
    [listed] = payouts["data"]
    assert (listed["payout_id"], listed["amount_cents"]) == (payout.id, payout.amount)
    assert listed["amount_cents"] == charge["net"]
    assert listed["transactions_known"] is True
    assert f'"payout_id": "{payout.id}"' in done.stdout, done.stdout

    # The owner's page names the workspace and the product as the agency called them.
    page = ""

    async def named() -> bool:
        nonlocal page
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.get(
                f"{services['revenue']}/v1/revenue/dashboard",
                params={"from": "2020-01-01", "to": "2099-12-31"},
                headers=tokens.headers("owner", agency_id),
            )
        page = answer.text
        return "Acme Corp" in page and "Automation retainer" in page

    try:
        await eventually(named, within=30)
    except TimeoutError:
        pytest.fail(f"the dashboard does not name the workspace and product:\n{page}")

"""Where a payment belongs, told by the events already stored instead of read from Stripe,
only when they cannot differ from Stripe's answer; and the enricher reading a payment's
events from Stripe once (pure decisions, and the enricher over a fake Stripe and fake
stored events)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import stripe

from billing_contracts import topic_named
from billing_kit.errors import UnavailableError
from tests.helpers.webhook_ingest.stripe_events import fixture, held_heads, new_id, stripe_event
from webhook_ingest import repository
from webhook_ingest.rules.attribution import StoredLink, stored_invoice
from webhook_ingest.service.enrichment import Enricher
from webhook_ingest.stripe_gateway import IngestStripe

pytestmark = pytest.mark.unit

TENANT = {"agency_id": "agency-1", "workspace_id": "ws-1"}


def _link(
    seen: int | None = 100,
    paid_seen: int = 100,
    invoice_id: str | None = "in_1",
    metadata: Mapping[str, str] | None = None,
    subscription_details: Mapping[str, Any] | None = None,
    created: int = 50,
) -> StoredLink:
    return StoredLink(
        invoice_id=invoice_id,
        paid_seen=paid_seen,
        seen=seen,
        invoice_created=None if seen is None else json.dumps(created),
        metadata=None if seen is None else json.dumps(TENANT if metadata is None else metadata),
        subscription=None if seen is None else "null",
        subscription_details=None if seen is None else json.dumps(subscription_details),
    )


def test_the_stored_events_tell_the_invoice_a_payment_intent_paid_and_its_tenant() -> None:
    told = stored_invoice([_link(seen=90), _link(seen=100)])
    assert told is not None
    assert (told["id"], told["created"], told["metadata"]) == ("in_1", 50, TENANT)


def test_a_subscription_invoice_inherits_the_subscription_s_tenant() -> None:
    details = {"metadata": TENANT, "subscription": "sub_1"}
    told = stored_invoice([_link(metadata={}, subscription_details=details)])
    assert told is not None
    assert told["parent"]["subscription_details"] == details


@pytest.mark.parametrize(
    "links",
    [
        pytest.param([], id="no invoice_payment.paid stored"),
        pytest.param([_link(seen=None)], id="no event of the invoice stored"),
        pytest.param([_link(seen=99, paid_seen=100)], id="only events older than the payment"),
        pytest.param(
            [_link(seen=90, metadata={**TENANT, "workspace_id": "ws-old"}), _link(seen=100)],
            id="the tenant changed at some point",
        ),
        pytest.param([_link(), _link(invoice_id="in_2")], id="two invoices named"),
        pytest.param([_link(invoice_id=None)], id="no invoice named"),
    ],
)
def test_stored_events_that_may_differ_from_stripe_tell_nothing(links: list[StoredLink]) -> None:
    assert stored_invoice(links) is None


class FakeStripe:
    """The SDK's ``raw_request_async`` over a few objects of one connected account."""

    def __init__(self, objects: Mapping[str, Any], invoice_payments: list[dict[str, Any]]):
        self.objects = objects
        self.invoice_payments = invoice_payments
        self.calls: Counter[str] = Counter()
        self.down = False

    async def raw_request_async(self, method: str, path: str, **params: Any) -> Any:
        kind = path.split("/")[2]
        self.calls[kind] += 1
        await asyncio.sleep(0)  # as over the network, other reads go on meanwhile
        if self.down:
            raise stripe.APIConnectionError("Stripe is away")  # type: ignore[no-untyped-call]
        if kind == "invoice_payments":
            data = [
                {**p, "invoice": self.objects[p["invoice"]]}
                for p in self.invoice_payments
                if p["payment"]["payment_intent"] == params["payment"]["payment_intent"]
            ]
            return _Response({"object": "list", "data": data, "has_more": False})
        found = dict(self.objects[path.rsplit("/", 1)[1]])
        if params.get("expand") == ["balance_transaction"]:
            found["balance_transaction"] = self.objects[found["balance_transaction"]]
        return _Response(found)


class _Response:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data


ACCOUNT = "acct_1"


def _payment() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A paid one-off invoice's objects, its invoice payments and its events in the order
    Stripe sends them."""
    intent_id, charge_id, txn_id, invoice_id = (new_id(p) for p in ("pi", "ch", "txn", "in"))
    txn = fixture("balance_transaction", id=txn_id, amount=12_000, source=charge_id)
    txn.update(fee=648, net=11_352, type="charge")
    charge = fixture("charge", id=charge_id, amount=12_000, status="succeeded", paid=True)
    charge.update(payment_intent=intent_id, balance_transaction=txn_id, metadata={})
    intent = fixture("payment_intent", id=intent_id, amount=12_000, metadata={})
    intent.update(status="requires_payment_method", latest_charge=None)
    succeeded = {**intent, "status": "succeeded", "latest_charge": charge_id}
    invoice = fixture("invoice", id=invoice_id, created=1_000, metadata=TENANT, status="paid")
    payment = {
        "id": new_id("inpay"),
        "object": "invoice_payment",
        "created": 1_000,
        "invoice": invoice_id,
        "status": "paid",
        "payment": {"type": "payment_intent", "payment_intent": intent_id},
    }
    objects = {o["id"]: o for o in (txn, charge, succeeded, invoice)}
    events = [
        stripe_event("payment_intent.created", intent, account=ACCOUNT),
        stripe_event("charge.succeeded", charge, account=ACCOUNT),
        stripe_event("payment_intent.succeeded", succeeded, account=ACCOUNT),
        stripe_event("invoice.paid", invoice, account=ACCOUNT),
        stripe_event("invoice_payment.paid", payment, account=ACCOUNT),
    ]
    return objects, [payment], events


def _enricher(fake: FakeStripe, monkeypatch: pytest.MonkeyPatch, stored: bool) -> Enricher:
    async def stored_links(conn: Any, payments: Sequence[tuple[str, str]]) -> Any:
        if not stored:
            return {}
        return {payment: [_link(invoice_id=None)] for payment in payments}

    monkeypatch.setattr(repository, "stored_links", stored_links)
    nothing: Any = None
    return Enricher(nothing, IngestStripe(fake), nothing)  # type: ignore[arg-type]


def _payloads(heads: list[dict[str, Any]], bodies: list[str | Exception]) -> list[Any]:
    decoded = []
    for head, body in zip(heads, bodies, strict=True):
        assert isinstance(body, str), body
        decoded.append(topic_named(head["topic"]).decode(body).payload)
    return decoded


def _attributions(heads: list[dict[str, Any]], bodies: list[str | Exception]) -> set[Any]:
    return {
        (p.attribution.invoice_id, p.attribution.agency_id, p.attribution.workspace_id)
        for p in _payloads(heads, bodies)
    }


async def test_a_payment_s_events_read_its_invoice_and_balance_transaction_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects, payments, events = _payment()
    fake = FakeStripe(objects, payments)
    enricher = _enricher(fake, monkeypatch, stored=False)
    heads = held_heads(events, "agency-1")
    assert len(heads) == 3  # payment_intent.created, charge.succeeded, payment_intent.succeeded

    bodies = await enricher.enrich(None, heads)  # one batch: the same payment's reads shared

    invoice = next(o for o in objects.values() if o["object"] == "invoice")
    assert _attributions(heads, bodies) == {(invoice["id"], "agency-1", "ws-1")}
    assert fake.calls == {"invoice_payments": 1, "balance_transactions": 1}
    figures = [getattr(p, "figures", None) for p in _payloads(heads, bodies)]
    assert [f and (f.gross, f.net) for f in figures] == [None, (12_000, 11_352), (12_000, 11_352)]


async def test_a_payment_the_stored_events_attribute_needs_no_read_of_its_invoice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects, payments, events = _payment()
    invoice = next(o for o in objects.values() if o["object"] == "invoice")
    fake = FakeStripe(objects, payments)
    enricher = _enricher(fake, monkeypatch, stored=False)

    async def stored_links(conn: Any, wanted: Sequence[tuple[str, str]]) -> Any:
        return {payment: [_link(invoice_id=invoice["id"], created=1_000)] for payment in wanted}

    monkeypatch.setattr(repository, "stored_links", stored_links)
    heads = held_heads(events, "agency-1")

    bodies = await enricher.enrich(None, heads)

    assert _attributions(heads, bodies) == {(invoice["id"], "agency-1", "ws-1")}
    assert fake.calls == {"balance_transactions": 1}
    fake.down = True  # what is known needs Stripe no more
    assert _attributions(heads, await enricher.enrich(None, heads)) == _attributions(heads, bodies)


async def test_stripe_away_holds_what_the_stored_events_do_not_tell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects, payments, events = _payment()
    fake = FakeStripe(objects, payments)
    fake.down = True
    enricher = _enricher(fake, monkeypatch, stored=True)  # stored events tell nothing sure

    bodies = await enricher.enrich(None, held_heads(events, "agency-1"))

    assert all(isinstance(body, UnavailableError) for body in bodies)

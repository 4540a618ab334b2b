"""Verification of Stripe's deliveries: signatures (rotation, several ``v1`` in one header,
age) and the shape of a Stripe event."""

from __future__ import annotations

import time

import pytest

from billing_kit.errors import InvalidEventError, InvalidSignatureError
from tests.helpers.webhook_ingest.stripe_events import (
    body_of,
    paid_invoice_event,
    signature_header,
    signed,
)
from webhook_ingest.rules.verification import SignatureVerifier, parse_event

pytestmark = pytest.mark.unit


def test_any_of_the_rotating_secrets_verifies() -> None:
    verifier = SignatureVerifier(["whsec_old", "whsec_new"])
    body = body_of(paid_invoice_event())
    verifier.verify(body, signed(body, "whsec_old")["Stripe-Signature"])
    verifier.verify(body, signed(body, "whsec_new")["Stripe-Signature"])
    with pytest.raises(InvalidSignatureError):
        verifier.verify(body, signed(body, "whsec_other")["Stripe-Signature"])


@pytest.mark.parametrize(
    "header",
    [None, "", "garbled", "t=abc,v1=00", "t=1,v0=abc"],
)
def test_missing_or_garbled_headers_are_refused(header: str | None) -> None:
    with pytest.raises(InvalidSignatureError):
        SignatureVerifier(["whsec_a"]).verify(b"{}", header)


def test_an_old_signature_is_refused() -> None:
    body = body_of(paid_invoice_event())
    old = signed(body, "whsec_a", int(time.time()) - 301)["Stripe-Signature"]
    with pytest.raises(InvalidSignatureError):
        SignatureVerifier(["whsec_a"], tolerance=300).verify(body, old)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "list", "data": []}',
        b'{"object": "event", "id": "nope", "type": "x", "created": 1, "data": {"object": {}}}',
        b'{"object": "event", "id": "evt_1", "created": 1, "data": {"object": {}}}',
        b'{"object": "event", "id": "evt_1", "type": "x", "created": 1, "data": {}}',
    ],
)
def test_bodies_that_are_not_stripe_events_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidEventError):
        parse_event(body)


@pytest.mark.parametrize(
    "signers",
    [
        ["whsec_stale", "whsec_a"],
        ["whsec_a", "whsec_stale"],
        ["whsec_x", "whsec_y", "whsec_a"],
    ],
    ids=["matching-last", "matching-first", "matching-third"],
)
def test_any_v1_of_several_in_one_header_may_match(signers: list[str]) -> None:
    body = body_of(paid_invoice_event())
    header = signature_header(body, *signers)
    assert header.count("v1=") == len(signers)
    assert SignatureVerifier(["whsec_a"]).verify(body, header) == body.decode()


def test_several_v1_with_rotating_secrets_on_both_sides() -> None:
    body = body_of(paid_invoice_event())
    header = signature_header(body, "whsec_old_stripe", "whsec_new")
    assert SignatureVerifier(["whsec_other", "whsec_new"]).verify(body, header) == body.decode()


def test_several_v1_none_matching_are_refused() -> None:
    body = body_of(paid_invoice_event())
    header = signature_header(body, "whsec_x", "whsec_y", "whsec_z")
    with pytest.raises(InvalidSignatureError) as refused:
        SignatureVerifier(["whsec_a", "whsec_b"]).verify(body, header)
    assert refused.value.status_code == 400
    assert refused.value.code == "invalid_signature"


def test_several_v1_of_another_body_are_refused() -> None:
    body, other = body_of(paid_invoice_event()), body_of(paid_invoice_event())
    header = signature_header(other, "whsec_a", "whsec_b")
    with pytest.raises(InvalidSignatureError):
        SignatureVerifier(["whsec_a", "whsec_b"]).verify(body, header)


def test_an_event_created_out_of_range_is_not_a_stripe_event() -> None:
    body = (
        b'{"object": "event", "id": "evt_1", "type": "x", "created": 99999999999999999999, '
        b'"data": {"object": {}}}'
    )
    with pytest.raises(InvalidEventError):
        parse_event(body)

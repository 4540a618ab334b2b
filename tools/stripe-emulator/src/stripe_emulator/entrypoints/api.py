"""The HTTP edge of `/v1/...`: faults, auth, Stripe-Account, idempotency, dispatch, errors."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response

from stripe_emulator.context import Ctx
from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError
from stripe_emulator.expansion import expand
from stripe_emulator.faults import Faults
from stripe_emulator.forms import Params, parse_form
from stripe_emulator.routing import check_allowed, match
from stripe_emulator.store import API_VERSION, IdempotentResponse, RequestInfo, Store, new_id

# Stripe keeps keys 24 h; the emulator keeps the most recent ones, bounded in memory.
IDEMPOTENCY_CAPACITY = 200_000


def _json(status: int, body: Any, headers: dict[str, str]) -> Response:
    return Response(
        content=json.dumps(body).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def api_key(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value).decode().split(":", 1)[0]
        except ValueError:
            key = ""
    else:
        key = ""
    if not key:
        raise StripeError(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
            status=401,
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        raise StripeError(f"Invalid API Key provided: {key[:8]}****{key[-4:]}", status=401)
    return key


def _acting_account(store: Store, request: Request, key: str) -> str:
    header = request.headers.get("stripe-account")
    if not header:
        return store.platform_id
    account = store.connected_account(header)
    if account is None or store.owner.get(header) != store.platform_id:
        raise StripeError(
            f"The provided key '{key[:8]}****{key[-4:]}' does not have access to account "
            f"'{header}' (or that account does not exist). Application access may have been "
            "revoked.",
            status=403,
            code="account_invalid",
        )
    return header


async def _params(request: Request) -> Params:
    params = parse_form(request.url.query) if request.url.query else {}
    if request.method == "POST":
        body = (await request.body()).decode()
        if body:
            params.update(parse_form(body))
    return params


def api_route(emulator: Emulator) -> Callable[[Request], Awaitable[Response]]:
    """The ASGI endpoint serving `/v1/...` for `emulator`."""
    store, faults, public_url = emulator.store, emulator.faults, emulator.settings.public_url

    async def stripe_api(request: Request) -> Response:
        return await handle_api(request, store, faults, public_url)

    return stripe_api


async def handle_api(
    request: Request, store: Store, faults: Faults, public_url: str | None
) -> Response:
    request_id = new_id("req", 14)
    headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    method, path = request.method, request.url.path
    failure = faults.take_failure(method, path)
    if failure is not None:
        return _json(failure.status, failure.body(), headers)
    idempotency_key = request.headers.get("idempotency-key") if method == "POST" else None
    try:
        key = api_key(request)
        params = await _params(request)
        async with store.lock:
            account = _acting_account(store, request, key)
            fingerprint = json.dumps([method, path, params], sort_keys=True)
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
                stored = store.idempotency.get((account, idempotency_key))
                if stored is not None:
                    if stored.fingerprint != fingerprint:
                        raise StripeError(
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            f"'{idempotency_key}' if you meant to execute a different request.",
                            type_="idempotency_error",
                        )
                    headers["Idempotent-Replayed"] = "true"
                    return Response(
                        content=stored.body,
                        status_code=stored.status,
                        media_type="application/json",
                        headers=headers,
                    )
            status, body = _dispatch(store, method, path, params, account, request, public_url)
            payload = json.dumps(body).encode()
            if idempotency_key and status < 500:
                store.idempotency[(account, idempotency_key)] = IdempotentResponse(
                    fingerprint, status, payload
                )
                if len(store.idempotency) > IDEMPOTENCY_CAPACITY:
                    oldest = next(iter(store.idempotency))  # dicts keep insertion order
                    del store.idempotency[oldest]
            store.request = RequestInfo()
    except StripeError as error:
        return _json(error.status, error.body(), headers)
    return Response(
        content=payload, status_code=status, media_type="application/json", headers=headers
    )


def _dispatch(
    store: Store,
    method: str,
    path: str,
    params: Params,
    account: str,
    request: Request,
    public_url: str | None,
) -> tuple[int, Any]:
    found = match(method, path)
    if found is None:
        error = StripeError(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            status=404,
        )
        return error.status, error.body()
    target, path_args = found
    served = (account, f"{method} {target.handler.__name__}")
    store.served[served] = store.served.get(served, 0) + 1
    base_url = (public_url or str(request.base_url)).rstrip("/")
    store.base_url = base_url
    store.request = RequestInfo(
        id=None if method == "GET" else new_id("req", 14),
        idempotency_key=request.headers.get("idempotency-key"),
        base_url=base_url,
    )
    try:
        check_allowed(target, params)
        ctx = Ctx(store=store, account=account, params=params, path=path_args, base_url=base_url)
        result = target.handler(ctx)
        return 200, expand(store, result, params)
    except StripeError as error:
        return error.status, error.body()

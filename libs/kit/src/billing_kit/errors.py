"""One error hierarchy; each error knows its HTTP status and API error code (docs/api.md).
One handler renders them as ``{"error": {"code", "message"[, "fields"]}}``; an exception no
handler knows becomes a 500 ``internal_error`` in the same shape, logged with the request's
correlation id."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from billing_kit.asgi import HttpMiddleware


class FieldError(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[FieldError] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class BillingError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, fields: list[FieldError] | None = None):
        self.message = message or self.default_message
        self.fields = fields
        super().__init__(self.message)

    def body(self) -> ErrorBody:
        return ErrorBody(
            error=ErrorDetail(code=self.code, message=self.message, fields=self.fields)
        )


class UnauthenticatedError(BillingError):
    status_code = 401
    code = "unauthenticated"
    default_message = "A valid bearer token is required."


class ForbiddenError(BillingError):
    status_code = 403
    code = "forbidden"
    default_message = "Your role may not do this."


class NotFoundError(BillingError):
    status_code = 404
    code = "not_found"
    default_message = "No such resource."


class ConnectRequiredError(BillingError):
    status_code = 409
    code = "connect_required"
    default_message = "Connect Stripe to start billing."


class AgencySuspendedCannotBillError(BillingError):
    status_code = 409
    code = "agency_suspended"
    default_message = (
        "AgencySuspendedCannotBillError: this agency is suspended, so new subscriptions and "
        "invoices are refused. Existing subscriptions keep charging."
    )


class ValidationFailedError(BillingError):
    status_code = 422
    code = "validation_error"
    default_message = "The request is not valid."


class StripeFailedError(BillingError):
    status_code = 502
    code = "stripe_error"
    default_message = "Stripe refused or failed the request; nothing was changed."


class UnavailableError(BillingError):
    status_code = 503
    code = "unavailable"
    default_message = "A dependency is unavailable; try again shortly."


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_error(exc: RequestValidationError) -> ValidationFailedError:
    fields = [
        FieldError(field=_field_name(err.get("loc", ())), message=str(err.get("msg", "invalid")))
        for err in exc.errors()
    ]
    return ValidationFailedError(fields=fields)


def _render(error: BillingError) -> JSONResponse:
    return JSONResponse(
        status_code=error.status_code,
        content=error.body().model_dump(mode="json", exclude_none=True),
    )


METHOD_NOT_ALLOWED = "method_not_allowed"
OTHER_HTTP_ERROR = "http_error"
"""Codes of framework answers that no ``BillingError`` stands for."""

_STATUS_ERRORS: dict[int, type[BillingError]] = {
    cls.status_code: cls
    for cls in (UnauthenticatedError, ForbiddenError, NotFoundError, UnavailableError)
}


def _unreadable(message: str, field: str = "body") -> ValidationFailedError:
    return ValidationFailedError(fields=[FieldError(field=field, message=message)])


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method the resource has (RFC 9110 §15.5.6: a 405 carries ``Allow``): those a
    route of the app takes on this path, where the framework would name only the first
    route's."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_billing_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BillingError)
        return _render(exc)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _render(validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:  # the framework could not read the body at all
            return _render(_unreadable(str(exc.detail)))
        error_type = _STATUS_ERRORS.get(exc.status_code)
        if error_type is not None:
            return _render(error_type())
        code = METHOD_NOT_ALLOWED if exc.status_code == 405 else OTHER_HTTP_ERROR
        body = ErrorBody(error=ErrorDetail(code=code, message=str(exc.detail)))
        headers = {"Allow": _allowed_methods(request)} if exc.status_code == 405 else exc.headers
        return JSONResponse(
            status_code=exc.status_code, content=body.model_dump(exclude_none=True), headers=headers
        )

    async def on_database_down(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and not (
            exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
        ):
            raise exc  # a bug, not an outage: let it surface as a 500
        return _render(UnavailableError("The database is unavailable; try again shortly."))

    app.add_exception_handler(BillingError, on_billing_error)
    for outage in (DBAPIError, ConnectionError, TimeoutError):
        app.add_exception_handler(outage, on_database_down)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


class InternalErrorMiddleware(HttpMiddleware):
    """Innermost middleware: what no exception handler took answers 500 ``internal_error``
    (inside the correlation id and metrics middlewares, so both see it)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:  # too late for another answer: let the server close the connection
                raise
            # A logger per error, not per module: it follows the logging configured last.
            structlog.get_logger(__name__).exception(
                "unhandled error", method=scope["method"], path=scope["path"]
            )
            await _render(BillingError())(scope, receive, send)


_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
_NUL_MESSAGE = "must not contain the NUL character (U+0000)"


class NulCharacterGuard(HttpMiddleware):
    """Postgres text cannot hold U+0000: a request carrying it in its path, query or JSON body
    is refused as 422 ``validation_error`` before any route runs, so nothing (a Stripe call
    included) happens first and no database error surfaces as a 500."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False) and message["type"] == "http.request"
        body = b"".join(chunks)
        found = next(
            (
                field
                for field, nul in (
                    ("path", "\x00" in scope["path"]),
                    ("query", b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]),
                    ("body", b"\x00" in body or _NUL_ESCAPE.search(body) is not None),
                )
                if nul
            ),
            None,
        )
        if found is not None:
            await _render(_unreadable(_NUL_MESSAGE, found))(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


ALWAYS_POSSIBLE: tuple[type[BillingError], ...] = (BillingError, UnavailableError)
"""What any route may answer: a bug (500) or its database away (503)."""


def document_errors(app: FastAPI, *, skip: Iterable[str] = ()) -> None:
    """Every operation of ``app``'s OpenAPI document (bar the paths in ``skip``) lists the
    errors any route may answer, each as the JSON error shape even where the route answers
    another media type."""
    generate = app.openapi
    skipped = set(skip)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        found = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(found.pop("$defs", {}))
        schemas.setdefault(ErrorBody.__name__, found)
        error_content = {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}
        }
        for path, operations in schema.get("paths", {}).items():
            if path in skipped:
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for error in ALWAYS_POSSIBLE:
                    entry = responses.setdefault(str(error.status_code), {"description": ""})
                    codes = entry["description"].split(" / ") if entry["description"] else []
                    if error.code not in codes:
                        entry["description"] = " / ".join([*codes, error.code])
                for status, entry in responses.items():
                    if status[0] in "45":
                        entry["content"] = error_content
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def documented(*errors: type[BillingError]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the errors it can answer, shown in the OpenAPI document."""
    responses: dict[int | str, dict[str, Any]] = {}
    listed: dict[type[BillingError], None] = dict.fromkeys(
        (UnauthenticatedError, ValidationFailedError, *errors)
    )
    for error in listed:
        entry = responses.setdefault(error.status_code, {"model": ErrorBody, "description": ""})
        entry["description"] = " / ".join(
            part for part in (entry["description"], error.code) if part
        )
    return responses


# --- Stripe webhook deliveries ----------------------------------------------------------------


class InvalidSignatureError(BillingError):
    status_code = 400
    code = "invalid_signature"
    default_message = "The Stripe-Signature header is missing or does not match."


class InvalidEventError(BillingError):
    status_code = 400
    code = "invalid_event"
    default_message = "The body is not a Stripe event."


class PayloadTooLargeError(BillingError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The body is larger than a Stripe event can be."

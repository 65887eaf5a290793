"""``POST /api/sql``: governed SQL over HTTP, with bearer tokens.

Request: ``{"sql": "...", "dialect": "mysql"?, "max_rows": 100?}`` and
``Authorization: Bearer <token>`` (tokens from ``citybrain sql tokens``). Answer:
``{"columns", "rows", "masked_columns", "truncated", "elapsed_ms"}``. A missing or unknown
token is a 401, a query the policy refuses a 403 (or a 400 when the SQL itself is at
fault), each with ``{"reason", "message"}``; the query is audited in every case, a
request with a bad token under the principal ``(unauthenticated)``.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import AccessDenied, LakeError, QueryRefused
from schemas.settings import Settings, get_settings

router = APIRouter()
log = logging.getLogger(__name__)

# Refusals caused by the text sent (fix the SQL) rather than by the policy (ask for access).
_BAD_REQUEST = (
    "sql.",
    "clause.",
    "dialect.",
    "column.",
    "statement.empty",
    "statement.multiple",
    "query.",
    "limit.",
)


class SqlRequest(BaseModel):
    """The body of ``POST /api/sql``."""

    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=100_000, description="One SELECT query.")
    dialect: str | None = Field(
        default=None, description="duckdb (default), mysql, postgres, oracle or hive."
    )
    max_rows: int | None = Field(
        default=None, ge=1, description="At most this many rows (never above the role's limit)."
    )


class SqlAnswer(BaseModel):
    """A governed query's result."""

    columns: list[str]
    rows: list[list[Any]]
    masked_columns: list[str]
    truncated: bool
    elapsed_ms: float


class SqlRefusal(BaseModel):
    """Why a query was not answered, and what to do instead."""

    reason: str
    message: str


_CONVERTERS: tuple[tuple[type | tuple[type, ...], Any], ...] = (
    (Decimal, lambda v: int(v) if v == v.to_integral_value() else float(v)),
    ((dt.date, dt.datetime, dt.time), lambda v: v.isoformat()),
    (dt.timedelta, lambda v: v.total_seconds()),
    ((bytes, bytearray, memoryview), lambda v: base64.b64encode(bytes(v)).decode("ascii")),
)


def json_value(value: Any) -> Any:
    """A DuckDB value as JSON: dates in ISO form, decimals as numbers, bytes as base64.

    >>> json_value([Decimal("12.50"), dt.date(2026, 1, 2), b"\\x00", {"k": Decimal("3")}])
    [12.5, '2026-01-02', 'AA==', {'k': 3}]
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(v) for v in value]
    for kinds, convert in _CONVERTERS:
        if isinstance(value, kinds):
            return convert(value)
    return str(value)  # UUID, INTERVAL ...


def _refusal(status: int, reason: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        SqlRefusal(reason=reason, message=message).model_dump(), status_code=status, headers=headers
    )


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if settings is not None else get_settings()


def _audit_unauthenticated(settings: Settings, sql: str, message: str) -> None:
    from warehouse.governed.audit import AuditRecord, write_audit

    try:
        write_audit(
            settings,
            AuditRecord(
                principal="(unauthenticated)",
                role="none",
                sql=sql,
                allowed=False,
                reason=f"auth.invalid_token: {message}",
            ),
        )
    except LakeError as exc:  # the 401 stands either way
        log.warning("could not audit a request with a bad token: %s", exc)


@router.post(
    "/api/sql",
    response_model=SqlAnswer,
    responses={400: {"model": SqlRefusal}, 401: {"model": SqlRefusal}, 403: {"model": SqlRefusal}},
    summary="Run one governed SQL query (masked and scoped by the token's role).",
)
def governed_sql(
    body: SqlRequest,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    from warehouse.governed import authenticate, run_query

    settings = _settings(request)
    token = _bearer(authorization)
    try:
        if token is None:
            msg = "send the token as `Authorization: Bearer <token>` (`citybrain sql tokens`)"
            raise AccessDenied(msg)
        principal = authenticate(token, settings)
    except AccessDenied as exc:
        _audit_unauthenticated(settings, body.sql, str(exc))
        return _refusal(401, "auth.invalid_token", str(exc), **{"WWW-Authenticate": "Bearer"})
    try:
        result = run_query(
            body.sql, principal, dialect=body.dialect, max_rows=body.max_rows, settings=settings
        )
    except QueryRefused as exc:
        status = 400 if exc.reason.startswith(_BAD_REQUEST) else 403
        return _refusal(status, exc.reason, exc.message)
    except AccessDenied as exc:
        return _refusal(403, "principal.denied", str(exc))
    except LakeError as exc:
        return _refusal(503, "lake.unavailable", str(exc))
    return SqlAnswer(
        columns=result.columns,
        rows=[[json_value(v) for v in row] for row in result.rows],
        masked_columns=result.masked_columns,
        truncated=result.truncated,
        elapsed_ms=round(result.elapsed_ms, 2),
    )

"""Run a governed query: plan it, run it on a locked read-only lake, audit it.

Defence in depth around the rewrite of :mod:`warehouse.governed.rewrite`: the query runs
on a connection that attached the lake read-only and then switched external access off
(no files, no network, no extensions, no replacement scans of Python objects) and locked
its configuration, so even a query that slipped past the checks could not read a file,
attach a database or turn the settings back.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import duckdb
from sqlglot import exp

from schemas.errors import AccessDenied, QueryRefused
from schemas.settings import Settings, get_settings
from warehouse.governed.audit import AuditRecord, close_audit_connections, write_audit
from warehouse.governed.policy import Principal, load_policy, make_principal
from warehouse.governed.rewrite import Analysis, Plan, plan_query
from warehouse.lake import attach, data_path, set_statement

if TYPE_CHECKING:
    from warehouse.governed.policy import Policy, Role


@dataclass(frozen=True)
class QueryResult:
    """What a governed query returned."""

    columns: list[str]
    rows: list[tuple]
    masked_columns: list[str]  # result columns derived from a column the role sees masked
    truncated: bool  # more rows matched than the row limit let through
    elapsed_ms: float
    query_id: str = ""  # the query's row in meta.query_audit
    tables: list[str] = field(default_factory=list)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}``.

        >>> QueryResult(["a", "b"], [(1, "x")], [], False, 0.1).to_dicts()
        [{'a': 1, 'b': 'x'}]
        """
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


# --- the locked read-only connection -------------------------------------------------------


def lockdown_statements(memory_limit: str, data_path: str) -> list[str]:
    """Run once on the service's read-only attach, in this order: the lock comes last.

    >>> lockdown_statements("2GB", "/lake/data/")
    ["SET memory_limit = '2GB'", "SET allowed_directories = ['/lake/data/']", 'SET enable_external_access = FALSE', 'SET lock_configuration = TRUE']
    """
    return [
        set_statement("memory_limit", memory_limit),
        # The lake's data files, those written after this attach included (a load or a
        # marts build while the service runs): without it only files already known at
        # attach time were readable, and a rebuilt mart failed with a permission error.
        set_statement("allowed_directories", [data_path]),
        # No files, network, extension loads or replacement scans of Python objects; the
        # lake's own files stay readable through the attached catalog.
        set_statement("enable_external_access", False),
        # And no query can SET any of it back.
        set_statement("lock_configuration", True),
    ]


class _Readers:
    """One locked read-only attach per lake; each query gets its own cursor on it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cons: dict[tuple[str, str, str], duckdb.DuckDBPyConnection] = {}

    def cursor(self, settings: Settings, memory_limit: str) -> duckdb.DuckDBPyConnection:
        key = (settings.catalog, settings.data_path, settings.lake_name)
        with self.lock:
            con = self.cons.get(key)
            if con is None:
                con = attach(settings, read_only=True)
                try:
                    for statement in lockdown_statements(memory_limit, data_path(settings)):
                        con.execute(statement)
                except BaseException:
                    con.close()
                    raise
                self.cons[key] = con
            return con.cursor()

    def close(self) -> None:
        with self.lock:
            for con in self.cons.values():
                con.close()
            self.cons.clear()


_READERS = _Readers()


def close_connections() -> None:
    """Close every connection the service keeps open (tests, shutdown)."""
    _READERS.close()
    close_audit_connections()


# --- running -------------------------------------------------------------------------------


def _limited(query: exp.Query, limit: int) -> str:
    # One more row than allowed: whether it arrives says whether the result was cut.
    return (
        exp.select(exp.Star())
        .from_(query.copy().subquery("governed_result"))
        .limit(limit + 1)
        .sql(dialect="duckdb")
    )


def _plain_error(exc: duckdb.Error) -> str:
    # Quoted values in DuckDB's messages come from the (masked) data: keep them out.
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"'[^']*'", "'…'", first)


def _execute(
    settings: Settings, query: exp.Query, limit: int, role: Role, memory_limit: str
) -> tuple[list[str], list[tuple], bool]:
    cursor = _READERS.cursor(settings, memory_limit)
    timer = threading.Timer(role.timeout_seconds, cursor.interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor.execute(_limited(query, limit))
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(limit + 1)
    except duckdb.InterruptException as exc:
        raise QueryRefused(
            "limit.time",
            f"the query was stopped after {role.timeout_seconds:g} s, the time limit of "
            f"role {role.name}; filter or aggregate more, or ask for a role with more time",
        ) from exc
    except duckdb.Error as exc:
        raise QueryRefused(
            "query.error", f"DuckDB could not run the query: {_plain_error(exc)}"
        ) from exc
    finally:
        timer.cancel()
        cursor.close()
    truncated = len(rows) > limit
    return columns, rows[:limit], truncated


_PLANS: dict[tuple[str, ...], Plan] = {}
_PLANS_LOCK = threading.Lock()
_PLANS_KEPT = 512


def _plan(
    sql: str,
    principal: Principal,
    policy: Policy,
    lake: str,
    *,
    dialect: str | None,
    analysis: Analysis,
) -> Plan:
    # The page sends the same few queries again and again: a plan depends only on the
    # text, the dialect, the role and district, the policy and the lake's name.
    key = (
        sql,
        dialect or "",
        principal.role,
        principal.district_code or "",
        policy.model_dump_json(),
        lake,
    )
    with _PLANS_LOCK:
        plan = _PLANS.get(key)
    if plan is None:
        plan = plan_query(sql, principal, policy, lake, dialect=dialect, analysis=analysis)
        with _PLANS_LOCK:
            if len(_PLANS) >= _PLANS_KEPT:
                _PLANS.pop(next(iter(_PLANS)))
            _PLANS[key] = plan
    else:
        analysis.tables.update(plan.tables)
        analysis.sensitive_columns.update(plan.sensitive_columns)
        analysis.masked_columns.update(plan.masked_columns)
    return plan


def principal_for(
    role: str, name: str, district_code: str | None = None, settings: Settings | None = None
) -> Principal:
    """A principal for a trusted local caller (the CLI, the situation page): no token.

    >>> principal_for("public", "situation-page").role
    'public'
    """
    settings = settings or get_settings()
    return make_principal(load_policy(settings), role, name, district_code)


def run_query(
    sql: str,
    principal: Principal,
    *,
    dialect: str | None = None,
    max_rows: int | None = None,
    settings: Settings | None = None,
) -> QueryResult:
    """Answer ``sql`` for ``principal`` under its role's policy, and audit it.

    Raises :class:`~schemas.errors.QueryRefused` (``.reason``, ``.message``) when the
    policy refuses the query or a limit stops it, :class:`~schemas.errors.AccessDenied`
    for an unknown role or a district role without its district, and
    :class:`~schemas.errors.LakeError` when the lake cannot be read or the audit cannot
    be written (then nothing is answered).
    """
    settings = settings or get_settings()
    started = time.perf_counter()
    analysis = Analysis()
    record = AuditRecord(principal=principal.name, role=principal.role, sql=sql, allowed=False)
    try:
        policy = load_policy(settings)
        make_principal(policy, principal.role, principal.name, principal.district_code)
        role = policy.role(principal.role)
        if max_rows is not None and max_rows < 1:
            raise QueryRefused("limit.rows", f"max_rows must be at least 1, not {max_rows}")
        limit = min(max_rows or role.max_rows, role.max_rows)
        plan = _plan(sql, principal, policy, settings.lake_name, dialect=dialect, analysis=analysis)
        columns, rows, truncated = _execute(settings, plan.query, limit, role, policy.memory_limit)
    except (QueryRefused, AccessDenied) as exc:
        reason = exc.reason if isinstance(exc, QueryRefused) else "principal.denied"
        _audit(settings, record, analysis, reason=f"{reason}: {exc}")
        raise
    elapsed_ms = (time.perf_counter() - started) * 1000
    masked = [c for c, m in zip(columns, plan.output_masked, strict=False) if m]
    note = f"masked: {', '.join(plan.masked_columns)}" if plan.masked_columns else None
    if truncated:
        note = f"{note + '; ' if note else ''}truncated at {limit} rows"
    _audit(settings, record, analysis, allowed=True, rows=len(rows), reason=note)
    return QueryResult(
        columns=columns,
        rows=rows,
        masked_columns=masked,
        truncated=truncated,
        elapsed_ms=elapsed_ms,
        query_id=record.query_id,
        tables=list(plan.tables),
    )


def _audit(
    settings: Settings,
    record: AuditRecord,
    analysis: Analysis,
    *,
    allowed: bool = False,
    rows: int | None = None,
    reason: str | None = None,
) -> None:
    write_audit(
        settings,
        replace(
            record,
            allowed=allowed,
            tables=tuple(sorted(analysis.tables)),
            sensitive_columns=tuple(sorted(analysis.sensitive_columns)),
            rows_returned=rows,
            reason=reason,
        ),
    )

"""Governed SQL: the one way analysts and the situation page query the lake.

Every query is parsed with sqlglot and rewritten before DuckDB sees it
(:mod:`warehouse.governed.rewrite`): one SELECT, tables allowed by the role, functions from
an allow-list (:mod:`warehouse.governed.functions`), every lake table replaced by a
subquery that masks its personal-data columns as the role sees them
(:mod:`warehouse.governed.masking`, driven by each field's ``pi`` and ``masking`` in
``schemas/``) and, for district roles, keeps only the district's rows. It then runs on a
read-only attach with external access off and the configuration locked, with a row and
a time limit, and is written to ``meta.query_audit`` whether it ran or not.

Roles and principals come from ``roles.toml`` here, overridable by
``CITYBRAIN_ROLES_FILE`` (:mod:`warehouse.governed.policy`); bearer tokens for the HTTP
endpoint are kept as hashes only (:mod:`warehouse.governed.tokens`).

Public interface::

    principal = principal_for("analyst", "li.lei")            # trusted local callers
    principal = authenticate(token, settings)                  # HTTP callers
    result = run_query("SELECT name FROM core.person", principal, max_rows=10)
    result.columns, result.rows, result.masked_columns, result.truncated, result.to_dicts()
"""

from __future__ import annotations

from schemas.errors import AccessDenied, QueryRefused
from warehouse.governed.policy import Principal, Role, load_policy
from warehouse.governed.rewrite import DIALECTS
from warehouse.governed.service import QueryResult, close_connections, principal_for, run_query
from warehouse.governed.tokens import authenticate, issue_tokens, token_status

__all__ = [
    "DIALECTS",
    "AccessDenied",
    "Principal",
    "QueryRefused",
    "QueryResult",
    "Role",
    "authenticate",
    "close_connections",
    "issue_tokens",
    "load_policy",
    "principal_for",
    "run_query",
    "token_status",
]

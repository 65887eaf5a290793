"""From the SQL a person wrote to the SQL DuckDB runs: parse, check, qualify, mask.

The steps, in order (each refuses with a :class:`~schemas.errors.QueryRefused` whose
``reason`` names the rule):

1. parse with sqlglot in the caller's dialect (DuckDB by default); exactly one statement,
   a ``SELECT`` (``WITH``, ``UNION`` ... included);
2. walk every node: no statements inside it, no parameters, only functions of the
   allow-list (:mod:`warehouse.governed.functions`), tables only as plain names;
3. qualify: every table is resolved to ``<lake>.<schema>.<table>`` of the data standard
   (CTE names stay CTEs), checked against the role, and every column resolved
   (``SELECT *`` expanded), so that the columns a query touches are known exactly;
4. replace each table by a subquery over the lake table that already masks it
   (:func:`masked_source`) and, for district roles, keeps only the district's rows;
5. print DuckDB SQL without comments, parse it again and check that it reads nothing but
   those subqueries.

The masking happens at the source, not in the projections: the query never sees a raw
value of a column its role gets masked, whatever it does with it afterwards. So
``upper(name)``, ``name || ''``, ``substr(id_number, 1, 18)``, casts, ``string_agg``,
aliases, subqueries, CTEs and ``SELECT *`` all return masked text, and WHERE, JOIN,
GROUP BY and ORDER BY on a masked column compare masked values. That is the choice made
for predicates: they are allowed and see the masked value, so ``WHERE id_number =
'<a full ID>'`` matches nothing, and ordering or grouping by a masked column orders by
what is visible anyway. Refusing such predicates instead would break legitimate joins on
masked-but-equal keys and would still need the masking for everything else.

What this does not hide, by design or not yet:

- what a mask leaves visible: a masked ID keeps its region code and last four characters,
  a birth date its year; a role that must not see even that gets ``redact`` for the
  category in ``roles.toml``;
- equal masks: all two-character names of one surname read ``张*``, so grouping or
  joining on a masked column merges different people (wrong answers, not a leak);
- evaluation order: the district filter sits in the source subquery, but DuckDB may
  evaluate a query's other predicates on rows before it, so a query built to fail on a
  value learns whether some row of another district has it (masked values only; the
  service strips quoted values from DuckDB's error messages).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from schemas.errors import QueryRefused
from schemas.generate import table_columns
from warehouse.governed.functions import function_name, is_allowed
from warehouse.governed.masking import mask_expression, organization_marker, redact

if TYPE_CHECKING:
    from collections.abc import Iterator

    from schemas.generate import Column
    from warehouse.governed.policy import Policy, Principal, Role

DIALECTS = ("duckdb", "mysql", "postgres", "oracle", "hive")
"""Input dialects a query may be written in; each is translated to DuckDB."""

SCHEMAS = ("core", "mart", "meta")

# Statements and clauses that have no place inside a read-only query, wherever they hide.
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = (
    exp.DDL,
    exp.DML,
    exp.Command,
    exp.Pragma,
    exp.Set,
    exp.Attach,
    exp.Detach,
    exp.Install,
    exp.Use,
    exp.Describe,
    exp.Show,
    exp.Summarize,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
)

# Clauses of a SELECT that write (INTO), lock, or escape the per-table masking (LATERAL
# and PIVOT see tables in ways the rewrite does not model; samples are not reproducible).
_FORBIDDEN_CLAUSES: tuple[type[exp.Expression], ...] = (
    exp.Into,
    exp.Lock,
    exp.Lateral,
    exp.Pivot,
    exp.TableSample,
)

_TABLE_ARGS = {"this", "db", "catalog", "alias"}


@dataclass
class Analysis:
    """What is known of a query so far: filled in as the checks run, audited either way."""

    tables: set[str] = field(default_factory=set)
    sensitive_columns: set[str] = field(default_factory=set)
    masked_columns: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Plan:
    """A checked query, ready to run."""

    sql: str  # DuckDB SQL over masked subqueries; no row limit yet
    query: exp.Query = field(compare=False, repr=False)  # the same, parsed back
    tables: tuple[str, ...]
    sensitive_columns: tuple[str, ...]  # personal-data columns touched, schema.table.column
    masked_columns: tuple[str, ...]  # of those, the ones the role sees masked
    output_masked: tuple[bool, ...]  # per result column: derived from a masked column


@dataclass(frozen=True)
class LakeTable:
    """A lake table of the data standard: its columns with their governance."""

    name: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@cache
def lake_tables() -> dict[str, LakeTable]:
    """Every table of :data:`schemas.records.TABLES`, with the ``_history`` twins."""
    from schemas.records import TABLES

    out: dict[str, LakeTable] = {}
    for model in TABLES:
        for history in (False, True) if model.__history__ else (False,):
            name = f"{model.__table__}_history" if history else model.__table__
            out[name] = LakeTable(name, tuple(table_columns(model, history=history)))
    return out


def refuse(reason: str, message: str) -> QueryRefused:
    return QueryRefused(reason, message)


# --- 1. parse ------------------------------------------------------------------------------


def parse(sql: str, dialect: str | None) -> exp.Query:
    """The one query in ``sql``, as a sqlglot tree.

    >>> parse("SELECT 1; SELECT 2", None)
    Traceback (most recent call last):
    ...
    schemas.errors.QueryRefused: one statement at a time: this text holds 2 (SELECT, SELECT). Send each query on its own.
    """
    read = dialect or "duckdb"
    if read not in DIALECTS:
        raise refuse(
            "dialect.unknown",
            f"dialect {read!r} is not supported; write DuckDB SQL or one of: "
            + ", ".join(DIALECTS[1:]),
        )
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise refuse("sql.parse", f"the query could not be read as {read} SQL: {first}") from exc
    if not statements:
        raise refuse("statement.empty", "there is no query in the text sent")
    if len(statements) > 1:
        kinds = ", ".join(_kind(s) for s in statements)
        raise refuse(
            "statement.multiple",
            f"one statement at a time: this text holds {len(statements)} ({kinds}). "
            "Send each query on its own.",
        )
    statement = statements[0]
    if not isinstance(statement, exp.Query) or not isinstance(
        statement, (exp.Select, exp.SetOperation)
    ):
        raise refuse(
            "statement.not_select",
            f"only SELECT queries (with WITH, UNION ...) are answered; this is {_kind(statement)}. "
            "The lake is changed by its pipelines, never through the query service.",
        )
    return statement


def _kind(statement: exp.Expression) -> str:
    if isinstance(statement, exp.Command):
        return str(statement.this).upper()
    if isinstance(statement, (exp.Select, exp.SetOperation)):
        return "SELECT"
    return statement.key.upper()


# --- 2. check every node -------------------------------------------------------------------


def check_nodes(query: exp.Query) -> None:
    """Refuse what a read-only query may not contain, wherever it is nested."""
    for node in query.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise refuse(
                "statement.not_select",
                f"{_kind(node)} is not allowed in a governed query: only reading with "
                "SELECT over the lake's tables is.",
            )
        if isinstance(node, _FORBIDDEN_CLAUSES):
            raise refuse(
                "clause.not_allowed",
                f"{_kind(node)} is not supported in governed queries; write it with joins, "
                "GROUP BY or CASE instead",
            )
        if isinstance(node, (exp.Placeholder, exp.Parameter, exp.SessionParameter)):
            raise refuse(
                "sql.parameter",
                f"the query has a parameter ({node.sql()}); write the value into the query",
            )
        if isinstance(node, exp.Func) and not is_allowed(node):
            name = function_name(node)
            raise refuse(
                "function.not_allowed",
                f"function {name}() is not allowed: governed queries may use aggregates, "
                "window functions and text, number, date, list and JSON functions, but "
                "nothing that reads files, settings, the environment or the catalog. "
                "Ask an administrator if a harmless function is missing.",
            )
        if isinstance(node, exp.Table):
            _check_table_node(node)


def _check_table_node(table: exp.Table) -> None:
    if not isinstance(table.this, exp.Identifier):
        what = table.this.sql(dialect="duckdb") if table.this else "?"
        raise refuse(
            "table.function",
            f"{what} is not a table: table functions (files, ranges, catalogs) are not "
            "allowed; read the lake's tables by name, e.g. FROM mart.population_by_area",
        )
    extra = {k for k, v in table.args.items() if v and k not in _TABLE_ARGS}
    if extra:
        raise refuse(
            "table.modifier",
            f"{table.sql(dialect='duckdb')}: {', '.join(sorted(extra))} on a table is not "
            "supported in governed queries (no time travel, sampling or parenthesised "
            "joins); write the plain table name",
        )
    alias = table.args.get("alias")
    if alias is not None and alias.columns:
        raise refuse(
            "table.alias_columns",
            f"{table.sql(dialect='duckdb')}: renaming a table's columns in its alias is not "
            "supported; alias the columns in the SELECT list instead",
        )


# --- 3. qualify ----------------------------------------------------------------------------


class _Resolver:
    """Resolves each real table of the query (CTE references are left alone by qualify)."""

    def __init__(self, lake: str, role: Role, analysis: Analysis) -> None:
        self.lake, self.role, self.analysis = lake, role, analysis
        self.tables = lake_tables()

    def readable(self) -> list[str]:
        return sorted(name for name in self.tables if self.role.may_read(name))

    def __call__(self, table: exp.Table) -> None:
        catalog, db, name = table.catalog, table.db, table.name
        if catalog and catalog != self.lake:
            raise refuse(
                "table.unknown",
                f"{table.sql(dialect='duckdb')}: only the lake's tables can be read "
                f"(catalog {self.lake}, or no catalog at all)",
            )
        if db:
            full = f"{db}.{name}"
            if full not in self.tables:
                raise self._unknown(full)
        else:
            matches = [s for s in SCHEMAS if f"{s}.{name}" in self.tables]
            if not matches:
                raise self._unknown(name)
            if len(matches) > 1:
                raise refuse(
                    "table.ambiguous",
                    f"table {name} exists in {', '.join(matches)}: write it with its schema, "
                    f"e.g. {matches[0]}.{name}",
                )
            full = f"{matches[0]}.{name}"
        self.analysis.tables.add(full)
        if not self.role.may_read(full):
            readable = ", ".join(self.role.tables)
            raise refuse(
                "table.not_allowed",
                f"role {self.role.name} may not read {full}; it may read {readable}"
                + (f" except {', '.join(self.role.deny_tables)}" if self.role.deny_tables else ""),
            )
        table.set("db", exp.to_identifier(full.split(".")[0]))
        table.set("catalog", exp.to_identifier(self.lake))

    def _unknown(self, name: str) -> QueryRefused:
        readable = self.readable()
        sample = ", ".join(readable[:12]) + (" ..." if len(readable) > 12 else "")
        return refuse(
            "table.unknown",
            f"there is no table {name} in the lake (catalogs, information_schema and "
            f"files cannot be read here); tables this role may read: {sample}",
        )


def _schema(lake: str) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for name, table in lake_tables().items():
        schema, table_name = name.split(".")
        nested.setdefault(schema, {})[table_name] = {c.name: c.sql_type for c in table.columns}
    return {lake: nested}


def qualify_query(query: exp.Query, lake: str, role: Role, analysis: Analysis) -> exp.Query:
    """Qualify tables (checked against the role) and columns; expand ``SELECT *``."""
    try:
        qualified = qualify(
            query,
            dialect="duckdb",
            schema=_schema(lake),
            on_qualify=_Resolver(lake, role, analysis),
            validate_qualify_columns=True,
            quote_identifiers=True,
        )
    except OptimizeError as exc:
        raise refuse(
            "column.unknown", f"{exc}. Check the column names with `citybrain catalog`."
        ) from exc
    _check_columns_resolved(qualified)
    return qualified


def _lambda_params(column: exp.Column) -> bool:
    parent = column.parent
    while parent is not None:
        if isinstance(parent, exp.Lambda) and column.name in {p.name for p in parent.expressions}:
            return True
        parent = parent.parent
    return False


def _output_alias(column: exp.Column) -> bool:
    # ORDER BY / GROUP BY / HAVING may name a result column; that value is already masked.
    child: exp.Expression = column
    parent = column.parent
    while parent is not None and not isinstance(parent, (exp.Select, exp.SetOperation)):
        child, parent = parent, parent.parent
    if parent is None or child.arg_key == "expressions":
        return False  # inside the SELECT list itself: not an alias reference
    return column.name in parent.named_selects


def _check_columns_resolved(query: exp.Query) -> None:
    for whole_row in query.find_all(exp.TableColumn):
        raise refuse(
            "column.unresolved",
            f"{whole_row.sql(dialect='duckdb')} names a whole row: whole-row references "
            "are not supported, name the columns you need",
        )
    for column in query.find_all(exp.Column):
        if not column.table and not _lambda_params(column) and not _output_alias(column):
            raise refuse(
                "column.unresolved",
                f"{column.sql(dialect='duckdb')} is not a column of any table in the query "
                "(whole-row references are not supported): name the columns you need",
            )


# --- what the query touches ----------------------------------------------------------------


def _lookup(scope: Scope, alias: str) -> exp.Table | Scope | None:
    current: Scope | None = scope
    while current is not None:
        source = current.sources.get(alias)
        if source is not None:
            return source
        current = current.parent
    return None


def _table_name(table: exp.Table) -> str:
    return f"{table.db}.{table.name}"


class _Lineage:
    """Which result columns derive from a column the role sees masked."""

    def __init__(self, masked: set[str]) -> None:
        self.masked = masked
        self.memo: dict[int, list[bool]] = {}

    def outputs(self, scope: Scope) -> list[bool]:
        key = id(scope)
        if key not in self.memo:
            self.memo[key] = self._outputs(scope)
        return self.memo[key]

    def _outputs(self, scope: Scope) -> list[bool]:
        if isinstance(scope.expression, exp.SetOperation):
            branches = [self.outputs(s) for s in scope.set_operation_scopes]
            return [any(flags) for flags in zip(*branches, strict=False)]
        return [self.expression(scope, p) for p in scope.expression.selects]

    def expression(self, scope: Scope, node: exp.Expression) -> bool:
        if any(isinstance(n, exp.Query) for n in node.walk()):
            return True  # a subquery in a projection: taken as masked (the safe side)
        return any(self.column(scope, c) for c in node.find_all(exp.Column))

    def column(self, scope: Scope, column: exp.Column) -> bool:
        source = _lookup(scope, column.table)
        if isinstance(source, exp.Table):
            return f"{_table_name(source)}.{column.name}" in self.masked
        if isinstance(source, Scope):
            names = source.expression.named_selects
            flags = self.outputs(source)
            if column.name in names:
                return flags[names.index(column.name)]
            return any(flags)
        return False


def _sees_masked(role: Role, col: Column) -> bool:
    action = role.action(col.standard.pi)
    return action == "redact" or (action == "mask" and col.standard.masking != "none")


def touched(query: exp.Query, role: Role, analysis: Analysis) -> tuple[bool, ...]:
    """Record the personal-data columns the query touches; flag masked result columns."""
    tables = lake_tables()
    scopes = traverse_scope(query)
    for scope in scopes:
        for column in scope.columns:
            source = _lookup(scope, column.table)
            if not isinstance(source, exp.Table):
                continue
            name = _table_name(source)
            col = tables[name].column(column.name)
            if col is None or col.standard.pi == "none":
                continue
            analysis.sensitive_columns.add(f"{name}.{col.name}")
            if _sees_masked(role, col):
                analysis.masked_columns.add(f"{name}.{col.name}")
    return tuple(_Lineage(analysis.masked_columns).outputs(scopes[-1]))


# --- 4. masked sources ---------------------------------------------------------------------


def district_column(policy: Policy, table: LakeTable) -> str | None:
    """The column a district role is scoped by in this table, if it has one."""
    names = {c.name for c in table.columns}
    return next((c for c in policy.district_columns if c in names), None)


def masked_source(
    table: LakeTable, lake: str, role: Role, policy: Policy, principal: Principal
) -> exp.Select:
    """``SELECT <each column, masked as the role sees it> FROM lake.<table>``, scoped.

    >>> from warehouse.governed.policy import Policy, Principal, Role
    >>> role = Role(name="analyst", tables=("core.*",))
    >>> policy = Policy(roles={"analyst": role})
    >>> sql = masked_source(lake_tables()["core.person"], "lake", role, policy,
    ...                     Principal(name="x", role="analyst")).sql("duckdb")
    >>> sql.startswith("SELECT CASE WHEN t.id_number IS NULL THEN NULL ELSE CASE WHEN LENGTH(t.id_number) = 18")
    True
    >>> "FROM lake.core.person AS t" in sql
    True
    """
    names = {c.name: c.sql_type for c in table.columns}
    projections: list[exp.Expression] = []
    for col in table.columns:
        raw = exp.column(col.name, table="t")
        action = role.action(col.standard.pi)
        if action == "clear":
            value: exp.Expression = raw
        elif action == "redact":
            value = redact(col.sql_type)
        else:
            value = mask_expression(col.standard.masking, raw.copy(), col.sql_type)
            marker = organization_marker(col.name, names) if value is not raw else None
            if marker is not None:
                is_org = exp.EQ(
                    this=exp.column(marker[0], table="t"), expression=exp.Literal.string(marker[1])
                )
                value = exp.Case().when(is_org, raw.copy()).else_(value)
        projections.append(exp.alias_(value, col.name, quoted=True))
    schema, name = table.name.split(".")
    source = exp.Table(
        this=exp.to_identifier(name),
        db=exp.to_identifier(schema),
        catalog=exp.to_identifier(lake),
        alias=exp.TableAlias(this=exp.to_identifier("t")),
    )
    select = exp.select(*projections).from_(source)
    if role.scope == "district":
        scoped_by = district_column(policy, table)
        if scoped_by is None or principal.district_code is None:
            raise refuse(
                "scope.no_district",
                f"role {role.name} reads one district, and {table.name} has no district "
                f"column ({', '.join(policy.district_columns)}); read the marts or core "
                "tables that have one",
            )
        select = select.where(
            exp.EQ(
                this=exp.column(scoped_by, table="t"),
                expression=exp.Literal.string(principal.district_code),
            )
        )
    return select


def substitute(
    query: exp.Query, lake: str, role: Role, policy: Policy, principal: Principal
) -> exp.Query:
    """Replace every lake table by its masked (and scoped) subquery, under the same alias."""
    tables = lake_tables()
    for table in list(query.find_all(exp.Table)):
        if table.catalog != lake:
            continue  # a CTE reference
        name = _table_name(table)
        # Checked again here, whatever path the table took through qualify.
        if name not in tables or not role.may_read(name):
            raise refuse("table.not_allowed", f"role {role.name} may not read {name}")
        source = masked_source(tables[name], lake, role, policy, principal)
        alias = table.alias or table.name
        table.replace(
            exp.Subquery(
                this=source, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
            )
        )
    return query


# --- 5. print and check again --------------------------------------------------------------


def _cte_names(query: exp.Expression) -> set[str]:
    return {cte.alias_or_name for cte in query.find_all(exp.CTE)}


def final_check(sql: str, lake: str) -> exp.Query:
    """The printed SQL, parsed again: one SELECT that reads only masked lake subqueries."""
    statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    if len(statements) != 1 or not isinstance(statements[0], (exp.Select, exp.SetOperation)):
        raise refuse("internal.check", "the rewritten query failed its own check; not run")
    query = statements[0]
    ctes = _cte_names(query)
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise refuse("internal.check", "the rewritten query reads a table function; not run")
        if table.catalog == lake:
            alias = table.alias
            select = table.parent.parent if table.parent else None
            if alias != "t" or not isinstance(select, exp.Select):
                raise refuse("internal.check", "the rewritten query reads a raw table; not run")
        elif table.catalog or table.db or table.name not in ctes:
            raise refuse("internal.check", "the rewritten query reads an unknown table; not run")
    return query


@contextmanager
def _fail_closed() -> Iterator[None]:
    # SQL the analysis cannot follow is refused (and audited), never run unchecked.
    try:
        yield
    except QueryRefused:
        raise
    except Exception as exc:
        raise refuse(
            "sql.unsupported",
            f"the query uses SQL the governed layer cannot analyse ({type(exc).__name__}: "
            f"{str(exc)[:200]}); simplify it, e.g. split it into CTEs",
        ) from exc


def plan_query(
    sql: str,
    principal: Principal,
    policy: Policy,
    lake: str,
    *,
    dialect: str | None = None,
    analysis: Analysis | None = None,
) -> Plan:
    """Check and rewrite ``sql`` for ``principal``; :class:`QueryRefused` if it may not run.

    ``analysis`` (optional) is filled in as the checks go, so a refusal can still be
    audited with the tables and columns it reached for.
    """
    analysis = analysis if analysis is not None else Analysis()
    role = policy.role(principal.role)
    with _fail_closed():
        query = parse(sql, dialect)
        check_nodes(query)
        query = qualify_query(query, lake, role, analysis)
        output_masked = touched(query, role, analysis)
        query = substitute(query, lake, role, policy, principal)
        text = query.sql(dialect="duckdb", comments=False)
        checked = final_check(text, lake)
    return Plan(
        sql=text,
        query=checked,
        tables=tuple(sorted(analysis.tables)),
        sensitive_columns=tuple(sorted(analysis.sensitive_columns)),
        masked_columns=tuple(sorted(analysis.masked_columns)),
        output_masked=output_masked,
    )

"""The lake: attach the DuckLake and create its schemas and tables from the data standard.

The catalog is a SQLite file under ``CITYBRAIN_HOME`` by default, or a PostgreSQL database
when ``CITYBRAIN_LAKE_CATALOG`` is a ``postgresql://`` URL; data files are Parquet under
the data path (lake.md). Tables come from :data:`schemas.records.TABLES` through
:mod:`schemas.generate`; the lake is never altered behind the standard's back: a table
whose columns differ from its model stops :func:`init_lake` with the migration to write.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote

import duckdb
from sqlglot import exp

from schemas.errors import ConfigError, LakeError, SpecError, TerminalError
from schemas.generate import DIALECT, Column, comment_statements, create_table, table_columns
from schemas.generate import table_name as model_table_name
from warehouse.extensions import Extension, connect, load_extension, loaded_extensions
from warehouse.retry import transaction, with_retry
from warehouse.sql import load_sql

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from schemas.records.base import CanonicalRecord
    from schemas.settings import Settings

LAKE_SCHEMAS = ("core", "mart", "meta")
"""The lake's zones (lake.md), created even while no table lives in them."""

CATALOG_SECRET = "citybrain_lake_catalog"
"""DuckDB secret holding the PostgreSQL catalog's password (``postgres_catalog_secret.sql``)."""


# --- where the lake is -------------------------------------------------------------------

_PG_URL = re.compile(
    r"^postgres(?:ql)?://(?P<netloc>[^/?#]*)(?:/(?P<dbname>[^?#]*))?(?:\?(?P<query>[^#]*))?$"
)
_PG_KEY = re.compile(r"^[a-z_]+$")


def _conninfo_value(value: str) -> str:
    # libpq: quote empty values and those with spaces, quotes or backslashes; inside
    # single quotes, backslash escapes ' and \.
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_hosts(hostspec: str, url: str) -> dict[str, str]:
    hosts: list[str] = []
    ports: list[str] = []
    for part in hostspec.split(",") if hostspec else []:
        if part.startswith("["):  # IPv6 literal
            host, _, rest = part[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = part.partition(":")
        if port and not port.isdigit():
            raise ConfigError(
                "CITYBRAIN_LAKE_CATALOG", redact(url), "a numeric port after the host"
            )
        hosts.append(unquote(host))
        ports.append(port)
    params = {}
    if any(hosts):
        params["host"] = ",".join(hosts)
    if any(ports):
        params["port"] = ",".join(ports)
    return params


def _pg_query(query: str, url: str) -> dict[str, str]:
    # Not parse_qsl: libpq does not read "+" as a space.
    params = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key = unquote(key)
        if not _PG_KEY.match(key):
            raise ConfigError(
                "CITYBRAIN_LAKE_CATALOG", redact(url), "libpq parameter names in the query"
            )
        params[key] = unquote(value)
    return params


def _pg_params(url: str) -> dict[str, str]:
    match = _PG_URL.match(url)
    if match is None:
        raise ConfigError(
            "CITYBRAIN_LAKE_CATALOG",
            redact(url),
            "a URL like postgresql://user:password@host:5432/dbname",
        )
    userinfo, _, hostspec = match["netloc"].rpartition("@")
    params: dict[str, str] = {}
    if match["dbname"]:
        params["dbname"] = unquote(match["dbname"])
    params |= _pg_hosts(hostspec, url)
    if userinfo:
        user, has_password, password = userinfo.partition(":")
        if user:
            params["user"] = unquote(user)
        if has_password:
            params["password"] = unquote(password)
    return params | _pg_query(match["query"] or "", url)


def postgres_conninfo(url: str, *, password: bool = True) -> str:
    r"""A ``postgresql://`` URL as a libpq keyword/value connection string.

    Percent-escapes are decoded, several hosts and IPv6 literals kept, query parameters
    (``sslmode``, ``application_name`` ...) passed on, and values quoted as libpq wants.
    ``password=False`` leaves the password out (:func:`attach` hands it over in a secret).

    >>> postgres_conninfo("postgresql://lake:s3cr%40t@db.gov.cn:5433/city?sslmode=require")
    'dbname=city host=db.gov.cn port=5433 user=lake password=s3cr@t sslmode=require'
    >>> postgres_conninfo("postgres://u:it%27s%20me@[::1]/lake")
    "dbname=lake host=::1 user=u password='it\\'s me'"
    >>> postgres_conninfo("postgres://u:pw@db/lake", password=False)
    'dbname=lake host=db user=u'
    """
    params = _pg_params(url)
    if not password:
        params.pop("password", None)
    return " ".join(f"{key}={_conninfo_value(value)}" for key, value in params.items())


def postgres_password(url: str) -> str | None:
    """The password in a ``postgresql://`` URL, if it holds one."""
    return _pg_params(url).get("password")


def redact(catalog: str) -> str:
    """The catalog location with any password hidden, for messages and status.

    >>> redact("postgresql://lake:s3cret@db:5432/city")
    'postgresql://lake:***@db:5432/city'
    >>> redact("dbname=city password='a b' host=db")
    'dbname=city password=*** host=db'
    """
    catalog = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", catalog)
    return re.sub(r"(password=)('(?:\\.|[^'])*'|\S*)", r"\1***", catalog)


def ducklake_target(settings: Settings) -> str:
    """The ``ducklake:`` string to ATTACH for these settings (never with a password).

    >>> from schemas.settings import Settings
    >>> ducklake_target(Settings(lake_catalog="postgresql://u:secret@db/lake"))
    'ducklake:postgres:dbname=lake host=db user=u'
    """
    if settings.catalog_kind == "postgres":
        return f"ducklake:postgres:{postgres_conninfo(settings.catalog, password=False)}"
    return f"ducklake:sqlite:{sqlite_catalog_path(settings)}"


def sqlite_catalog_path(settings: Settings) -> Path:
    """Absolute path of a SQLite catalog (DuckLake would resolve a relative one per cwd)."""
    return Path(settings.catalog).expanduser().resolve()


def _is_url(path: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path) is not None


def data_path(settings: Settings) -> str:
    """Where the Parquet files go: an absolute folder ending in ``/``, or a URL as given."""
    if _is_url(settings.data_path):
        return settings.data_path
    return str(Path(settings.data_path).expanduser().resolve()) + "/"


def local_data_path(settings: Settings) -> str | None:
    """The lake's data folder when it is local; None when it is on object storage."""
    return None if _is_url(settings.data_path) else data_path(settings)


def lake_exists(settings: Settings) -> bool | None:
    """Whether the catalog exists yet; ``None`` when only a connection can tell (PostgreSQL)."""
    if settings.catalog_kind == "postgres":
        return None
    return sqlite_catalog_path(settings).is_file()


def _option(name: str, value: str | None = None) -> exp.AttachOption:
    return exp.AttachOption(
        this=exp.var(name), expression=exp.Literal.string(value) if value is not None else None
    )


def set_statement(name: str, value: str | bool | list[str]) -> str:
    """``SET name = value`` for a DuckDB setting, built with sqlglot (values quoted as
    literals, never pasted into the text).

    >>> set_statement("memory_limit", "2GB"), set_statement("lock_configuration", True)
    ("SET memory_limit = '2GB'", 'SET lock_configuration = TRUE')
    """
    literal: exp.Expression
    if isinstance(value, list):
        literal = exp.Array(expressions=[exp.Literal.string(v) for v in value])
    elif isinstance(value, str):
        literal = exp.Literal.string(value)
    else:
        literal = exp.Boolean(this=value)
    item = exp.SetItem(this=exp.EQ(this=exp.column(name), expression=literal))
    return exp.Set(expressions=[item]).sql(dialect="duckdb")


def attach_statement(settings: Settings, *, read_only: bool = False) -> exp.Attach:
    """The ATTACH of the lake under ``settings.lake_name``, as sqlglot.

    A writer names the data path, so a catalog created elsewhere is caught at once
    (DuckLake refuses a path that differs from the one it recorded); a reader takes the
    recorded one. SQLite catalogs are put in WAL mode: in the default rollback journal an
    open read transaction blocks every commit for the busy timeout, then fails it.

    >>> from schemas.settings import Settings
    >>> s = Settings(home="/srv/cb")
    >>> attach_statement(s, read_only=True).sql("duckdb")
    "ATTACH 'ducklake:sqlite:/srv/cb/lake/catalog.sqlite' AS lake (READ_ONLY)"
    >>> attach_statement(s).sql("duckdb")
    "ATTACH 'ducklake:sqlite:/srv/cb/lake/catalog.sqlite' AS lake (DATA_PATH '/srv/cb/lake/data/', META_JOURNAL_MODE 'WAL')"
    """
    if read_only:
        options = [_option("READ_ONLY")]
    else:
        options = [_option("DATA_PATH", data_path(settings))]
        if settings.catalog_kind == "sqlite":
            options.append(_option("META_JOURNAL_MODE", "WAL"))
    if settings.catalog_kind == "postgres" and postgres_password(settings.catalog) is not None:
        options.append(_option("META_SECRET", CATALOG_SECRET))
    target = exp.alias_(exp.Literal.string(ducklake_target(settings)), settings.lake_name)
    return exp.Attach(this=target, expressions=options)


def _explain_attach(exc: duckdb.Error, settings: Settings) -> str:
    where = redact(settings.catalog)
    text = str(exc)
    if "does not match existing data path" in text:
        hint = (
            "The catalog keeps the data path it was created with. Set "
            "CITYBRAIN_LAKE_DATA_PATH to the path the catalog names, or move the files "
            "and re-attach once with OVERRIDE_DATA_PATH."
        )
    elif settings.catalog_kind == "postgres":
        hint = (
            "Check that the PostgreSQL server answers and the user may create tables in "
            "the database (a password can also come from ~/.pgpass or PGPASSWORD)."
        )
    else:
        hint = "Check that the folder is writable and on a local disk (SQLite locks need one)."
    return f"could not attach the lake (catalog {where}): {redact(text)}. {hint}"


def _prepare_folders(settings: Settings, *, read_only: bool) -> None:
    if settings.catalog_kind == "sqlite":
        catalog = sqlite_catalog_path(settings)
        if read_only and not catalog.is_file():
            msg = (
                f"there is no lake at {catalog} yet: run `citybrain lake init` (or "
                "`make demo`) to create it."
            )
            raise LakeError(msg)
        if not read_only:
            catalog.parent.mkdir(parents=True, exist_ok=True)
    if not read_only and not _is_url(settings.data_path):
        Path(data_path(settings)).mkdir(parents=True, exist_ok=True)


def attach(
    settings: Settings,
    read_only: bool = False,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    spatial: bool = False,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached as ``settings.lake_name``.

    Extensions come from the wheels (:mod:`warehouse.extensions`); a new SQLite catalog and
    a local data folder are created on the first write. ``read_only=True`` never creates
    anything and fails with a plain message when there is no lake yet. ``spatial=True``
    also loads the spatial functions (ST_Area, ST_Contains ...).
    """
    kind = settings.catalog_kind
    wanted: list[Extension] = [
        "ducklake",
        "sqlite_scanner" if kind == "sqlite" else "postgres_scanner",
    ]
    if spatial:
        wanted.append("spatial")
    _prepare_folders(settings, read_only=read_only)
    own = con is None
    if con is None:
        # Bounded memory, spilling to the home's temp folder: big loads stay predictable
        # next to Polars in the same process (DuckDB's default is 80% of the machine).
        config = {"memory_limit": settings.duckdb_memory_limit}
        if not read_only or settings.home.is_dir():  # a reader never creates the home
            spill = settings.home / "tmp" / "duckdb"
            spill.mkdir(parents=True, exist_ok=True)  # DuckDB makes only the last level
            config["temp_directory"] = str(spill)
        con = connect(extensions=wanted, config=config)
    else:
        for name in set(wanted) - loaded_extensions(con):
            load_extension(con, name)  # type: ignore[arg-type]
    statement = attach_statement(settings, read_only=read_only).sql(dialect=DIALECT)
    try:
        if kind == "postgres" and (password := postgres_password(settings.catalog)) is not None:
            con.execute(load_sql("postgres_catalog_secret"), {"password": password})
        with_retry(lambda: con.execute(statement), what="attach the lake")
    except duckdb.Error as exc:
        if own:
            con.close()
        raise LakeError(_explain_attach(exc, settings)) from exc
    except BaseException:
        if own:
            con.close()
        raise
    return con


# --- creating the tables -----------------------------------------------------------------


class LakeColumn(NamedTuple):
    """A column as the attached lake reports it."""

    name: str
    sql_type: str
    nullable: bool
    comment: str | None


@dataclass(frozen=True)
class Drift:
    """One difference between a lake table and its model."""

    table: str
    column: str
    problem: str
    fix: str  # a migration statement, or what to decide


class SchemaDrift(LakeError, TerminalError):
    """A lake table no longer matches the data standard; a migration is needed."""

    def __init__(self, drifts: Sequence[Drift]) -> None:
        self.drifts = tuple(drifts)
        tables = sorted({d.table for d in drifts})
        lines = [
            f"{len(tables)} lake table(s) differ from the data standard in schemas/records: "
            + ", ".join(tables)
        ]
        lines += [f"  - {d.table}.{d.column}: {d.problem}\n      fix: {d.fix}" for d in drifts]
        lines.append(
            "The lake is never altered silently. Write a migration (the statements above, "
            "reviewed) with a note in docs/, run it, then `citybrain lake init` again; or "
            "change the model back."
        )
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class InitReport:
    """What :func:`init_lake` did; all empty (and no new snapshot) when nothing was needed."""

    created_schemas: tuple[str, ...] = ()
    created_tables: tuple[str, ...] = ()
    relabelled: tuple[str, ...] = ()
    snapshot_id: int | None = None
    tables: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.created_schemas or self.created_tables or self.relabelled)


def _norm_type(sql_type: str) -> str:
    return sql_type.upper().replace(" ", "")


def _qualified(lake: str, name: str) -> exp.Table:
    table = exp.to_table(name, dialect=DIALECT)
    table.set("catalog", exp.to_identifier(lake))
    return table


def _alter(lake: str, name: str, action: exp.Expression) -> str:
    return exp.Alter(this=_qualified(lake, name), kind="TABLE", actions=[action]).sql(DIALECT)


def _drift(
    lake: str, name: str, wanted: Sequence[Column], found: Sequence[LakeColumn]
) -> list[Drift]:
    have = {c.name: c for c in found}
    out: list[Drift] = []
    for col in wanted:
        got = have.get(col.name)
        model_type = col.sql_type
        if got is None:
            add = exp.ColumnDef(
                this=exp.to_identifier(col.name),
                kind=exp.DataType.build(model_type, dialect=DIALECT),
            )
            fix = _alter(lake, name, add)
            if not col.nullable:
                fix += " -- then fill it and make it NOT NULL"
            out.append(
                Drift(name, col.name, f"in the model ({model_type}), missing from the lake", fix)
            )
            continue
        if _norm_type(got.sql_type) != _norm_type(model_type):
            change = exp.AlterColumn(
                this=exp.to_identifier(col.name),
                dtype=exp.DataType.build(model_type, dialect=DIALECT),
            )
            out.append(
                Drift(
                    name,
                    col.name,
                    f"the lake has {got.sql_type}, the model says {model_type}",
                    _alter(lake, name, change)
                    + " -- DuckLake only widens types in place; otherwise add a new column "
                    "and backfill it",
                )
            )
        if got.nullable != col.nullable:
            if col.nullable:
                problem = "the lake requires a value (NOT NULL), the model allows NULL"
                fix = _alter(
                    lake,
                    name,
                    exp.AlterColumn(this=exp.to_identifier(col.name), drop=True, allow_null=True),
                )
            else:
                problem = "the lake allows NULL, the model requires a value (NOT NULL)"
                fix = f"fill the NULLs of {col.name}, then ALTER it SET NOT NULL"
            out.append(Drift(name, col.name, problem, fix))
    model_names = {c.name for c in wanted}
    for got in found:
        if got.name not in model_names:
            drop = exp.Drop(tables=[exp.column(got.name)], kind="COLUMN")
            out.append(
                Drift(
                    name,
                    got.name,
                    f"in the lake ({got.sql_type}), not in the model",
                    f"add the field to the model, or drop it: {_alter(lake, name, drop)}",
                )
            )
    return out


def _relabel(
    lake: str,
    model: type[CanonicalRecord],
    history: bool,
    found: Sequence[LakeColumn],
    table_comment: str | None,
) -> list[exp.Comment]:
    # Labels are documentation, not structure: keeping them in step is not a migration.
    comments = comment_statements(model, history=history, catalog=lake)
    current = {c.name: c.comment for c in found}
    stale = []
    for statement in comments:
        label = statement.expression.name
        if statement.args["kind"] == "TABLE":
            if table_comment != label:
                stale.append(statement)
        elif current.get(statement.this.name, label) != label:
            stale.append(statement)
    return stale


def _registry() -> tuple[type[CanonicalRecord], ...]:
    from schemas.records import TABLES

    return TABLES


def _plan(
    con: duckdb.DuckDBPyConnection, lake: str, models: Sequence[type[CanonicalRecord]]
) -> tuple[InitReport, list[exp.Expression]]:
    params = {"lake": lake}
    schemas = {row[0] for row in con.execute(load_sql("lake_schemas"), params).fetchall()}
    found: dict[str, list[LakeColumn]] = defaultdict(list)
    for schema, table, column, sql_type, nullable, comment in con.execute(
        load_sql("lake_columns"), params
    ).fetchall():
        found[f"{schema}.{table}"].append(LakeColumn(column, sql_type, bool(nullable), comment))
    table_comments = {
        f"{schema}.{table}": comment
        for schema, table, comment in con.execute(load_sql("lake_tables"), params).fetchall()
    }

    wanted_schemas = dict.fromkeys([*LAKE_SCHEMAS, *(m.__table__.split(".")[0] for m in models)])
    new_schemas = [s for s in wanted_schemas if s not in schemas]
    statements: list[exp.Expression] = [
        exp.Create(
            this=exp.Table(db=exp.to_identifier(s), catalog=exp.to_identifier(lake)),
            kind="SCHEMA",
            exists=True,
        )
        for s in new_schemas
    ]
    created: list[str] = []
    relabelled: list[str] = []
    drifts: list[Drift] = []
    names: list[str] = []
    for model in models:
        for history in (False, True) if model.__history__ else (False,):
            name = model_table_name(model, history=history)
            names.append(name)
            if name not in found:
                statements.append(create_table(model, history=history, catalog=lake))
                statements.extend(comment_statements(model, history=history, catalog=lake))
                created.append(name)
                continue
            drifts += _drift(lake, name, table_columns(model, history=history), found[name])
            stale = _relabel(lake, model, history, found[name], table_comments.get(name))
            if stale:
                statements.extend(stale)
                relabelled.append(name)
    if drifts:
        raise SchemaDrift(drifts)
    report = InitReport(
        created_schemas=tuple(new_schemas),
        created_tables=tuple(created),
        relabelled=tuple(relabelled),
        tables=tuple(names),
    )
    return report, statements


def _plan_and_apply(
    con: duckdb.DuckDBPyConnection, lake: str, models: Sequence[type[CanonicalRecord]]
) -> InitReport:
    # Plan and write in one transaction: the plan sees the snapshot the commit builds on
    # (a concurrent init then conflicts and is retried), and DuckLake loads the catalog
    # once instead of once per query. A transaction that wrote nothing adds no snapshot.
    with transaction(con):
        report, statements = _plan(con, lake, models)
        for statement in statements:
            con.execute(statement.sql(dialect=DIALECT))
    if not statements:
        return report
    snapshot = con.execute(load_sql("lake_snapshots"), {"lake": lake}).fetchone()
    return replace(report, snapshot_id=snapshot[1] if snapshot else None)


def init_lake(
    settings: Settings,
    tables: Iterable[type[CanonicalRecord]] | None = None,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> InitReport:
    """Create the schemas ``core``, ``mart``, ``meta`` and every table of the standard.

    Idempotent: when the lake already matches, nothing is written and no snapshot is
    added. Missing tables (and the ``_history`` twins of core tables) are created with
    their Chinese labels in one transaction; stale labels are refreshed. A table whose
    columns differ from its model raises :class:`SchemaDrift` before anything is written.

    ``tables`` defaults to :data:`schemas.records.TABLES`; ``con`` an already attached
    connection (otherwise one is opened and closed here).
    """
    models = _registry() if tables is None else tuple(tables)
    seen: dict[str, str] = {}
    for model in models:
        other = seen.setdefault(model.__table__, model.__name__)
        if other != model.__name__:
            msg = f"{model.__table__} is declared twice: by {other} and by {model.__name__}"
            raise SpecError(msg)
    own = con is None
    con = con or attach(settings)
    try:
        return with_retry(
            lambda: _plan_and_apply(con, settings.lake_name, models), what="lake init"
        )
    except duckdb.Error as exc:
        msg = f"lake init failed on catalog {redact(settings.catalog)}: {redact(str(exc))}"
        raise LakeError(msg) from exc
    finally:
        if own:
            con.close()


def use_lake(settings: Settings) -> str:
    """``USE <lake>``: lets static ``.sql`` files name tables as ``core.person``.

    >>> from schemas.settings import Settings
    >>> use_lake(Settings(lake_name="lake"))
    'USE lake'
    """
    return exp.Use(this=exp.to_identifier(settings.lake_name)).sql(dialect="duckdb")

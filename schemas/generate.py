"""Everything derived from the canonical models: Polars schema, lake DDL, data dictionary.

The models in :mod:`schemas.records` are the single source of truth; nothing here keeps a
second list of columns. Three things are added to what the models declare:

- the provenance columns every ``__history__`` (core) table carries (lake.md), and
- the SCD2 columns of its ``<table>_history`` twin.

Both are prefixed with ``_``: pydantic never treats such names as fields, so they can never
collide with a business column (``core.licence`` has its own ``valid_from``/``valid_to``).

>>> from schemas.records import table
>>> [c.name for c in table_columns(table("core.area"))][:3]
['area_code', 'name', 'level']
>>> ddl_sql(table("meta.watermarks"))[0]
'CREATE TABLE IF NOT EXISTS meta.watermarks (feed TEXT NOT NULL, ...)'
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import types
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

from sqlglot import exp

from schemas.errors import SpecError
from schemas.records.base import CanonicalRecord, LakeType
from schemas.standard import FieldStandard, field_standard

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    import polars as pl

DIALECT = "duckdb"


class Column(NamedTuple):
    """One column of a lake table, as the standard describes it."""

    name: str
    # DuckDB's own spelling of the type, as information_schema reports it back.
    sql_type: str
    nullable: bool
    standard: FieldStandard


class _Scalar(NamedTuple):
    sql: str
    polars: str


# Order matters: bool before int and datetime before date (subclasses).
_SCALARS: tuple[tuple[type, _Scalar], ...] = (
    (bool, _Scalar("BOOLEAN", "Boolean")),
    (int, _Scalar("BIGINT", "Int64")),
    (float, _Scalar("DOUBLE", "Float64")),
    # Money without its marker still needs a scale the lake can keep exactly.
    (Decimal, _Scalar("DECIMAL(18,2)", "Decimal(18,2)")),
    (dt.datetime, _Scalar("TIMESTAMP", "Datetime(us)")),
    (dt.date, _Scalar("DATE", "Date")),
    (dt.time, _Scalar("TIME", "Time")),
    (str, _Scalar("VARCHAR", "String")),
    (bytes, _Scalar("BLOB", "Binary")),
)


def _provenance(
    name: str, sql_type: str, label: str, description: str, *, nullable: bool = False
) -> Column:
    # Pipeline bookkeeping: no personal data, shared freely, never part of an open dataset.
    meta = FieldStandard(
        label=label,
        description=description,
        security_level="general-2",
        open_level="not_open",
    )
    return Column(name, sql_type, nullable, meta)


PROVENANCE_COLUMNS: tuple[Column, ...] = (
    # First, beside the fields it is derived from: the loader compares it to keep a late,
    # older update from overwriting a newer one (and it opens the version's SCD2 period).
    _provenance(
        "_version_at",
        "TIMESTAMP",
        "版本时间",
        "Orders versions of a key: the table's update column, else the delivery's receipt "
        "time (UTC).",
    ),
    _provenance("_feed", "VARCHAR", "数据源", "Feed that delivered the row (population, ...)."),
    _provenance("_batch_id", "VARCHAR", "批次号", "Batch that loaded this version (meta.batches)."),
    _provenance("_source", "VARCHAR", "来源", "File, URL or page the row came from."),
    _provenance("_source_row", "BIGINT", "来源行号", "Row or item number in that source."),
    _provenance(
        "_record_hash", "VARCHAR", "记录摘要", "Hash of the canonical values: unchanged = same."
    ),
    _provenance(
        "_loaded_at",
        "TIMESTAMP",
        "入库时间",
        "When the batch's rows were written for the lake, UTC: between its started_at and "
        "finished_at in meta.batches, and later than every _loaded_at before its commit.",
    ),
)
"""Carried by every core (``__history__``) table, in this order, after the model's fields."""

HISTORY_COLUMNS: tuple[Column, ...] = (
    _provenance("_valid_from", "TIMESTAMP", "生效时间", "When this version became current, UTC."),
    _provenance(
        "_valid_to",
        "TIMESTAMP",
        "失效时间",
        "When a newer version replaced it, UTC; NULL while current.",
        nullable=True,
    ),
    _provenance("_is_current", "BOOLEAN", "当前版本", "True for the version in the core table."),
)
"""Added to ``core.<table>_history`` after the provenance columns (SCD type 2)."""


def _where(model: type[CanonicalRecord], name: str) -> str:
    return f"{model.__module__}.{model.__name__}.{name}"


def _unwrap(annotation: Any) -> tuple[Any, bool, LakeType | None]:
    """Strip ``Optional``/``Annotated``: the bare type, whether None is allowed, any marker."""
    nullable = False
    marker: LakeType | None = None
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extras = get_args(annotation)
            marker = next((m for m in extras if isinstance(m, LakeType)), marker)
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(get_args(annotation))
            if len(args) != 1:
                return annotation, nullable, marker  # a real union: the caller refuses it
            annotation = args[0]
        else:
            return annotation, nullable, marker


def _scalar(annotation: Any, where: str) -> _Scalar:
    if get_origin(annotation) is Literal:
        kinds = {type(v) for v in get_args(annotation)}
        if len(kinds) == 1:
            return _scalar(kinds.pop(), where)
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            kinds = {type(m.value) for m in annotation}
            if len(kinds) == 1:
                return _scalar(kinds.pop(), where)
        for python_type, scalar in _SCALARS:
            if issubclass(annotation, python_type):
                return scalar
    msg = (
        f"{where}: type {annotation!r} has no lake column type; use str, int, float, "
        "Decimal/Money, date, datetime, bool, bytes, list[...] of these, a Literal, or "
        "annotate it with schemas.records.base.LakeType"
    )
    raise SpecError(msg)


def _types(annotation: Any, metadata: Sequence[Any], where: str) -> tuple[_Scalar, bool]:
    """(sql type, polars type) and nullability of one field."""
    bare, nullable, marker = _unwrap(annotation)
    # pydantic moves a top-level Annotated[...]'s extras to FieldInfo.metadata.
    marker = next((m for m in metadata if isinstance(m, LakeType)), marker)
    if marker is not None:
        return _Scalar(marker.sql, marker.polars), nullable
    if get_origin(bare) in (list, tuple, set, frozenset):
        args = [a for a in get_args(bare) if a is not Ellipsis]
        if len(set(args)) != 1:
            msg = f"{where}: a list column needs one item type, got {bare!r}"
            raise SpecError(msg)
        item, _, item_marker = _unwrap(args[0])
        inner = _Scalar(item_marker.sql, item_marker.polars) if item_marker else None
        inner = inner or _scalar(item, where)
        return _Scalar(f"{inner.sql}[]", f"List({inner.polars})"), nullable
    return _scalar(bare, where), nullable


def _field_types(model: type[CanonicalRecord]) -> dict[str, tuple[_Scalar, bool, FieldStandard]]:
    out: dict[str, tuple[_Scalar, bool, FieldStandard]] = {}
    for name, info in model.model_fields.items():
        where = _where(model, name)
        scalar, nullable = _types(info.annotation, info.metadata, where)
        try:
            meta = field_standard(info)
        except TypeError as exc:
            msg = f"{where}: declare the field with schemas.standard.std(...) ({exc})"
            raise SpecError(msg) from exc
        out[name] = (scalar, nullable, meta)
    return out


def _extra_columns(model: type[CanonicalRecord], *, history: bool) -> tuple[Column, ...]:
    if history and not model.__history__:
        msg = f"{model.__table__} keeps no history ({model.__name__}.__history__ is False)"
        raise SpecError(msg)
    if not model.__history__:
        return ()
    return PROVENANCE_COLUMNS + (HISTORY_COLUMNS if history else ())


def table_name(model: type[CanonicalRecord], *, history: bool = False) -> str:
    """Qualified lake table of a model, or of its SCD2 history.

    >>> from schemas.records import table
    >>> table_name(table("core.person"), history=True)
    'core.person_history'
    """
    _extra_columns(model, history=history)
    return f"{model.__table__}_history" if history else model.__table__


def table_columns(model: type[CanonicalRecord], *, history: bool = False) -> list[Column]:
    """The columns of the model's lake table, in order: its fields, then provenance.

    ``history=True`` gives the columns of ``core.<table>_history`` (SCD2 columns added).
    A field is nullable exactly when its type admits ``None``.

    >>> from schemas.records import table
    >>> cols = table_columns(table("core.legal_entity"))
    >>> [(c.name, c.sql_type, c.nullable) for c in cols if c.name in ("uscc", "registered_capital")]
    [('uscc', 'VARCHAR', False), ('registered_capital', 'DECIMAL(18,2)', True)]
    >>> cols[-1].name, cols[-1].standard.label
    ('_loaded_at', '入库时间')
    """
    fields = [
        Column(name, scalar.sql, nullable, meta)
        for name, (scalar, nullable, meta) in _field_types(model).items()
    ]
    return fields + list(_extra_columns(model, history=history))


_POLARS_SPEC = re.compile(r"^(\w+)(?:\((.*)\))?$")


def _polars_dtype(spec: str) -> pl.DataType:
    import polars as pl

    match = _POLARS_SPEC.match(spec.replace(" ", ""))
    if match is None:
        msg = f"cannot read Polars type {spec!r}"
        raise SpecError(msg)
    name, args = match.groups()
    if name == "List":
        return pl.List(_polars_dtype(args))
    if name == "Decimal":
        precision, scale = (int(a) for a in args.split(","))
        return pl.Decimal(precision, scale)
    if name == "Datetime":
        return pl.Datetime(args or "us")
    dtype = getattr(pl, name, None)
    if dtype is None or args:
        msg = f"cannot read Polars type {spec!r}"
        raise SpecError(msg)
    return dtype()


def polars_schema(
    model: type[CanonicalRecord], *, lake: bool = False, history: bool = False
) -> pl.Schema:
    """The Polars schema of the model's records.

    By default only the model's fields (what ``transforms/`` produces); ``lake=True`` adds
    the provenance columns, matching the lake table column for column, and ``history=True``
    matches ``core.<table>_history``.

    >>> from schemas.records import table
    >>> schema = polars_schema(table("core.credit_penalty"))
    >>> schema["fine_amount"], schema["penalty_types"], schema["decision_date"]
    (Decimal(precision=18, scale=2), List(String), Date)
    >>> polars_schema(table("core.area"), lake=True)["_loaded_at"]
    Datetime(time_unit='us', time_zone=None)
    """
    import polars as pl

    specs = {name: scalar.polars for name, (scalar, _, _) in _field_types(model).items()}
    if lake or history:
        extra = _extra_columns(model, history=history)
        specs |= {c.name: _SQL_TO_POLARS[c.sql_type] for c in extra}
    return pl.Schema({name: _polars_dtype(spec) for name, spec in specs.items()})


_SQL_TO_POLARS = {scalar.sql: scalar.polars for _, scalar in _SCALARS}


def _create(name: str, columns: Iterable[Column], catalog: str | None) -> exp.Create:
    definitions = [
        exp.ColumnDef(
            this=exp.to_identifier(col.name),
            kind=exp.DataType.build(col.sql_type, dialect=DIALECT),
            # DuckLake keeps NOT NULL and refuses PRIMARY KEY/UNIQUE/CHECK: business keys
            # are enforced by the loader's MERGE, not by the catalog.
            constraints=[]
            if col.nullable
            else [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())],
        )
        for col in columns
    ]
    target = exp.to_table(name, dialect=DIALECT)
    if catalog:
        target.set("catalog", exp.to_identifier(catalog))
    return exp.Create(
        this=exp.Schema(this=target, expressions=definitions), kind="TABLE", exists=True
    )


def create_table(
    model: type[CanonicalRecord], *, history: bool = False, catalog: str | None = None
) -> exp.Create:
    """``CREATE TABLE IF NOT EXISTS`` for the model's table (or its history), as sqlglot.

    ``catalog`` qualifies the table with the attached lake's name (``lake.core.person``).

    >>> from schemas.records import table
    >>> create_table(table("meta.watermarks"), catalog="lake").sql("duckdb")[:70]
    'CREATE TABLE IF NOT EXISTS lake.meta.watermarks (feed TEXT NOT NULL, c'
    """
    name = table_name(model, history=history)
    return _create(name, table_columns(model, history=history), catalog)


def comment_statements(
    model: type[CanonicalRecord], *, history: bool = False, catalog: str | None = None
) -> list[exp.Comment]:
    """``COMMENT ON`` the table and each column with its Chinese label.

    Anyone attaching the lake with plain DuckDB then sees the labels in
    ``duckdb_tables()`` / ``duckdb_columns()``.

    >>> from schemas.records import table
    >>> comment_statements(table("meta.watermarks"))[0].sql("duckdb")
    "COMMENT ON TABLE meta.watermarks IS '增量水位'"
    """
    name = table_name(model, history=history)
    target = exp.to_table(name, dialect=DIALECT)
    if catalog:
        target.set("catalog", exp.to_identifier(catalog))
    label = f"{model.__label__}（历史）" if history else model.__label__
    out = [exp.Comment(this=target, kind="TABLE", expression=exp.Literal.string(label))]
    for col in table_columns(model, history=history):
        column = exp.Column(
            this=exp.to_identifier(col.name),
            table=target.args["this"].copy(),
            db=target.args["db"].copy(),
            catalog=target.args["catalog"].copy() if catalog else None,
        )
        out.append(
            exp.Comment(
                this=column, kind="COLUMN", expression=exp.Literal.string(col.standard.label)
            )
        )
    return out


def ddl_sql(model: type[CanonicalRecord], *, catalog: str | None = None) -> list[str]:
    """The DuckDB statements that create the model's table(s) with their labels.

    Core (``__history__``) models give two tables: the current one and its history.

    >>> from schemas.records import table
    >>> [s.split(" (")[0] for s in ddl_sql(table("core.area")) if s.startswith("CREATE")]
    ['CREATE TABLE IF NOT EXISTS core.area', 'CREATE TABLE IF NOT EXISTS core.area_history']
    """
    statements: list[exp.Expression] = []
    for history in (False, True) if model.__history__ else (False,):
        statements.append(create_table(model, history=history, catalog=catalog))
        statements.extend(comment_statements(model, history=history, catalog=catalog))
    return [s.sql(dialect=DIALECT) for s in statements]


_PI = {"none": "—", "pi": "个人信息 PI", "sensitive_pi": "敏感个人信息 sensitive PI"}
_OPEN = {"unconditional": "无条件开放", "conditional": "有条件开放", "not_open": "不予开放"}
_MASK = {"none": "—"}


def allowed_values(model: type[CanonicalRecord], name: str) -> tuple[Any, ...]:
    """The values a ``Literal``/``Enum`` field allows, for the dictionary; () otherwise.

    >>> from schemas.records import table
    >>> allowed_values(table("core.person"), "population_type")
    ('registered', 'floating')
    """
    info = model.model_fields.get(name)
    if info is None:
        return ()
    bare, _, _ = _unwrap(info.annotation)
    if get_origin(bare) is Literal:
        return get_args(bare)
    if isinstance(bare, type) and issubclass(bare, enum.Enum):
        return tuple(m.value for m in bare)
    return ()


def code_cell(model: type[CanonicalRecord], column: Column) -> str:
    """The 'code / standard' of a column in the dictionary: code type, table, standard, values.

    >>> from schemas.records import table
    >>> person = table("core.person")
    >>> code_cell(person, next(c for c in table_columns(person) if c.name == "id_number"))
    'citizen_id · GB 11643-1999'
    """
    meta = column.standard
    parts = [meta.code] if meta.code else []
    # "GB/T 2261.1" as code table and "GB/T 2261.1-2003" as standard say the same thing once.
    if meta.code_table and not (meta.standard or "").startswith(meta.code_table):
        parts.append(meta.code_table)
    if meta.standard:
        parts.append(meta.standard)
    values = allowed_values(model, column.name)
    if values and not meta.code_table:
        parts.append(" / ".join(str(v) for v in values))
    return " · ".join(parts)


def security_level(
    model: type[CanonicalRecord], column: Column, overrides: Mapping[str, str] | None = None
) -> str:
    """The column's GB/T 43697 grade, after ``CITYBRAIN_SECURITY_LEVEL_OVERRIDES``.

    Grades are the legal team's call: ``overrides`` maps ``schema.table.column`` to a grade.

    >>> from schemas.records import table
    >>> person = table("core.person")
    >>> phone = next(c for c in table_columns(person) if c.name == "phone")
    >>> security_level(person, phone), security_level(person, phone, {"core.person.phone": "important"})
    ('general-3', 'important')
    """
    key = f"{model.__table__}.{column.name}"
    return (overrides or {}).get(key, column.standard.security_level)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def data_dictionary_markdown(
    models: Iterable[type[CanonicalRecord]], *, overrides: Mapping[str, str] | None = None
) -> str:
    """The data dictionary (数据字典) as Markdown: one section per table.

    ``overrides`` are the security-level overrides of the settings (:func:`security_level`).

    >>> from schemas.records import table
    >>> print(data_dictionary_markdown([table("meta.watermarks")]).splitlines()[2])
    ## meta.watermarks — 增量水位
    """
    lines = [
        "# 数据字典 Data dictionary",
        "",
    ]
    header = (
        "| column | 中文名 | type | required | code / standard | security level "
        "| PI category | open level | masking | description |"
    )
    for model in models:
        key = ", ".join(model.__business_key__)
        lines += [
            f"## {model.__table__} — {model.__label__}",
            "",
            f"- Owner 数据责任部门: {model.__owner__}",
            f"- Business key 业务主键: `{key}`",
        ]
        if model.__history__:
            lines.append(
                f"- History 历史: `{table_name(model, history=True)}` (SCD type 2, same columns "
                "plus `_valid_from`, `_valid_to`, `_is_current`)"
            )
        lines += ["", header, "|" + "---|" * 10]
        for col in table_columns(model):
            meta = col.standard
            cells = [
                f"`{col.name}`",
                meta.label,
                col.sql_type,
                "no" if col.nullable else "yes",
                code_cell(model, col) or "—",
                security_level(model, col, overrides),
                _PI[meta.pi],
                _OPEN[meta.open_level],
                _MASK.get(meta.masking, meta.masking),
                meta.description,
            ]
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


__all__ = [
    "HISTORY_COLUMNS",
    "PROVENANCE_COLUMNS",
    "Column",
    "allowed_values",
    "code_cell",
    "comment_statements",
    "create_table",
    "data_dictionary_markdown",
    "ddl_sql",
    "polars_schema",
    "security_level",
    "table_columns",
    "table_name",
]

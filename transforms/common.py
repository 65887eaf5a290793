"""Steps every feed uses: map the department's fields, apply a standard check.

Each function returns a :data:`transforms.batch.Step` (``LazyFrame -> LazyFrame``), so a
feed's normalization is an ordered tuple of small, separately testable steps. Field
mappings arrive as plain mappings (``FeedSpec`` resources' ``fields``): transforms import
only ``schemas``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import polars as pl

from schemas.codes.text import clean_text
from schemas.generate import polars_schema
from schemas.records.base import CanonicalRecord
from transforms.batch import NormalizedBatch, Step, begin, flag, run_steps, split, warn
from transforms.context import NormalizeContext

Check = Callable[[pl.Expr], pl.Expr]
# A feed's steps are built from the context (field mapping, clock, keys) when it runs.
StepBuilder = Callable[[NormalizeContext], Step]


def normalize_with(
    frame: pl.LazyFrame,
    ctx: NormalizeContext,
    model: type[CanonicalRecord],
    builders: Sequence[StepBuilder],
    *,
    updated_at: str | None,
) -> NormalizedBatch:
    """Run a feed's steps in order and end them against the model: every normalizer's body.

    ``updated_at`` is the canonical column whose newest value wins among rows of one
    business key (None: the later source row wins).
    """
    schema = polars_schema(model)
    steps = [build(ctx) for build in builders]

    def begin_and_step(delivery: pl.LazyFrame) -> pl.LazyFrame:
        return run_steps(begin(delivery), steps)

    return split(
        begin_and_step(frame),
        columns=list(schema.names()),
        schema=schema,
        business_key=list(model.__business_key__),
        updated_at=updated_at,
        delivery=frame,
        steps=begin_and_step,
    )


def map_fields(fields: Mapping[str, Sequence[str]]) -> Step:
    """Canonical columns from the department's field names, cleaned (NFKC, nulls).

    When a column has several source names (two generations of a standard), the first
    present and non-null wins, row by row. A source field absent from the delivery gives
    nulls, which ``require`` then reports as ``<column>.missing``.

    >>> lf = pl.LazyFrame({"CF_CFJGDM": ["A", None], "CF_XZJGDM": [None, "B"]})
    >>> map_fields({"authority_code": ["CF_CFJGDM", "CF_XZJGDM"]})(lf).collect().to_dicts()
    [{'CF_CFJGDM': 'A', 'CF_XZJGDM': None, 'authority_code': 'A'}, {'CF_CFJGDM': None, 'CF_XZJGDM': 'B', 'authority_code': 'B'}]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        present = set(frame.collect_schema().names())
        exprs = []
        for column, names in fields.items():
            found = [clean_text(pl.col(n).cast(pl.String)) for n in names if n in present]
            expr = pl.coalesce(found) if found else pl.lit(None, dtype=pl.String)
            exprs.append(expr.alias(column))
        return frame.with_columns(exprs)

    return step


def check_column(
    column: str,
    check: Check,
    *,
    extras: Mapping[str, str] | None = None,
    reason_field: str | None = None,
) -> Step:
    """Replace ``column`` by the check's normalized value; reject on its reason code.

    ``extras`` copies other fields of the check's struct into columns
    (e.g. ``{"sex_code": "_id_sex"}`` keeps the sex derived from an ID number for a
    cross-field check). A ``warning`` field, when the check has one, is kept as a warning.

    >>> def upper(e):  # a check: value when valid, else a reason code
    ...     ok = e.str.len_chars() == 2
    ...     return pl.struct(value=pl.when(ok).then(e.str.to_uppercase()),
    ...                      reason=pl.when(~ok).then(pl.lit("format")))
    >>> lf = pl.LazyFrame({"c": ["ab", "abc"], "_reasons": [[], []], "_warnings": [[], []]},
    ...                   schema_overrides={"_reasons": pl.List(pl.String),
    ...                                     "_warnings": pl.List(pl.String)})
    >>> check_column("c", upper)(lf).select("c", "_reasons").collect().to_dicts()
    [{'c': 'AB', '_reasons': []}, {'c': None, '_reasons': ['c.format']}]
    """
    field = reason_field or column
    tmp = f"_check_{column}"

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = frame.with_columns(check(pl.col(column)).alias(tmp))
        names = frame.select(tmp).collect_schema()[tmp].fields  # type: ignore[attr-defined]
        has = {f.name for f in names}
        frame = flag(frame, field, pl.col(tmp).struct.field("reason"))
        if "warning" in has:
            frame = warn(frame, field, pl.col(tmp).struct.field("warning"))
        frame = frame.with_columns(
            pl.col(tmp).struct.field("value").alias(column),
            *[pl.col(tmp).struct.field(src).alias(dst) for src, dst in (extras or {}).items()],
        )
        return frame.drop(tmp)

    return step

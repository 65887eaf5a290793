"""Steps every feed uses: map the department's fields, apply a standard check.

Each function returns a :data:`transforms.batch.Step` (``LazyFrame -> LazyFrame``), so a
feed's normalization is an ordered tuple of small, separately testable steps. Field
mappings arrive as plain mappings (``FeedSpec`` resources' ``fields``): transforms import
only ``schemas``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import polars as pl

from schemas.codes.dates import (  # noqa: F401 (the feeds' steps import the fast paths from here)
    fast_date,
    fast_datetime,
    parse_date,
    parse_datetime,
)
from schemas.codes.text import clean_text
from schemas.generate import polars_schema
from schemas.records.base import CanonicalRecord
from transforms.batch import (
    NormalizedBatch,
    Step,
    begin,
    flag,
    reason_lists,  # noqa: F401 (the doctests show the reasons with it)
    run_steps,
    split,
    warn,
)
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
    derived: Mapping[str, Callable[[NormalizeContext], pl.Expr]] | None = None,
) -> NormalizedBatch:
    """Run a feed's steps in order and end them against the model: every normalizer's body.

    ``updated_at`` is the canonical column whose newest value wins among rows of one
    business key (None: the later source row wins). ``derived`` builds the columns computed
    on the valid rows alone, after the split (:class:`transforms.batch.Ending`).
    """
    schema = polars_schema(model)
    steps = [build(ctx) for build in builders]

    def begin_and_step(delivery: pl.LazyFrame) -> pl.LazyFrame:
        return run_steps(begin(delivery), steps)

    return split(
        None,
        columns=list(schema.names()),
        schema=schema,
        business_key=list(model.__business_key__),
        updated_at=updated_at,
        delivery=frame,
        steps=begin_and_step,
        derived={column: build(ctx) for column, build in (derived or {}).items()},
    )


def map_fields(
    fields: Mapping[str, Sequence[str]],
    *,
    distinct: Collection[str] = (),
    clean_later: Collection[str] = (),
) -> Step:
    """Canonical columns from the department's field names, cleaned (NFKC, nulls).

    When a column has several source names (two generations of a standard), the first
    present and non-null wins, row by row. A source field absent from the delivery gives
    nulls, which ``require`` then reports as ``<column>.missing``. The columns in
    ``distinct`` have few values (codes, types): each value is cleaned once. The columns
    in ``clean_later`` are mapped as delivered: free text that no step looks at, cleaned by
    :func:`cleaned_later` after the split, on the valid rows alone. (Not a column with
    several source names: which one wins depends on the cleaned values, ``无`` being null.)

    >>> lf = pl.LazyFrame({"CF_CFJGDM": ["A", None], "CF_XZJGDM": [None, "B"]})
    >>> map_fields({"authority_code": ["CF_CFJGDM", "CF_XZJGDM"]})(lf).collect().to_dicts()
    [{'CF_CFJGDM': 'A', 'CF_XZJGDM': None, 'authority_code': 'A'}, {'CF_CFJGDM': None, 'CF_XZJGDM': 'B', 'authority_code': 'B'}]
    """

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        present = set(frame.collect_schema().names())
        exprs = []
        for column, names in fields.items():
            later = column in clean_later and len(names) == 1
            found = [
                pl.col(n).cast(pl.String)
                if later
                else _clean(pl.col(n).cast(pl.String), column in distinct)
                for n in names
                if n in present
            ]
            expr = pl.coalesce(found) if found else pl.lit(None, dtype=pl.String)
            exprs.append(expr.alias(column))
        return frame.with_columns(exprs)

    return step


def cleaned_later(column: str) -> Callable[[NormalizeContext], pl.Expr]:
    """A derived column (:func:`normalize_with`) that cleans ``column``, mapped by
    :func:`map_fields` with ``clean_later``: free text cleaned after the split.

    A column that never rejects a row need not be cleaned on the steps' way, which is each
    chunk's longest (see :class:`transforms.batch.Ending`); the rejected and superseded rows
    keep their raw records, so they need no cleaned copy either.

    >>> from datetime import date
    >>> ctx = NormalizeContext(fields={}, today=date(2026, 1, 1))
    >>> pl.DataFrame({"a": ["\u3000广州市\uff11号 ", "无"]}).select(cleaned_later("a")(ctx))["a"].to_list()
    ['广州市1号', None]
    """

    def build(ctx: NormalizeContext) -> pl.Expr:
        return clean_text(pl.col(column))

    return build


def _clean(text: pl.Expr, distinct: bool) -> pl.Expr:
    return on_distinct_values(text, clean_text) if distinct else clean_text(text)


def on_distinct_values(expr: pl.Expr, function: Check) -> pl.Expr:
    """``function(expr)``, computed once per distinct value (``function`` must be
    elementwise).

    The values go through ``function`` as a list of their own: applied to ``unique()``
    directly, a ``when`` inside the function panicked the in-memory engine (a mask of the
    frame's length against the distinct values), and the two lists must be in one order.

    >>> df = pl.DataFrame({"x": ["b", "a", "b", None]})
    >>> df.select(on_distinct_values(pl.col("x"), lambda e: e.str.to_uppercase()))["x"].to_list()
    ['B', 'A', 'B', None]
    """
    values = expr.unique(maintain_order=True)
    results = values.implode().list.eval(function(pl.element())).explode()
    return expr.replace_strict(values, results)


def check_column(
    column: str,
    check: Check,
    *,
    extras: Mapping[str, str] | None = None,
    reason_field: str | None = None,
    fast: Check | None = None,
    distinct: bool = False,
) -> Step:
    """Replace ``column`` by the check's normalized value; reject on its reason code.

    ``extras`` copies other fields of the check's struct into columns
    (e.g. ``{"sex_code": "_id_sex"}`` keeps the sex derived from an ID number for a
    cross-field check). A ``warning`` field, when the check has one, is kept as a warning.
    ``fast`` and ``distinct`` save work on large deliveries (see :func:`with_check`).

    >>> def upper(e):  # a check: value when valid, else a reason code
    ...     ok = e.str.len_chars() == 2
    ...     return pl.struct(value=pl.when(ok).then(e.str.to_uppercase()),
    ...                      reason=pl.when(~ok).then(pl.lit("format")))
    >>> lf = begin(pl.LazyFrame({"c": ["ab", "abc"]}))
    >>> check_column("c", upper)(lf).pipe(reason_lists).select("c", "_reasons").collect().to_dicts()
    [{'c': 'AB', '_reasons': []}, {'c': None, '_reasons': ['c.format']}]
    """
    field = reason_field or column
    tmp = f"_check_{column}"
    # The check's struct fields (the check's own, whatever the frame), learnt from the
    # first frame stepped: a delivery in chunks steps one plan per chunk, and resolving
    # the schema of a plan this far into the steps cost 5 ms per check and chunk (0.3 s
    # of one core for the 5M population's 8 chunks).
    fields: list[set[str]] = []

    def step(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = with_check(frame, column, check, tmp, fast=fast, distinct=distinct)
        if not fields:
            names = frame.select(tmp).collect_schema()[tmp].fields  # type: ignore[attr-defined]
            fields.append({f.name for f in names})
        has = fields[0]
        frame = flag(frame, field, pl.col(tmp).struct.field("reason"))
        if "warning" in has:
            frame = warn(frame, field, pl.col(tmp).struct.field("warning"))
        frame = frame.with_columns(
            pl.col(tmp).struct.field("value").alias(column),
            *[pl.col(tmp).struct.field(src).alias(dst) for src, dst in (extras or {}).items()],
        )
        return frame.drop(tmp)

    return step


def with_check(
    frame: pl.LazyFrame,
    column: str,
    check: Check,
    alias: str,
    *,
    fast: Check | None = None,
    distinct: bool = False,
) -> pl.LazyFrame:
    """``frame`` with the struct ``check`` gives for ``column``, as ``alias``.

    ``distinct``: check each distinct value once and map the rows to its result, for
    columns of few values (sex, ethnicity and region codes: a few thousand values per
    million rows, the check then costs a fifth to a half).

    ``fast`` is a cheaper twin of the check: the same struct for the spellings it knows
    (``20210305``), null for any other. Then the check runs only on the rows ``fast``
    leaves null: the general date parser costs about 1 CPU-s per million values, the twin
    for the spellings most rows have a quarter of that. (Masking the rest with a ``when``
    does not spare it: the parser's struct stages still run on every row.) A null value
    needs neither: both checks give null fields for it.

    >>> lf = pl.LazyFrame({"d": ["20210305", "2021年3月5日", None, "99991231", "20210230", "长期"]})
    >>> fast = with_check(lf, "d", parse_date, "_d", fast=fast_date)
    >>> plain = with_check(lf, "d", parse_date, "_d").collect().unnest("_d")
    >>> fast.collect().unnest("_d").equals(plain)
    True
    >>> with_check(lf, "d", parse_date, "_d", distinct=True).collect().unnest("_d").equals(plain)
    True
    """
    if distinct:
        return frame.with_columns(on_distinct_values(pl.col(column), check).alias(alias))
    if fast is None:
        return frame.with_columns(check(pl.col(column)).alias(alias))
    frame = frame.with_columns(fast(pl.col(column)).alias(alias))
    rest = pl.col(alias).is_null() & pl.col(column).is_not_null()
    # The check sees only the rest's values; gathering puts each result back on its row.
    position = pl.when(rest).then(rest.cast(pl.Int64).cum_sum() - 1)
    slow = check(pl.col(column).filter(rest)).gather(position)
    return frame.with_columns(pl.coalesce(pl.col(alias), slow).alias(alias))
